//! HTTPS: certificates by SNI (never another tenant's), protocol versions and suites checked
//! with `openssl s_client`, session resumption, HTTPS redirects, HSTS, `X-Forwarded-Proto`, and
//! certificates arriving with a later table. Test certificates come from a throwaway CA made
//! with the openssl CLI.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use paas_router::Running;
use paas_types::routing::RouteCertificate;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::support::*;

// === Certificates ===

/// A test CA in a temp directory that signs RSA leaf certificates.
struct Pki {
    dir: tempfile::TempDir,
    serial: std::cell::Cell<u32>,
}

/// One issued certificate.
struct Leaf {
    chain_pem: String,
    key_pem: String,
    cert_path: PathBuf,
    key_path: PathBuf,
}

impl Pki {
    async fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        run_ok(
            Command::new("openssl")
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=paas test CA"])
                .args(["-keyout", "ca.key", "-out", "ca.pem"])
                .current_dir(dir.path()),
        )
        .await;
        Pki { dir, serial: std::cell::Cell::new(1) }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A leaf certificate for `names` (its subject alternative names), signed by the CA.
    async fn leaf(&self, names: &[&str]) -> Leaf {
        let n = self.serial.get() + 1;
        self.serial.set(n);
        let dir = self.dir.path();
        let sans: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        let ext = format!(
            "subjectAltName={}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
            sans.join(",")
        );
        std::fs::write(dir.join(format!("{n}.ext")), ext).unwrap();
        run_ok(
            Command::new("openssl")
                .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", &format!("/CN={}", names[0])])
                .args(["-keyout", &format!("{n}.key"), "-out", &format!("{n}.csr")])
                .current_dir(dir),
        )
        .await;
        run_ok(
            Command::new("openssl")
                .args(["x509", "-req", "-in", &format!("{n}.csr"), "-CA", "ca.pem", "-CAkey", "ca.key"])
                .args(["-set_serial", &n.to_string(), "-days", "30", "-extfile", &format!("{n}.ext")])
                .args(["-out", &format!("{n}.pem")])
                .current_dir(dir),
        )
        .await;
        let (cert_path, key_path) = (dir.join(format!("{n}.pem")), dir.join(format!("{n}.key")));
        Leaf {
            chain_pem: std::fs::read_to_string(&cert_path).unwrap(),
            key_pem: std::fs::read_to_string(&key_path).unwrap(),
            cert_path,
            key_path,
        }
    }
}

impl Leaf {
    /// The route table entry of this certificate, listed for `hostnames`.
    fn entry(&self, hostnames: &[&str]) -> RouteCertificate {
        serde_json::from_value(serde_json::json!({
            "hostnames": hostnames,
            "chain_pem": self.chain_pem,
            "key_pem": self.key_pem,
            "not_after": "2099-01-01T00:00:00Z",
        }))
        .unwrap()
    }

    /// The leaf certificate without PEM line breaks, to compare with what a server sent.
    fn fingerprint(&self) -> String {
        pem_body(&self.chain_pem).expect("a PEM certificate")
    }
}

fn pem_body(text: &str) -> Option<String> {
    let start = text.find("-----BEGIN CERTIFICATE-----")?;
    let end = text[start..].find("-----END CERTIFICATE-----")? + start;
    Some(text[start..end].split_whitespace().collect())
}

// === Tools ===

/// Runs a command with a 20 s bound.
async fn run(command: &mut Command) -> Output {
    command.kill_on_drop(true).stdin(std::process::Stdio::null());
    command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("the tool is installed");
    tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the tool finished within 20 s")
        .unwrap()
}

