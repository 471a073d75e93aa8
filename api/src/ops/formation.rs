//! Formation: how many processes of each type an app runs, and their size.

use paas_types::{FormationChange, FormationPatch, ProcessFormation, Size};
use serde_json::json;
use sqlx::PgPool;

use crate::auth::AuthUser;
use crate::db;
use crate::db::apps::AppRow;
use crate::error::{ApiError, ApiResult};
use crate::scheduler;
use crate::validate;

/// Most processes of one type.
pub const MAX_QUANTITY: i64 = 100;

/// Validates and applies a formation patch, records the event and lets the
/// scheduler react; answers the new formation.
pub async fn scale(
    db: &PgPool,
    user: &AuthUser,
    app: &AppRow,
    patch: &FormationPatch,
) -> ApiResult<Vec<ProcessFormation>> {
    let changes = validate_patch(patch)?;
    let mut tx = db.begin().await?;
    for (process_type, quantity, size) in &changes {
        db::apps::upsert_formation(&mut *tx, app.id, process_type, *quantity, *size).await?;
    }
    let event = db::events::NewEvent {
        tenant_id: app.tenant_id,
        app: Some((app.id, &app.name)),
        actor_id: Some(user.id),
        action: "formation.update",
        data: json!(patch),
    };
    db::events::record(&mut *tx, event).await?;
    tx.commit().await?;
    scheduler::reconcile_apps(db, [app.id]).await;
    let rows = db::apps::formation(db, app.id).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

type Change<'a> = (&'a str, Option<i32>, Option<Size>);

fn validate_patch(patch: &FormationPatch) -> ApiResult<Vec<Change<'_>>> {
    if patch.is_empty() {
        return Err(ApiError::validation("name at least one process type, e.g. {\"web\": 2}"));
    }
    patch
        .iter()
        .map(|(process_type, change)| {
            if !validate::is_process_type(process_type) {
                return Err(ApiError::validation(format!(
                    "process type {process_type:?} is invalid: use a-z, 0-9, '_' and '-', starting with a letter"
                )));
            }
            let (quantity, size) = match change {
                FormationChange::Quantity(q) => (Some(*q), None),
                FormationChange::Spec { quantity, size } => (*quantity, *size),
            };
            let quantity = quantity
                .map(|q| {
                    if (0..=MAX_QUANTITY).contains(&q) {
                        Ok(q as i32)
                    } else {
                        Err(ApiError::validation(format!(
                            "quantity of {process_type} must be between 0 and {MAX_QUANTITY}"
                        )))
                    }
                })
                .transpose()?;
            Ok((process_type.as_str(), quantity, size))
        })
        .collect()
}
