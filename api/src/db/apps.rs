//! Apps, and the per-app records that hang off them: config vars, domains
//! and formation. Every lookup that starts from a user goes through
//! `find_for_user`, which joins memberships: another tenant's app is simply
//! not found.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paas_types::{Role, Size};
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use super::secrets;
use crate::crypto::Keyring;

/// An app as seen by a user of its tenant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub name: String,
    pub hostname: String,
    pub created_at: DateTime<Utc>,
    pub current_release: Option<i32>,
    /// Seconds the router waits for a response head before answering 504.
    pub request_timeout_secs: i32,
    pub https_redirect: bool,
    pub hsts: bool,
    /// The viewing user's role in the app's tenant.
    pub role: String,
}

impl AppRow {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Member)
    }
}

const SELECT_FOR_USER: &str = "
    SELECT a.id, a.tenant_id, t.name AS tenant_name, a.name, a.hostname, a.created_at,
           (SELECT max(r.version) FROM releases r WHERE r.app_id = a.id) AS current_release,
           a.request_timeout_secs, a.https_redirect, a.hsts, m.role
    FROM apps a
    JOIN tenants t ON t.id = a.tenant_id
    JOIN memberships m ON m.tenant_id = a.tenant_id AND m.user_id = $1";

pub async fn insert(db: impl PgExecutor<'_>, tenant_id: Uuid, name: &str, hostname: &str) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO apps (id, tenant_id, name, hostname) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(Uuid::new_v4())
        .bind(tenant_id)
        .bind(name)
        .bind(hostname)
        .fetch_one(db)
        .await
}

/// The app called `name`, if the user belongs to its tenant.
pub async fn find_for_user(db: impl PgExecutor<'_>, user_id: Uuid, name: &str) -> Result<Option<AppRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT_FOR_USER} WHERE a.name = $2")).bind(user_id).bind(name).fetch_optional(db).await
}

/// One page of the user's apps ordered by name, optionally of one tenant
/// or only the app `only`.
pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    tenant: Option<&str>,
    after: Option<&str>,
    only: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AppRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT_FOR_USER}
         WHERE ($2::text IS NULL OR t.name = $2) AND ($3::text IS NULL OR a.name > $3)
           AND ($5::uuid IS NULL OR a.id = $5)
         ORDER BY a.name LIMIT $4"
    ))
    .bind(user_id)
    .bind(tenant)
    .bind(after)
    .bind(limit)
    .bind(only)
    .fetch_all(db)
    .await
}

/// Changes the app's router settings; `None` keeps one (the route version moves by trigger).
pub async fn update_settings(
    db: impl PgExecutor<'_>,
    app_id: Uuid,
    request_timeout_secs: Option<i32>,
    https_redirect: Option<bool>,
    hsts: Option<bool>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE apps SET request_timeout_secs = coalesce($2, request_timeout_secs),
                         https_redirect = coalesce($3, https_redirect), hsts = coalesce($4, hsts)
         WHERE id = $1",
    )
    .bind(app_id)
    .bind(request_timeout_secs)
    .bind(https_redirect)
    .bind(hsts)
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn delete(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM apps WHERE id = $1").bind(app_id).execute(db).await.map(|_| ())
}

/// Locks the app's row: serialises release numbering and config changes.
pub async fn lock(tx: &mut Transaction<'_, Postgres>, app_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM apps WHERE id = $1 FOR UPDATE").bind(app_id).execute(&mut **tx).await.map(|_| ())
}

// === Config vars ===

/// The app's config vars, values opened (sealed under `keys` at rest).
pub async fn config(
    db: impl PgExecutor<'_>,
    keys: &Keyring,
    app_id: Uuid,
) -> Result<BTreeMap<String, String>, sqlx::Error> {
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT key, value_sealed FROM config_vars WHERE app_id = $1")
        .bind(app_id)
        .fetch_all(db)
        .await?;
    rows.into_iter()
        .map(|(key, sealed)| {
            let value = secrets::open_text(keys, &secrets::config_var_purpose(app_id, &key), &sealed)?;
            Ok((key, value))
        })
        .collect()
}

/// The names of the app's config vars (nothing is opened).
pub async fn config_keys(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT key FROM config_vars WHERE app_id = $1 ORDER BY key").bind(app_id).fetch_all(db).await
}

/// Applies sets (`Some`, sealed under `keys`) and unsets (`None`) of config vars.
pub async fn patch_config(
    tx: &mut Transaction<'_, Postgres>,
    keys: &Keyring,
    app_id: Uuid,
    patch: &BTreeMap<String, Option<String>>,
) -> Result<(), sqlx::Error> {
    for (key, value) in patch {
        match value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO config_vars (app_id, key, value_sealed) VALUES ($1, $2, $3)
                     ON CONFLICT (app_id, key) DO UPDATE SET value_sealed = EXCLUDED.value_sealed, updated_at = now()",
                )
                .bind(app_id)
                .bind(key)
                .bind(keys.seal(&secrets::config_var_purpose(app_id, key), value.as_bytes()))
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM config_vars WHERE app_id = $1 AND key = $2")
                    .bind(app_id)
                    .bind(key)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    Ok(())
}

