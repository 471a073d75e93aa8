//! Sealed columns (see `crate::crypto`): what each secret is bound to (its
//! associated data names its row), opening them for the layers above, sealing
//! rows an upgrade left in plain text, and resealing everything under the
//! current key (rotation).
//!
//! Sealed here: config var values, release config snapshots, one-off run
//! environments, add-on admin passwords, add-on login passwords and URLs,
//! certificate keys and ACME account credentials. Config var names stay
//! plain (they are names; the API lists them without opening anything).

use std::collections::BTreeMap;

use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::crypto::{CryptoError, Keyring};

/// A sealed value that does not open (another key, or moved to another row).
#[derive(Debug, thiserror::Error)]
#[error("the sealed value of {purpose} cannot be opened")]
pub struct SealedError {
    pub purpose: String,
    #[source]
    pub source: CryptoError,
}

// === What each value is bound to ===

pub fn config_var_purpose(app_id: Uuid, key: &str) -> String {
    format!("config-var:{app_id}:{key}")
}

pub fn release_config_purpose(release_id: Uuid) -> String {
    format!("release-config:{release_id}")
}

pub fn run_env_purpose(run_id: Uuid) -> String {
    format!("run-env:{run_id}")
}

pub fn addon_admin_purpose(addon_id: Uuid) -> String {
    format!("addon-admin-password:{addon_id}")
}

pub fn credential_password_purpose(credential_id: Uuid) -> String {
    format!("addon-credential-password:{credential_id}")
}

pub fn credential_url_purpose(credential_id: Uuid) -> String {
    format!("addon-credential-url:{credential_id}")
}

// === Opening and sealing for the entity modules ===

/// Opens a sealed text; a failure is a storage error (the row does not decode).
pub(crate) fn open_text(keys: &Keyring, purpose: &str, sealed: &[u8]) -> Result<String, sqlx::Error> {
    keys.open_string(purpose, sealed)
        .map_err(|source| sqlx::Error::Decode(Box::new(SealedError { purpose: purpose.to_string(), source })))
}

/// Opens a sealed JSON object of strings (a config snapshot, an environment).
pub(crate) fn open_map(keys: &Keyring, purpose: &str, sealed: &[u8]) -> Result<BTreeMap<String, String>, sqlx::Error> {
    let text = open_text(keys, purpose, sealed)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub(crate) fn seal_map(keys: &Keyring, purpose: &str, map: &BTreeMap<String, String>) -> Vec<u8> {
    let json = serde_json::to_vec(map).expect("a map of strings serialises");
    keys.seal(purpose, &json)
}

// === Every sealed column ===

/// A column of sealed values, and how to name each row's purpose from its
/// identity columns (selected as text, in order).
struct SealedColumn {
    table: &'static str,
    column: &'static str,
    ids: &'static str,
    purpose: fn(&[String]) -> String,
}

fn uuid_of(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap_or_default()
}

const SEALED: &[SealedColumn] = &[
    SealedColumn {
        table: "config_vars",
        column: "value_sealed",
        ids: "app_id::text, key",
        purpose: |ids| config_var_purpose(uuid_of(&ids[0]), &ids[1]),
    },
    SealedColumn {
        table: "releases",
        column: "config_sealed",
        ids: "id::text",
        purpose: |ids| release_config_purpose(uuid_of(&ids[0])),
    },
    SealedColumn {
        table: "runs",
        column: "env_sealed",
        ids: "id::text",
        purpose: |ids| run_env_purpose(uuid_of(&ids[0])),
    },
    SealedColumn {
        table: "addons",
        column: "admin_password_sealed",
        ids: "id::text",
        purpose: |ids| addon_admin_purpose(uuid_of(&ids[0])),
    },
    SealedColumn {
        table: "addon_credentials",
        column: "password_sealed",
        ids: "id::text",
        purpose: |ids| credential_password_purpose(uuid_of(&ids[0])),
    },
    SealedColumn {
        table: "addon_credentials",
        column: "url_sealed",
        ids: "id::text",
        purpose: |ids| credential_url_purpose(uuid_of(&ids[0])),
    },
    SealedColumn {
        table: "certificates",
        column: "key_sealed",
        ids: "domain_id::text",
        purpose: |ids| super::certificates::key_purpose(uuid_of(&ids[0])),
    },
    SealedColumn {
        table: "acme_accounts",
        column: "credentials_sealed",
        ids: "directory_url",
        purpose: |ids| super::certificates::account_purpose(&ids[0]),
    },
];

/// What rotation did to one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResealCount {
    /// `table.column`.
    pub column: String,
    /// Values sealed again under the current key.
    pub resealed: u64,
    /// Values that were already under it.
    pub current: u64,
}

