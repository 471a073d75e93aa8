//! Which program installs the app's Python packages, and how each one is
//! called to install into the app's virtualenv.

/// The app's virtualenv in every image, as every command names it: a
/// symlink to [`VENV_DIR`].
pub(super) const VENV: &str = "/app/.venv";
/// Where the virtualenv really is: outside the app directory, which app
/// containers get as a copy of the image's made at every start (so the copy
/// holds the code only), on the read-only root filesystem.
pub(super) const VENV_DIR: &str = "/opt/paas/venv";

/// Which program installs Python packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Installer {
    /// uv (in the base image): parallel, with a shared wheel cache.
    #[default]
    Uv,
    /// pip, the fallback.
    Pip,
}

impl Installer {
    pub fn name(self) -> &'static str {
        match self {
            Installer::Uv => "uv",
            Installer::Pip => "pip",
        }
    }

    /// The install command for `args` into the venv.
    pub(super) fn install(self, args: &str) -> String {
        match self {
            Installer::Uv => format!("uv pip install --python {VENV}/bin/python {args}"),
            Installer::Pip => {
                format!("python3 -m pip --python {VENV}/bin/python install --progress-bar off --no-input {args}")
            }
        }
    }
}
