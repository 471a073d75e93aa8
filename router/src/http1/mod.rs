//! The HTTP/1.1 pieces both sides of the proxy share, like Pingora's `protocols/http/v1/`:
//! [`server`](crate::server) (clients) and [`upstream`](crate::upstream) (instances) both
//! import these, and this module imports neither.

pub mod body;
pub mod framing;
pub mod io;
