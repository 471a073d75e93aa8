//! Fetches, verifies and unpacks a release's static bundle into `<state>/statics/<sha256>/`.
//!
//! The directory appears only by an atomic rename after a verified, complete
//! unpack, so its existence means "ready" even after a crash mid-download.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use paas_types::routing::StaticBundle;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::source::ApiClient;

/// Longest a bundle download may take.
const BUNDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a bundle is not available.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle digest `{sha256}` is not 64 hex digits")]
    InvalidDigest { sha256: String },
    #[error("downloading bundle {path}")]
    Fetch {
        path: String,
        #[source]
        source: paas_types::client::ClientError,
    },
    #[error("bundle {path} has digest {actual}, the table says {expected}")]
    Mismatch { path: String, expected: String, actual: String },
    #[error("storing bundle {sha256}")]
    Io {
        sha256: String,
        #[source]
        source: io::Error,
    },
}

/// The unpacked directory of `bundle`, downloading it first when not on disk yet.
pub async fn ensure(api: &ApiClient, bundle: &StaticBundle, statics_dir: &Path) -> Result<PathBuf, BundleError> {
    let sha = bundle.sha256.to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BundleError::InvalidDigest { sha256: bundle.sha256.clone() });
    }
    let dest = statics_dir.join(&sha);
    if dest.is_dir() {
        return Ok(dest);
    }
    let io_err = |source| BundleError::Io { sha256: sha.clone(), source };
    tokio::fs::create_dir_all(statics_dir).await.map_err(io_err)?;
    let tarball = tempfile::NamedTempFile::new_in(statics_dir).map_err(io_err)?;
    let actual = download(api, &bundle.path, tarball.path()).await?;
    if actual != sha {
        return Err(BundleError::Mismatch { path: bundle.path.clone(), expected: sha, actual });
    }
    let staging = tempfile::Builder::new().prefix(".unpack-").tempdir_in(statics_dir).map_err(io_err)?;
    let (src, into) = (tarball.path().to_owned(), staging.path().to_owned());
    tokio::task::spawn_blocking(move || unpack(&src, &into))
        .await
        .map_err(|join| io_err(io::Error::other(join)))?
        .map_err(io_err)?;
    let staged = staging.keep();
    if let Err(source) = tokio::fs::rename(&staged, &dest).await {
        // Another task may have won the race; its copy is as good as ours.
        let _ = tokio::fs::remove_dir_all(&staged).await;
        if !dest.is_dir() {
            return Err(io_err(source));
        }
    }
    tracing::info!(bundle.sha256 = %sha, release = bundle.release, "static bundle ready");
    Ok(dest)
}

/// Streams the tarball to `to`, returning its hex SHA-256.
async fn download(api: &ApiClient, path: &str, to: &Path) -> Result<String, BundleError> {
    let fetch = |source| BundleError::Fetch { path: path.to_owned(), source };
    let mut response = api.client().static_bundle(path, BUNDLE_TIMEOUT).await.map_err(fetch)?;
    let io_err = |source| BundleError::Io { sha256: String::new(), source };
    let mut file = tokio::fs::File::create(to).await.map_err(io_err)?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = response.chunk().await.map_err(fetch)? {
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io_err)?;
    }
    file.flush().await.map_err(io_err)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Unpacks a gzip tarball; `tar` refuses entries escaping `into`, and ownership/permissions are not restored.
fn unpack(tarball: &Path, into: &Path) -> io::Result<()> {
    let file = std::fs::File::open(tarball)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(io::BufReader::new(file)));
    archive.set_preserve_permissions(false);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    archive.unpack(into)
}
