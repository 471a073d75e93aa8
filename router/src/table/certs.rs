//! The route table's certificates by hostname, compiled with the table.
//!
//! Each certificate is parsed once: a table that carries the same chain and key as the previous
//! one reuses its parsed key. A certificate that does not parse, is expired, or does not name a
//! hostname it is listed for is logged and left out (that hostname falls back to the default
//! certificate); it never breaks the table.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use paas_types::routing::RouteCertificate;
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use crate::table::keys::{self as certs, DefaultCert};

/// Certificates of one table.
#[derive(Debug, Default)]
pub struct CertStore {
    /// Exact names and `*.parent` wildcards, lowercase.
    by_name: HashMap<String, Arc<CertifiedKey>>,
    /// Routed hostnames a certificate covers (the table's or the default), for the HTTPS redirect.
    certified: HashSet<String>,
    /// Parsed keys by digest of chain and key, for the next table to reuse.
    parsed: HashMap<[u8; 32], Arc<CertifiedKey>>,
}

impl CertStore {
    /// Parses `raw` (reusing `previous`'s keys) and marks which of `hostnames` (the table's
    /// routed hostnames) have a certificate, counting `default` where it covers them.
    pub fn compile<'a>(
        raw: &[RouteCertificate],
        previous: &CertStore,
        default: Option<&DefaultCert>,
        hostnames: impl IntoIterator<Item = &'a str>,
    ) -> CertStore {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let mut store = CertStore::default();
        for cert in raw {
            if cert.not_after.timestamp() <= now {
                tracing::warn!(hostnames = ?cert.hostnames, not_after = %cert.not_after, "skipping an expired certificate");
                continue;
            }
            let digest: [u8; 32] = Sha256::new()
                .chain_update(&cert.chain_pem)
                .chain_update([0])
                .chain_update(&cert.key_pem)
                .finalize()
                .into();
            let key = match previous.parsed.get(&digest) {
                Some(key) => key.clone(),
                None => match certs::parse(cert.chain_pem.as_bytes(), cert.key_pem.as_bytes()) {
                    Ok(key) => Arc::new(key),
                    Err(error) => {
                        tracing::warn!(hostnames = ?cert.hostnames, error = %error, "skipping an unusable certificate");
                        continue;
                    }
                },
            };
            store.parsed.insert(digest, key.clone());
            for name in &cert.hostnames {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                // The leaf must really name it: a wrong entry must not put one site's certificate on another.
                let probe = name.strip_prefix("*.").map_or_else(|| name.clone(), |parent| format!("x.{parent}"));
                if !certs::covers(&key, &probe) {
                    tracing::warn!(hostname = %name, "certificate does not name this hostname; not served for it");
                    continue;
                }
                if store.by_name.contains_key(&name) {
                    tracing::warn!(hostname = %name, "two certificates for one hostname; the first is served");
                    continue;
                }
                store.by_name.insert(name, key.clone());
            }
        }
        for host in hostnames {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            if store.get(&host).is_some() || default.is_some_and(|d| d.covers(&host)) {
                store.certified.insert(host);
            }
        }
        store
    }

    /// The table's certificate for `name` (an SNI name): exact, else a wildcard one level up.
    pub fn get(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.get(&name.to_ascii_lowercase());
        }
        self.by_name.get(name).or_else(|| {
            let (_, parent) = name.split_once('.')?;
            self.by_name.get(&format!("*.{parent}"))
        })
    }

    /// Whether the router holds a certificate for the routed hostname `host` (lowercase, no port).
    pub fn covers(&self, host: &str) -> bool {
        self.certified.contains(host)
    }
}
