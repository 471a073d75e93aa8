//! Nodes of the platform (platform administrators only).

use axum::extract::State;
use paas_types::Node;

use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

/// All nodes with their capacity, state and instance count.
#[utoipa::path(get, path = "/v1/nodes", tag = "nodes", security(("bearer" = [])),
    responses((status = 200, body = Vec<Node>), (status = 403, body = paas_types::ErrorBody)))]
pub async fn list_nodes(State(state): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<Vec<Node>>> {
    if !user.is_admin {
        return Err(ApiError::Forbidden("only platform administrators can list nodes".into()));
    }
    let rows = db::nodes::list(&state.db).await?;
    Ok(ApiJson(rows.into_iter().map(Into::into).collect()))
}
