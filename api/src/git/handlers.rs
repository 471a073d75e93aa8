//! The three smart-HTTP endpoints: the ref advertisement, fetch and push,
//! authenticated by HTTP basic auth (the password is an API or session token).

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::process::Command;
use tokio_util::io::ReaderStream;

use super::error::GitError;
use super::service::{request_body, result_response, spawn_service};
use super::state::GitState;
use crate::auth::{AuthUser, ClientAddr};
use crate::db;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct InfoRefsQuery {
    service: Option<String>,
}

/// The user behind HTTP basic credentials (password = API token or session
/// token), throttled per client address like every credential check.
async fn git_user(state: &GitState, client: ClientAddr, headers: &HeaderMap) -> Result<AuthUser, GitError> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(GitError::Unauthorized)?;
    let encoded = value.strip_prefix("Basic ").ok_or(GitError::Unauthorized)?;
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| GitError::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| GitError::Unauthorized)?;
    let (_, password) = decoded.split_once(':').ok_or(GitError::Unauthorized)?;
    match AuthUser::from_credential_throttled(&state.core, client.0, password).await {
        Ok(user) => Ok(user),
        Err(err @ ApiError::TooManyAttempts { .. }) => Err(GitError::Api(err)),
        Err(_) => Err(GitError::Unauthorized),
    }
}

/// The app of `<name>.git`, if the user may see it and the credential may
/// fetch from it, or push to it when `push` (the scope table's git rule).
async fn git_app(state: &GitState, user: &AuthUser, repo: &str, push: bool) -> Result<db::apps::AppRow, GitError> {
    let name = repo.strip_suffix(".git").unwrap_or(repo);
    let app =
        db::apps::find_for_user(&state.db, user.id, name).await.map_err(ApiError::from)?.ok_or(GitError::NotFound)?;
    user.access.authorize_git(push, &app.name)?;
    Ok(app)
}

fn service_name(service: &str) -> Result<&'static str, GitError> {
    match service {
        "git-upload-pack" => Ok("upload-pack"),
        "git-receive-pack" => Ok("receive-pack"),
        _ => Err(GitError::BadService),
    }
}

/// `GET info/refs?service=...`: the ref advertisement.
pub async fn info_refs(
    State(state): State<GitState>,
    Path(repo): Path<String>,
    Query(query): Query<InfoRefsQuery>,
    client: ClientAddr,
    headers: HeaderMap,
) -> Result<Response, GitError> {
    let user = git_user(&state, client, &headers).await?;
    let service = query.service.as_deref().ok_or(GitError::BadService)?;
    let command = service_name(service)?;
    // Refusing a push here, at the ref advertisement, shows git users the reason.
    let app = git_app(&state, &user, &repo, command == "receive-pack").await?;
    let dir = state.repos.checkout(&state.db, app.id).await?;
    let output = Command::new("git").args([command, "--stateless-rpc", "--advertise-refs"]).arg(&dir).output().await?;
    if !output.status.success() {
        return Err(GitError::Io(std::io::Error::other(String::from_utf8_lossy(&output.stderr).into_owned())));
    }
    let announce = format!("# service={service}\n");
    let mut body = format!("{:04x}{announce}0000", announce.len() + 4).into_bytes();
    body.extend_from_slice(&output.stdout);
    Ok((
        [
            (header::CONTENT_TYPE, format!("application/x-{service}-advertisement")),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        body,
    )
        .into_response())
}

/// `POST git-upload-pack`: fetch and clone.
pub async fn upload_pack(
    State(state): State<GitState>,
    Path(repo): Path<String>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GitError> {
    let user = git_user(&state, client, &headers).await?;
    let app = git_app(&state, &user, &repo, false).await?;
    let dir = state.repos.checkout(&state.db, app.id).await?;
    let input = request_body(&headers, body, state.settings.max_source_bytes).await?;
    let (mut child, stdout) = spawn_service("upload-pack", &dir, &[], input)?;
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(result_response("git-upload-pack", Body::from_stream(ReaderStream::new(stdout))))
}

/// `POST git-receive-pack`: a push. The pre-receive hook hands `main` to
/// `push::serve_hook`, which builds it and streams the output back.
pub async fn receive_pack(
    State(state): State<GitState>,
    Path(repo): Path<String>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GitError> {
    let user = git_user(&state, client, &headers).await?;
    let app = git_app(&state, &user, &repo, true).await?;
    let input = request_body(&headers, body, state.settings.max_source_bytes).await?;
    let body = super::push::start(state, user, app, input).await?;
    Ok(result_response("git-receive-pack", body))
}
