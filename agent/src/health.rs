//! HTTP health checks of web instances, sent with the app's hostname as
//! `Host` (frameworks such as Django reject unknown hosts), and the looser
//! check of routed process types (async servers behind `paas routes`).

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

/// The check of a routed process type (uvicorn, daphne, gevent...): its
/// `GET /` may answer 404 (the app serves only `/ws/`) or stay open (a
/// long poll), so it is up when it accepts the connection and does not
/// answer with a 5xx; refused, or closed without a byte, is down. Returns
/// whether it is up and the status it answered with, if any.
pub async fn probe_routed(address: &str, hostname: &str, timeout: Duration) -> (bool, Option<u16>) {
    let Ok(Ok(mut stream)) = tokio::time::timeout(timeout, TcpStream::connect(address)).await else {
        return (false, None);
    };
    match tokio::time::timeout(timeout, read_status(&mut stream, hostname)).await {
        Ok(Ok(code)) => (is_up(code), Some(code)),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => (false, None),
        // Silence or another protocol: the process holds the connection.
        Ok(Err(_)) | Err(_) => (true, None),
    }
}

async fn status(address: &str, hostname: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(address).await?;
    read_status(&mut stream, hostname).await
}

/// Sends `GET /` on `stream` and reads the status code of the answer.
async fn read_status(stream: &mut TcpStream, hostname: &str) -> std::io::Result<u16> {
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
    if read == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed without answering"));
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

    #[tokio::test]
    async fn routed_processes_are_up_unless_refused_closed_or_5xx() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (held_tx, mut held_rx) = tokio::sync::mpsc::channel::<TcpStream>(1);
        tokio::spawn(async move {
            for answer in [Some("HTTP/1.1 404 Not Found\r\n\r\n"), Some("HTTP/1.1 502 Bad\r\n\r\n"), Some(""), None] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await.unwrap();
                match answer {
                    Some(text) => s.write_all(text.as_bytes()).await.unwrap(),
                    // A long poll: the connection stays open, nothing is said.
                    None => held_tx.send(s).await.unwrap(),
                }
            }
        });
        let t = Duration::from_millis(500);
        assert_eq!(probe_routed(&addr, "app.example", t).await, (true, Some(404)), "the app answers");
        assert_eq!(probe_routed(&addr, "app.example", t).await, (false, Some(502)));
        assert_eq!(probe_routed(&addr, "app.example", t).await, (false, None), "closed without a byte");
        assert_eq!(probe_routed(&addr, "app.example", t).await, (true, None), "held open");
        assert!(held_rx.recv().await.is_some());
        assert_eq!(probe_routed("127.0.0.1:1", "app.example", t).await, (false, None), "refused");
    }
}
