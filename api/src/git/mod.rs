//! Git over smart HTTP at `/git/<app>.git`, served by real git
//! (`git upload-pack` / `git receive-pack --stateless-rpc`), authenticated by
//! HTTP basic auth whose password is an API token (or a session token).
//! Another tenant's app answers exactly like a missing repository.

mod push;
mod repo;

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio_util::io::ReaderStream;

pub use repo::RepoCache;

use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// The git endpoints; `max_body` bounds a push's pack.
pub fn router(max_body: usize) -> Router<AppState> {
    Router::new()
        .route("/git/{repo}/info/refs", get(info_refs))
        .route("/git/{repo}/git-upload-pack", post(upload_pack))
        .route("/git/{repo}/git-receive-pack", post(receive_pack))
        .layer(DefaultBodyLimit::max(max_body))
}

/// Failures of the git endpoints, answered in plain text (git shows it).
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("authentication required: use your API token as the password")]
    Unauthorized,
    #[error("repository not found")]
    NotFound,
    #[error("unsupported service")]
    BadService,
    #[error("another push to this app is in progress; try again when it has finished")]
    Busy,
    #[error("the request body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("repository error")]
    Repo(#[from] repo::RepoError),
    #[error("git process error")]
    Io(#[from] std::io::Error),
}

impl IntoResponse for GitError {
    fn into_response(self) -> Response {
        let status = match &self {
            GitError::Unauthorized => StatusCode::UNAUTHORIZED,
            GitError::NotFound => StatusCode::NOT_FOUND,
            GitError::BadService => StatusCode::FORBIDDEN,
            GitError::Busy => StatusCode::CONFLICT,
            GitError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            GitError::Api(e) if e.status_and_code().0 == StatusCode::UNAUTHORIZED => StatusCode::UNAUTHORIZED,
            GitError::Api(e) => return ApiErrorRef(e).into_response(),
            GitError::Repo(_) | GitError::Io(_) => {
                tracing::error!(error = &self as &dyn std::error::Error, "git request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = (status, format!("{self}\n")).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"paas\""));
        }
        response
    }
}

/// Renders a borrowed ApiError (its status and message) as plain text.
struct ApiErrorRef<'a>(&'a ApiError);

impl IntoResponse for ApiErrorRef<'_> {
    fn into_response(self) -> Response {
        let (status, _) = self.0.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = self.0 as &dyn std::error::Error, "git request failed");
            return (status, "internal error\n").into_response();
        }
        (status, format!("{}\n", self.0)).into_response()
    }
}

#[derive(Debug, Deserialize)]
pub struct InfoRefsQuery {
    service: Option<String>,
}

/// The user behind HTTP basic credentials (password = API token or session token).
async fn git_user(state: &AppState, headers: &HeaderMap) -> Result<AuthUser, GitError> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(GitError::Unauthorized)?;
    let encoded = value.strip_prefix("Basic ").ok_or(GitError::Unauthorized)?;
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| GitError::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| GitError::Unauthorized)?;
    let (_, password) = decoded.split_once(':').ok_or(GitError::Unauthorized)?;
    AuthUser::from_credential(state, password).await.map_err(|_| GitError::Unauthorized)
}

/// The app of `<name>.git`, if the user may see it.
async fn git_app(state: &AppState, user: &AuthUser, repo: &str) -> Result<db::apps::AppRow, GitError> {
    let name = repo.strip_suffix(".git").unwrap_or(repo);
    db::apps::find_for_user(&state.db, user.id, name).await.map_err(ApiError::from)?.ok_or(GitError::NotFound)
}

fn service_name(service: &str) -> Result<&'static str, GitError> {
    match service {
        "git-upload-pack" => Ok("upload-pack"),
        "git-receive-pack" => Ok("receive-pack"),
        _ => Err(GitError::BadService),
    }
}

/// `GET info/refs?service=...`: the ref advertisement.
async fn info_refs(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    Query(query): Query<InfoRefsQuery>,
    headers: HeaderMap,
) -> Result<Response, GitError> {
    let user = git_user(&state, &headers).await?;
    let app = git_app(&state, &user, &repo).await?;
    let service = query.service.as_deref().ok_or(GitError::BadService)?;
    let command = service_name(service)?;
    let dir = state.git.checkout(&state.db, app.id).await?;
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
async fn upload_pack(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GitError> {
    let user = git_user(&state, &headers).await?;
    let app = git_app(&state, &user, &repo).await?;
    let dir = state.git.checkout(&state.db, app.id).await?;
    let input = request_body(&headers, body, state.settings.max_source_bytes).await?;
    let (mut child, stdout) = spawn_service("upload-pack", &dir, &[], input)?;
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(result_response("git-upload-pack", Body::from_stream(ReaderStream::new(stdout))))
}

/// `POST git-receive-pack`: a push. The pre-receive hook hands `main` to
/// `push::serve_hook`, which builds it and streams the output back.
async fn receive_pack(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GitError> {
    let user = git_user(&state, &headers).await?;
    let app = git_app(&state, &user, &repo).await?;
    let input = request_body(&headers, body, state.settings.max_source_bytes).await?;
    let body = push::start(state, user, app, input).await?;
    Ok(result_response("git-receive-pack", body))
}

fn result_response(service: &str, body: Body) -> Response {
    (
        [(header::CONTENT_TYPE, format!("application/x-{service}-result")), (header::CACHE_CONTROL, "no-cache".into())],
        body,
    )
        .into_response()
}

/// The request body, un-gzipped when git compressed it.
/// Decompressed on a blocking thread, and never past `limit` bytes.
async fn request_body(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Vec<u8>, GitError> {
    let gzip = headers.get(header::CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    if !gzip {
        return Ok(body.to_vec());
    }
    let out = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|_| GitError::Api(ApiError::BadRequest("the gzip request body is corrupt".into())))?;
        Ok::<_, GitError>(out)
    })
    .await
    .map_err(|e| GitError::Io(std::io::Error::other(e)))??;
    if out.len() > limit {
        return Err(GitError::TooLarge(limit));
    }
    Ok(out)
}

/// `git <service> --stateless-rpc <dir>`, fed `input` on stdin (in the
/// background); returns the child and its stdout to stream back.
fn spawn_service(
    service: &str,
    dir: &PathBuf,
    env: &[(&str, &std::ffi::OsStr)],
    input: Vec<u8>,
) -> std::io::Result<(tokio::process::Child, tokio::process::ChildStdout)> {
    let mut command = Command::new("git");
    // git and its hook get a clean environment: never the API's secrets.
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    command.args([service, "--stateless-rpc"]).arg(dir).env_clear().env("PATH", path).env("HOME", dir);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(false).spawn()?;
    let mut stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
    let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
    tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
    });
    Ok((child, stdout))
}
