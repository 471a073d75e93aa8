//! ACME certificates for custom domains against Debian's Pebble (a real ACME
//! CA) and pebble-challtestsrv (its DNS), both started here on loopback.
//! Pebble's HTTP-01 check goes to a real router, which answers from the route
//! table the real API serves. Cases: issuance (chain verified against Pebble's
//! root with `openssl verify`), renewal of a certificate forced near expiry,
//! and a failed challenge that shows its reason while HTTP keeps serving.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use paas_types::agent::InstanceReport;
use paas_types::routing::RouteTable;
use paas_types::{CertificateState, Domain};
use serde_json::json;
use test_support::agent::{wait_for, TestRouter};
use test_support::node::FakeNode;
use test_support::{decode, tarball, TestApi, ROUTER_TOKEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every wait for the CA is bounded by this.
const LIMIT: Duration = Duration::from_secs(90);

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Pebble and its DNS server, killed on drop.
struct Pebble {
    children: Vec<Child>,
    dir: tempfile::TempDir,
    directory_url: String,
    management: SocketAddr,
    challtestsrv: SocketAddr,
    /// Trusts Pebble's own HTTPS certificate.
    http: reqwest::Client,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Pebble {
    /// Ports and Pebble's HTTPS CA first (the API is configured with them),
    /// processes later, once the router's HTTP port is known.
    fn prepare() -> Pebble {
        assert!(
            Path::new("/usr/bin/pebble").exists(),
            "Pebble is missing: `apt-get install pebble` (deploy/prereqs.sh installs it)"
        );
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "test CA for Pebble's HTTPS");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
            .build()
            .unwrap();
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        Pebble {
            children: Vec::new(),
            directory_url: format!("https://{listen}/dir"),
            management: SocketAddr::from(([127, 0, 0, 1], free_port())),
            challtestsrv: SocketAddr::from(([127, 0, 0, 1], free_port())),
            dir,
            http,
        }
    }

    fn ca_bundle(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Starts challtestsrv (DNS: every name is 127.0.0.1, no AAAA) and Pebble,
    /// validating HTTP-01 on `http_port`; waits until the directory answers.
    async fn start(&mut self, http_port: u16) {
        let dns = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = |name: &str| std::fs::File::create(self.dir.path().join(name)).unwrap();
        let challtestsrv = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-dns01", &dns.to_string(), "-management", &self.challtestsrv.to_string()])
            .stdout(log("challtestsrv.log"))
            .stderr(log("challtestsrv.err"))
            .spawn()
            .expect("start pebble-challtestsrv");
        self.children.push(challtestsrv);
        let listen = self.directory_url.trim_start_matches("https://").trim_end_matches("/dir").to_string();
        let config = json!({ "pebble": {
            "listenAddress": listen,
            "managementListenAddress": self.management.to_string(),
            "certificate": self.dir.path().join("cert.pem"),
            "privateKey": self.dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = self.dir.path().join("pebble-config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &dns.to_string()])
            // No artificial validation delays; fresh authorizations every order.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdin(Stdio::null())
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .spawn()
            .expect("start pebble");
        self.children.push(pebble);
        let http = self.http.clone();
        let url = self.directory_url.clone();
        wait_for("Pebble's directory", Duration::from_secs(30), || async {
            http.get(&url).send().await.ok().filter(|r| r.status().is_success()).map(|_| ())
        })
        .await;
        let management = format!("http://{}", self.challtestsrv);
        wait_for("challtestsrv's management API", Duration::from_secs(30), || async {
            reqwest::Client::builder().no_proxy().build().unwrap().get(&management).send().await.ok().map(|_| ())
        })
        .await;
    }

    /// The root Pebble issues under (it makes a new one each start).
    async fn root_pem(&self) -> String {
        let url = format!("https://{}/roots/0", self.management);
        self.http.get(url).send().await.unwrap().error_for_status().unwrap().text().await.unwrap()
    }

    /// Makes challtestsrv resolve `host` to `address` only.
    async fn add_a(&self, host: &str, address: &str) {
        let url = format!("http://{}/add-a", self.challtestsrv);
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let response = client.post(url).json(&json!({ "host": host, "addresses": [address] })).send().await.unwrap();
        assert!(response.status().is_success(), "add-a: {}", response.status());
    }

    fn logs(&self) -> String {
        ["pebble.log", "pebble.err"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A stand-in app instance: answers every request with `hello from shop`.
async fn backend() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                // Bounded: one request head, then the connection closes.
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 65536 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "hello from shop";
                let reply =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

/// `GET /` through the router with `Host: host`; (status, body).
async fn via_router(router: &TestRouter, host: &str) -> (u16, String) {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
    let response = client.get(router.url("/")).header("host", host).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Plain-HTTP `GET /` with `Host: host`, redirects not followed: (status, `Location`).
async fn redirect_of(router: &TestRouter, host: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let response = client.get(router.url("/")).header("host", host).send().await.unwrap();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (response.status().as_u16(), location)
}

async fn domain(api: &TestApi, token: &str, hostname: &str) -> Domain {
    let (status, domains) = api.get("/v1/apps/shop/domains", token).await;
    assert_eq!(status, 200, "{domains}");
    decode::<Vec<Domain>>(&domains).into_iter().find(|d| d.hostname == hostname).expect("the domain is listed")
}

/// Waits until the domain's certificate leaves `pending` (and, for a renewal,
/// until its serial is no longer `old_serial`).
async fn settled(api: &TestApi, token: &str, hostname: &str, old_serial: Option<&str>, pebble: &Pebble) -> Domain {
    let waited = tokio::time::timeout(LIMIT, async {
        loop {
            let d = domain(api, token, hostname).await;
            let serial = serial_of(api, hostname).await;
            let renewed = old_serial.is_none() || (serial.is_some() && serial.as_deref() != old_serial);
            if d.certificate.state != CertificateState::Pending && renewed {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| {
        panic!("no certificate outcome for {hostname} within {LIMIT:?}; pebble said:\n{}", pebble.logs())
    })
}

async fn serial_of(api: &TestApi, hostname: &str) -> Option<String> {
    sqlx::query_scalar("SELECT c.serial FROM certificates c JOIN domains d ON d.id = c.domain_id WHERE d.hostname = $1")
        .bind(hostname)
        .fetch_one(&api.db)
        .await
        .unwrap()
}

/// `openssl verify` of the chain's leaf against `root`, the rest as intermediates.
fn verify_chain(chain_pem: &str, root_pem: &str, dir: &Path) {
    let end = "-----END CERTIFICATE-----";
    let certs: Vec<String> = chain_pem
        .split_inclusive(end)
        .filter(|c| c.contains("BEGIN CERTIFICATE"))
        .map(|c| c.trim().to_string() + "\n")
        .collect();
    assert!(!certs.is_empty(), "no certificate in the chain: {chain_pem}");
    std::fs::write(dir.join("leaf.pem"), &certs[0]).unwrap();
    std::fs::write(dir.join("intermediates.pem"), certs[1..].concat()).unwrap();
    std::fs::write(dir.join("root.pem"), root_pem).unwrap();
    let mut command = Command::new("openssl");
    command.current_dir(dir).args(["verify", "-CAfile", "root.pem"]);
    if certs.len() > 1 {
        command.args(["-untrusted", "intermediates.pem"]);
    }
    let out = command.arg("leaf.pem").output().expect("run openssl verify");
    assert!(
        out.status.success(),
        "the chain does not verify against Pebble's root: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let wrong = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    std::fs::write(dir.join("wrong.pem"), wrong.pem()).unwrap();
    let out =
        Command::new("openssl").current_dir(dir).args(["verify", "-CAfile", "wrong.pem", "leaf.pem"]).output().unwrap();
    assert!(!out.status.success(), "verification must be able to fail");
}

/// The key the routers get matches the certificate (same public key).
fn assert_key_matches(chain_pem: &str, key_pem: &str, dir: &Path) {
    std::fs::write(dir.join("chain.pem"), chain_pem).unwrap();
    std::fs::write(dir.join("key.pem"), key_pem).unwrap();
    let public = |args: &[&str]| {
        let out = Command::new("openssl").current_dir(dir).args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        public(&["x509", "-in", "chain.pem", "-noout", "-pubkey"]),
        public(&["pkey", "-in", "key.pem", "-pubout"])
    );
}

async fn route_table(api: &TestApi) -> RouteTable {
    let (status, table) = api.call(reqwest::Method::GET, "/v1/router/table", Some(ROUTER_TOKEN), None).await;
    assert_eq!(status, 200);
    decode(&table)
}

#[tokio::test]
async fn custom_domains_get_certificates_renewals_and_readable_failures() {
    let mut pebble = Pebble::prepare();
    let directory_url = pebble.directory_url.clone();
    let ca_bundle = pebble.ca_bundle();
    let api = TestApi::start_with(|c| {
        c.tls.secret_key = Some(api::crypto::SecretKey::generate_hex());
        c.tls.acme_directory = directory_url;
        c.tls.acme_email = Some("ops@shop.example".into());
        c.tls.acme_ca_bundle = Some(ca_bundle);
        c.tls.acme_poll_secs = 1;
        c.tls.acme_challenge_delay_ms = 500;
        // A failed order waits an hour: long enough to see `failed` stay.
        c.tls.acme_retry_min_secs = 3600;
        // The stand-in node reports once: keep it up for the whole test.
        c.node_timeout_secs = 600;
    })
    .await;
    let router = TestRouter::start_with(&api, |c| c.tls.tls_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    pebble.start(router.running.addr.port()).await;

    // An app with one running instance (a stand-in server) behind the router.
    let token = test_support::agent::admin(&api, "owner@shop.example").await;
    let node = FakeNode::register(&api, &token, "node-acme").await;
    api.create_app(&token, "shop").await;
    assert_eq!(api.upload_build(&token, "shop", tarball(&[("app.py", "app = None\n")])).await.0, 202);
    node.build(&["ok"]).await;
    let instance = wait_for("the web instance placed", Duration::from_secs(30), || async {
        node.desired().await.instances.first().map(|i| i.instance_id)
    })
    .await;
    let report = InstanceReport {
        instance_id: instance,
        state: serde_json::from_value(json!("running")).unwrap(),
        address: Some(backend().await.to_string()),
        container_id: Some("c-shop".into()),
        restarts: 0,
        exit_status: None,
        last_output: Vec::new(),
        http_status: None,
    };
    node.report(vec![report]).await;

    // 1. A new custom domain: pending at once, then issued by Pebble.
    let (status, added) = api.post("/v1/apps/shop/domains", &token, json!({ "hostname": "www.shop.example" })).await;
    assert_eq!(status, 201, "{added}");
    let added: Domain = decode(&added);
    assert_eq!(added.certificate.state, CertificateState::Pending, "{added:?}");
    assert_eq!(added.url, "http://www.shop.example/");
    let issued = settled(&api, &token, "www.shop.example", None, &pebble).await;
    assert_eq!(issued.certificate.state, CertificateState::Issued, "{issued:?}\n{}", pebble.logs());
    let expires = issued.certificate.expires_at.expect("an issued certificate has an expiry");
    assert!(expires > chrono::Utc::now() + chrono::Duration::days(31), "{expires}");
    assert_eq!(issued.certificate.error, None);
    assert_eq!(issued.url, "https://www.shop.example/");
    let renew_at = issued.certificate.next_attempt_at.expect("the renewal time is shown");
    assert_eq!(renew_at, expires - chrono::Duration::days(30));

    let root = pebble.root_pem().await;
    let check = tempfile::tempdir().unwrap();
    let table = route_table(&api).await;
    let served = table.certificates.iter().find(|c| c.hostnames == ["www.shop.example"]).expect("in the route table");
    verify_chain(&served.chain_pem, &root, check.path());
    assert_key_matches(&served.chain_pem, &served.key_pem, check.path());
    assert!(table.acme_challenges.is_empty(), "the order's challenges are withdrawn: {:?}", table.acme_challenges);
    // At rest the key is sealed: no PEM in the row.
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT key_sealed FROM certificates WHERE serial IS NOT NULL")
        .fetch_one(&api.db)
        .await
        .unwrap();
    assert!(!sealed.windows(11).any(|w| w == b"PRIVATE KEY"), "the key is stored encrypted");
    let shop = table.apps.iter().find(|a| a.name == "shop").unwrap();
    assert!(shop.https_redirect && !shop.hsts, "new apps redirect to HTTPS, no HSTS");
    // The router serves it by SNI (curl trusts only Pebble's root), and plain HTTP redirects there.
    std::fs::write(check.path().join("pebble-root.pem"), &root).unwrap();
    let body = wait_for("the issued certificate served over HTTPS", Duration::from_secs(30), || {
        let root = check.path().join("pebble-root.pem");
        let port = router.running.tls_addr.expect("HTTPS listener").port();
        async move {
            let out = tokio::process::Command::new("curl")
                .args(["-sS", "--max-time", "5", "--cacert"])
                .arg(&root)
                .args(["--resolve", &format!("www.shop.example:{port}:127.0.0.1")])
                .arg(format!("https://www.shop.example:{port}/"))
                .output()
                .await
                .ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        }
    })
    .await;
    assert_eq!(body, "hello from shop");
    let (status, location) = redirect_of(&router, "www.shop.example").await;
    assert_eq!((status, location.as_str()), (308, "https://www.shop.example/"));

    // 2. Renewal: an expiry forced within the 30-day window brings a new certificate.
    let first_serial = serial_of(&api, "www.shop.example").await.expect("a serial");
    sqlx::query("UPDATE certificates SET not_after = now() + interval '10 days' WHERE serial = $1")
        .bind(&first_serial)
        .execute(&api.db)
        .await
        .unwrap();
    let renewed = settled(&api, &token, "www.shop.example", Some(&first_serial), &pebble).await;
    assert_eq!(renewed.certificate.state, CertificateState::Issued, "{renewed:?}");
    assert!(renewed.certificate.expires_at.unwrap() > chrono::Utc::now() + chrono::Duration::days(31));
    let table = route_table(&api).await;
    let served = table.certificates.iter().find(|c| c.hostnames == ["www.shop.example"]).unwrap();
    verify_chain(&served.chain_pem, &root, check.path());
    assert_key_matches(&served.chain_pem, &served.key_pem, check.path());

    // 3. A domain whose DNS points where no router listens: failed, with the CA's reason.
    pebble.add_a("broken.shop.example", "127.0.0.2").await;
    let (status, _) = api.post("/v1/apps/shop/domains", &token, json!({ "hostname": "broken.shop.example" })).await;
    assert_eq!(status, 201);
    let failed = settled(&api, &token, "broken.shop.example", None, &pebble).await;
    assert_eq!(failed.certificate.state, CertificateState::Failed, "{failed:?}");
    let reason = failed.certificate.error.clone().expect("a reason for people");
    assert!(reason.contains("127.0.0.2") && reason.contains("acme-challenge"), "{reason}");
    let retry = failed.certificate.next_attempt_at.expect("the next attempt is shown");
    assert!(retry > chrono::Utc::now() + chrono::Duration::minutes(50), "{retry}");
    assert_eq!(failed.url, "http://broken.shop.example/");
    // Meanwhile HTTP keeps serving, on both domains and the default hostname.
    for host in ["broken.shop.example", "shop.paas.test"] {
        assert_eq!(via_router(&router, host).await, (200, "hello from shop".to_string()), "{host}");
    }
    assert_eq!(redirect_of(&router, "www.shop.example").await.0, 308, "the certified domain goes to HTTPS");
    let table = route_table(&api).await;
    assert!(table.certificates.iter().all(|c| c.hostnames != ["broken.shop.example"]));
    assert!(table.acme_challenges.is_empty(), "{:?}", table.acme_challenges);

    // Removing a domain drops its certificate from the route table.
    let (status, _) = api.delete("/v1/apps/shop/domains/www.shop.example", &token).await;
    assert_eq!(status, 204);
    assert!(route_table(&api).await.certificates.is_empty());
    router.shutdown().await;
}
