//! Authentication: passwords (argon2), session JWTs (HS256, pinned), API
//! tokens (random secrets stored as SHA-256), and the `AuthUser` extractor
//! that accepts either kind of bearer credential and checks it against the
//! route table of `scope`.

mod client;
mod extract;
pub mod jwt;
pub mod password;
pub mod scope;
pub mod throttle;
pub mod token;

pub use client::ClientAddr;
pub use extract::{AgentNode, AuthUser, JoinCredential, RouterClient};
