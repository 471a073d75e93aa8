//! HTTP health checks of web instances, sent with the app's hostname as
//! `Host` (frameworks such as Django reject unknown hosts).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// True when `GET /` at `address` answers with a status below 500 within `timeout`.
pub async fn check(address: &str, hostname: &str, timeout: Duration) -> bool {
    probe(address, hostname, timeout).await.is_some_and(is_up)
}

/// The status `GET /` at `address` answers with within `timeout`, if any.
/// A 4xx counts as up (the app answers) but is reported: Django answers
/// 400 to a `Host` missing from `ALLOWED_HOSTS`.
pub async fn probe(address: &str, hostname: &str, timeout: Duration) -> Option<u16> {
    match tokio::time::timeout(timeout, status(address, hostname)).await {
        Ok(Ok(code)) => Some(code),
        _ => None,
    }
}

/// Whether a health-check status means the process serves (below 500).
pub fn is_up(code: u16) -> bool {
    code < 500
}

async fn status(address: &str, hostname: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(address).await?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {hostname}\r\nUser-Agent: paas-agent-health\r\nX-Forwarded-Proto: http\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut head[read..]).await?;
        if n == 0 {
            break;
        }
        read += n;
    }
    // "HTTP/1.1 200 ..."
    let line = std::str::from_utf8(&head[..read]).unwrap_or("");
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .filter(|_| line.starts_with("HTTP/1."))
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn statuses_and_silence() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            for answer in ["HTTP/1.1 404 Not Found\r\n\r\n", "HTTP/1.1 503 Busy\r\n\r\n", "garbage"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let n = s.read(&mut buf).await.unwrap();
                assert!(std::str::from_utf8(&buf[..n]).unwrap().contains("Host: app.example\r\n"));
                s.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let t = Duration::from_secs(2);
        assert!(check(&addr, "app.example", t).await, "404 means the app answers");
        assert!(!check(&addr, "app.example", t).await, "503 is unhealthy");
        assert!(!check(&addr, "app.example", t).await, "garbage is unhealthy");
        assert!(!check("127.0.0.1:1", "app.example", t).await, "refused is unhealthy");
    }
}
