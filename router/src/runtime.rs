//! Starting and stopping the router: listeners, worker threads, background tasks.
//!
//! [`start`] binds the client (HTTP and, with `--tls-listen`, HTTPS) and admin
//! listeners, loads the cached route table and spawns the table source, the health
//! prober and one single-threaded event loop per worker, serving both client
//! listeners; [`Running::shutdown`] stops accepting and waits out in-flight requests.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::HeaderValue;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::admin;
use crate::cache::{Cache, Limits};
use crate::config::Config;
use crate::error::RouterError;
use crate::metrics::Metrics;
use crate::proxy;
use crate::refresh::TableSource;
use crate::server::conn::{self, ConnSettings};
use crate::server::handler::{ConnInfo, Handler};
use crate::source::ApiClient;
use crate::state::State;
use crate::statics::MemoryBudget;
use crate::table::keys::DefaultCert;
use crate::table::Table;
use crate::telemetry;
use crate::tls::handshake::Handshaker;
use crate::tls::resolver::SniResolver;
use crate::tls::server_config;
use crate::upstream;

/// A started router; dropping it does not stop it, call [`Running::shutdown`].
pub struct Running {
    /// The bound client address (useful with port 0).
    pub addr: SocketAddr,
    /// The bound HTTPS address, with `--tls-listen`.
    pub tls_addr: Option<SocketAddr>,
    pub admin_addr: SocketAddr,
    pub state: Arc<State>,
    shutdown: watch::Sender<bool>,
}

/// Binds the listeners, loads the cached table and starts every task.
pub async fn start(config: Config) -> Result<Running, RouterError> {
    let tmp_dir = config.state_dir.join("tmp");
    let state_err = |source| RouterError::StateDir { path: config.state_dir.clone(), source };
    // Leftover spill files of a previous run are garbage.
    let _ = tokio::fs::remove_dir_all(&tmp_dir).await;
    tokio::fs::create_dir_all(&tmp_dir).await.map_err(state_err)?;
    let admin = bind("admin", config.admin_listen).await?;
    let cache_control = HeaderValue::from_str(&config.statics.static_cache_control)
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=60"));
    let api = ApiClient::new(&config.api)?;
    let tls_default = match (&config.tls.tls_cert, &config.tls.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(DefaultCert::load(cert, key).map_err(|e| RouterError::Tls {
            what: "loading the default certificate (--tls-cert, --tls-key)",
            reason: e.to_string(),
        })?)),
        _ => None,
    };
    let state = Arc::new(State {
        static_budget: MemoryBudget::new(config.statics.static_memory_bytes),
        cache: Cache::new(Limits::from_config(&config.cache)),
        table: ArcSwap::from_pointee(Table::default()),
        metrics: Metrics::default(),
        tmp_dir,
        cache_control,
        tls_default,
        config,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut source = TableSource::new(api, state.clone());
    source.load_cache().await;
    tokio::spawn(source.run(shutdown_rx.clone()));
    tokio::spawn(health_loop(state.clone(), shutdown_rx.clone()));
    let settings = Arc::new(ConnSettings { limits: state.config.limits.clone(), access_log: state.config.access_log });
    let admin_settings = Arc::new(ConnSettings { limits: state.config.limits.clone(), access_log: false });
    let proxy = Arc::new(proxy::Proxy::new(state.clone()));
    let tls = match state.config.tls.tls_listen {
        Some(_) => Some(handshaker(&state)?),
        None => None,
    };
    let (addr, tls_addr) = spawn_workers(proxy, settings, tls, &state, &shutdown_rx)?;
    let admin_addr = admin.local_addr().map_err(|source| RouterError::Bind {
        what: "admin",
        addr: state.config.admin_listen,
        source,
    })?;
    let running = Running { addr, tls_addr, admin_addr, state: state.clone(), shutdown };
    let admin_handler = Arc::new(admin::Admin::new(state.clone()));
    tokio::spawn(accept_loop(admin, admin_handler, admin_settings, state, shutdown_rx, false, None));
    let tls_listen = running.tls_addr.map(|a| a.to_string());
    tracing::info!(listen = %running.addr, tls_listen, admin = %running.admin_addr, "router started");
    Ok(running)
}

impl Running {
    /// Stops accepting, lets in-flight requests finish within the grace period.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let grace = Duration::from_secs(self.state.config.shutdown_grace_secs);
        let step = Duration::from_millis(50);
        for _ in 0..(grace.as_millis() / step.as_millis()).max(1) {
            if self.state.metrics.open_connections.load(Ordering::Relaxed) <= 0 {
                break;
            }
            tokio::time::sleep(step).await;
        }
        tracing::info!(open = self.state.metrics.open_connections.load(Ordering::Relaxed), "router stopped");
    }
}

