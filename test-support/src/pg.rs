//! A throwaway Postgres cluster for tests: `initdb` + `pg_ctl` on a free
//! loopback port, run as the `postgres` user when the tests run as root
//! (Postgres refuses to run as root), torn down when the process exits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One running cluster; each test gets its own database in it.
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

static SHARED: OnceLock<PgCluster> = OnceLock::new();

impl PgCluster {
    /// The process-wide cluster, started on first use.
    pub fn shared() -> &'static PgCluster {
        SHARED.get_or_init(|| PgCluster::start().unwrap_or_else(|e| panic!("cannot start test Postgres: {e:#}")))
    }

    fn start() -> anyhow::Result<PgCluster> {
        let bin = find_bin_dir()?;
        let as_postgres_user = running_as_root();
        let dir = std::env::temp_dir().join(format!("paas-test-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let cluster = PgCluster { dir, bin, port: free_port()?, as_postgres_user };
        if as_postgres_user {
            run(Command::new("chown").arg("postgres:postgres").arg(&cluster.dir))?;
        }
        let data = cluster.dir.join("data");
        run(cluster
            .pg_command("initdb")
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-sync", "-D"])
            .arg(&data))?;
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            cluster.port,
            cluster.dir.display()
        );
        run(cluster
            .pg_command("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(cluster.dir.join("postgres.log"))
            .args(["-o", &options, "start"]))?;
        Ok(cluster)
    }

    /// A `postgres://` URL of the maintenance database.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates an empty database with a unique name and returns its URL.
    pub async fn create_database(&self) -> String {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&self.admin_url()).await.expect("connect to test Postgres");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create test database");
        admin.close().await;
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// `pg_dump` of a database of this cluster (plain SQL), as an operator's
    /// backup would hold it.
    pub fn dump(&self, database_url: &str) -> String {
        let out =
            self.pg_command("pg_dump").args(["--no-owner", "--dbname", database_url]).output().expect("run pg_dump");
        assert!(out.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("a plain dump is UTF-8")
    }

    /// Restarts the server (fast shutdown: connections are cut), as in a
    /// database failover or upgrade.
    pub fn restart(&self) {
        // `restart` reuses the previous start's options; the log keeps its stdio off our pipes.
        run(self
            .pg_command("pg_ctl")
            .args(["-w", "-t", "60", "-m", "fast", "-D"])
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("postgres.log"))
            .arg("restart"))
        .expect("restart the test Postgres");
    }

    fn pg_command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    fn stop(&self) {
        let _ = self
            .pg_command("pg_ctl")
            .args(["-D"])
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// Tear the cluster down when the test process exits normally.
#[ctor::dtor]
fn stop_shared_cluster() {
    if let Some(cluster) = SHARED.get() {
        cluster.stop();
    }
}

/// `PAAS_PG_BIN`, else the newest `/usr/lib/postgresql/<v>/bin`, else `$PATH`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PAAS_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    if let Some(dir) = versions.pop() {
        return Ok(dir);
    }
    let which = Command::new("sh").args(["-c", "command -v initdb"]).output()?;
    let path = String::from_utf8_lossy(&which.stdout).trim().to_string();
    Path::new(&path)
        .parent()
        .map(Path::to_path_buf)
        .filter(|_| !path.is_empty())
        .ok_or_else(|| anyhow::anyhow!("no initdb found: install postgresql or set PAAS_PG_BIN"))
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let output = cmd.output()?;
    anyhow::ensure!(
        output.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
