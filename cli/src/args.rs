//! The command tree of `paas`.

use clap::{Args, Parser, Subcommand};

/// Deploy and run Python WSGI apps on your own PaaS.
#[derive(Debug, Parser)]
#[command(name = "paas", version, propagate_version = true)]
pub struct Cli {
    /// API base URL (default: the one saved by `paas login`, else http://127.0.0.1:8080).
    #[arg(long, global = true, env = "PAAS_API_URL")]
    pub api_url: Option<String>,

    /// API token to use instead of the saved one.
    #[arg(long, global = true, env = "PAAS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// The app (default: from the `paas` git remote of the current directory).
    #[arg(short, long, global = true, env = "PAAS_APP")]
    pub app: Option<String>,

    /// Print JSON, for scripts.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and save an API token in your config directory (mode 0600).
    Login(LoginArgs),
    /// Create an account (with an invitation when the platform asks for one),
    /// then log in as with `paas login`.
    Signup(SignupArgs),
    /// Forget the saved token.
    Logout,
    /// Create, list, inspect and destroy apps.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Show, set and unset config vars (each change restarts the app).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Set how many processes of each type run: `paas scale web=3 worker=1`.
    Scale {
        /// TYPE=QUANTITY pairs, optionally TYPE=QUANTITY:SIZE (small, standard, large).
        #[arg(required = true)]
        changes: Vec<String>,
    },
    /// List the app's processes.
    Ps,
    /// Show the app's output.
    Logs {
        /// Keep following new lines.
        #[arg(short, long)]
        follow: bool,
        /// Only this process type.
        #[arg(short, long)]
        process: Option<String>,
        /// How many recent lines.
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: i64,
    },
    /// Run a one-off command in a new container of the app's current release,
    /// with its config: `paas run -- python manage.py createsuperuser`.
    /// Interactive when this terminal is; the command's exit status is this command's.
    Run {
        /// Container size: small, standard (default) or large.
        #[arg(long)]
        size: Option<String>,
        /// Run it in the background; its output goes to `paas logs -p run`.
        #[arg(short, long)]
        detach: bool,
        /// The command and its arguments; one quoted word is a shell line (`'echo $HOME && ls'`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// List releases.
    Releases,
    /// Roll back to a release (default: the one before the current).
    Rollback {
        /// Version to return to, like `v3` or `3`.
        #[arg(value_name = "VERSION")]
        target: Option<String>,
    },
    /// Manage custom domains.
    #[command(subcommand)]
    Domains(DomainsCommand),
    /// Send URL prefixes to process types other than web (an async server for
    /// WebSocket, long-poll and SSE): `paas routes` lists them.
    Routes {
        #[command(subcommand)]
        command: Option<RoutesCommand>,
    },
    /// Manage volumes: data on one node, mounted into every process of the app.
    #[command(subcommand)]
    Volumes(VolumesCommand),
    /// The routers' cache of the app's responses (kept when they send `Cache-Control: s-maxage` etc.).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Deploy the current directory (or DIR) without git: upload, build, release.
    Deploy {
        /// Source directory.
        #[arg(default_value = ".")]
        dir: std::path::PathBuf,
    },
    /// Open the app in a browser (prints the URL).
    Open,
    /// Git integration.
    #[command(subcommand)]
    Git(GitCommand),
    /// Manage your API tokens (`paas tokens` lists them).
    Tokens {
        #[command(subcommand)]
        command: Option<TokensCommand>,
    },
    /// Manage the members of a tenant.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Invitations to tenants: accept one, or list and revoke those of a tenant.
    #[command(subcommand)]
    Invitations(InvitationsCommand),
    /// The audit log: events of your tenants, or with --account of your own
    /// account (logins, lockouts, API tokens).
    Events {
        /// Events about your account instead of your tenants.
        #[arg(long)]
        account: bool,
        /// How many events, newest first.
        #[arg(short = 'n', long, default_value_t = 50)]
        limit: i64,
    },
    /// Postgres and Redis add-ons: create, attach, detach, destroy.
    #[command(subcommand)]
    Addons(AddonsCommand),
    /// Postgres add-ons: psql, credentials and backups.
    #[command(subcommand)]
    Pg(PgCommand),
    /// Redis add-ons: redis-cli.
    #[command(subcommand)]
    Redis(RedisCommand),
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your email.
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct SignupArgs {
    /// Your email (with --invite: the invited one).
    #[arg(long)]
    pub email: Option<String>,
    /// The invitation token you were given (`inv_...`): you join the inviting tenant.
    #[arg(long, value_name = "TOKEN")]
    pub invite: Option<String>,
    /// Name of your own tenant (not with --invite; default: from your email).
    #[arg(long, conflicts_with = "invite")]
    pub tenant: Option<String>,
    /// Read the password from standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum InvitationsCommand {
    /// Join the tenant of an invitation with the account you are logged in as.
    Accept {
        /// The invitation token (`inv_...`).
        #[arg(value_name = "TOKEN")]
        invitation: String,
    },
    /// List a tenant's invitations (owners and admins).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a pending invitation: its token stops working.
    Revoke {
        id: uuid::Uuid,
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// List your apps.
    List,
    /// Create an app.
    Create {
        name: String,
        /// Tenant that owns it (when you belong to several).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Show an app.
    Info,
    /// Change an app's settings: `paas apps set --request-timeout 60`, `paas apps set --hsts on`.
    Set {
        /// Seconds the router waits for the app to start answering before it answers
        /// 504 Gateway Timeout (1-3600; new apps: 30). Time queued for a free worker does not count.
        #[arg(long, value_name = "SECS")]
        request_timeout: Option<i64>,
        /// Redirect plain-HTTP requests to HTTPS for hostnames with a certificate (new apps: on).
        #[arg(long, value_name = "on|off", value_parser = on_off)]
        https_redirect: Option<bool>,
        /// Send Strict-Transport-Security on HTTPS, so browsers use only HTTPS for a
        /// year (new apps: off). Turn it on once HTTPS works for every hostname.
        #[arg(long, value_name = "on|off", value_parser = on_off)]
        hsts: Option<bool>,
    },
    /// Delete an app and everything it runs.
    Destroy {
        /// Type the app's name to confirm without a prompt.
        #[arg(long)]
        confirm: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show all config vars, or one.
    Get { key: Option<String> },
    /// Set config vars: KEY=VALUE...
    Set {
        #[arg(required = true)]
        pairs: Vec<String>,
    },
    /// Unset config vars.
    Unset {
        #[arg(required = true)]
        keys: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DomainsCommand {
    /// List custom domains.
    List,
    /// Add a custom domain.
    Add { hostname: String },
    /// Remove a custom domain.
    Remove { hostname: String },
}

#[derive(Debug, Subcommand)]
pub enum RoutesCommand {
    /// Route prefixes to process types: `/ws/=async /events/=async` (wins over paas.json's route of a prefix).
    Set {
        /// PREFIX=TYPE pairs; a prefix matches whole path segments (`/ws` matches `/ws/chat`, not `/wsx`).
        #[arg(required = true, value_name = "PREFIX=TYPE")]
        pairs: Vec<String>,
    },
    /// Drop routes set with `paas routes set` (a paas.json route of the prefix is in force again).
    Unset {
        #[arg(required = true, value_name = "PREFIX")]
        prefixes: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Drop cached responses from every router: one PATH (`/pricing` also drops `/pricing?...`),
    /// or everything the app has cached.
    Purge {
        /// Request path as clients send it, starting with `/`; omit to purge everything.
        path: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum GitCommand {
    /// Add (or update) the git remote that deploys to the app on `git push`.
    Remote {
        /// Remote name.
        #[arg(short, long, default_value = "paas")]
        remote: String,
    },
    /// Git credential helper (used by git, not by people).
    #[command(hide = true)]
    Credential { operation: String },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// List your API tokens.
    List,
    /// Create an API token (shown once): `paas tokens create ci --scope deploy --app shop --expires 30d`.
    /// With `-a/--app NAME` it works for that one app only.
    Create {
        name: String,
        /// read (look only), deploy (push, builds, releases, scale, config,
        /// domains, run) or admin (everything you can do).
        #[arg(long, default_value = "admin")]
        scope: String,
        /// Lifetime: `12h`, `30d`, `90d`, or `never`.
        #[arg(long, default_value = "never")]
        expires: String,
    },
    /// Revoke an API token.
    Revoke { id: uuid::Uuid },
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// List members.
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Add an existing user.
    Add {
        email: String,
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Invite someone by email: prints a single-use token and the link that accepts it.
    Invite {
        email: String,
        /// member or admin.
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long)]
        tenant: Option<String>,
        /// Days until the invitation expires (1-30).
        #[arg(long, default_value_t = 7)]
        expires_in_days: u32,
    },
    /// Remove a member.
    Remove {
        email: String,
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum VolumesCommand {
    /// List the app's volumes with their nodes and usage.
    List,
    /// Create a volume on one node (where the app runs, else the one with
    /// the most room), mounted into every process and the release command;
    /// the app's processes then run on that node.
    Create {
        /// 2-30 characters of a-z, 0-9 and '-', starting with a letter.
        name: String,
        /// Where it appears in the containers: /data, or a path under /app/ or /data/.
        #[arg(long, value_name = "PATH")]
        mount: String,
        /// The size you plan for, e.g. 512M or 10G (default 1G; checked against usage, not a hard quota).
        #[arg(long)]
        size: Option<String>,
    },
    /// Destroy a volume and its data; the app's processes restart without it.
    Destroy {
        name: String,
        /// Type the volume's name to confirm without a prompt.
        #[arg(long)]
        confirm: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_tree_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

#[derive(Debug, Subcommand)]
pub enum AddonsCommand {
    /// List add-ons (of the app with -a, else of all your tenants).
    List,
    /// Create an add-on attached to the app: `postgres` or `redis`.
    Create {
        /// `postgres` or `redis`.
        kind: String,
        /// Config var prefix: `--as CACHE` sets CACHE_URL (default DATABASE / REDIS).
        #[arg(long = "as", value_name = "ALIAS")]
        alias: Option<String>,
        /// Postgres: hobby, standard, dedicated. Redis: hobby, standard, cache.
        #[arg(long)]
        plan: Option<String>,
    },
    /// Show an add-on, with its URL.
    Info { name: String },
    /// Attach an add-on to the app (-a): a new release sets its URL var.
    Attach {
        name: String,
        #[arg(long = "as", value_name = "ALIAS")]
        alias: Option<String>,
    },
    /// Detach an add-on from the app (-a): a new release unsets its var.
    Detach { name: String },
    /// Bring a Postgres add-on whose node is down up on another node, from
    /// its newest backup (same name and URL; later writes stay on the old node).
    Restore {
        name: String,
        /// A live node (`paas nodes`).
        #[arg(long = "to-node", value_name = "NODE")]
        to_node: String,
    },
    /// Destroy an add-on and its data (Postgres: after a final backup).
    Destroy {
        name: String,
        /// Type the add-on's name to destroy it while attached (it is detached first).
        #[arg(long)]
        confirm: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PgCommand {
    /// An interactive psql session, logged in as the app.
    Psql {
        /// The add-on (default: the app's only Postgres add-on).
        name: Option<String>,
    },
    /// Credentials of a Postgres add-on.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Backups of a Postgres add-on.
    #[command(subcommand)]
    Backups(BackupsCommand),
}

#[derive(Debug, Subcommand)]
pub enum RedisCommand {
    /// An interactive redis-cli session, logged in as the app.
    Cli {
        /// The add-on (default: the app's only Redis add-on).
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// New login and password; the app restarts with them, the old login is dropped after.
    Rotate {
        /// The add-on (default: the app's only Postgres add-on).
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupsCommand {
    /// Take a backup now (and wait for it).
    Capture { name: Option<String> },
    /// List backups.
    List { name: Option<String> },
    /// Restore a backup into its add-on (replaces the data), and wait for it.
    Restore { backup: uuid::Uuid, name: Option<String> },
    /// Download a backup (`pg_restore` format).
    Download {
        backup: uuid::Uuid,
        name: Option<String>,
        /// File to write (default: <addon>-<backup>.dump).
        #[arg(short, long)]
        output: Option<std::path::PathBuf>,
    },
}

/// `on`/`off` (also `true`/`false`, `yes`/`no`) for switches.
fn on_off(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!("{value:?} is neither on nor off")),
    }
}
