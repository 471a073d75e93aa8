//! The certificate for one handshake, by SNI: the current table's certificate for the name,
//! else the operator's default; never a certificate that does not belong to the name asked for
//! (a name without its own certificate gets the default, or nothing when there is none).

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::state::State;

/// Reads the table in use at each handshake, so a certificate swapped in is served at once.
pub struct SniResolver {
    state: Arc<State>,
}

impl std::fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SniResolver").field("default", &self.state.tls_default.is_some()).finish()
    }
}

impl SniResolver {
    pub fn new(state: Arc<State>) -> SniResolver {
        SniResolver { state }
    }

    /// The certificate for `server_name` (`None`: the client sent no SNI).
    pub fn pick(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let own = server_name.and_then(|name| self.state.table.load().certificates.get(name).cloned());
        own.or_else(|| self.state.tls_default.as_ref().map(|d| d.key.clone()))
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.pick(client_hello.server_name())
    }
}
