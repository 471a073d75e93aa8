//! The route table, assembled from apps, domains, releases and instances.

use std::collections::HashMap;

use paas_types::routing::{
    AcmeChallenge, Backend, CachePurge, RouteApp, RouteCertificate, RouteTable, StaticBundle, StaticMapping,
};
use paas_types::Size;
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::crypto::Keyring;

pub async fn version(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM route_state").fetch_one(db).await
}

#[derive(sqlx::FromRow)]
struct AppRoute {
    id: Uuid,
    name: String,
    hostname: String,
    domains: Vec<String>,
    release: Option<i32>,
    static_blob_id: Option<Uuid>,
    static_sha256: Option<String>,
    static_mappings: Option<Json<Vec<StaticMapping>>>,
    /// Routes in force (prefix -> process type) for the current release.
    routes: Json<std::collections::BTreeMap<String, String>>,
    request_timeout_secs: i32,
    https_redirect: bool,
    hsts: bool,
}

/// One healthy web instance with what its worker count comes from.
#[derive(sqlx::FromRow)]
struct BackendRow {
    app_id: Uuid,
    id: Uuid,
    address: String,
    /// The instance's release; its sealed config may set `WEB_CONCURRENCY`.
    release_id: Uuid,
    config_sealed: Vec<u8>,
    size: Size,
}

