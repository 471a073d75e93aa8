//! The database layer: every SQL statement of the API lives in this module's
//! children, one file per entity, each function named by what it does.
//! Nothing above this layer builds SQL. Functions take an executor (pool,
//! connection or transaction) so callers choose the transaction.

pub mod addons;
pub mod apps;
pub mod builds;
pub mod cache;
pub mod certificates;
pub mod events;
pub mod git;
pub mod instances;
pub mod invitations;
pub mod logs;
pub mod nodes;
pub mod placement;
pub mod process_routes;
pub mod releases;
pub mod routing;
pub mod runs;
pub mod secrets;
pub mod tenants;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod volumes;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::config::ServeConfig;

/// The schema migrations, embedded from the workspace's `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Builds the connection pool once; it lives in the app state.
pub async fn connect(config: &ServeConfig) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(config.db_acquire_timeout())
        .connect(&config.database_url)
        .await
}

/// Applies pending migrations; safe to run on every start.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Whether the database answers (the health check).
pub async fn ping(db: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(db).await.map(|_| ())
}
