//! What a build needs from the operator, and why a build fails.

use std::path::PathBuf;

use super::deps::DepsError;
use super::installer::Installer;
use crate::client::ClientError;
use crate::detect;
use crate::docker::EngineError;

/// Operator settings that reach the image build.
#[derive(Debug, Clone, Default)]
pub struct BuildSettings {
    pub base_image: String,
    /// PEM bundle installed as the image's CA certificates (for pip behind TLS interception).
    pub ca_bundle: Option<Vec<u8>>,
    pub pip_index_url: Option<String>,
    pub https_proxy: Option<String>,
    /// Which program installs the app's Python packages.
    pub installer: Installer,
    /// Node-local download/wheel cache shared by builds (mounted into install containers).
    pub cache_dir: PathBuf,
    /// Longest a build (or its release command) may run.
    pub timeout: std::time::Duration,
}

/// Why a build failed, as shown to the user at the end of the build log.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot fetch the source")]
    Fetch(#[source] ClientError),
    #[error("the source is not a valid gzip tarball: {0}")]
    Unpack(String),
    #[error(transparent)]
    Detect(#[from] detect::DetectError),
    #[error("cannot store the static files")]
    Static(#[source] ClientError),
    #[error(transparent)]
    Statics(#[from] StaticsError),
    #[error(transparent)]
    Dependencies(#[from] DepsError),
    #[error("{0}")]
    Image(String),
    /// A command of the build failed; the log shows its command and last lines.
    #[error("{what} failed{}{}", code.map(|c| format!(" (exit code {c})")).unwrap_or_default(), detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Step { what: String, code: Option<i64>, detail: Option<String>, command: Option<String>, tail: Vec<String> },
    #[error("the release command failed (exit code {0}); the previous release keeps running")]
    ReleaseCommand(i64),
    #[error("build workspace error")]
    Io(#[from] std::io::Error),
}

/// Why the static-files step failed the build.
#[derive(Debug, thiserror::Error)]
pub enum StaticsError {
    #[error("the static-files probe could not run")]
    Probe(#[source] EngineError),
    #[error(
        "`python manage.py collectstatic --noinput` failed (exit code {0}); fix it, or set DISABLE_COLLECTSTATIC=1 \
         to skip it and let the app serve its static files"
    )]
    Collectstatic(i64),
    #[error("copying {path} out of the build container")]
    Copy {
        path: String,
        #[source]
        source: EngineError,
    },
    #[error("adding the collected static files to the image")]
    Bake(#[source] EngineError),
    #[error("packing the static files")]
    Pack(#[from] std::io::Error),
}
