//! The ACME client's HTTP transport over reqwest: the platform's one HTTP
//! stack (rustls, webpki roots), plus the operator's extra CA bundle for a
//! test CA's own HTTPS.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};

/// Every request to the CA is cut off after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ReqwestClient(reqwest::Client);

impl ReqwestClient {
    /// A client trusting the public roots and each certificate in `extra_pem`.
    pub fn new(extra_pem: Option<&[u8]>) -> Result<ReqwestClient, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("paas-api/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = extra_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(ReqwestClient(builder.build()?))
    }
}

impl HttpClient for ReqwestClient {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let url = parts.uri.to_string();
            let response = client
                .request(parts.method, url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| Error::Other(Box::new(e)))?;
            let mut head = http::Response::builder().status(response.status());
            if let Some(headers) = head.headers_mut() {
                *headers = response.headers().clone();
            }
            let bytes = response.bytes().await.map_err(|e| Error::Other(Box::new(e)))?;
            let (parts, ()) = head.body(()).map_err(Error::Http)?.into_parts();
            Ok(BytesResponse { parts, body: Box::new(bytes) })
        })
    }
}