async fn run_ok(command: &mut Command) -> Output {
    let output = run(command).await;
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// `openssl s_client` against `addr` with `args`; sends `GET /` for the `-servername` host and
/// reads until the router closes. Returns stdout and stderr together.
async fn s_client(addr: SocketAddr, args: &[&str]) -> String {
    let host = args.iter().position(|a| *a == "-servername").map_or("probe.test", |i| args[i + 1]);
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let mut command = Command::new("openssl");
    command.args(["s_client", "-connect", &addr.to_string(), "-ign_eof"]).args(args);
    command.kill_on_drop(true).stdin(std::process::Stdio::piped());
    command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("openssl is installed");
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, request.as_bytes()).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("s_client finished within 20 s")
        .unwrap();
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The certificate the router presents for `server_name` (`None`: no SNI).
async fn served_cert(addr: SocketAddr, server_name: Option<&str>) -> Option<String> {
    let out = match server_name {
        Some(name) => s_client(addr, &["-servername", name]).await,
        None => s_client(addr, &["-noservername"]).await,
    };
    pem_body(&out)
}

/// `curl` over HTTPS to `host` (resolved to the router), trusting `ca`; returns head and body.
async fn curl_https(router: &Running, ca: &Path, host: &str, path: &str) -> Answer {
    let port = router.tls_addr.unwrap().port();
    let output = run_ok(Command::new("curl").args(["-sS", "-i", "--max-time", "10", "--cacert"]).arg(ca).args([
        "--resolve",
        &format!("{host}:{port}:127.0.0.1"),
        &format!("https://{host}:{port}{path}"),
    ]))
    .await;
    parse_answer(&output.stdout)
}

/// A router with an HTTPS listener, `default` as its default certificate, redirects to port 8443.
async fn tls_router(api: &FakeApi, state: &Path, default: Option<&Leaf>) -> Running {
    tls_router_with(api, state, default, |_| {}).await
}

async fn tls_router_with(
    api: &FakeApi,
    state: &Path,
    default: Option<&Leaf>,
    tune: impl FnOnce(&mut paas_router::Config),
) -> Running {
    let default = default.map(|l| (l.cert_path.clone(), l.key_path.clone()));
    router(&api.url(), state, move |config| {
        config.tls.tls_listen = Some("127.0.0.1:0".parse().unwrap());
        config.tls.https_redirect_port = 8443;
        if let Some((cert, key)) = default {
            config.tls.tls_cert = Some(cert);
            config.tls.tls_key = Some(key);
        }
        tune(config);
    })
    .await
}

/// One app `web` at `web.paas.test` behind a TLS router whose default certificate is
/// `*.paas.test`; the parts live as long as the returned values.
struct WebOverTls {
    pki: Pki,
    _backend: TestBackend,
    _api: FakeApi,
    dir: tempfile::TempDir,
    router: Running,
}

async fn web_over_tls(tune: impl FnOnce(&mut paas_router::Config)) -> WebOverTls {
    let pki = Pki::new().await;
    let base = pki.leaf(&["*.paas.test"]).await;
    let backend = TestBackend::start("web").await;
    let api = FakeApi::start(table(1, vec![app("web", &["web.paas.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = tls_router_with(&api, dir.path(), Some(&base), tune).await;
    wait_for_version(&router, 1).await;
    WebOverTls { pki, _backend: backend, _api: api, dir, router }
}

/// The router's TLS handshake count with `result` (`ok`, `failed`).
async fn handshakes(router: &Running, result: &str) -> u64 {
    let prefix = format!("paas_router_tls_handshakes_total{{result=\"{result}\"}} ");
    metrics(router).await.lines().find_map(|l| l.strip_prefix(&prefix)?.parse().ok()).unwrap_or(0)
}

/// Waits (bounded) until the count reaches `expected`: a worker counts a handshake just after
/// closing its connection, so the client may look first.
async fn assert_handshakes(router: &Running, result: &str, expected: u64) {
    let mut seen = 0;
    for _ in 0..50 {
        seen = handshakes(router, result).await;
        if seen >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, expected, "TLS handshakes {result}");
}

// === Tests ===

#[tokio::test]
async fn sni_picks_each_hostnames_certificate_and_never_another_tenants() {
    let pki = Pki::new().await;
    let (shop, blog, base) = (
        pki.leaf(&["shop.example.test"]).await,
        pki.leaf(&["blog.example.test"]).await,
        pki.leaf(&["*.paas.test", "paas.test"]).await,
    );
    let backend = TestBackend::start("web").await;
    let mut routes = table(
        1,
        vec![
            app("shop", &["shop.paas.test", "shop.example.test"], &[&backend]),
            app("blog", &["blog.paas.test", "blog.example.test"], &[&backend]),
            app("pending", &["pending.example.test"], &[&backend]),
        ],
    );
    routes.certificates = vec![shop.entry(&["shop.example.test"]), blog.entry(&["blog.example.test"])];
    let api = FakeApi::start(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let router = tls_router(&api, dir.path(), Some(&base)).await;
    wait_for_version(&router, 1).await;
    let addr = router.tls_addr.unwrap();

    assert_eq!(served_cert(addr, Some("shop.example.test")).await, Some(shop.fingerprint()));
    assert_eq!(served_cert(addr, Some("BLOG.example.test")).await, Some(blog.fingerprint()));
    assert_eq!(served_cert(addr, Some("shop.paas.test")).await, Some(base.fingerprint()), "default hostname");
    // A custom domain still waiting for its certificate, an unknown name, no SNI: the default.
    for name in [Some("pending.example.test"), Some("other.example.test"), Some("example.test"), None] {
        assert_eq!(served_cert(addr, name).await, Some(base.fingerprint()), "{name:?}");
    }
    router.shutdown().await;

    // Without a default certificate an unknown name is refused with `unrecognized_name`.
    let dir = tempfile::tempdir().unwrap();
    let router = tls_router(&api, dir.path(), None).await;
    wait_for_version(&router, 1).await;
    let addr = router.tls_addr.unwrap();
    assert_eq!(served_cert(addr, Some("shop.example.test")).await, Some(shop.fingerprint()));
    for name in [Some("pending.example.test"), Some("shop.example.test.evil"), None] {
        let out = match name {
            Some(name) => s_client(addr, &["-servername", name]).await,
            None => s_client(addr, &["-noservername"]).await,
        };
        assert_eq!(pem_body(&out), None, "{name:?} got a certificate: {out}");
        assert!(out.contains("alert number 112") || out.contains("unrecognized name"), "{name:?}: {out}");
    }
    assert_handshakes(&router, "failed", 3).await;
    router.shutdown().await;
}

#[tokio::test]
async fn only_tls12_and_tls13_with_aead_suites_are_accepted() {
    // Every part bound (not `..`), so the backend and the API outlive the test.
    let WebOverTls { router, pki: _pki, _backend, _api, dir: _dir } = web_over_tls(|_| {}).await;
    let addr = router.tls_addr.unwrap();
    let sni = ["-servername", "web.paas.test"];

    for (version, protocol) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let out = s_client(addr, &[&sni[..], &[version]].concat()).await;
        assert!(out.contains(&format!("Protocol  : {protocol}")) || out.contains(&format!("New, {protocol}")), "{out}");
        assert!(out.contains("web GET / body=0"), "{version}: the request went through: {out}");
    }
    // A suite with forward secrecy and AEAD works on TLS 1.2 with this RSA certificate...
    let out = s_client(addr, &[&sni[..], &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]].concat()).await;
    assert!(out.contains("ECDHE-RSA-AES128-GCM-SHA256"), "{out}");

    // ...while old versions and CBC, RC4, 3DES or RSA key exchange are refused by the router.
    // (SECLEVEL=0 lets this OpenSSL offer them at all: each attempt must reach the router.)
    let refused: [&[&str]; 4] = [
        &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"],
        &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
        &["-tls1_2", "-cipher", "AES128-SHA:DES-CBC3-SHA:RC4-SHA:@SECLEVEL=0"],
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:AES256-GCM-SHA384:@SECLEVEL=0"],
    ];
    let before = handshakes(&router, "failed").await;
    for args in refused {
        let out = s_client(addr, &[&sni[..], args].concat()).await;
        assert_eq!(pem_body(&out), None, "{args:?} got a certificate: {out}");
        assert!(!out.contains("web GET /"), "{args:?}: {out}");
    }
    // Every refusal came from the router.
    assert_handshakes(&router, "failed", before + 4).await;
    router.shutdown().await;
}

#[tokio::test]
async fn sessions_resume_across_worker_threads() {
    let WebOverTls { router, dir, pki: _pki, _backend, _api } = web_over_tls(|config| config.workers = 2).await;
    let addr = router.tls_addr.unwrap();
    let session = dir.path().join("session.pem");
    let session = session.to_str().unwrap();

    // TLS 1.3 tickets, TLS 1.2 tickets, TLS 1.2 session ids (the server-side cache).
    for mode in [&["-tls1_3"][..], &["-tls1_2"], &["-tls1_2", "-no_ticket"]] {
        let first = s_client(addr, &[&["-servername", "web.paas.test", "-sess_out", session][..], mode].concat()).await;
        assert!(first.contains("New, TLS"), "{mode:?}: {first}");
        // Several tries: the kernel hands connections to either worker's socket.
        for _ in 0..4 {
            let again =
                s_client(addr, &[&["-servername", "web.paas.test", "-sess_in", session][..], mode].concat()).await;
            assert!(again.contains("Reused, TLS"), "{mode:?}: {again}");
            assert!(again.contains("web GET / body=0"), "{mode:?}: {again}");
        }
    }
    router.shutdown().await;
}

#[tokio::test]
async fn https_reaches_the_backend_with_forwarded_proto_and_hsts_only_when_on() {
    let pki = Pki::new().await;
    let base = pki.leaf(&["*.paas.test"]).await;
    let backend = TestBackend::start("web").await;
    let mut strict = app("strict", &["strict.paas.test"], &[&backend]);
    strict.hsts = true;
    let api = FakeApi::start(table(1, vec![strict, app("lax", &["lax.paas.test"], &[&backend])])).await;
    let dir = tempfile::tempdir().unwrap();
    let router = tls_router(&api, dir.path(), Some(&base)).await;
    wait_for_version(&router, 1).await;

    let answer = curl_https(&router, &pki.ca(), "strict.paas.test", "/hello?x=1").await;
    assert_eq!((answer.status, answer.text()), (200, "web GET /hello body=0".to_owned()));
    assert_eq!(answer.header("strict-transport-security").as_deref(), Some("max-age=31536000"));
    let seen = backend.seen().pop().unwrap();
    assert_eq!(seen.target, "/hello?x=1");
    assert_eq!(seen.headers["x-forwarded-proto"], "https");
    assert_eq!(seen.headers["host"], format!("strict.paas.test:{}", router.tls_addr.unwrap().port()));
    // The listener offers h2 by ALPN; an HTTP/2 request reaches the backend the same way.
    let port = router.tls_addr.unwrap().port();
    let version =
        run_ok(Command::new("curl").args(["-sS", "-o", "/dev/null", "-w", "%{http_version}", "--http2"]).args([
            "--max-time",
            "10",
            "--cacert",
            pki.ca().to_str().unwrap(),
            "--resolve",
            &format!("strict.paas.test:{port}:127.0.0.1"),
            &format!("https://strict.paas.test:{port}/over-h2"),
        ]))
        .await;
    assert_eq!(String::from_utf8_lossy(&version.stdout), "2", "ALPN negotiated h2");
    let seen = backend.seen().pop().unwrap();
    assert_eq!(seen.target, "/over-h2");
    assert_eq!(seen.headers["x-forwarded-proto"], "https");

    // A spoofed header from an untrusted client does not win, either way.
    let plain = get_with(router.addr, "strict.paas.test", "/", "X-Forwarded-Proto: https\r\n").await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("strict-transport-security"), None, "HSTS is for HTTPS responses only");
    assert_eq!(backend.seen().pop().unwrap().headers["x-forwarded-proto"], "http");

    let lax = curl_https(&router, &pki.ca(), "lax.paas.test", "/").await;
    assert_eq!(lax.status, 200);
    assert_eq!(lax.header("strict-transport-security"), None, "HSTS is off for this app");
    assert_handshakes(&router, "ok", 3).await;
    router.shutdown().await;
}

#[tokio::test]
async fn plain_http_redirects_to_https_only_for_hostnames_with_a_certificate() {
    let pki = Pki::new().await;
    let (base, shop) = (pki.leaf(&["*.paas.test"]).await, pki.leaf(&["shop.example.test"]).await);
    let backend = TestBackend::start("web").await;
    let mut secure = app("shop", &["shop.paas.test", "shop.example.test", "new.example.test"], &[&backend]);
    secure.https_redirect = true;
    let mut routes = table(1, vec![secure, app("open", &["open.paas.test"], &[&backend])]);
    routes.certificates = vec![shop.entry(&["shop.example.test"])];
    let api = FakeApi::start(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let router = tls_router(&api, dir.path(), Some(&base)).await;
    wait_for_version(&router, 1).await;

    // The table's certificate and the default wildcard both count; the port is the configured one.
    let answer = request(router.addr, "POST", "Shop.Example.Test:8000", "/cart?item=3", "").await;
    assert_eq!(answer.status, 308);
    assert_eq!(answer.header("location").as_deref(), Some("https://shop.example.test:8443/cart?item=3"));
    let answer = get(router.addr, "shop.paas.test", "/").await;
    assert_eq!(answer.header("location").as_deref(), Some("https://shop.paas.test:8443/"));
    // Absolute-form target: its authority is the host.
    let answer =
        raw(router.addr, b"GET http://shop.paas.test/a?b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(answer.header("location").as_deref(), Some("https://shop.paas.test:8443/a?b"));
    assert!(backend.seen().is_empty(), "redirected requests never reach the app");

    // No certificate for this hostname yet: served over HTTP. ACME challenges are never redirected.
    assert_eq!(get(router.addr, "new.example.test", "/").await.text(), "web GET / body=0");
    let challenge = get(router.addr, "shop.example.test", "/.well-known/acme-challenge/abc").await;
    assert_ne!(challenge.status, 308, "{}", challenge.head);
    // An app without the switch is not redirected; HTTPS requests are served.
    assert_eq!(get(router.addr, "open.paas.test", "/").await.status, 200);
    assert_eq!(curl_https(&router, &pki.ca(), "shop.example.test", "/").await.status, 200);
    router.shutdown().await;

    // The default port 443 stays out of the URL.
    let dir = tempfile::tempdir().unwrap();
    let router = tls_router_with(&api, dir.path(), Some(&base), |config| config.tls.https_redirect_port = 443).await;
    wait_for_version(&router, 1).await;
    let answer = get(router.addr, "shop.example.test", "/x").await;
    assert_eq!(answer.header("location").as_deref(), Some("https://shop.example.test/x"));
    router.shutdown().await;
}

#[tokio::test]
async fn certificates_from_a_later_table_are_served_without_a_restart_and_bad_ones_are_skipped() {
    let pki = Pki::new().await;
    let (base, shop, blog, other) = (
        pki.leaf(&["*.paas.test"]).await,
        pki.leaf(&["shop.example.test"]).await,
        pki.leaf(&["blog.example.test"]).await,
        pki.leaf(&["other.example.test"]).await,
    );
    let backend = TestBackend::start("web").await;
    let apps = || {
        vec![
            app("shop", &["shop.example.test"], &[&backend]),
            app("blog", &["blog.example.test", "www.blog.example.test"], &[&backend]),
        ]
    };
    let api = FakeApi::start(table(1, apps())).await;
    let dir = tempfile::tempdir().unwrap();
    let router = tls_router(&api, dir.path(), Some(&base)).await;
    wait_for_version(&router, 1).await;
    let addr = router.tls_addr.unwrap();
    assert_eq!(served_cert(addr, Some("shop.example.test")).await, Some(base.fingerprint()));

    let mut next = table(2, apps());
    let mut garbage = shop.entry(&["garbage.example.test"]);
    garbage.chain_pem = "not a certificate".into();
    let mut mismatched = blog.entry(&["blog.example.test"]);
    mismatched.key_pem = other.key_pem.clone();
    next.certificates = vec![
        garbage,
        mismatched,
        // Listed for a name its certificate does not carry: not served for it.
        other.entry(&["www.blog.example.test"]),
        shop.entry(&["shop.example.test"]),
    ];
    api.set(next);
    wait_for_version(&router, 2).await;
    assert_eq!(served_cert(addr, Some("shop.example.test")).await, Some(shop.fingerprint()));
    assert_eq!(served_cert(addr, Some("blog.example.test")).await, Some(base.fingerprint()));
    assert_eq!(served_cert(addr, Some("www.blog.example.test")).await, Some(base.fingerprint()));
    assert_eq!(curl_https(&router, &pki.ca(), "shop.example.test", "/").await.text(), "web GET / body=0");

    // The cached table holds private keys: owner-only.
    let cache = dir.path().join("route-table.json");
    let mut mode = 0;
    for _ in 0..100 {
        if std::fs::read_to_string(&cache).is_ok_and(|t| t.contains("\"version\":2")) {
            mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cache).unwrap().permissions()) & 0o777;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mode, 0o600, "{}", cache.display());
    router.shutdown().await;
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_header_timeout() {
    let pki = Pki::new().await;
    let base = pki.leaf(&["*.paas.test"]).await;
    let api = FakeApi::start(table(1, vec![])).await;
    let dir = tempfile::tempdir().unwrap();
    let router =
        tls_router_with(&api, dir.path(), Some(&base), |config| config.limits.client_header_timeout_secs = 1).await;
    let mut stream = tokio::net::TcpStream::connect(router.tls_addr.unwrap()).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed, not still open: {read:?}");
    assert!(started.elapsed() < Duration::from_millis(2500), "{:?}", started.elapsed());
    assert_handshakes(&router, "failed", 1).await;
    router.shutdown().await;
}

#[tokio::test]
async fn large_responses_arrive_whole_over_tls_to_a_slow_reader() {
    let WebOverTls { router, pki, dir: _dir, _backend, _api } = web_over_tls(|_| {}).await;
    let port = router.tls_addr.unwrap().port();
    // Slower than the router writes, so the socket fills and the TLS session buffers records.
    for size in [30_000_000, 300_000] {
        let output = run_ok(
            Command::new("curl")
                .args(["-sS", "-o", "/dev/null", "-w", "%{size_download}", "--limit-rate", "15M", "--max-time", "15"])
                .arg("--cacert")
                .arg(pki.ca())
                .args(["--resolve", &format!("web.paas.test:{port}:127.0.0.1")])
                .arg(format!("https://web.paas.test:{port}/big/{size}")),
        )
        .await;
        assert_eq!(String::from_utf8_lossy(&output.stdout), size.to_string());
    }
    router.shutdown().await;
}