/// Reseals every sealed value not yet under the current key: one transaction
/// per column (its rows locked), so a failure leaves each column either all
/// done or as it was, and running it again only does what is left. A value
/// no key of the ring opens stops the rotation with the row it is in.
pub async fn reseal_all(db: &PgPool, keys: &Keyring) -> Result<Vec<ResealCount>, sqlx::Error> {
    let mut counts = Vec::with_capacity(SEALED.len());
    for spec in SEALED {
        let mut tx = db.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT ctid::text, {ids}, {column} FROM {table} WHERE {column} IS NOT NULL FOR UPDATE",
            ids = spec.ids,
            column = spec.column,
            table = spec.table
        ))
        .fetch_all(&mut *tx)
        .await?;
        let id_count = spec.ids.split(',').count();
        let mut count = ResealCount { column: format!("{}.{}", spec.table, spec.column), resealed: 0, current: 0 };
        for row in rows {
            let sealed: Vec<u8> = row.try_get(id_count + 1)?;
            if keys.is_current(&sealed) {
                count.current += 1;
                continue;
            }
            let ids = (1..=id_count).map(|i| row.try_get::<String, _>(i)).collect::<Result<Vec<_>, _>>()?;
            let purpose = (spec.purpose)(&ids);
            let resealed = keys
                .reseal(&purpose, &sealed)
                .map_err(|source| sqlx::Error::Decode(Box::new(SealedError { purpose, source })))?;
            let ctid: String = row.try_get(0)?;
            sqlx::query(&format!("UPDATE {} SET {} = $2 WHERE ctid = $1::tid", spec.table, spec.column))
                .bind(ctid)
                .bind(resealed)
                .execute(&mut *tx)
                .await?;
            count.resealed += 1;
        }
        tx.commit().await?;
        counts.push(count);
    }
    Ok(counts)
}

/// Seals what a database from before sealing holds in plain text and clears
/// the plain columns, in one transaction. Returns how many rows it sealed
/// (0 on every start after the first).
pub async fn seal_plaintext(db: &PgPool, keys: &Keyring) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut sealed = 0;
    let vars: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT app_id, key, value FROM config_vars WHERE value IS NOT NULL FOR UPDATE")
            .fetch_all(&mut *tx)
            .await?;
    for (app_id, key, value) in vars {
        sqlx::query("UPDATE config_vars SET value_sealed = $3, value = NULL WHERE app_id = $1 AND key = $2")
            .bind(app_id)
            .bind(&key)
            .bind(keys.seal(&config_var_purpose(app_id, &key), value.as_bytes()))
            .execute(&mut *tx)
            .await?;
        sealed += 1;
    }
    for (table, plain, column, purpose) in [
        ("releases", "config", "config_sealed", release_config_purpose as fn(Uuid) -> String),
        ("runs", "env", "env_sealed", run_env_purpose),
    ] {
        let rows: Vec<(Uuid, sqlx::types::Json<BTreeMap<String, String>>)> =
            sqlx::query_as(&format!("SELECT id, {plain} FROM {table} WHERE {column} IS NULL FOR UPDATE"))
                .fetch_all(&mut *tx)
                .await?;
        for (id, map) in rows {
            sqlx::query(&format!("UPDATE {table} SET {column} = $2, {plain} = '{{}}'::jsonb WHERE id = $1"))
                .bind(id)
                .bind(seal_map(keys, &purpose(id), &map.0))
                .execute(&mut *tx)
                .await?;
            sealed += 1;
        }
    }
    let addons: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, admin_password FROM addons WHERE admin_password IS NOT NULL FOR UPDATE")
            .fetch_all(&mut *tx)
            .await?;
    for (id, password) in addons {
        sqlx::query("UPDATE addons SET admin_password_sealed = $2, admin_password = NULL WHERE id = $1")
            .bind(id)
            .bind(keys.seal(&addon_admin_purpose(id), password.as_bytes()))
            .execute(&mut *tx)
            .await?;
        sealed += 1;
    }
    let logins: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, password, url FROM addon_credentials WHERE password IS NOT NULL OR url IS NOT NULL FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (id, password, url) in logins {
        sqlx::query(
            "UPDATE addon_credentials SET password_sealed = $2, url_sealed = $3, password = NULL, url = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(keys.seal(&credential_password_purpose(id), password.as_bytes()))
        .bind(keys.seal(&credential_url_purpose(id), url.as_bytes()))
        .execute(&mut *tx)
        .await?;
        sealed += 1;
    }
    tx.commit().await?;
    Ok(sealed)
}