/// A consistent snapshot of every app's routes and the version it is at.
/// Certificate keys (and release configs, for `WEB_CONCURRENCY`) are opened
/// with `keys`; a key that does not open (the operator lost the key) is left
/// out, so HTTP routing never depends on it.
pub async fn table(db: &PgPool, keys: &Keyring) -> Result<RouteTable, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
    let version = version(&mut *tx).await?;
    let apps: Vec<AppRoute> = sqlx::query_as(
        "SELECT a.id, a.name, a.hostname,
                coalesce((SELECT array_agg(d.hostname ORDER BY d.hostname) FROM domains d WHERE d.app_id = a.id), '{}') AS domains,
                cur.version AS release, cur.static_blob_id, encode(bl.sha256, 'hex') AS static_sha256,
                cur.static_mappings, a.request_timeout_secs, a.https_redirect, a.hsts,
                coalesce((SELECT jsonb_object_agg(e.prefix, e.process_type)
                          FROM effective_routes(a.id, cur.routes) e), '{}'::jsonb) AS routes
         FROM apps a
         LEFT JOIN LATERAL (
             -- The newest release that serves (has a healthy web instance),
             -- else the newest: during a rollout the old pages keep their assets.
             SELECT r.version, b.static_blob_id, b.static_mappings, b.routes FROM releases r
             LEFT JOIN builds b ON b.id = r.build_id
             WHERE r.app_id = a.id
             ORDER BY EXISTS (SELECT 1 FROM instances i WHERE i.release_id = r.id AND i.process_type = 'web'
                                AND i.actual_state = 'running' AND i.desired_state = 'running') DESC,
                      r.version DESC
             LIMIT 1
         ) cur ON true
         LEFT JOIN blobs bl ON bl.id = cur.static_blob_id
         ORDER BY a.name",
    )
    .fetch_all(&mut *tx)
    .await?;
    // Every healthy web instance, whatever its release: during a rollout the
    // old ones keep serving until the scheduler stops them.
    // The worker count comes from the same inputs as the instance's
    // environment (its release's config, its size), so the two cannot drift.
    let backends: Vec<BackendRow> = sqlx::query_as(
        "SELECT i.app_id, i.id, i.address, r.id AS release_id, r.config_sealed, i.size
         FROM instances i JOIN nodes n ON n.id = i.node_id JOIN releases r ON r.id = i.release_id
         WHERE i.process_type = 'web' AND i.desired_state = 'running' AND i.actual_state = 'running'
           AND i.address IS NOT NULL AND n.state = 'up'
         ORDER BY i.created_at",
    )
    .fetch_all(&mut *tx)
    .await?;
    let routed = super::process_routes::routed_backends(&mut *tx).await?;
    let mut purges: HashMap<Uuid, Vec<CachePurge>> = HashMap::new();
    for (app_id, purge) in super::cache::recent(&mut *tx).await? {
        purges.entry(app_id).or_default().push(purge);
    }
    let sealed = super::certificates::servable(&mut *tx).await?;
    let acme_challenges = super::certificates::challenges(&mut *tx)
        .await?
        .into_iter()
        .map(|(hostname, token, key_authorization)| AcmeChallenge { hostname, token, key_authorization })
        .collect();
    tx.commit().await?;
    let certificates = sealed
        .into_iter()
        .filter_map(|c| {
            let opened = keys.open_string(&super::certificates::key_purpose(c.domain_id), &c.key_sealed);
            match opened {
                Ok(key_pem) => Some(RouteCertificate {
                    hostnames: vec![c.hostname],
                    chain_pem: c.chain_pem,
                    key_pem,
                    not_after: c.not_after,
                }),
                Err(error) => {
                    tracing::error!(hostname = %c.hostname, %error, "certificate key left out of the route table");
                    None
                }
            }
        })
        .collect();
    let mut by_app: HashMap<Uuid, Vec<Backend>> = HashMap::new();
    let mut web_concurrency: HashMap<Uuid, Option<String>> = HashMap::new();
    for b in backends {
        let configured = web_concurrency.entry(b.release_id).or_insert_with(|| {
            let purpose = super::secrets::release_config_purpose(b.release_id);
            match super::secrets::open_map(keys, &purpose, &b.config_sealed) {
                Ok(mut config) => config.remove("WEB_CONCURRENCY"),
                Err(error) => {
                    tracing::error!(release.id = %b.release_id, %error, "release config does not open; default worker count");
                    None
                }
            }
        });
        let concurrency = b.size.effective_web_concurrency(configured.as_deref());
        by_app.entry(b.app_id).or_default().push(Backend { instance_id: b.id, address: b.address, concurrency });
    }
    let apps = apps
        .into_iter()
        .map(|a| {
            let statics = match (a.static_blob_id, a.static_sha256, a.release) {
                (Some(blob), Some(sha256), Some(release)) => Some(StaticBundle {
                    release,
                    path: format!("/v1/router/statics/{blob}"),
                    sha256,
                    mappings: a.static_mappings.map(|m| m.0).unwrap_or_default(),
                }),
                _ => None,
            };
            let mut hostnames = vec![a.hostname];
            hostnames.extend(a.domains);
            RouteApp {
                name: a.name,
                hostnames,
                release: a.release,
                backends: by_app.remove(&a.id).unwrap_or_default(),
                statics,
                routes: super::process_routes::table_routes(a.id, a.routes.0, &routed),
                request_timeout_secs: u32::try_from(a.request_timeout_secs).ok(),
                cache_purges: purges.remove(&a.id).unwrap_or_default(),
                https_redirect: a.https_redirect,
                hsts: a.hsts,
            }
        })
        .collect();
    Ok(RouteTable { version, apps, certificates, acme_challenges })
}

/// A blob that some build uses as its static bundle (never a source tarball).
pub async fn static_blob(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT data FROM blobs WHERE id = $1 AND EXISTS (SELECT 1 FROM builds WHERE static_blob_id = $1)",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Forwards Postgres route notifications into a watch channel, reconnecting
/// with backoff; the long poll re-checks every second anyway.
pub async fn listen(db: PgPool, tx: tokio::sync::watch::Sender<u64>) {
    let mut backoff = std::time::Duration::from_millis(250);
    loop {
        match sqlx::postgres::PgListener::connect_with(&db).await {
            Ok(mut listener) => {
                if listener.listen("paas_routes").await.is_ok() {
                    backoff = std::time::Duration::from_millis(250);
                    while listener.recv().await.is_ok() {
                        tx.send_modify(|v| *v += 1);
                    }
                }
            }
            Err(error) => tracing::debug!(error = &error as &dyn std::error::Error, "route listener cannot connect"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
    }
}
