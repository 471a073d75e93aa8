//! Dashboard sessions and CSRF protection.
//!
//! - The session is the API's session JWT in the `paas_session` cookie
//!   (HttpOnly, SameSite=Lax, `Secure` when `PAAS_COOKIE_SECURE` is set).
//! - Visitors without a session (login and signup forms) get a random
//!   `paas_visitor` cookie instead.
//! - The CSRF token of a form is an HMAC of the session cookie (else the
//!   visitor cookie) under the server's secret: bound to the session, unknown
//!   to other sites, checked on every POST. Requests whose `Origin` is another
//!   site's are refused as well (sibling app subdomains can set cookies on
//!   the parent domain, but cannot forge an `Origin`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::Sha256;

use super::error::WebError;
use super::page::{Web, WebState};
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiError;

/// Cookie holding the session JWT.
pub const SESSION_COOKIE: &str = "paas_session";
/// Cookie of visitors without a session (seeds their CSRF token).
const VISITOR_COOKIE: &str = "paas_visitor";
/// Name of the hidden form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The value of cookie `name`, if the request carries it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value)
}

/// What the request's CSRF token is bound to: the session, else the visitor cookie.
fn csrf_seed(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE).or_else(|| cookie(headers, VISITOR_COOKIE))
}

// === impl Web (cookies and tokens) ===

impl Web {
    fn mac(&self, seed: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.csrf_key).expect("HMAC takes keys of any length");
        mac.update(b"paas-dashboard-csrf\0");
        mac.update(seed.as_bytes());
        mac
    }

    fn csrf_token(&self, seed: &str) -> String {
        hex::encode(self.mac(seed).finalize().into_bytes())
    }

    /// Constant-time check of a submitted token.
    fn csrf_valid(&self, seed: &str, submitted: &str) -> bool {
        hex::decode(submitted).is_ok_and(|bytes| self.mac(seed).verify_slice(&bytes).is_ok())
    }

    fn cookie(&self, name: &str, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.cookie_secure { "; Secure" } else { "" };
        let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("paas_invalid=1"))
    }

    /// `Set-Cookie` value that opens a session.
    pub(crate) fn session_cookie(&self, jwt: &str, max_age: i64) -> HeaderValue {
        self.cookie(SESSION_COOKIE, jwt, max_age.max(0))
    }

    /// `Set-Cookie` value that ends the session.
    pub(crate) fn clear_session_cookie(&self) -> HeaderValue {
        self.cookie(SESSION_COOKIE, "", 0)
    }
}

// === Extractors ===

/// A signed-in dashboard user; pages that need one redirect to the login page otherwise.
pub(crate) struct WebUser {
    pub user: AuthUser,
    /// CSRF token for this session's forms.
    pub csrf: String,
}

impl FromRequestParts<WebState> for WebUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/apps").to_string();
        let login = || WebError::LoginRequired { next: next.clone() };
        let jwt = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(login)?;
        let claims = state.jwt.verify(jwt).map_err(|_| login())?;
        let row = db::users::find(&state.db, claims.sub).await.map_err(ApiError::from)?.ok_or_else(login)?;
        let user = AuthUser::session(row.id, row.email, row.is_admin);
        Ok(WebUser { user, csrf: state.web.csrf_token(jwt) })
    }
}

/// A visitor of the login and signup pages (signed in or not).
pub(crate) struct Visitor {
    pub csrf: String,
    /// Whether the request carries a valid session.
    pub signed_in: bool,
    new_cookie: Option<HeaderValue>,
}

impl Visitor {
    /// Adds the visitor cookie to a response when it was just minted.
    pub(crate) fn respond(self, response: Response) -> Response {
        let mut response = response;
        if let Some(cookie) = self.new_cookie {
            response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
        }
        response
    }
}

impl FromRequestParts<WebState> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let signed_in = cookie(&parts.headers, SESSION_COOKIE).is_some_and(|jwt| state.jwt.verify(jwt).is_ok());
        if let Some(seed) = csrf_seed(&parts.headers) {
            return Ok(Visitor { csrf: state.web.csrf_token(seed), signed_in, new_cookie: None });
        }
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let seed = hex::encode(bytes);
        let new_cookie = Some(state.web.cookie(VISITOR_COOKIE, &seed, 30 * 24 * 3600));
        Ok(Visitor { csrf: state.web.csrf_token(&seed), signed_in, new_cookie })
    }
}

#[derive(Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

/// A form body (`application/x-www-form-urlencoded`) whose CSRF token and
/// origin have been checked; anything else is refused with 403.
pub(crate) struct WebForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<WebState> for WebForm<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Self::Rejection> {
        if !same_origin(request.headers()) {
            return Err(WebError::Csrf);
        }
        let seed = csrf_seed(request.headers()).ok_or(WebError::Csrf)?.to_string();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| WebError::Api(ApiError::PayloadTooLarge { limit: state.settings.max_json_bytes }))?;
        let submitted = serde_urlencoded::from_bytes::<CsrfField>(&body).ok().and_then(|f| f.csrf);
        if !submitted.is_some_and(|token| state.web.csrf_valid(&seed, &token)) {
            return Err(WebError::Csrf);
        }
        let form = serde_urlencoded::from_bytes(&body)
            .map_err(|e| WebError::Api(ApiError::BadRequest(format!("the form is incomplete: {e}"))))?;
        Ok(WebForm(form))
    }
}

/// False when the browser says the request comes from another origin.
/// Requests without `Origin` (old browsers, scripts) rely on the token alone.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else { return true };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

/// The context every signed-in page starts from: who, their CSRF token, the nav section.
pub(crate) fn user_context(user: &WebUser, section: &str) -> tera::Context {
    let mut context = tera::Context::new();
    context.insert("user", &serde_json::json!({ "email": user.user.email, "is_admin": user.user.is_admin }));
    context.insert("csrf", &user.csrf);
    context.insert("section", section);
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> Web {
        Web::new(b"0123456789abcdef0123456789abcdef", true).unwrap()
    }

    #[test]
    fn tokens_are_bound_to_the_seed_and_the_key() {
        let web = web();
        let token = web.csrf_token("session-a");
        assert!(web.csrf_valid("session-a", &token));
        assert!(!web.csrf_valid("session-b", &token));
        assert!(!web.csrf_valid("session-a", "00"));
        assert!(!web.csrf_valid("session-a", "not hex"));
        let other = Web::new(b"another-key-another-key-another-key", true).unwrap();
        assert!(!other.csrf_valid("session-a", &token));
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_when_configured() {
        let value = web().session_cookie("jwt", 60);
        let text = value.to_str().unwrap();
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Lax") && text.ends_with("; Secure"), "{text}");
    }

    #[test]
    fn origin_must_match_host() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("paas.example:8080"));
        assert!(same_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://paas.example:8080"));
        assert!(same_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://evil.paas.example:8080"));
        assert!(!same_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers));
    }
}