/// Runs until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn run(config: Config) -> Result<(), RouterError> {
    let running = start(config).await?;
    telemetry::shutdown_signal().await;
    tracing::info!("shutdown requested");
    running.shutdown().await;
    Ok(())
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, RouterError> {
    TcpListener::bind(addr).await.map_err(|source| RouterError::Bind { what, addr, source })
}

/// The TLS side of the client listener: the configuration around the SNI resolver.
fn handshaker(state: &Arc<State>) -> Result<Arc<Handshaker>, RouterError> {
    let resolver = Arc::new(SniResolver::new(state.clone()));
    let config = server_config::build(resolver.clone())
        .map_err(|e| RouterError::Tls { what: "building the TLS configuration", reason: e.to_string() })?;
    Ok(Arc::new(Handshaker::new(config, resolver, state.config.limits.header_timeout())))
}

/// Starts the client-serving threads. Each runs its own single-threaded event loop on its own
/// `SO_REUSEPORT` sockets (the kernel spreads connections), so a connection, its upstream
/// connections and their tasks stay on one thread, as in nginx's worker model. With `tls`,
/// every thread also serves its own socket of the HTTPS listener.
fn spawn_workers(
    proxy: Arc<proxy::Proxy>,
    settings: Arc<ConnSettings>,
    tls: Option<Arc<Handshaker>>,
    state: &Arc<State>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(SocketAddr, Option<SocketAddr>), RouterError> {
    let workers = match state.config.workers {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    let (addr, sockets) = reuseport_sockets("client", state.config.listen, workers)?;
    let (tls_addr, mut tls_sockets): (_, Vec<Option<std::net::TcpListener>>) = match (state.config.tls.tls_listen, &tls)
    {
        (Some(requested), Some(_)) => {
            let (addr, sockets) = reuseport_sockets("HTTPS", requested, workers)?;
            (Some(addr), sockets.into_iter().map(Some).collect())
        }
        _ => (None, (0..workers).map(|_| None).collect()),
    };
    let bind_err = |source| RouterError::Bind { what: "client", addr, source };
    for (index, socket) in sockets.into_iter().enumerate() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(bind_err)?;
        let (proxy, settings, state, shutdown) = (proxy.clone(), settings.clone(), state.clone(), shutdown.clone());
        let secure = tls_sockets[index].take().zip(tls.clone());
        let work = move || {
            upstream::set_worker_index(index + 1);
            runtime.block_on(async move {
                let secure = secure.map(|(socket, tls)| TcpListener::from_std(socket).map(|l| (l, tls)));
                let (plain, secure) = match (TcpListener::from_std(socket), secure.transpose()) {
                    (Ok(plain), Ok(secure)) => (plain, secure),
                    (Err(error), _) | (_, Err(error)) => {
                        return tracing::error!(error = %error, "worker cannot use the listener")
                    }
                };
                let http =
                    accept_loop(plain, proxy.clone(), settings.clone(), state.clone(), shutdown.clone(), true, None);
                let https = async {
                    if let Some((listener, tls)) = secure {
                        accept_loop(listener, proxy, settings, state.clone(), shutdown, true, Some(tls)).await;
                    }
                };
                tokio::join!(http, https);
                // In-flight exchanges on this thread finish before its event loop is dropped.
                let grace = Duration::from_secs(state.config.shutdown_grace_secs);
                let _ = tokio::time::timeout(grace, async {
                    while state.metrics.open_connections.load(Ordering::Relaxed) > 0 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                })
                .await;
            });
        };
        std::thread::Builder::new().name(format!("router-worker-{}", index + 1)).spawn(work).map_err(bind_err)?;
    }
    Ok((addr, tls_addr))
}

/// `count` sockets sharing one address; with port 0 the first picks the port, the others join it.
fn reuseport_sockets(
    what: &'static str,
    requested: SocketAddr,
    count: usize,
) -> Result<(SocketAddr, Vec<std::net::TcpListener>), RouterError> {
    let bind_err = |source| RouterError::Bind { what, addr: requested, source };
    let first = reuseport_listener(requested).map_err(bind_err)?;
    let addr = first.local_addr().map_err(bind_err)?;
    let mut sockets = vec![first];
    for _ in 1..count {
        sockets.push(reuseport_listener(addr).map_err(bind_err)?);
    }
    Ok((addr, sockets))
}

fn reuseport_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

async fn accept_loop<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    settings: Arc<ConnSettings>,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
    counted: bool,
    tls: Option<Arc<Handshaker>>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Usually EMFILE: back off instead of spinning.
                tracing::warn!(error = %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (handler, settings, state, shutdown) = (handler.clone(), settings.clone(), state.clone(), shutdown.clone());
        let tls = tls.clone();
        tokio::spawn(async move {
            if counted {
                state.metrics.open_connections.fetch_add(1, Ordering::Relaxed);
                state.metrics.connections_total.fetch_add(1, Ordering::Relaxed);
            }
            let _ = stream.set_nodelay(true);
            match tls {
                Some(tls) => serve_tls(&tls, handler, stream, peer, settings, shutdown, &state).await,
                None => conn::serve(handler, stream, ConnInfo::plain(peer), settings, shutdown).await,
            }
            if counted {
                state.metrics.open_connections.fetch_sub(1, Ordering::Relaxed);
            }
        });
    }
}

