//! Throttling of failed credential checks (logins, bearer tokens, git basic
//! auth), per account and per client address.
//!
//! Each failure is counted in Postgres (`db::throttle`). Past a number of
//! free attempts, every further failure locks the key for a delay that
//! doubles: with the defaults, failure 5 locks for 1 s, 6 for 2 s, 7 for 4 s,
//! ... up to 15 min. While a key is locked, attempts answer 429 without the
//! credential being checked at all, so a correct password is refused too.
//! Unknown emails are counted like known ones: behaviour reveals nothing.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;

use crate::client_ip::IpRange;
use crate::config::AccountsConfig;
use crate::db;
use crate::error::ApiError;

// === Policy ===

/// How many failures are free and how delays grow after them.
#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    /// Failures of one account before delays start.
    pub account_free: u32,
    /// Failures from one client address before delays start.
    pub address_free: u32,
    pub base: Duration,
    pub max: Duration,
    /// Failures older than this are forgotten.
    pub forget: Duration,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpRange>,
}

impl ThrottlePolicy {
    pub fn from_config(config: &AccountsConfig) -> ThrottlePolicy {
        ThrottlePolicy {
            account_free: config.login_throttle_free_attempts,
            address_free: config.login_throttle_address_free_attempts,
            base: Duration::from_millis(config.login_throttle_base_ms.max(1)),
            max: Duration::from_secs(config.login_throttle_max_secs.max(1)),
            forget: Duration::from_secs(config.login_throttle_forget_secs),
            trusted_proxies: config.trusted_proxies().unwrap_or_default(),
        }
    }

    /// The lock after failure number `failures` when `free` are allowed:
    /// none before `free`, then `base`, doubling, capped at `max`.
    pub fn delay_after(&self, failures: u32, free: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(free.max(1))?;
        let factor = 2u32.checked_pow(beyond.min(31)).unwrap_or(u32::MAX);
        Some(self.base.saturating_mul(factor).min(self.max))
    }
}

/// What a failure is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An account, by its normalised (trimmed, lowercased) email.
    Account(String),
    Address(IpAddr),
}

impl Subject {
    pub fn account(email: &str) -> Subject {
        Subject::Account(email.trim().to_lowercase())
    }

    fn key(&self) -> String {
        match self {
            Subject::Account(email) => format!("email:{email}"),
            Subject::Address(ip) => format!("addr:{ip}"),
        }
    }

    fn free(&self, policy: &ThrottlePolicy) -> u32 {
        match self {
            Subject::Account(_) => policy.account_free,
            Subject::Address(_) => policy.address_free,
        }
    }
}

// === Checks ===

/// 429 when any of `subjects` is locked; checked before any credential.
pub async fn check(db: &PgPool, subjects: &[Subject]) -> Result<(), ApiError> {
    let keys: Vec<String> = subjects.iter().map(Subject::key).collect();
    match db::throttle::locked_until(db, &keys).await? {
        Some(until) => {
            let millis = (until - Utc::now()).num_milliseconds().max(0);
            // Rounded up: a client that waits `Retry-After` seconds is never early.
            let retry_after_secs = u64::try_from(millis).unwrap_or(0).div_ceil(1000).max(1);
            Err(ApiError::TooManyAttempts { retry_after_secs })
        }
        None => Ok(()),
    }
}

/// A lock that a failure started.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    pub failures: u32,
    pub delay: Duration,
}

/// Counts a failure against `subject`; the lock it started, if any.
pub async fn fail(db: &PgPool, policy: &ThrottlePolicy, subject: &Subject) -> Result<Option<Lockout>, sqlx::Error> {
    let key = subject.key();
    let failures = db::throttle::count_failure(db, &key, policy.forget.as_secs_f64()).await?;
    let failures = u32::try_from(failures).unwrap_or(0);
    let Some(delay) = policy.delay_after(failures, subject.free(policy)) else { return Ok(None) };
    db::throttle::lock(db, &key, delay.as_secs_f64()).await?;
    tracing::info!(failures, delay_ms = delay.as_millis() as u64, kind = subject.kind(), "credential checks locked");
    Ok(Some(Lockout { failures, delay }))
}

impl Subject {
    fn kind(&self) -> &'static str {
        match self {
            Subject::Account(_) => "account",
            Subject::Address(_) => "address",
        }
    }
}

/// Forgets the failures of `subject` (a successful login resets its account).
pub async fn reset(db: &PgPool, subject: &Subject) -> Result<(), sqlx::Error> {
    db::throttle::reset(db, &subject.key()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy::from_config(&AccountsConfig::with_signup(crate::config::SignupPolicy::Open))
    }

    #[test]
    fn delays_double_after_the_free_attempts_up_to_the_cap() {
        let p = policy();
        let secs = |n| p.delay_after(n, 5).map(|d| d.as_secs());
        assert_eq!((1..=4).map(secs).collect::<Vec<_>>(), vec![None; 4]);
        assert_eq!((5..=10).map(secs).collect::<Vec<_>>(), [1, 2, 4, 8, 16, 32].map(Some));
        assert_eq!(secs(14), Some(512));
        assert_eq!(secs(15), Some(900));
        assert_eq!(secs(u32::MAX), Some(900));
    }
}
