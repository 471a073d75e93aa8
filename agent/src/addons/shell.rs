//! What an interactive session with an add-on runs (`paas pg psql`,
//! `paas redis cli`, to be carried by the one-off TTY bridge): the
//! container to exec in, the command, its user and environment. The
//! session logs in with the app's own (newest) login, over the server's
//! loopback, so it can do exactly what the app can; the password travels
//! in the environment (`PGPASSWORD`, `REDISCLI_AUTH`), never in arguments.

use paas_types::addons::{AddonKind, DesiredAddon};

use super::{redis, server_name};

/// The OS user `psql` runs as in the server container: no peer login, no data files.
const CONSOLE_OS_USER: &str = "nobody";

/// An exec to start with a TTY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    /// Container name (`docker exec -it <container> ...`).
    pub container: String,
    pub user: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
}

/// The interactive client of an add-on held by `node`; `None` while it has no login.
pub fn shell_command(node: &str, addon: &DesiredAddon) -> Option<ShellCommand> {
    let login = addon.logins.first()?;
    let container = server_name(node, addon);
    Some(match addon.kind {
        AddonKind::Postgres => ShellCommand {
            container,
            // Not the server's `postgres` OS user: psql's `\!` opens a shell as the
            // exec user, and `postgres` logs in as the superuser by peer auth and owns
            // the data of every database on a shared server. `nobody` has neither.
            user: CONSOLE_OS_USER.into(),
            cmd: ["psql", "-h", "127.0.0.1", "-U", &login.username, "-d", &addon.database]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            env: vec![format!("PGPASSWORD={}", login.password), "HOME=/tmp".into(), "PSQL_HISTORY=/dev/null".into()],
        },
        AddonKind::Redis => ShellCommand {
            container,
            user: redis::USER.into(),
            cmd: vec!["redis-cli".into(), "--no-auth-warning".into()],
            env: vec![format!("REDISCLI_AUTH={}", login.password)],
        },
    })
}
