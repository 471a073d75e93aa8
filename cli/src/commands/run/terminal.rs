//! The local terminal: raw mode (restored on drop), its size, and resizes.

use std::os::fd::AsFd;

use rustix::termios::{self, OptionalActions, Termios};
use tokio::sync::mpsc;

/// The terminal in raw mode until dropped: keys go to the remote process
/// as typed (Ctrl-C included), nothing is echoed locally.
pub struct RawMode {
    original: Termios,
}

impl RawMode {
    pub fn enter() -> std::io::Result<RawMode> {
        let stdin = std::io::stdin();
        let original = termios::tcgetattr(stdin.as_fd())?;
        let mut raw = original.clone();
        raw.make_raw();
        termios::tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw)?;
        Ok(RawMode { original })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, &self.original);
    }
}

/// Columns and rows of the terminal on stdout.
pub fn size() -> Option<(u16, u16)> {
    let size = termios::tcgetwinsize(std::io::stdout().as_fd()).ok()?;
    (size.ws_col > 0 && size.ws_row > 0).then_some((size.ws_col, size.ws_row))
}

/// One message per terminal resize (SIGWINCH).
pub fn resizes() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(4);
    if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) {
        tokio::spawn(async move {
            while signal.recv().await.is_some() {
                if tx.send(()).await.is_err() {
                    return;
                }
            }
        });
    }
    rx
}
