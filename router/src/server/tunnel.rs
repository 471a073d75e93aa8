//! The byte relay after `101 Switching Protocols` (WebSocket): both ways,
//! each direction closed on its own (half-close), until both sides are done,
//! one fails, or no byte moved either way for the idle timeout
//! (`--stream-idle-timeout-secs`): a bounded tunnel, so a vanished peer
//! never holds a connection (and an async server's socket) forever.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::http1::io::ClientIo;

/// Bytes read at once per direction.
const CHUNK: usize = 16 * 1024;

/// How a tunnel ended.
#[derive(Debug, thiserror::Error)]
pub enum TunnelEnd {
    #[error("no byte either way for {secs} s")]
    Idle { secs: u64 },
    #[error("a side broke the connection")]
    Io(#[source] std::io::Error),
}

/// Relays `client` <-> `upstream` until both close, one breaks, or `idle` passes without a byte.
pub async fn relay<S: AsyncRead + AsyncWrite + Unpin>(
    mut client: ClientIo<S>,
    mut upstream: Box<ClientIo>,
    peer: SocketAddr,
    idle: Duration,
) {
    // Bytes either side sent early (already buffered) go first.
    if !client.buf.is_empty() && upstream.stream.write_all(&client.buf).await.is_err() {
        return;
    }
    if !upstream.buf.is_empty() && client.stream.write_all(&upstream.buf).await.is_err() {
        return;
    }
    let (mut client_read, mut client_write) = tokio::io::split(client.stream);
    let (mut upstream_read, mut upstream_write) = upstream.stream.split();
    match bidirectional(&mut client_read, &mut client_write, &mut upstream_read, &mut upstream_write, idle).await {
        Ok((up, down)) => tracing::debug!(peer = %peer, bytes_up = up, bytes_down = down, "tunnel closed"),
        Err(end) => tracing::debug!(peer = %peer, error = %end, "tunnel ended"),
    }
}

/// Copies `a_read` -> `b_write` and `b_read` -> `a_write` at once; returns the bytes each way.
pub async fn bidirectional<AR, AW, BR, BW>(
    a_read: &mut AR,
    a_write: &mut AW,
    b_read: &mut BR,
    b_write: &mut BW,
    idle: Duration,
) -> Result<(u64, u64), TunnelEnd>
where
    AR: AsyncRead + Unpin,
    AW: AsyncWrite + Unpin,
    BR: AsyncRead + Unpin,
    BW: AsyncWrite + Unpin,
{
    let start = Instant::now();
    // Milliseconds after `start` of the last byte moved, either way.
    let last = AtomicU64::new(0);
    let both = async { tokio::try_join!(pipe(a_read, b_write, start, &last), pipe(b_read, a_write, start, &last)) };
    let watchdog = async {
        loop {
            let quiet = start.elapsed().saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
            if quiet >= idle {
                return TunnelEnd::Idle { secs: idle.as_secs() };
            }
            tokio::time::sleep(idle - quiet).await;
        }
    };
    tokio::select! {
        done = both => done.map_err(TunnelEnd::Io),
        end = watchdog => Err(end),
    }
}

/// Copies `from` to `to` until `from` ends, then closes `to`'s write side; stamps `last` on every move.
async fn pipe<R, W>(from: &mut R, to: &mut W, start: Instant, last: &AtomicU64) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let stamp = || last.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            to.shutdown().await?;
            return Ok(total);
        }
        stamp();
        to.write_all(&buf[..n]).await?;
        // Through TLS the last record may wait in the session for a flush (a no-op on TCP).
        to.flush().await?;
        stamp();
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    /// Two connected loopback sockets.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let connect = TcpStream::connect(listener.local_addr().unwrap());
        let (accepted, connected) = tokio::join!(listener.accept(), connect);
        (accepted.unwrap().0, connected.unwrap())
    }

    #[tokio::test]
    async fn relays_both_ways_with_half_close() {
        let (mut client, mut a) = pair().await;
        let (mut b, mut server) = pair().await;
        let relay = tokio::spawn(async move {
            let (mut ar, mut aw) = a.split();
            let (mut br, mut bw) = b.split();
            bidirectional(&mut ar, &mut aw, &mut br, &mut bw, Duration::from_secs(5)).await.unwrap()
        });
        client.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        client.shutdown().await.unwrap();
        // The other direction still flows after the client stopped sending.
        server.write_all(b"late answer").await.unwrap();
        server.shutdown().await.unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"late answer");
        assert_eq!(relay.await.unwrap(), (4, 11));
    }

    #[tokio::test]
    async fn closes_after_the_idle_timeout_but_not_while_bytes_move() {
        let (mut client, mut a) = pair().await;
        let (mut b, mut server) = pair().await;
        let idle = Duration::from_millis(300);
        let started = Instant::now();
        let relay = tokio::spawn(async move {
            let (mut ar, mut aw) = a.split();
            let (mut br, mut bw) = b.split();
            bidirectional(&mut ar, &mut aw, &mut br, &mut bw, idle).await
        });
        // A byte every 100 ms for 600 ms keeps it open past one idle period.
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            client.write_all(b"x").await.unwrap();
            let mut got = [0u8; 1];
            server.read_exact(&mut got).await.unwrap();
        }
        let end = tokio::time::timeout(Duration::from_secs(5), relay).await.unwrap().unwrap();
        assert!(matches!(end, Err(TunnelEnd::Idle { .. })), "{end:?}");
        assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    }
}
