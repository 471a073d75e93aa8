//! The client-facing HTTP/1.1 server: strict head parsing, the connection loop, reply writing,
//! and the [`handler`] interface every client protocol calls.
//!
//! Body framing and connection I/O are shared with the upstream side and live in
//! [`http1`](crate::http1).

pub mod conn;
pub mod handler;
pub mod head;
pub mod reply;
pub mod tunnel;
