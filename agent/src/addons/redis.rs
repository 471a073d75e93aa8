//! Redis add-ons: the server's command line comes from the plan (through
//! the image's start script: `appendonly yes`, `maxmemory`, eviction
//! policy, the ACL file on the volume); the app's login is the `default`
//! user, whose passwords the agent sets with `ACL SETUSER` as `paas-admin`
//! (redis-cli inside the container, commands on stdin, the admin password
//! in the environment: nothing secret in process arguments).

use paas_types::addons::DesiredAddon;
use sha2::{Digest, Sha256};

/// Image of the Redis servers (deploy/addon-images).
pub const IMAGE: &str = "paas/redis:7";
/// Where the data volume (AOF, ACL file) is mounted.
pub const DATA_DIR: &str = "/data";
/// The image's service user.
pub const USER: &str = "redis";
/// The agent's own Redis user.
pub const ADMIN: &str = "paas-admin";

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The container's environment: the plan's limits and the admin password's hash.
pub fn env(addon: &DesiredAddon) -> Vec<String> {
    vec![
        format!("PAAS_REDIS_ADMIN_SHA256={}", sha256_hex(&addon.admin_password)),
        format!("PAAS_REDIS_MAXMEMORY={}mb", addon.limits.maxmemory_mb.unwrap_or(64)),
        format!("PAAS_REDIS_POLICY={}", addon.limits.eviction_policy.as_deref().unwrap_or("noeviction")),
    ]
}

/// The commands giving `default` exactly the listed passwords (as hashes),
/// every key and channel, every command but administrative ones (except
/// `CLIENT`: RQ lists its clients); then the
/// ACL file is saved so a restart keeps them.
pub fn acl_commands(addon: &DesiredAddon) -> String {
    let passwords: Vec<String> = addon.logins.iter().map(|l| format!("#{}", sha256_hex(&l.password))).collect();
    let state = if passwords.is_empty() { "off" } else { "on" };
    format!("ACL SETUSER default reset {state} {} ~* &* +@all -@admin +client\nACL SAVE\n", passwords.join(" "))
}

/// redis-cli as `paas-admin`, commands on stdin (password in `REDISCLI_AUTH`).
pub const CLI: &[&str] = &["redis-cli", "--no-auth-warning", "--user", ADMIN];

#[cfg(test)]
mod tests {
    use super::*;
    use paas_types::addons::{AddonKind, AddonLimits, AddonLogin};

    #[test]
    fn acl_lists_password_hashes_only() {
        let addon = DesiredAddon {
            id: uuid::Uuid::nil(),
            name: "redis-1".into(),
            kind: AddonKind::Redis,
            plan: "hobby".into(),
            dedicated: false,
            database: String::new(),
            logins: vec![
                AddonLogin { username: "default".into(), password: "new".into() },
                AddonLogin { username: "default".into(), password: "old".into() },
            ],
            admin_password: "admin".into(),
            limits: AddonLimits {
                connection_limit: None,
                maxmemory_mb: Some(25),
                eviction_policy: Some("allkeys-lru".into()),
                memory_mb: 64,
            },
            apps: vec![],
            destroy: false,
            captures: vec![],
            restores: vec![],
        };
        let acl = acl_commands(&addon);
        assert!(acl.starts_with("ACL SETUSER default reset on #"), "{acl}");
        assert!(!acl.contains("new ") && acl.contains(&sha256_hex("old")), "{acl}");
        assert!(env(&addon).contains(&"PAAS_REDIS_MAXMEMORY=25mb".to_string()));
        assert!(env(&addon).contains(&"PAAS_REDIS_POLICY=allkeys-lru".to_string()));
    }
}
