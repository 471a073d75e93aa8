//! The rustls server configuration shared by every TLS listener thread.
//!
//! TLS 1.3 and 1.2 only; only AEAD suites with ephemeral (EC)DHE key exchange (rustls has no
//! CBC, RC4 or static-RSA suites, the filter says so explicitly); the server's suite order wins.
//! Session resumption both ways: a session-id cache and session tickets, one of each for all
//! threads, so a client resumes whichever worker the kernel hands its next connection to.

use std::sync::Arc;

use rustls::crypto::ring;
use rustls::server::{ResolvesServerCert, ServerSessionMemoryCache};
use rustls::{CipherSuite, ServerConfig, SupportedCipherSuite};

/// Sessions kept for TLS 1.2 session-id resumption (TLS 1.3 and ticket-capable clients use tickets).
const SESSION_CACHE_ENTRIES: usize = 20_000;

/// ALPN protocols offered, in order of preference.
pub const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// Builds the configuration around `resolver`.
pub fn build(resolver: Arc<dyn ResolvesServerCert>) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut provider = ring::default_provider();
    provider.cipher_suites.retain(modern);
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
    config.ticketer = ring::Ticketer::new()?;
    config.ignore_client_order = true;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// AEAD bulk ciphers with forward secrecy only.
fn modern(suite: &SupportedCipherSuite) -> bool {
    use CipherSuite::*;
    matches!(
        suite.suite(),
        TLS13_AES_128_GCM_SHA256
            | TLS13_AES_256_GCM_SHA384
            | TLS13_CHACHA20_POLY1305_SHA256
            | TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            | TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
            | TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
            | TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_aead_suites_of_both_versions() {
        let mut provider = ring::default_provider();
        provider.cipher_suites.retain(modern);
        let names: Vec<String> = provider.cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect();
        assert!(names.iter().any(|n| n.starts_with("TLS13_")), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("TLS_ECDHE_RSA_")), "{names:?}");
        assert!(names.iter().all(|n| n.contains("GCM") || n.contains("CHACHA20")), "{names:?}");
    }
}
