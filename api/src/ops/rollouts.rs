//! How a release's rollout ended, for whoever waits on it (`git push`):
//! promoted (with warnings such as a web process rejecting the app's
//! hostname), failed (why, which release serves instead, and the crashed
//! instances' last output), or still pending when the wait ran out.

use std::time::Duration;

use paas_types::{ActualState, ReleaseStatus};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;
use crate::db::instances::InstanceRow;
use crate::error::ApiResult;

/// How often the outcome is looked up while waiting.
const POLL: Duration = Duration::from_millis(300);

/// The end of a rollout.
#[derive(Debug, Clone)]
pub enum RolloutOutcome {
    /// It serves. `warnings` are hints about its instances (one per problem).
    Promoted { warnings: Vec<String> },
    /// It failed; `serving` is the release that serves instead, if any;
    /// `crashed` are its failing instances, with their last output.
    Failed { why: String, serving: Option<i32>, crashed: Vec<InstanceRow> },
    /// Still rolling out when the wait ended.
    Pending,
}

/// Waits (at most `timeout`) until release `version` of the app is promoted or failed.
pub async fn wait_for_outcome(db: &PgPool, app_id: Uuid, version: i32, timeout: Duration) -> ApiResult<RolloutOutcome> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (status, failure) =
            db::releases::status(db, app_id, version).await?.unwrap_or((ReleaseStatus::Pending, None));
        match status {
            ReleaseStatus::Promoted => return promoted(db, app_id, version).await,
            ReleaseStatus::Failed => {
                let serving = db::releases::deployable(db, app_id).await?.map(|r| r.version);
                let crashed = db::instances::list_for_app(db, app_id)
                    .await?
                    .into_iter()
                    // Crashed ones may be stopping already: their output stays.
                    .filter(|i| i.release == version && (i.actual_state.is_failing() || !i.last_output.0.is_empty()))
                    .collect();
                let why = failure.unwrap_or_else(|| "it did not become healthy".into());
                return Ok(RolloutOutcome::Failed { why, serving, crashed });
            }
            ReleaseStatus::Pending if tokio::time::Instant::now() >= deadline => return Ok(RolloutOutcome::Pending),
            ReleaseStatus::Pending => tokio::time::sleep(POLL).await,
        }
    }
}

/// A promoted release's warnings: one per distinct hint of its running instances.
async fn promoted(db: &PgPool, app_id: Uuid, version: i32) -> ApiResult<RolloutOutcome> {
    let mut warnings: Vec<String> = db::instances::list_for_app(db, app_id)
        .await?
        .iter()
        .filter(|i| i.release == version && i.actual_state == ActualState::Running)
        .filter_map(InstanceRow::hint)
        .collect();
    warnings.sort();
    warnings.dedup();
    Ok(RolloutOutcome::Promoted { warnings })
}
