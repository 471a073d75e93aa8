//! Helpers of the dashboard tests: plain-HTTP sessions (cookie + CSRF token
//! read from the page) and a headless Chromium driven over WebDriver. The
//! scripted node is `test_support::FakeNode`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use test_support::TestApi;

// === Plain HTTP ===

/// A client that shows redirects instead of following them.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A dashboard session over plain HTTP: the API's session JWT as the cookie.
pub struct WebSession {
    pub url: String,
    pub cookie: String,
    pub http: reqwest::Client,
}

impl WebSession {
    pub fn new(api: &TestApi, jwt: &str) -> WebSession {
        WebSession { url: api.url.clone(), cookie: format!("{}={jwt}", api::web::SESSION_COOKIE), http: http() }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.url)).header("cookie", &self.cookie).send().await.unwrap()
    }

    /// Posts a form as a browser does (fields in order, urlencoded).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap())
            .send()
            .await
            .unwrap()
    }

    /// This session's CSRF token, read from a form on the apps page.
    pub async fn csrf(&self) -> String {
        let page = self.get("/apps").await.text().await.unwrap();
        csrf_in(&page).expect("the apps page has a form with a CSRF token")
    }
}

/// The CSRF token of the first form of a page.
pub fn csrf_in(page: &str) -> Option<String> {
    let marker = format!("name=\"{}\" value=\"", api::web::CSRF_FIELD);
    let start = page.find(&marker)? + marker.len();
    Some(page[start..].split('"').next()?.to_string())
}

/// The `Set-Cookie` header that sets `name`.
pub fn set_cookie<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// Signs up a platform administrator through the API.
pub async fn admin(api: &TestApi, email: &str) -> String {
    api.admin(email).await
}

// === Headless Chromium ===

/// A chromedriver process and a WebDriver session on a fresh Chromium profile.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
}

/// Kills chromedriver (and so Chromium) and removes the profile, even when a test panics.
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    pub async fn start() -> Browser {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (apt-get install chromium chromium-driver; deploy/prereqs.sh does)");
        let profile = std::env::temp_dir().join(format!("paas-dashboard-chromium-{}-{port}", std::process::id()));
        let driver = Driver { child, profile: profile.clone() };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http().get(format!("{url}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start on port {port}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({ "goog:chromeOptions": { "args": args } });
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&url)
            .await
            .expect("a WebDriver session in headless Chromium");
        // Form submissions navigate asynchronously: let element lookups wait
        // (bounded) for the next page instead of racing it.
        let timeouts = fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(30)),
            Some(Duration::from_secs(30)),
            Some(Duration::from_secs(5)),
        );
        client.update_timeouts(timeouts).await.expect("set WebDriver timeouts");
        Browser { client, _driver: driver }
    }

    /// Waits (bounded) until the element's text satisfies `check`; returns the text.
    pub async fn wait_text(&self, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if check(&text) {
                return text;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what} in {css}; it shows {text:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        let wait = self.client.wait().at_most(std::time::Duration::from_secs(10));
        wait.for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
    }

    /// Types into the field labelled by `id` (replacing what is there).
    pub async fn fill(&self, id: &str, value: &str) {
        let wait = self.client.wait().at_most(std::time::Duration::from_secs(10));
        let field = wait.for_element(Locator::Id(id)).await.unwrap_or_else(|e| panic!("field #{id}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks the button with this exact text.
    pub async fn click_button(&self, text: &str) {
        let xpath = format!("//button[normalize-space(.)='{text}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("button {text:?}: {e}"))
            .click()
            .await
            .unwrap();
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits (up to 10 s) for the browser to reach `expected` after a
    /// click: a form submission navigates asynchronously.
    pub async fn expect_path(&self, expected: &str) {
        let mut path = self.path().await;
        for _ in 0..100 {
            if path == expected {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            path = self.path().await;
        }
        assert_eq!(path, expected, "the browser did not reach {expected}");
    }

    /// Saves a screenshot to `target/dashboard-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// An API with one (fake) live node, alice's app `alpha`, and bob of another
/// tenant; returns the API and alice's and bob's tokens.
pub async fn alpha_on_one_node() -> (TestApi, String, String) {
    let api = TestApi::start_with(|c| c.node_timeout_secs = 3600).await;
    let ops = admin(&api, "ops@example.org").await;
    test_support::node::FakeNode::register(&api, &ops, "node-1").await;
    let alice = api.signup("alice@example.org").await;
    let bob = api.signup("bob@example.org").await;
    api.create_app(&alice, "alpha").await;
    (api, alice, bob)
}
