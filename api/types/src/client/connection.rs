//! [`Connection`]: where the API is and the HTTP transport to it. Every call
//! of every typed client goes through [`Connection::send`], which turns
//! error answers into [`ClientError`] in one place.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;

use super::error::ClientError;

/// The API's base URL and a configured HTTP client; cheap to clone.
#[derive(Debug, Clone)]
pub struct Connection {
    base: Arc<str>,
    http: reqwest::Client,
}

/// Settings of a [`Connection`]; by default no timeouts and the system proxy settings.
#[must_use]
pub struct ConnectionBuilder {
    base: String,
    http: reqwest::ClientBuilder,
}

impl ConnectionBuilder {
    /// Longest wait for a TCP (and TLS) connection.
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.http = self.http.connect_timeout(limit);
        self
    }

    /// Longest a whole call may take, unless the call sets its own.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.http = self.http.timeout(limit);
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, agent: &str) -> Self {
        self.http = self.http.user_agent(agent.to_owned());
        self
    }

    /// Ignores proxy environment variables (tests talk to loopback).
    pub fn no_proxy(mut self) -> Self {
        self.http = self.http.no_proxy();
        self
    }

    /// Fails only when no TLS backend can be set up.
    pub fn build(self) -> Result<Connection, reqwest::Error> {
        let base = self.base.trim_end_matches('/').into();
        Ok(Connection { base, http: self.http.build()? })
    }
}

impl Connection {
    /// Starts configuring a connection to the API at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn builder(base: &str) -> ConnectionBuilder {
        ConnectionBuilder { base: base.to_owned(), http: reqwest::Client::builder() }
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The underlying HTTP client, for requests that are not API calls (tests).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A request to an API `path` (starting with `/`), with `token` as the bearer credential.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request: a 2xx answer is returned as it is (body unread), any
    /// other becomes [`ClientError::Api`] with the API's envelope decoded.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let response = request.send().await.map_err(|source| self.unreachable(source))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let request_id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        // An unreadable error body still says which status it was.
        let body = response.bytes().await.unwrap_or_default();
        Err(ClientError::from_answer(status, request_id, &body))
    }

    /// Sends and decodes the JSON answer.
    pub async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        let response = self.send(request).await?;
        self.decode(response).await
    }

    /// Decodes the JSON body of a successful answer.
    pub async fn decode<T: DeserializeOwned>(&self, response: Response) -> Result<T, ClientError> {
        let path = response.url().path().to_owned();
        let body = response.bytes().await.map_err(|source| self.unreachable(source))?;
        serde_json::from_slice(&body).map_err(|source| ClientError::Decode { path, source })
    }

    /// Sends and returns the whole body (tarballs).
    pub async fn bytes(&self, request: RequestBuilder) -> Result<Bytes, ClientError> {
        let response = self.send(request).await?;
        response.bytes().await.map_err(|source| self.unreachable(source))
    }

    /// Sends a call whose answer carries nothing (`204`), reading the body to its end.
    pub async fn empty(&self, request: RequestBuilder) -> Result<(), ClientError> {
        self.bytes(request).await.map(drop)
    }

    /// Sends and hands the body over piece by piece (large downloads).
    pub async fn download(&self, request: RequestBuilder) -> Result<Download, ClientError> {
        let response = self.send(request).await?;
        Ok(Download { response, connection: self.clone() })
    }

    pub(crate) fn unreachable(&self, source: reqwest::Error) -> ClientError {
        ClientError::Unreachable { url: self.base.to_string(), source }
    }
}

/// A successful answer whose body is read in chunks as it arrives.
pub struct Download {
    response: Response,
    connection: Connection,
}

impl Download {
    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        self.response.chunk().await.map_err(|source| self.connection.unreachable(source))
    }

    /// The declared length of the body, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.response.content_length()
    }
}

/// One path segment, percent-encoded unless it is plain (names, ids, emails, hostnames).
pub(crate) fn segment(value: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~@:+".contains(&b);
    if value.bytes().all(plain) {
        return Cow::Borrowed(value);
    }
    let mut encoded = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if plain(byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    Cow::Owned(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_segments_stay_and_others_are_encoded() {
        assert_eq!(segment("shop"), "shop");
        assert_eq!(segment("carl@example.org"), "carl@example.org");
        assert_eq!(segment("a/b c?"), "a%2Fb%20c%3F");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn the_base_loses_its_trailing_slash() {
        let connection = Connection::builder("http://127.0.0.1:8080/").build().unwrap();
        assert_eq!(connection.base(), "http://127.0.0.1:8080");
    }
}
