//! The route table for routers, long-polled, and the static bundles it names.

use std::time::Duration;

use axum::extract::State;
use paas_types::routing::RouteTable;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::auth::RouterClient;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::ops;
use crate::state::AppState;

/// How long a long poll waits when the router does not say.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TableQuery {
    /// The version the router has: the answer waits until the table differs.
    #[param(nullable = false)]
    after: Option<i64>,
    /// Longest wait in seconds, 0-60 (default 30).
    #[param(nullable = false, minimum = 0, maximum = 60)]
    wait: Option<u64>,
}

/// The whole route table; with `after`, a long poll for the next version.
#[utoipa::path(get, path = "/v1/router/table", tag = "router", security(("bearer" = [])), params(TableQuery),
    responses((status = 200, body = RouteTable), (status = 401, body = paas_types::ErrorBody)))]
pub async fn route_table(
    State(state): State<AppState>,
    _router: RouterClient,
    ApiQuery(query): ApiQuery<TableQuery>,
) -> ApiResult<ApiJson<RouteTable>> {
    let wait = match query.wait {
        None => DEFAULT_WAIT,
        Some(secs) if secs <= ops::routing::MAX_WAIT.as_secs() => Duration::from_secs(secs),
        Some(_) => return Err(ApiError::validation("wait must be between 0 and 60 seconds")),
    };
    Ok(ApiJson(ops::routing::wait_for_table(&state, query.after, wait).await?))
}

/// A static bundle (gzip tarball) named in the route table.
#[utoipa::path(get, path = "/v1/router/statics/{id}", tag = "router", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/gzip", body = super::params::Tarball), (status = 404, body = paas_types::ErrorBody)))]
pub async fn static_bundle(
    State(state): State<AppState>,
    _router: RouterClient,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], Vec<u8>)> {
    let data = db::routing::static_blob(&state.db, id).await?.ok_or_else(|| ApiError::not_found("static bundle"))?;
    Ok((super::params::GZIP, data))
}
