//! The agent protocol: registration, heartbeats, desired state, reports,
//! the build queue and log shipping. Authenticated by node tokens.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use paas_types::agent::{
    BuildJob, BuildLogLines, BuildResult, DesiredInstance, DesiredState, LogBatch, NodeRegistered, NodeReport,
    RegisterNode,
};
use paas_types::Size;
use serde_json::json;
use uuid::Uuid;

use crate::auth::{token, AgentNode, JoinCredential};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::scheduler;
use crate::state::AppState;

/// Prefix of node tokens, told apart from user API tokens.
const NODE_TOKEN_PREFIX: &str = "paasnode_";

/// Registers (or re-registers) a node; authenticated with a join token.
#[utoipa::path(post, path = "/v1/agent/register", tag = "agent", security(("bearer" = [])), request_body = RegisterNode,
    responses((status = 200, body = NodeRegistered), (status = 401, body = paas_types::ErrorBody),
              (status = 409, body = paas_types::ErrorBody), (status = 422, body = paas_types::ErrorBody)))]
pub async fn register_node(
    State(state): State<AppState>,
    _join: JoinCredential,
    ApiJson(req): ApiJson<RegisterNode>,
) -> ApiResult<ApiJson<NodeRegistered>> {
    let name_ok = req.name.as_bytes().first().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && req.name.len() <= 63
        && req.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !name_ok {
        return Err(ApiError::validation("node names are 1-63 characters of a-z, 0-9, '-' and '.'"));
    }
    if req.cpu_millis <= 0 || req.memory_mb <= 0 {
        return Err(ApiError::validation("cpu_millis and memory_mb must be positive"));
    }
    let (secret, _) = token::generate();
    let node_token = format!("{NODE_TOKEN_PREFIX}{}", &secret[token::PREFIX.len()..]);
    let node_id = db::nodes::register(&state.db, &req, &token::hash(&node_token)).await?.ok_or_else(|| {
        ApiError::Conflict(format!("node {:?} is alive; stop its agent or register under another name", req.name))
    })?;
    tracing::info!(node.id = %node_id, node.name = %req.name, "node registered");
    Ok(ApiJson(NodeRegistered { node_id, node_token }))
}

/// Records that the node is alive.
#[utoipa::path(post, path = "/v1/agent/heartbeat", tag = "agent", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = paas_types::ErrorBody)))]
pub async fn heartbeat(State(state): State<AppState>, node: AgentNode) -> ApiResult<StatusCode> {
    if db::nodes::heartbeat(&state.db, node.id).await? {
        tracing::info!(node.name = %node.name, "node is back up");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Everything this node should run.
#[utoipa::path(get, path = "/v1/agent/desired", tag = "agent", security(("bearer" = [])),
    responses((status = 200, body = DesiredState), (status = 401, body = paas_types::ErrorBody)))]
pub async fn desired_state(State(state): State<AppState>, node: AgentNode) -> ApiResult<ApiJson<DesiredState>> {
    let rows = db::instances::desired_for_node(&state.db, node.id).await?;
    let instances = rows
        .into_iter()
        .map(|row| {
            let size = Size::parse(&row.size).unwrap_or(Size::Standard);
            let mut env = row.config.0;
            env.entry("WEB_CONCURRENCY".into()).or_insert_with(|| size.web_concurrency().to_string());
            if row.process_type == "web" {
                env.insert("PORT".into(), "5000".into());
            }
            env.insert("PAAS_APP".into(), row.app.clone());
            env.insert("PAAS_RELEASE".into(), row.release.to_string());
            env.insert("PAAS_PROCESS_TYPE".into(), row.process_type.clone());
            env.insert("PAAS_INSTANCE".into(), row.id.to_string());
            DesiredInstance {
                instance_id: row.id,
                app: row.app,
                release: row.release,
                process_type: row.process_type,
                image: row.image,
                build_id: row.build_id,
                env,
                size,
                hostname: row.hostname,
            }
        })
        .collect();
    Ok(ApiJson(DesiredState { instances }))
}

/// The node's view of its instances; the scheduler reacts to changes.
#[utoipa::path(post, path = "/v1/agent/report", tag = "agent", security(("bearer" = [])), request_body = NodeReport,
    responses((status = 204), (status = 401, body = paas_types::ErrorBody)))]
pub async fn report_instances(
    State(state): State<AppState>,
    node: AgentNode,
    ApiJson(report): ApiJson<NodeReport>,
) -> ApiResult<StatusCode> {
    let mut changed = Vec::new();
    for line in &report.instances {
        if let Some(app_id) = db::instances::apply_report(&state.db, node.id, line).await? {
            changed.push(app_id);
        }
    }
    let reported: Vec<Uuid> = report.instances.iter().map(|i| i.instance_id).collect();
    db::instances::mark_unreported_stopped(&state.db, node.id, &reported).await?;
    scheduler::reconcile_apps(&state.db, changed).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Claims the next queued build, if any (204 when the queue is empty).
#[utoipa::path(post, path = "/v1/agent/builds/claim", tag = "agent", security(("bearer" = [])),
    responses((status = 200, body = BuildJob), (status = 204), (status = 401, body = paas_types::ErrorBody)))]
