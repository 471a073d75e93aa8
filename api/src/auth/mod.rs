//! Authentication: passwords (argon2), session JWTs (HS256, pinned), API
//! tokens (random secrets stored as SHA-256), and the `AuthUser` extractor
//! that accepts either kind of bearer credential.

mod client;
mod extract;
pub mod jwt;
pub mod password;
pub mod throttle;
pub mod token;

pub use client::ClientAddr;
pub use extract::{AgentNode, AuthUser, JoinCredential, RouterClient};
