//! `paas cache purge [PATH]`: drop an app's cached responses from every router.

use serde_json::json;
use sqlx::PgPool;

use crate::auth::AuthUser;
use crate::db;
use crate::db::apps::AppRow;
use crate::db::cache::PurgeRow;
use crate::error::{ApiError, ApiResult};

/// Records a purge of `path` (everything for `None`); the route table's version moves, so
/// routers apply it within their long-poll round trip.
pub async fn purge(db: &PgPool, user: &AuthUser, app: &AppRow, path: Option<&str>) -> ApiResult<PurgeRow> {
    if let Some(path) = path {
        validate_path(path)?;
    }
    let mut tx = db.begin().await?;
    db::cache::lock_app(&mut *tx, app.id).await?;
    let row = db::cache::insert(&mut *tx, app.id, path).await?;
    db::cache::prune(&mut *tx).await?;
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "cache.purge",
        data: json!({ "seq": row.seq, "path": path }),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(row)
}

/// A path as clients send it: starts with `/`, printable ASCII (percent-encoded), bounded.
fn validate_path(path: &str) -> ApiResult<()> {
    if !path.starts_with('/') {
        return Err(ApiError::validation(format!("{path:?} is not a path: it must start with `/`")));
    }
    if path.len() > paas_types::MAX_PURGE_PATH {
        return Err(ApiError::validation(format!("the path is longer than {} characters", paas_types::MAX_PURGE_PATH)));
    }
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::validation(
            "the path must be printable ASCII without spaces, as clients send it (percent-encode the rest)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_path;

    #[test]
    fn purge_paths_are_request_targets() {
        assert!(validate_path("/").is_ok());
        assert!(validate_path("/pricing?plan=pro&x=%20").is_ok());
        assert!(validate_path("pricing").is_err());
        assert!(validate_path("/a b").is_err());
        assert!(validate_path("/caf\u{e9}").is_err());
        assert!(validate_path(&format!("/{}", "a".repeat(2048))).is_err());
    }
}