pub async fn claim_build(State(state): State<AppState>, node: AgentNode) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let lease_secs = state.settings.build_lease_secs;
    match db::builds::claim(&state.db, node.id, lease_secs).await? {
        Some((build_id, app)) => {
            tracing::info!(build.id = %build_id, node.name = %node.name, "build claimed");
            let app_id: Uuid = sqlx::query_scalar("SELECT app_id FROM builds WHERE id = $1")
                .bind(build_id)
                .fetch_one(&state.db)
                .await?;
            let env = db::apps::config(&state.db, app_id).await?;
            Ok(ApiJson(BuildJob { build_id, app, lease_secs, env }).into_response())
        }
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// The source tarball of a build this node holds.
#[utoipa::path(get, path = "/v1/agent/builds/{id}/source", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/gzip", body = super::Tarball), (status = 404, body = paas_types::ErrorBody)))]
pub async fn build_source(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], Vec<u8>)> {
    let data = db::builds::claimed_source(&state.db, id, node.id).await?.ok_or_else(|| ApiError::not_found("build"))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/gzip")], data))
}

/// The source of a succeeded build, for a node that must rebuild its image
/// (images are node-local when no registry is configured).
#[utoipa::path(get, path = "/v1/agent/sources/{id}", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/gzip", body = super::Tarball), (status = 404, body = paas_types::ErrorBody)))]
pub async fn built_source(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], Vec<u8>)> {
    let data =
        db::builds::succeeded_source(&state.db, id, node.id).await?.ok_or_else(|| ApiError::not_found("build"))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/gzip")], data))
}

/// Appends build output and renews the lease (409: the lease was lost).
#[utoipa::path(post, path = "/v1/agent/builds/{id}/log", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = BuildLogLines,
    responses((status = 204), (status = 409, body = paas_types::ErrorBody)))]
pub async fn append_build_log(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(lines): ApiJson<BuildLogLines>,
) -> ApiResult<StatusCode> {
    let mut text = String::new();
    for line in &lines.lines {
        // Postgres text cannot hold NUL bytes.
        text.push_str(&line.trim_end_matches('\n').replace('\0', ""));
        text.push('\n');
    }
    if db::builds::append_log(&state.db, id, node.id, &text, state.settings.build_lease_secs).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::Conflict("this node no longer holds the build".into()))
    }
}

/// Stores the build's static bundle (a gzip tarball).
#[utoipa::path(put, path = "/v1/agent/builds/{id}/static", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = super::Tarball, content_type = "application/gzip"),
    responses((status = 204), (status = 409, body = paas_types::ErrorBody)))]
pub async fn upload_static_bundle(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let blob = db::builds::insert_blob(&mut *tx, &body).await?;
    if !db::builds::set_static(&mut *tx, id, node.id, blob).await? {
        return Err(ApiError::Conflict("this node no longer holds the build".into()));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends a build. Success makes a release with the app's current config.
#[utoipa::path(post, path = "/v1/agent/builds/{id}/finish", tag = "agent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = BuildResult,
    responses((status = 204), (status = 409, body = paas_types::ErrorBody)))]
pub async fn finish_build(
    State(state): State<AppState>,
    node: AgentNode,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(result): ApiJson<BuildResult>,
) -> ApiResult<StatusCode> {
    if result.success && result.image.is_none() {
        return Err(ApiError::validation("a successful build needs an image"));
    }
    let mut tx = state.db.begin().await?;
    let app_id = db::builds::finish(&mut *tx, id, node.id, &result)
        .await?
        .ok_or_else(|| ApiError::Conflict("this node no longer holds the build".into()))?;
    if result.success {
        db::apps::lock(&mut tx, app_id).await?;
        for process_type in result.process_types.keys() {
            // New process types appear in the formation (web at 1, others at 0).
            sqlx::query(
                "INSERT INTO formation (app_id, process_type, quantity) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(app_id)
            .bind(process_type)
            .bind(i32::from(process_type == "web"))
            .execute(&mut *tx)
            .await?;
        }
        let config = db::apps::config(&mut *tx, app_id).await?;
        let author: Option<Uuid> =
            sqlx::query_scalar("SELECT author_id FROM builds WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
        let description = format!("Deploy build {}", &id.simple().to_string()[..8]);
        let version = db::releases::create(&mut tx, app_id, Some(id), &config, &description, author).await?;
        let tenant_id: Uuid =
            sqlx::query_scalar("SELECT tenant_id FROM apps WHERE id = $1").bind(app_id).fetch_one(&mut *tx).await?;
        let name: String =
            sqlx::query_scalar("SELECT name FROM apps WHERE id = $1").bind(app_id).fetch_one(&mut *tx).await?;
        let event = db::events::NewEvent {
            tenant_id,
            app: Some((app_id, &name)),
            actor_id: author,
            action: "release.create",
            data: json!({ "version": version, "build": id }),
        };
        db::events::record(&mut *tx, event).await?;
    }
    tx.commit().await?;
    tracing::info!(build.id = %id, success = result.success, "build finished");
    scheduler::reconcile_apps(&state.db, [app_id]).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Output lines of this node's instances.
#[utoipa::path(post, path = "/v1/agent/logs", tag = "agent", security(("bearer" = [])), request_body = LogBatch,
    responses((status = 204), (status = 401, body = paas_types::ErrorBody)))]
pub async fn ship_logs(
    State(state): State<AppState>,
    node: AgentNode,
    ApiJson(batch): ApiJson<LogBatch>,
) -> ApiResult<StatusCode> {
    let ids: Vec<Uuid> = batch.lines.iter().map(|l| l.instance_id).collect();
    // At most 8 KiB per line; Postgres text cannot hold NUL bytes.
    let lines: Vec<String> =
        batch.lines.into_iter().map(|l| l.line.chars().filter(|c| *c != '\0').take(8192).collect()).collect();
    db::logs::insert_batch(&state.db, node.id, &ids, &lines).await?;
    Ok(StatusCode::NO_CONTENT)
}
