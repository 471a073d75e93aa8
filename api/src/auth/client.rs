//! The `ClientAddr` extractor: who is on the other end, for the throttle.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::client_ip::client_ip;
use crate::state::AppState;

/// The client address of a request (see [`client_ip`]); requests without a
/// TCP peer (in-process calls) share the unspecified address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S> FromRequestParts<S> for ClientAddr
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr::of(parts, &AppState::from_ref(state)))
    }
}

impl ClientAddr {
    pub fn of(parts: &Parts, state: &AppState) -> ClientAddr {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        ClientAddr(client_ip(peer, &parts.headers, &state.settings.throttle.trusted_proxies))
    }
}
