//! Certificates as the handshake uses them: a PEM chain and key parsed into a rustls
//! [`CertifiedKey`] (key checked against the leaf), and the operator's default certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::ParsedCertificate;
use rustls::sign::CertifiedKey;

/// Why a certificate cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("no PEM certificate in the chain")]
    NoCertificate,
    #[error("the certificate chain is not valid PEM: {0}")]
    ChainPem(String),
    #[error("the private key is not a PEM PKCS#8, PKCS#1 or SEC1 key: {0}")]
    KeyPem(String),
    #[error("the private key cannot sign or does not match the certificate: {0}")]
    Key(#[from] rustls::Error),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

/// Parses a PEM chain (leaf first) and its private key; the key must match the leaf.
pub fn parse(chain_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, CertError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::ChainPem(e.to_string()))?;
    if chain.is_empty() {
        return Err(CertError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| CertError::KeyPem(e.to_string()))?;
    Ok(CertifiedKey::from_der(chain, key, &rustls::crypto::ring::default_provider())?)
}

/// Whether the leaf certificate of `key` names `host` (exactly or by a wildcard).
pub fn covers(key: &CertifiedKey, host: &str) -> bool {
    let (Some(leaf), Ok(name)) = (key.cert.first(), ServerName::try_from(host)) else { return false };
    ParsedCertificate::try_from(leaf).is_ok_and(|cert| rustls::client::verify_server_name(&cert, &name).is_ok())
}

/// The operator's certificate (`--tls-cert`, `--tls-key`): served for the default hostnames
/// and whenever a hostname has no certificate of its own.
#[derive(Debug)]
pub struct DefaultCert {
    pub key: Arc<CertifiedKey>,
}

impl DefaultCert {
    /// Reads and checks the two PEM files.
    pub fn load(cert: &Path, key: &Path) -> Result<DefaultCert, CertError> {
        let read =
            |path: &Path| std::fs::read(path).map_err(|source| CertError::Read { path: path.to_owned(), source });
        Ok(DefaultCert { key: Arc::new(parse(&read(cert)?, &read(key)?)?) })
    }

    /// Whether the default certificate names `host` (e.g. `shop.paas.example` under `*.paas.example`).
    pub fn covers(&self, host: &str) -> bool {
        covers(&self.key, host)
    }
}
