//! Failed credential checks per key (an account's email or a client
//! address), kept in Postgres so that every API replica counts the same.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// The latest lock still in force among `keys`, if any.
pub async fn locked_until(db: impl PgExecutor<'_>, keys: &[String]) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT max(locked_until) FROM auth_throttle WHERE key = ANY($1) AND locked_until > now()")
        .bind(keys)
        .fetch_one(db)
        .await
}

/// Counts one failure of `key` and returns the count; failures older than
/// `forget_secs` are forgotten first. The increment is one atomic upsert,
/// so concurrent replicas never lose a failure.
pub async fn count_failure(db: impl PgExecutor<'_>, key: &str, forget_secs: f64) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO auth_throttle AS t (key, failures, last_failure_at) VALUES ($1, 1, now())
         ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN t.last_failure_at < now() - make_interval(secs => $2) THEN 1
                             ELSE t.failures + 1 END,
             last_failure_at = now()
         RETURNING failures",
    )
    .bind(key)
    .bind(forget_secs)
    .fetch_one(db)
    .await
}

/// Locks `key` for `secs` from now (never shortening a longer lock); returns its end.
pub async fn lock(db: impl PgExecutor<'_>, key: &str, secs: f64) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE auth_throttle
         SET locked_until = greatest(locked_until, now() + make_interval(secs => $2))
         WHERE key = $1 RETURNING locked_until",
    )
    .bind(key)
    .bind(secs)
    .fetch_one(db)
    .await
}

/// Forgets the failures of `key` (after a successful login).
pub async fn reset(db: impl PgExecutor<'_>, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM auth_throttle WHERE key = $1").bind(key).execute(db).await.map(|_| ())
}
