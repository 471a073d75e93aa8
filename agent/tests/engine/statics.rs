//! Static files read from the app itself and served by the router: a
//! Django project (whitenoise manifest storage, collectstatic at build
//! time, a non-default STATIC_URL) and a Flask package (`app/static/` and a
//! blueprint's static folder), deployed through the real agent and router.
//! The backends' gunicorn access logs prove static requests never reach them.

use std::net::SocketAddr;
use std::time::Duration;

use paas_types::client::rest::LogsQuery;
use test_support::agent::*;
use test_support::{scale, set_vars, TestApi};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const SHORT: &str = "public, max-age=60";

#[tokio::test]
async fn django_collectstatic_assets_are_served_by_the_router() {
    let api = TestApi::start().await;
    let token = admin(&api, "django-statics@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "djstat").await;
    let (_, build) = api.upload_build(&token, "djstat", fixture("django-statics")).await;
    let detail = wait_build(&api, &token, "djstat", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    let log = &detail.log;
    println!("django-statics build log:\n{log}");
    assert!(log.contains("python manage.py collectstatic --noinput"), "{log}");
    assert!(log.contains("post-processed"), "Django's own collectstatic output: {log}");
    assert!(
        log.contains("Static files: /assets/ -> collected/"),
        "STATIC_URL and STATIC_ROOT asked from Django: {log}"
    );

    let router = TestRouter::start(&api).await;
    let host = "djstat.paas.test";
    let page = wait_for("the Django page through the router", Duration::from_secs(90), || async {
        let page = get(router.running.addr, host, "/", "").await?;
        (page.status == 200).then_some(page)
    })
    .await;
    assert!(page.text().contains("hello from django-statics"), "{}", page.text());
    // The manifest storage rendered a hashed name: the collected files are in the image too.
    let hashed = between(&page.text(), "href=\"", "\"").expect("a stylesheet link").to_string();
    assert!(hashed.starts_with("/assets/css/site.") && hashed.len() > "/assets/css/site.css".len(), "{hashed}");

    let plain_css = get(router.running.addr, host, &hashed, "").await.unwrap();
    assert_eq!(plain_css.status, 200, "{}", plain_css.head);
    assert_eq!(plain_css.header("cache-control").as_deref(), Some(IMMUTABLE));
    assert_eq!(plain_css.header("content-type").as_deref(), Some("text/css; charset=utf-8"));
    assert!(plain_css.text().contains(".block-199"));
    for (accept, encoding) in [("br, gzip", "br"), ("gzip", "gzip")] {
        let css = get(router.running.addr, host, &hashed, &format!("Accept-Encoding: {accept}\r\n")).await.unwrap();
        assert_eq!(css.status, 200);
        assert_eq!(css.header("content-encoding").as_deref(), Some(encoding), "{}", css.head);
        assert_eq!(css.header("content-type").as_deref(), Some("text/css; charset=utf-8"));
        assert_eq!(css.header("vary").as_deref(), Some("Accept-Encoding"));
        assert!(css.body.len() < plain_css.body.len(), "whitenoise's precompressed sibling is sent");
    }
    let unhashed = get(router.running.addr, host, "/assets/css/site.css", "").await.unwrap();
    assert_eq!(unhashed.status, 200);
    assert_eq!(unhashed.header("cache-control").as_deref(), Some(SHORT));
    let etag = unhashed.header("etag").expect("an ETag");
    let revalidated =
        get(router.running.addr, host, "/assets/css/site.css", &format!("If-None-Match: {etag}\r\n")).await.unwrap();
    assert_eq!(revalidated.status, 304);
    assert_eq!(get(router.running.addr, host, "/assets/css/nope.css", "").await.unwrap().status, 404);

    assert_backend_saw_no_static(&api, &token, "djstat", router.running.addr, host, "/assets/").await;

    // A node without the image rebuilds it from source and runs the step
    // again: the page (which needs the manifest) renders from the rebuilt image.
    let image = detail.build.image.clone().unwrap();
    api.rest(&token).update_formation("djstat", &scale(&[("web", 0)])).await.expect("scaled");
    wait_for("no web containers", Duration::from_secs(60), || async {
        containers(&agent.node, "web").is_empty().then_some(())
    })
    .await;
    let removed = std::process::Command::new("docker").args(["rmi", "-f", &image]).output().unwrap();
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    api.rest(&token).update_formation("djstat", &scale(&[("web", 1)])).await.expect("scaled");
    let web = wait_for("an instance from the rebuilt image", Duration::from_secs(180), || async {
        running(&api, &token, "djstat", "web").await.pop()
    })
    .await;
    let (status, body) = http_get(web.address.as_deref().unwrap(), host, "/").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&hashed), "the same manifest after the rebuild: {body}");

    // DISABLE_COLLECTSTATIC=1 in the app's config skips the step, like Heroku.
    api.rest(&token).update_config("djstat", &set_vars(&[("DISABLE_COLLECTSTATIC", "1")])).await.expect("config set");
    let (_, build) = api.upload_build(&token, "djstat", fixture("django-statics")).await;
    let detail = wait_build(&api, &token, "djstat", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    assert!(detail.log.contains("DISABLE_COLLECTSTATIC=1: collectstatic skipped"), "{}", detail.log);
    assert!(!detail.log.contains("manage.py collectstatic --noinput"), "{}", detail.log);
    router.shutdown().await;
    drop(agent); // stops the agent, removes its containers
}

#[tokio::test]
async fn flask_package_static_folders_are_served_by_the_router() {
    let api = TestApi::start().await;
    let token = admin(&api, "flask-statics@example.org").await;
    let agent = TestAgent::start(&api, &token).await;
    api.create_app(&token, "flaskpkg").await;
    let (_, build) = api.upload_build(&token, "flaskpkg", fixture("flask-package")).await;
    let detail = wait_build(&api, &token, "flaskpkg", &build_id(&build)).await;
    assert_eq!(detail.build.status.as_str(), "succeeded", "{}", detail.log);
    let log = &detail.log;
    assert!(log.contains("/static/ -> app/static/"), "the app object's static folder: {log}");
    assert!(log.contains("/admin/static/ -> app/admin/static/"), "the blueprint's static folder: {log}");

    let router = TestRouter::start(&api).await;
    let host = "flaskpkg.paas.test";
    let page = wait_for("the Flask page through the router", Duration::from_secs(90), || async {
        let page = get(router.running.addr, host, "/", "").await?;
        (page.status == 200).then_some(page)
    })
    .await;
    assert!(page.text().contains("hello from flask-package"));

    let js = get(router.running.addr, host, "/static/js/main.1a2b3c4d.js", "").await.unwrap();
    assert_eq!(js.status, 200);
    assert_eq!(js.header("cache-control").as_deref(), Some(IMMUTABLE));
    assert_eq!(js.header("content-type").as_deref(), Some("text/javascript; charset=utf-8"));
    let css = get(router.running.addr, host, "/static/style.css", "").await.unwrap();
    assert_eq!((css.status, css.header("cache-control").as_deref()), (200, Some(SHORT)));
    assert_eq!(css.header("content-encoding"), None);
    let gz = get(router.running.addr, host, "/static/style.css", "Accept-Encoding: gzip\r\n").await.unwrap();
    assert_eq!(gz.header("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(gz.header("content-type").as_deref(), Some("text/css; charset=utf-8"));
    assert_eq!(gz.header("vary").as_deref(), Some("Accept-Encoding"));
    assert_eq!(&gz.body[..2], &[0x1f, 0x8b], "the .gz sibling's bytes");
    let etag = css.header("etag").unwrap();
    let revalidated =
        get(router.running.addr, host, "/static/style.css", &format!("If-None-Match: {etag}\r\n")).await.unwrap();
    assert_eq!(revalidated.status, 304);
    let admin_css = get(router.running.addr, host, "/admin/static/admin.css", "").await.unwrap();
    assert_eq!(admin_css.status, 200);
    assert!(admin_css.text().contains(".admin"));
    // The blueprint's own pages still go to the app.
    assert_eq!(get(router.running.addr, host, "/admin/", "").await.unwrap().text(), "admin home\n");

    assert_backend_saw_no_static(&api, &token, "flaskpkg", router.running.addr, host, "/static/").await;
    router.shutdown().await;
    drop(agent); // stops the agent, removes its containers
}

/// Sends a marked request through the router, waits for the app's access
/// log to show it (so earlier lines have been shipped), then checks that no
/// request under `prefix` was ever logged by gunicorn.
async fn assert_backend_saw_no_static(
    api: &TestApi,
    token: &str,
    app: &str,
    router: SocketAddr,
    host: &str,
    prefix: &str,
) {
    let marker = format!("/?sentinel={}", uuid::Uuid::new_v4().simple());
    assert_eq!(get(router, host, &marker, "").await.unwrap().status, 200);
    let lines = wait_for("the sentinel in the access log", Duration::from_secs(30), || async {
        let query = LogsQuery { process: Some("web".into()), ..Default::default() };
        let lines = api.rest(token).logs(app, &query).await.ok()?;
        lines.iter().any(|l| l.line.contains(&marker)).then_some(lines)
    })
    .await;
    let proxied: Vec<_> = lines.iter().filter(|l| l.line.contains(&format!("GET {prefix}"))).collect();
    assert!(proxied.is_empty(), "static requests reached gunicorn: {proxied:?}");
}

/// A response read off the wire, headers untouched (no client-side decoding).
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_string())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One GET over a fresh connection to the router (bounded), `extra` header lines appended.
async fn get(router: SocketAddr, host: &str, path: &str, extra: &str) -> Option<Answer> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(router).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.ok()?;
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        let mut body = raw[split + 4..].to_vec();
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
        Some(Answer { status, head, body })
    };
    tokio::time::timeout(Duration::from_secs(10), exchange).await.ok().flatten()
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < end + 2 + size {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = data.get(end + 4 + size..).unwrap_or_default();
    }
    out
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}
