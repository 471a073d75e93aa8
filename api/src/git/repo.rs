//! Bare repositories on local disk as a cache of the history stored in
//! Postgres (one `git bundle` per app, versioned). Any API replica can
//! rebuild an app's repository from the database, so a restart or a second
//! replica loses no pushed commit.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sqlx::PgPool;
use tokio::process::Command;
use uuid::Uuid;

use crate::db;

/// Why a repository could not be prepared or saved.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("git {op} failed: {stderr}")]
    Git { op: &'static str, stderr: String },
    #[error("repository cache I/O")]
    Io(#[from] std::io::Error),
    #[error("repository storage")]
    Db(#[from] sqlx::Error),
}

/// The pre-receive hook: hands a push to `main`/`master` to the API (through
/// FIFOs in `$PAAS_HOOK_DIR`) and prints the build output it streams back,
/// so `git push` shows it as `remote:` lines and fails when the build fails.
const PRE_RECEIVE: &str = r#"#!/bin/sh
# Installed by paas-api. Only needs sh, cat and git.
[ -n "${PAAS_HOOK_DIR:-}" ] || exit 0
target=""
while read -r old new ref; do
    case "$ref" in
        refs/heads/main|refs/heads/master)
            [ "$new" = "0000000000000000000000000000000000000000" ] || target="$new" ;;
    esac
done
if [ -z "$target" ]; then
    echo "none" > "$PAAS_HOOK_DIR/request"
    exit 0
fi
if ! git archive --format=tar.gz -o "$PAAS_HOOK_DIR/source.tar.gz" "$target"; then
    echo "none" > "$PAAS_HOOK_DIR/request"
    echo "cannot archive $target" >&2
    exit 1
fi
echo "$target" > "$PAAS_HOOK_DIR/request"
cat "$PAAS_HOOK_DIR/output"
exit "$(cat "$PAAS_HOOK_DIR/status" 2>/dev/null || echo 1)"
"#;

/// Where the local copies live.
#[derive(Debug, Clone)]
pub struct RepoCache {
    root: PathBuf,
    /// One restore at a time per app in this process.
    locks: std::sync::Arc<tokio::sync::Mutex<std::collections::HashMap<Uuid, std::sync::Arc<tokio::sync::Mutex<()>>>>>,
}

impl RepoCache {
    pub fn new(root: PathBuf) -> Self {
        RepoCache { root, locks: Default::default() }
    }

    /// The app's bare repository, brought up to date from Postgres if the
    /// local copy is missing or older than the stored version.
    pub async fn checkout(&self, db: &PgPool, app_id: Uuid) -> Result<PathBuf, RepoError> {
        let app_lock = self.locks.lock().await.entry(app_id).or_default().clone();
        let _restoring = app_lock.lock().await;
        let dir = self.root.join(format!("{app_id}.git"));
        let (version, bundle) = db::git::bundle(db, app_id).await?;
        let marker = dir.join("paas-version");
        let cached = tokio::fs::read_to_string(&marker).await.ok().and_then(|v| v.trim().parse::<i64>().ok());
        if cached != Some(version) {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            tokio::fs::create_dir_all(&self.root).await?;
            // Private: hooks in here run on the host (fails if another user owns the directory).
            tokio::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700)).await?;
            let dir_arg = dir.to_str().unwrap_or_default();
            git(&self.root, "init", &["init", "--bare", "--quiet", "--initial-branch=main", dir_arg]).await?;
            if let Some(blob) = bundle {
                let data = db::builds::blob(db, blob).await?.unwrap_or_default();
                let file = dir.join("restore.bundle");
                tokio::fs::write(&file, data).await?;
                let file_arg = file.to_str().unwrap_or_default().to_string();
                git(&dir, "fetch bundle", &["fetch", "--quiet", &file_arg, "+refs/*:refs/*"]).await?;
                tokio::fs::remove_file(&file).await?;
                // Clones check out main, or master for repositories that only have that.
                let has_main = git(&dir, "show-ref", &["for-each-ref", "refs/heads/main"]).await?;
                if has_main.trim().is_empty() {
                    git(&dir, "symbolic-ref", &["symbolic-ref", "HEAD", "refs/heads/master"]).await?;
                }
            }
            tokio::fs::write(&marker, version.to_string()).await?;
        }
        install_hook(&dir).await?;
        Ok(dir)
    }

    /// Stores the repository as a bundle in Postgres and moves the version.
    pub async fn save(&self, db: &PgPool, app_id: Uuid, dir: &Path) -> Result<(), RepoError> {
        let file = dir.join("save.bundle");
        let file_arg = file.to_str().unwrap_or_default().to_string();
        // An empty repository (first push rejected) has nothing to keep.
        let refs = git(dir, "show-ref", &["for-each-ref", "--count=1"]).await?;
        if refs.trim().is_empty() {
            return Ok(());
        }
        git(dir, "bundle", &["bundle", "create", "--quiet", &file_arg, "--all"]).await?;
        let data = tokio::fs::read(&file).await?;
        tokio::fs::remove_file(&file).await?;
        let mut tx = db.begin().await?;
        let blob = db::builds::insert_blob(&mut *tx, &data).await?;
        let version = db::git::replace_bundle(&mut tx, app_id, blob).await?;
        tx.commit().await?;
        tokio::fs::write(dir.join("paas-version"), version.to_string()).await?;
        Ok(())
    }
}

async fn install_hook(dir: &Path) -> Result<(), RepoError> {
    let hooks = dir.join("hooks");
    tokio::fs::create_dir_all(&hooks).await?;
    let path = hooks.join("pre-receive");
    tokio::fs::write(&path, PRE_RECEIVE).await?;
    tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).await?;
    Ok(())
}

/// Runs `git <args>` in `dir`, returning stdout.
async fn git(dir: &Path, op: &'static str, args: &[&str]) -> Result<String, RepoError> {
    let output = Command::new("git").args(args).current_dir(dir).env("GIT_TERMINAL_PROMPT", "0").output().await?;
    if !output.status.success() {
        return Err(RepoError::Git { op, stderr: String::from_utf8_lossy(&output.stderr).trim().to_string() });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
