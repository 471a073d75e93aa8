//! The saved login: `<config dir>/paas/credentials.json`, mode 0600.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Credentials {
    pub api_url: String,
    pub email: String,
    pub token: String,
}

/// `$PAAS_CONFIG_DIR`, else the platform config dir (`~/.config/paas`).
pub fn dir() -> PathBuf {
    std::env::var_os("PAAS_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::config_dir().map(|d| d.join("paas")))
        .unwrap_or_else(|| PathBuf::from(".paas"))
}

fn path() -> PathBuf {
    dir().join("credentials.json")
}

pub fn load() -> Option<Credentials> {
    let text = std::fs::read_to_string(path()).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save(credentials: &Credentials) -> std::io::Result<PathBuf> {
    let path = path();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700))?;
    }
    // Create with 0600 before writing the secret into it.
    let file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    serde_json::to_writer_pretty(&file, credentials)?;
    Ok(path)
}

pub fn remove() -> std::io::Result<bool> {
    match std::fs::remove_file(path()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}
