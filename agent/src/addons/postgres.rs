//! Postgres add-ons: the SQL that makes an add-on's database and roles
//! exactly what the API asks (run by `psql` as the local superuser inside
//! the server container, the script on stdin so no password is ever in a
//! process's arguments), and that removes them.
//!
//! Roles: the database's owner is a NOLOGIN role named like the database;
//! each login generation is a LOGIN role member of it with `SET role` to
//! it, so whatever any generation creates is owned by the owner and a
//! rotation can drop an old login without touching a table.

use paas_types::addons::DesiredAddon;

/// Image of the Postgres servers (deploy/addon-images).
pub const IMAGE: &str = "paas/postgres:15";
/// Where the server's data volume is mounted.
pub const DATA_DIR: &str = "/var/lib/paas-postgres";
/// The OS user (and superuser) commands run as inside the server.
pub const SUPERUSER: &str = "postgres";

/// `"name"`, an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The psql script making the add-on's database, owner, logins and limits
/// what `addon` says (idempotent), dropping login generations it no longer lists.
pub fn provision_script(addon: &DesiredAddon) -> String {
    let db = &addon.database;
    let mut sql = String::from("\\set ON_ERROR_STOP on\nSET password_encryption = 'scram-sha-256';\n");
    sql += &format!(
        "SELECT format('CREATE ROLE %I NOLOGIN', {l}) WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {l})\\gexec\n",
        l = literal(db)
    );
    sql += &format!(
        "SELECT format('CREATE DATABASE %I OWNER %I', {l}, {l}) WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = {l})\\gexec\n",
        l = literal(db)
    );
    sql += &format!("REVOKE ALL ON DATABASE {i} FROM PUBLIC;\n", i = ident(db));
    let limit = addon.limits.connection_limit.unwrap_or(-1);
    sql += &format!("ALTER DATABASE {i} CONNECTION LIMIT {limit};\n", i = ident(db));
    for login in &addon.logins {
        let (name, role) = (literal(&login.username), ident(&login.username));
        sql += &format!(
            "SELECT format('CREATE ROLE %I LOGIN', {name}) WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {name})\\gexec\n"
        );
        sql += &format!(
            "ALTER ROLE {role} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {};\n",
            literal(&login.password)
        );
        sql += &format!("GRANT {} TO {role};\n", ident(db));
        sql += &format!("ALTER ROLE {role} SET role = {};\n", literal(db));
    }
    let keep: Vec<String> = addon.logins.iter().map(|l| literal(&l.username)).collect();
    let keep = if keep.is_empty() { "''".to_string() } else { keep.join(", ") };
    sql += &format!(
        "SELECT format('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %L', rolname), format('DROP ROLE %I', rolname)
         FROM pg_roles WHERE rolname LIKE {} ESCAPE '!' AND rolname NOT IN ({keep})\\gexec\n",
        literal(&format!("{}!_g%", db.replace('_', "!_")))
    );
    sql
}

/// The psql script removing the add-on's database and every role of it.
pub fn drop_script(database: &str) -> String {
    let mut sql = String::from("\\set ON_ERROR_STOP on\n");
    sql += &format!("DROP DATABASE IF EXISTS {} WITH (FORCE);\n", ident(database));
    sql += &format!(
        "SELECT format('DROP ROLE %I', rolname) FROM pg_roles WHERE rolname LIKE {} ESCAPE '!'\\gexec\n",
        literal(&format!("{}!_g%", database.replace('_', "!_")))
    );
    sql += &format!("DROP ROLE IF EXISTS {};\n", ident(database));
    sql
}

/// psql as the local superuser, reading a script from stdin.
pub const PSQL: &[&str] = &["psql", "-X", "-q", "-A", "-t", "-d", "postgres", "-f", "-"];

/// `pg_dump -Fc` of the database, to stdout.
pub fn dump_command(database: &str) -> Vec<String> {
    ["pg_dump", "-Fc", "--no-owner", "--no-privileges", "-d", database].iter().map(|s| s.to_string()).collect()
}

/// `pg_restore` of a custom-format dump on stdin into the database,
/// replacing what is there, objects owned by the owner role.
pub fn restore_command(database: &str) -> Vec<String> {
    let role = format!("--role={database}");
    [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        role.as_str(),
        "-d",
        database,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use paas_types::addons::{AddonKind, AddonLimits, AddonLogin};

    fn addon() -> DesiredAddon {
        DesiredAddon {
            id: uuid::Uuid::nil(),
            name: "postgres-1a2b".into(),
            kind: AddonKind::Postgres,
            plan: "hobby".into(),
            dedicated: false,
            database: "postgres_1a2b".into(),
            logins: vec![AddonLogin { username: "postgres_1a2b_g2".into(), password: "it's".into() }],
            admin_password: String::new(),
            limits: AddonLimits {
                connection_limit: Some(20),
                maxmemory_mb: None,
                eviction_policy: None,
                memory_mb: 64,
            },
            apps: vec![],
            destroy: false,
            captures: vec![],
            restores: vec![],
        }
    }

    #[test]
    fn the_script_confines_the_database_to_its_roles() {
        let sql = provision_script(&addon());
        assert!(sql.contains("REVOKE ALL ON DATABASE \"postgres_1a2b\" FROM PUBLIC;"), "{sql}");
        assert!(sql.contains("CONNECTION LIMIT 20"), "{sql}");
        assert!(sql.contains("NOSUPERUSER") && sql.contains("PASSWORD 'it''s'"), "quoted: {sql}");
        assert!(sql.contains("ALTER ROLE \"postgres_1a2b_g2\" SET role = 'postgres_1a2b';"), "{sql}");
        // Older generations go; the pattern's `_` are literal.
        assert!(sql.contains("LIKE 'postgres!_1a2b!_g%' ESCAPE '!' AND rolname NOT IN ('postgres_1a2b_g2')"), "{sql}");
    }

    #[test]
    fn dropping_removes_database_and_every_role() {
        let sql = drop_script("postgres_1a2b");
        assert!(sql.contains("DROP DATABASE IF EXISTS \"postgres_1a2b\" WITH (FORCE);"));
        assert!(sql.contains("DROP ROLE IF EXISTS \"postgres_1a2b\";"));
    }
}
