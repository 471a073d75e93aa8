//! The ACME worker: obtains and renews certificates for custom domains.
//!
//! Every few seconds it claims one due certificate (a new domain, a failed
//! order whose retry time came, or one within the renewal window of its
//! expiry) with `FOR UPDATE SKIP LOCKED` and a lease, so across API
//! replicas each order runs once. The order itself is `order::obtain`. A
//! success stores the chain and the sealed key (routers get them with the
//! route table); a failure stores the CA's reason and a retry time that
//! doubles per failure. Challenges are withdrawn either way. Nothing here
//! touches HTTP serving: a failed order only leaves a domain on plain HTTP.

pub mod http;
pub mod order;

use std::time::Duration;

use chrono::Utc;
use instant_acme::{Account, AccountCredentials, NewAccount};
use sqlx::PgPool;

use crate::config::{ConfigError, TlsConfig};
use crate::crypto::Keyring;
use crate::db;
use crate::db::certificates::DueCertificate;

/// Longest one order may hold its claim; past it another replica may retry.
const LEASE: Duration = Duration::from_secs(600);
/// Longest wait for the CA to validate, and again for it to issue.
const POLL_TIMEOUT: Duration = Duration::from_secs(90);

/// The background task and what it needs.
pub struct Worker {
    db: PgPool,
    key: Keyring,
    directory_url: String,
    email: Option<String>,
    ca_bundle: Option<Vec<u8>>,
    renew_before: chrono::Duration,
    retry_min: Duration,
    retry_max: Duration,
    poll_every: Duration,
    timing: order::Timing,
    account: Option<Account>,
}

impl Worker {
    /// Checks the settings (the CA bundle is read now, so a bad path stops startup).
    pub fn new(config: &TlsConfig, db: PgPool) -> Result<Worker, ConfigError> {
        let key = config.keyring()?;
        let ca_bundle = match &config.acme_ca_bundle {
            Some(path) => Some(std::fs::read(path).map_err(|e| ConfigError::AcmeCaBundle(Box::new(e)))?),
            None => None,
        };
        http::ReqwestClient::new(ca_bundle.as_deref()).map_err(|e| ConfigError::AcmeCaBundle(Box::new(e)))?;
        Ok(Worker {
            db,
            key,
            directory_url: config.acme_directory.trim().to_string(),
            email: config.acme_email.clone().filter(|e| !e.trim().is_empty()),
            ca_bundle,
            renew_before: chrono::Duration::days(i64::from(config.acme_renew_days)),
            retry_min: Duration::from_secs(config.acme_retry_min_secs),
            retry_max: Duration::from_secs(config.acme_retry_max_secs),
            poll_every: Duration::from_secs(config.acme_poll_secs.max(1)),
            timing: order::Timing {
                challenge_delay: Duration::from_millis(config.acme_challenge_delay_ms),
                poll_timeout: POLL_TIMEOUT,
            },
            account: None,
        })
    }

