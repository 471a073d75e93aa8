//! The client-facing HTTP/1.1 server: strict head parsing, body framing, reply writing.

pub mod body;
pub mod conn;
pub mod head;
pub mod reply;