// === Domains ===

/// A custom domain with its certificate's state (never its key).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DomainRow {
    pub id: Uuid,
    pub hostname: String,
    pub created_at: DateTime<Utc>,
    /// `pending`, `issued` or `failed`.
    pub cert_state: String,
    pub not_after: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub attempts: i32,
}

const SELECT_DOMAIN: &str = "
    SELECT d.id, d.hostname, d.created_at, c.state AS cert_state, c.not_after, c.last_error,
           c.next_attempt_at, c.attempts
    FROM domains d JOIN certificates c ON c.domain_id = d.id";

pub async fn domains(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Vec<DomainRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT_DOMAIN} WHERE d.app_id = $1 ORDER BY d.hostname")).bind(app_id).fetch_all(db).await
}

/// Whether a hostname is any app's default hostname (custom domains must not shadow one).
pub async fn hostname_taken(db: impl PgExecutor<'_>, hostname: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM apps WHERE hostname = $1)").bind(hostname).fetch_one(db).await
}

/// Adds a domain (a trigger gives it a pending certificate); answers its id.
pub async fn add_domain(db: impl PgExecutor<'_>, app_id: Uuid, hostname: &str) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO domains (id, app_id, hostname) VALUES ($1, $2, $3) RETURNING id")
        .bind(Uuid::new_v4())
        .bind(app_id)
        .bind(hostname)
        .fetch_one(db)
        .await
}

pub async fn domain(db: impl PgExecutor<'_>, id: Uuid) -> Result<DomainRow, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT_DOMAIN} WHERE d.id = $1")).bind(id).fetch_one(db).await
}

pub async fn remove_domain(db: impl PgExecutor<'_>, app_id: Uuid, hostname: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM domains WHERE app_id = $1 AND hostname = $2")
        .bind(app_id)
        .bind(hostname)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

// === Formation ===

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FormationRow {
    pub process_type: String,
    pub quantity: i32,
    pub size: Size,
}

impl From<FormationRow> for paas_types::ProcessFormation {
    fn from(row: FormationRow) -> Self {
        paas_types::ProcessFormation { size: row.size, process_type: row.process_type, quantity: row.quantity }
    }
}

pub async fn formation(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<Vec<FormationRow>, sqlx::Error> {
    sqlx::query_as("SELECT process_type, quantity, size FROM formation WHERE app_id = $1 ORDER BY process_type")
        .bind(app_id)
        .fetch_all(db)
        .await
}

/// Sets quantity and/or size of one process type, creating it if new.
pub async fn upsert_formation(
    db: impl PgExecutor<'_>,
    app_id: Uuid,
    process_type: &str,
    quantity: Option<i32>,
    size: Option<Size>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO formation (app_id, process_type, quantity, size)
         VALUES ($1, $2, coalesce($3, 0), coalesce($4, 'standard'))
         ON CONFLICT (app_id, process_type) DO UPDATE
         SET quantity = coalesce($3, formation.quantity), size = coalesce($4, formation.size), updated_at = now()",
    )
    .bind(app_id)
    .bind(process_type)
    .bind(quantity)
    .bind(size)
    .execute(db)
    .await
    .map(|_| ())
}

/// Locks the app's row for the transaction; false when it no longer exists.
pub async fn lock_if_exists(tx: &mut Transaction<'_, Postgres>, app_id: Uuid) -> Result<bool, sqlx::Error> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM apps WHERE id = $1 FOR UPDATE")
        .bind(app_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

/// Every app's id (the scheduler's sweep).
pub async fn all_ids(db: impl PgExecutor<'_>) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM apps").fetch_all(db).await
}

/// The tenant and name of an app, by id.
pub async fn owner_and_name(db: impl PgExecutor<'_>, app_id: Uuid) -> Result<(Uuid, String), sqlx::Error> {
    sqlx::query_as("SELECT tenant_id, name FROM apps WHERE id = $1").bind(app_id).fetch_one(db).await
}

/// Adds process types a build brought to the formation: `web` at one
/// process, others at none. Existing entries keep their quantity.
pub async fn add_process_types(
    tx: &mut Transaction<'_, Postgres>,
    app_id: Uuid,
    process_types: impl IntoIterator<Item = &str>,
) -> Result<(), sqlx::Error> {
    for process_type in process_types {
        sqlx::query(
            "INSERT INTO formation (app_id, process_type, quantity) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(app_id)
        .bind(process_type)
        .bind(i32::from(process_type == "web"))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