/// Completes the TLS handshake, then serves the protocol the client and router agreed on (ALPN).
async fn serve_tls<H: Handler>(
    tls: &Handshaker,
    handler: Arc<H>,
    stream: TcpStream,
    peer: SocketAddr,
    settings: Arc<ConnSettings>,
    shutdown: watch::Receiver<bool>,
    state: &State,
) {
    let stream = match tls.accept(stream).await {
        Ok(stream) => stream,
        Err(error) => {
            state.metrics.tls_handshakes_failed.fetch_add(1, Ordering::Relaxed);
            return tracing::debug!(peer = %peer, error = %error, "TLS handshake failed");
        }
    };
    state.metrics.tls_handshakes_ok.fetch_add(1, Ordering::Relaxed);
    let conn = ConnInfo { peer, tls: true };
    // The ALPN dispatch point: one server per protocol `tls::server_config::ALPN` offers.
    match stream.get_ref().1.alpn_protocol() {
        Some(b"h2") => crate::h2::serve(handler, stream, conn, settings, shutdown).await,
        Some(b"http/1.1") | None => conn::serve(handler, stream, conn, settings, shutdown).await,
        Some(other) => tracing::debug!(peer = %peer, alpn = ?other, "no server for the negotiated protocol"),
    }
}

/// Probes instances marked down and puts them back when they accept connections.
async fn health_loop(state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let interval = Duration::from_millis(state.config.upstream.health_interval_ms.max(50));
    let timeout = Duration::from_millis(state.config.upstream.connect_timeout_ms);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        let table = state.table.load_full();
        let mut probes = tokio::task::JoinSet::new();
        for backend in table.apps.iter().flat_map(|a| a.all_backends()).filter(|b| b.is_down()) {
            let backend = backend.clone();
            probes.spawn(async move { backend.probe(timeout).await });
        }
        let mut back = false;
        while let Some(came_back) = probes.join_next().await {
            back |= came_back.unwrap_or(false);
        }
        // Requests queued for a free worker may use the returned instances.
        if back {
            table.apps.iter().for_each(|app| app.queue.wake());
        }
    }
}