    /// Runs until the process ends; every error is logged and retried later.
    pub async fn run(mut self) {
        tracing::info!(directory = %self.directory_url, "ACME worker started");
        loop {
            // A batch is bounded; whatever is left waits for the next round.
            for _ in 0..100 {
                match db::certificates::claim_due(&self.db, self.renew_before, chrono_of(LEASE)).await {
                    Ok(Some(due)) => self.process(due).await,
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(error = &error as &dyn std::error::Error, "cannot look for due certificates");
                        break;
                    }
                }
            }
            tokio::time::sleep(self.poll_every).await;
        }
    }

    async fn process(&mut self, due: DueCertificate) {
        let renewal = due.state == "issued";
        tracing::info!(hostname = %due.hostname, renewal, "ordering a certificate");
        let outcome = match self.account().await {
            Ok(account) => order::obtain(&account, &self.db, due.domain_id, &due.hostname, self.timing).await,
            Err(failure) => Err(failure),
        };
        if let Err(error) = db::certificates::remove_challenges(&self.db, due.domain_id).await {
            tracing::warn!(hostname = %due.hostname, error = &error as &dyn std::error::Error, "cannot withdraw challenges");
        }
        let stored = match outcome {
            Ok(obtained) => {
                tracing::info!(hostname = %due.hostname, not_after = %obtained.not_after, serial = %obtained.serial, "certificate issued");
                let sealed = self.key.seal(&db::certificates::key_purpose(due.domain_id), obtained.key_pem.as_bytes());
                let issued = db::certificates::Issued {
                    chain_pem: &obtained.chain_pem,
                    key_sealed: &sealed,
                    not_after: obtained.not_after,
                    serial: &obtained.serial,
                    renew_at: obtained.not_after - self.renew_before,
                };
                db::certificates::store_issued(&self.db, due.domain_id, &issued).await
            }
            Err(failure) => {
                let wait = backoff(due.attempts, self.retry_min, self.retry_max);
                tracing::warn!(hostname = %due.hostname, reason = %failure, retry_in_secs = wait.as_secs(), "certificate order failed");
                db::certificates::store_failure(&self.db, due.domain_id, &failure.0, Utc::now() + chrono_of(wait)).await
            }
        };
        if let Err(error) = stored {
            tracing::error!(hostname = %due.hostname, error = &error as &dyn std::error::Error, "cannot store the order's outcome");
        }
    }

    /// The platform's account at the CA: restored from Postgres, or made once.
    async fn account(&mut self) -> Result<Account, order::OrderFailure> {
        if let Some(account) = &self.account {
            return Ok(account.clone());
        }
        let failure = |what: &str, e: &dyn std::fmt::Display| order::OrderFailure(format!("{what}: {e}"));
        let purpose = db::certificates::account_purpose(&self.directory_url);
        let stored = db::certificates::account(&self.db, &self.directory_url)
            .await
            .map_err(|e| failure("cannot read the ACME account", &e))?;
        let account = match stored {
            Some(sealed) => {
                let json = self.key.open(&purpose, &sealed).map_err(|e| {
                    failure("the stored ACME account cannot be decrypted (was PAAS_SECRET_KEY changed?)", &e)
                })?;
                let credentials: AccountCredentials =
                    serde_json::from_slice(&json).map_err(|e| failure("the stored ACME account is unreadable", &e))?;
                Account::builder_with_http(Box::new(self.http()?))
                    .from_credentials(credentials)
                    .await
                    .map_err(|e| failure(&format!("cannot reach the ACME server at {}", self.directory_url), &e))?
            }
            None => {
                let contact = self.email.iter().map(|e| format!("mailto:{e}")).collect::<Vec<_>>();
                let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
                let new = NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
                let (account, credentials) = Account::builder_with_http(Box::new(self.http()?))
                    .create(&new, self.directory_url.clone(), None)
                    .await
                    .map_err(|e| {
                        failure(&format!("cannot register with the ACME server at {}", self.directory_url), &e)
                    })?;
                let json = serde_json::to_vec(&credentials).map_err(|e| failure("cannot keep the ACME account", &e))?;
                let sealed =
                    db::certificates::insert_account(&self.db, &self.directory_url, &self.key.seal(&purpose, &json))
                        .await
                        .map_err(|e| failure("cannot store the ACME account", &e))?;
                if self.key.open(&purpose, &sealed).ok().as_deref() != Some(json.as_slice()) {
                    // Another replica registered first: use its account.
                    return Box::pin(self.account()).await;
                }
                account
            }
        };
        self.account = Some(account.clone());
        Ok(account)
    }

    fn http(&self) -> Result<http::ReqwestClient, order::OrderFailure> {
        http::ReqwestClient::new(self.ca_bundle.as_deref())
            .map_err(|e| order::OrderFailure(format!("cannot set up HTTPS to the CA: {e}")))
    }
}

/// Wait before the next try after `attempts` earlier failures: `min`,
/// doubling per failure, at most `max`.
pub fn backoff(attempts: i32, min: Duration, max: Duration) -> Duration {
    let doublings = attempts.clamp(0, 30) as u32;
    min.saturating_mul(1u32 << doublings).min(max)
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_min_to_max() {
        let (min, max) = (Duration::from_secs(300), Duration::from_secs(24 * 3600));
        assert_eq!(backoff(0, min, max), Duration::from_secs(300));
        assert_eq!(backoff(1, min, max), Duration::from_secs(600));
        assert_eq!(backoff(4, min, max), Duration::from_secs(4800));
        assert_eq!(backoff(9, min, max), max);
        assert_eq!(backoff(1000, min, max), max);
        assert_eq!(backoff(-3, min, max), min);
    }
}
