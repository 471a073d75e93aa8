//! One ACME order for one hostname over HTTP-01 (RFC 8555 section 7.4):
//! publish each challenge for the routers, tell the CA it is ready, wait
//! (bounded) for the order, finalize with a fresh key, fetch the chain.

use std::time::Duration;

use chrono::{DateTime, Utc};
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, OrderStatus, Problem, RetryPolicy,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;

/// A certificate and its key, as obtained.
pub struct Obtained {
    pub chain_pem: String,
    pub key_pem: String,
    pub not_after: DateTime<Utc>,
    /// Hex serial of the leaf.
    pub serial: String,
}

/// Why an order failed, in words for the app's owner.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OrderFailure(pub String);

/// How long the steps may take.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Between publishing a challenge and asking the CA to check it (routers fetch the table).
    pub challenge_delay: Duration,
    /// Longest wait for the CA to validate, and again for it to issue.
    pub poll_timeout: Duration,
}

/// Runs the order for `hostname`; its challenges are published under
/// `domain_id` and left for the caller to withdraw.
pub async fn obtain(
    account: &Account,
    db: &PgPool,
    domain_id: Uuid,
    hostname: &str,
    timing: Timing,
) -> Result<Obtained, OrderFailure> {
    let identifiers = [Identifier::Dns(hostname.to_string())];
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await.map_err(|e| failure("start an order", e))?;
    let mut published = false;
    {
        let mut authorizations = order.authorizations();
        // One authorization per identifier: bounded by the order itself.
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| failure("read the order's authorization", e))?;
            match authz.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => return Err(OrderFailure(format!("the CA's authorization for {hostname} is {other:?}"))),
            }
            let mut challenge = authz.challenge(ChallengeType::Http01).ok_or_else(|| {
                OrderFailure(format!("the CA offers no HTTP-01 challenge for {hostname}, the only kind routers answer"))
            })?;
            let key_authorization = challenge.key_authorization();
            db::certificates::add_challenge(db, domain_id, &challenge.token, key_authorization.as_str())
                .await
                .map_err(|e| OrderFailure(format!("cannot publish the challenge: {e}")))?;
            if !published {
                tokio::time::sleep(timing.challenge_delay).await;
                published = true;
            }
            challenge.set_ready().await.map_err(|e| failure("mark the challenge ready", e))?;
        }
    }
    let policy = RetryPolicy::new().initial_delay(Duration::from_millis(250)).timeout(timing.poll_timeout);
    match order.poll_ready(&policy).await {
        Ok(OrderStatus::Ready) => {}
        Ok(_) => return Err(invalid_reason(&mut order, hostname).await),
        Err(instant_acme::Error::Timeout(_)) => {
            return Err(OrderFailure(format!(
                "the CA did not finish checking {hostname} within {} s",
                timing.poll_timeout.as_secs()
            )))
        }
        Err(e) => return Err(failure("wait for validation", e)),
    }
    let key = rcgen::KeyPair::generate().map_err(|e| OrderFailure(format!("cannot make a key: {e}")))?;
    let csr = rcgen::CertificateParams::new(vec![hostname.to_string()])
        .and_then(|params| params.serialize_request(&key))
        .map_err(|e| OrderFailure(format!("cannot make the certificate request: {e}")))?;
    order.finalize_csr(csr.der()).await.map_err(|e| failure("finalize the order", e))?;
    let chain_pem = order.poll_certificate(&policy).await.map_err(|e| failure("fetch the certificate", e))?;
    let (not_after, serial) = leaf_facts(&chain_pem)?;
    Ok(Obtained { chain_pem, key_pem: key.serialize_pem(), not_after, serial })
}

/// Expiry and serial of the chain's first certificate.
pub fn leaf_facts(chain_pem: &str) -> Result<(DateTime<Utc>, String), OrderFailure> {
    let bad = |what: String| OrderFailure(format!("the CA sent a certificate that cannot be read: {what}"));
    let (_, pem) = x509_parser::pem::parse_x509_pem(chain_pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let cert = pem.parse_x509().map_err(|e| bad(e.to_string()))?;
    let not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .ok_or_else(|| bad("expiry out of range".into()))?;
    Ok((not_after, cert.raw_serial_as_string()))
}

/// The CA's reason an order became invalid: the failed challenge's problem.
async fn invalid_reason(order: &mut instant_acme::Order, hostname: &str) -> OrderFailure {
    let mut reasons = Vec::new();
    {
        let mut authorizations = order.authorizations();
        while let Some(Ok(mut authz)) = authorizations.next().await {
            if let Ok(state) = authz.refresh().await {
                reasons.extend(state.challenges.iter().filter_map(|c| c.error.as_ref()).map(problem_text));
            }
        }
    }
    if let Some(error) = &order.state().error {
        reasons.push(problem_text(error));
    }
    match reasons.is_empty() {
        true => OrderFailure(format!("the CA refused the order for {hostname} without a reason")),
        false => OrderFailure(reasons.join("; ")),
    }
}

/// A problem document in words: its detail, and the kind when that adds to it.
fn problem_text(problem: &Problem) -> String {
    let kind = problem.r#type.as_deref().map(|t| t.trim_start_matches("urn:ietf:params:acme:error:"));
    let mut text = match (&problem.detail, kind) {
        (Some(detail), Some(kind)) => format!("{detail} ({kind})"),
        (Some(detail), None) => detail.clone(),
        (None, Some(kind)) => kind.to_string(),
        (None, None) => "the CA gave no detail".into(),
    };
    for sub in &problem.subproblems {
        if let Some(detail) = &sub.detail {
            text.push_str("; ");
            text.push_str(detail);
        }
    }
    text
}

fn failure(step: &str, error: instant_acme::Error) -> OrderFailure {
    match error {
        instant_acme::Error::Api(problem) => {
            OrderFailure(format!("the CA refused to {step}: {}", problem_text(&problem)))
        }
        other => {
            let mut text = format!("cannot {step} with the CA: {other}");
            let mut source = std::error::Error::source(&other);
            // Bounded: error chains are short, but never loop forever.
            for _ in 0..8 {
                let Some(s) = source else { break };
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            OrderFailure(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_text_keeps_the_cas_words() {
        let problem: Problem = serde_json::from_value(serde_json::json!({
            "type": "urn:ietf:params:acme:error:connection",
            "detail": "127.0.0.2: Fetching http://www.example.com/.well-known/acme-challenge/abc: connection refused",
            "status": 400
        }))
        .unwrap();
        assert_eq!(
            problem_text(&problem),
            "127.0.0.2: Fetching http://www.example.com/.well-known/acme-challenge/abc: connection refused (connection)"
        );
    }

    #[test]
    fn leaf_facts_read_expiry_and_serial() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["www.example.com".to_string()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 5, 17);
        params.serial_number = Some(rcgen::SerialNumber::from(vec![0x0a, 0x0b]));
        let cert = params.self_signed(&key).unwrap();
        let (not_after, serial) = leaf_facts(&cert.pem()).unwrap();
        assert_eq!(not_after.to_rfc3339(), "2031-05-17T00:00:00+00:00");
        assert_eq!(serial, "0a:0b");
        assert!(leaf_facts("not a certificate").is_err());
    }
}
