//! Nodes of the platform (platform administrators only).

use axum::extract::State;
use paas_types::Node;

use super::extract::ApiJson;
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::ops;
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

/// Issues a join token that agents use once to register a node (shown once).
#[utoipa::path(post, path = "/v1/nodes/join-tokens", tag = "nodes", security(("bearer" = [])),
    responses((status = 201, body = paas_types::JoinToken), (status = 403, body = paas_types::ErrorBody)))]
pub async fn create_join_token(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<(axum::http::StatusCode, ApiJson<paas_types::JoinToken>)> {
    let token = ops::nodes::create_join_token(&state.db, &user).await?;
    Ok((axum::http::StatusCode::CREATED, ApiJson(token)))
}
