//! Slow clients must cost the router, never the (single, synchronous) backend worker.
//! Each test first shows the harm without the router, so it cannot pass by accident.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::support::*;

/// Sends a POST whose 300-byte body trickles in 15-byte pieces every 100 ms (2 s in all).
fn trickle(addr: SocketAddr) -> JoinHandle<Answer> {
    tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = "POST /upload HTTP/1.1\r\nHost: web.test\r\nContent-Length: 300\r\nConnection: close\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stream.write_all(&[b's'; 15]).await.unwrap();
        }
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
        parse_answer(&out)
    })
}

/// How long a plain GET takes, capped at 1.5 s (`None` = still waiting).
async fn timed_get(addr: SocketAddr) -> Option<Duration> {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_millis(1500), get(addr, "web.test", "/fast")).await.ok()?;
    assert_eq!(answer.status, 200);
    Some(started.elapsed())
}

#[tokio::test]
async fn slow_upload_does_not_hold_the_only_worker() {
    // Control: straight to a one-worker backend, the trickling upload blocks everyone else.
    let direct = TestBackend::one_worker("direct").await;
    let slow = trickle(direct.addr);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(timed_get(direct.addr).await, None, "without a buffering proxy the GET must wait");
    slow.await.unwrap();

    let backend = TestBackend::one_worker("web").await;
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;
    let slow = trickle(router.addr);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let took = timed_get(router.addr).await.expect("GET blocked behind the slow upload");
    assert!(took < Duration::from_millis(500), "GET took {took:?}");
    // The upload still arrives, whole, once complete.
    let answer = slow.await.unwrap();
    assert_eq!(answer.text(), "web POST /upload body=300");
    let seen = backend.seen();
    assert_eq!(seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(), ["/fast", "/upload"]);
    router.shutdown().await;
}

#[tokio::test]
async fn slow_reader_does_not_hold_the_only_worker() {
    const BIG: usize = 24 * 1024 * 1024;
    let backend = TestBackend::one_worker("web").await;
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |_| {}).await;
    wait_for_version(&router, 1).await;

    // A client asks for a big response and then reads nothing for a while.
    let mut lazy = TcpStream::connect(router.addr).await.unwrap();
    let request = format!("GET /big/{BIG} HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n");
    lazy.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let took = timed_get(router.addr).await.expect("GET blocked behind the slow reader");
    assert!(took < Duration::from_millis(500), "GET took {took:?}");

    // The lazy client still gets every byte (spilled to disk past the 1 MiB memory limit).
    let mut out = Vec::with_capacity(BIG + 1024);
    tokio::time::timeout(Duration::from_secs(20), lazy.read_to_end(&mut out)).await.unwrap().unwrap();
    let answer = parse_answer(&out);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.len(), BIG);
    router.shutdown().await;
}

#[tokio::test]
async fn large_upload_spills_to_disk_and_arrives_intact() {
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(1, vec![app("web", &["web.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = router(&api.url(), dir.path(), |c| c.limits.body_memory_bytes = 64 * 1024).await;
    wait_for_version(&router, 1).await;
    let body: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut request = format!(
        "POST /file HTTP/1.1\r\nHost: web.test\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let answer = raw(router.addr, &request).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.text(), format!("web POST /file body={}", body.len()));
    let seen = backend.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.len(), body.len());
    assert!(seen[0].body[..] == body[..], "body corrupted on the way");
    assert!(seen[0].headers.get("expect").is_none());
    router.shutdown().await;
}
