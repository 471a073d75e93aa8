//! Running git's services (`upload-pack`, `receive-pack`) in stateless-RPC
//! mode, and the HTTP framing around them.

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::error::GitError;
use crate::error::ApiError;

pub fn result_response(service: &str, body: Body) -> Response {
    (
        [(header::CONTENT_TYPE, format!("application/x-{service}-result")), (header::CACHE_CONTROL, "no-cache".into())],
        body,
    )
        .into_response()
}

/// The request body, un-gzipped when git compressed it.
/// Decompressed on a blocking thread, and never past `limit` bytes.
pub async fn request_body(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Vec<u8>, GitError> {
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
pub fn spawn_service(
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
