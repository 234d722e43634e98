//! The MX Client Dashboard in a real headless browser (Debian's chromium + chromedriver).
//!
//! The other MX tests speak HTTP to the dashboard; this one checks what they cannot: that a
//! real browser, with its own cookie jar, form submission, redirects and layout engine, gets
//! a client from the mailed one-time link to a registered account and back in after signing
//! out, and that the overview fits a phone screen. It drives chromedriver through the W3C
//! WebDriver HTTP API with `ureq`, so no WebDriver crate is needed. It is `#[ignore]`d
//! because a plain machine has no browser; `.ci/run` installs one and runs it with
//! `cargo test --test it browser:: -- --ignored`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::{Server, TempDir, MX_ACCEPT, MX_DEMO_AUTH};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// The longest any single step may take: a WebDriver call, a page load, a wait for a page.
const PATIENCE: Duration = Duration::from_secs(15);
/// The W3C key under which WebDriver hands out element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const EMAIL: &str = "john.foo@mx.com";
const PASSWORD: &str = "correct horse battery staple";
/// An iPhone 12-15 sized viewport, in CSS pixels.
pub(crate) const PHONE: (u32, u32) = (390, 844);

/// A running `chromedriver`, killed on drop (its browser goes with the session, see
/// `Browser::drop`).
struct Driver {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Driver {
    fn start(dir: &Path) -> Driver {
        // chromedriver cannot report a port it picked itself, so borrow a free one from the
        // kernel; the tiny window before chromedriver binds it is harmless on a test machine.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("finding a free port for chromedriver")
            .port();
        let log = dir.join("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            // No --allowed-ips: without it chromedriver listens on loopback only, with it
            // (even "127.0.0.1") on every interface.
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting {CHROMEDRIVER} (is chromium-driver installed?): {e}")
            });
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        // Ready means `/status` answers `"ready": true`, not merely that the port is open.
        let ready = poll(|| {
            let reply = request(
                &agent(Duration::from_secs(1)),
                "GET",
                &format!("{}/status", driver.url),
                None,
            )
            .ok()?;
            (reply["value"]["ready"] == true).then_some(())
        });
        if ready.is_none() {
            panic!(
                "chromedriver not ready within {PATIENCE:?}; log:\n{}",
                driver.log_text()
            );
        }
        driver
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session: a headless Chromium with a throwaway profile.
pub(crate) struct Browser {
    agent: ureq::Agent,
    session: String,
    // Dropped in this order: the driver (after the session is deleted), then the profile.
    driver: Driver,
    _profile: TempDir,
}

impl Browser {
    pub(crate) fn start(dir: &Path) -> Browser {
        let driver = Driver::start(dir);
        let profile = TempDir::new();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "timeouts": {"pageLoad": PATIENCE.as_millis() as u64, "script": PATIENCE.as_millis() as u64, "implicit": 0},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    // CI runs as root in a container: no user namespaces for the sandbox.
                    "--no-sandbox",
                    "--disable-gpu",
                    // Containers often have a tiny /dev/shm; Chromium then crashes tabs.
                    "--disable-dev-shm-usage",
                    // Everything below keeps the browser off the network: only our loopback
                    // server may be contacted (no updates, sync, field trials, QUIC probes).
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-proxy-server",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let agent = agent(PATIENCE);
        let reply = request(
            &agent,
            "POST",
            &format!("{}/session", driver.url),
            Some(&capabilities),
        )
        .unwrap_or_else(|e| {
            panic!(
                "creating a WebDriver session: {e}; chromedriver log:\n{}",
                driver.log_text()
            )
        });
        let session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {reply}"))
            .to_string();
        Browser {
            agent,
            session,
            driver,
            _profile: profile,
        }
    }

    /// A WebDriver command on this session; an error answer panics with its body.
    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.driver.url, self.session);
        match request(&self.agent, method, &url, body) {
            Ok(reply) => reply["value"].clone(),
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        }
    }

    /// Opens `url` and waits (at most the page-load timeout) for it to load.
    pub(crate) fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(&json!({ "url": url })));
    }

    pub(crate) fn current_url(&self) -> String {
        self.command("GET", "/url", None)
            .as_str()
            .expect("the current URL is a string")
            .to_string()
    }

    pub(crate) fn title(&self) -> String {
        self.command("GET", "/title", None)
            .as_str()
            .expect("the title is a string")
            .to_string()
    }

    /// The element `css` matches, waiting for it to appear (pages change under us after a
    /// click: the browser follows the form post and its redirect on its own time).
    pub(crate) fn find(&self, css: &str) -> Element<'_> {
        let url = format!("{}/session/{}/element", self.driver.url, self.session);
        let body = json!({"using": "css selector", "value": css});
        let mut last = String::new();
        let found = poll(|| match request(&self.agent, "POST", &url, Some(&body)) {
            Ok(reply) => match reply["value"][ELEMENT_KEY].as_str() {
                Some(id) => Some(Ok(id.to_string())),
                None => Some(Err(format!("no element reference in {reply}"))),
            },
            // Not there yet: the next page may still be on its way.
            Err(e) if e.contains("no such element") => {
                last = e;
                None
            }
            Err(e) => Some(Err(e)),
        });
        match found {
            Some(Ok(id)) => Element {
                browser: self,
                css: css.to_string(),
                id: std::cell::RefCell::new(id),
            },
            Some(Err(e)) => panic!("finding {css:?}: {e}"),
            None => panic!(
                "no element matches {css:?} within {PATIENCE:?} on {} ({last}); the page reads:\n{}",
                self.current_url(),
                self.execute(
                    "return document.body ? document.body.innerText : ''",
                    json!([])
                )
            ),
        }
    }

    /// Waits until the browser is on `url` (the end of a redirect chain), at most `PATIENCE`.
    pub(crate) fn wait_for_url(&self, url: &str) {
        if poll(|| (self.current_url() == url).then_some(())).is_none() {
            panic!("still on {} instead of {url}", self.current_url());
        }
    }

    /// Runs `script` as a function body in the page, with `args`, and returns its result.
    pub(crate) fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// Resizes the window so that the viewport (not the outer window) is `width` x `height`.
    pub(crate) fn set_viewport(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            Some(&json!({"width": width, "height": height})),
        );
        // Headless windows have no frame today, but measure rather than assume.
        let inner = self.execute("return [window.innerWidth, window.innerHeight]", json!([]));
        let inner = (
            inner[0].as_u64().unwrap_or(0),
            inner[1].as_u64().unwrap_or(0),
        );
        let wanted = (u64::from(width), u64::from(height));
        if inner != wanted {
            let outer = (
                2 * wanted.0 - inner.0.min(wanted.0),
                2 * wanted.1 - inner.1.min(wanted.1),
            );
            self.command(
                "POST",
                "/window/rect",
                Some(&json!({"width": outer.0, "height": outer.1})),
            );
        }
    }

    /// A PNG of the viewport.
    pub(crate) fn screenshot(&self) -> Vec<u8> {
        let encoded = self.command("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("the screenshot is a base64 string"))
            .expect("the screenshot is valid base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Deleting the session makes chromedriver quit Chromium cleanly; killing chromedriver
        // alone could leave the browser running.
        let url = format!("{}/session/{}", self.driver.url, self.session);
        let _ = request(&self.agent, "DELETE", &url, None);
    }
}

/// A reference to an element of the current page, found by `css`.
pub(crate) struct Element<'a> {
    browser: &'a Browser,
    css: String,
    id: std::cell::RefCell<String>,
}

impl Element<'_> {
    /// A command on this element. A live console page can reload between finding an element
    /// and using it, which leaves the reference stale; a user would simply look again, so the
    /// element is found again by its selector and the command retried (within `PATIENCE`).
    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let browser = self.browser;
        let mut last = String::new();
        let done = poll(|| {
            let url = format!(
                "{}/session/{}/element/{}{path}",
                browser.driver.url,
                browser.session,
                self.id.borrow()
            );
            match request(&browser.agent, method, &url, body) {
                Ok(reply) => Some(reply["value"].clone()),
                Err(e) if e.contains("stale element reference") => {
                    last = e;
                    let fresh = browser.find(&self.css).id.into_inner();
                    *self.id.borrow_mut() = fresh;
                    None
                }
                Err(e) => panic!("WebDriver {method} {path} on {:?}: {e}", self.css),
            }
        });
        done.unwrap_or_else(|| panic!("{:?} kept going stale: {last}", self.css))
    }

    /// The rendered text, as a user sees it.
    pub(crate) fn text(&self) -> String {
        self.command("GET", "/text", None)
            .as_str()
            .expect("an element's text is a string")
            .to_string()
    }

    /// The live `value` of an input (what is in the box now, not the HTML attribute).
    pub(crate) fn value(&self) -> String {
        self.command("GET", "/property/value", None)
            .as_str()
            .expect("an input's value is a string")
            .to_string()
    }

    /// Types `text` key by key, as a user would.
    pub(crate) fn type_text(&self, text: &str) {
        self.command("POST", "/value", Some(&json!({ "text": text })));
    }

    pub(crate) fn click(&self) {
        self.command("POST", "/click", Some(&json!({})));
    }
}

/// An agent for chromedriver: errors come back as JSON bodies, not as `ureq` errors, and
/// any proxy of the environment is ignored (all our traffic is loopback).
fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// One WebDriver HTTP call. `Err` carries the transport error or the WebDriver error body.
fn request(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let body = body.map(Value::to_string);
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Content-Type", "application/json; charset=utf-8");
    let result = match body {
        Some(body) => agent.run(request.body(body).expect("a valid request")),
        None => agent.run(request.body(()).expect("a valid request")),
    };
    let mut response = result.map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(32 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{method} {url}: answer is not JSON ({e}): {text}"))?;
    if status == 200 {
        Ok(value)
    } else {
        Err(format!("{method} {url}: {status} {text}"))
    }
}

/// Calls `probe` every 50 ms until it returns `Some`, for at most `PATIENCE`.
pub(crate) fn poll<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `<dl id="overview">` of the dashboard as (term, definition) pairs.
fn overview(browser: &Browser) -> Vec<(String, String)> {
    browser.find("#overview");
    let pairs = browser.execute(
        "return [...document.querySelectorAll('#overview dt')]
             .map(dt => [dt.textContent, dt.nextElementSibling.textContent]);",
        json!([]),
    );
    serde_json::from_value(pairs).expect("the overview as pairs of strings")
}

fn field<'a>(overview: &'a [(String, String)], term: &str) -> &'a str {
    overview
        .iter()
        .find(|(t, _)| t == term)
        .map(|(_, d)| d.as_str())
        .unwrap_or_else(|| panic!("no {term:?} in the overview {overview:?}"))
}

/// Creates John Foo's client through the API and returns the link of his invitation mail.
fn invite_john(server: &Server) -> String {
    let created = server.post(
        "/mx/clients",
        &[
            ("Accept", MX_ACCEPT),
            ("Authorization", MX_DEMO_AUTH),
            ("Content-Type", "application/json"),
        ],
        &json!({"client": {"company_name": "MX", "email": EMAIL,
                           "first_name": "John", "last_name": "Foo"}})
        .to_string(),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let mailbox = server.admin("GET", &format!("/mail?to={EMAIL}"), None);
    assert_eq!(mailbox.status, 200, "{}", mailbox.body);
    let mailbox = mailbox.json();
    let link = mailbox["messages"][0]["links"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no link in the invitation mail: {mailbox}"));
    assert!(
        link.starts_with(&format!("{}/mx/dashboard/register/", server.url)),
        "{link}"
    );
    link.to_string()
}

#[test]
#[ignore = "needs chromium and chromedriver; .ci/run installs them and runs it"]
fn a_client_registers_through_the_mailed_link_signs_out_and_in_again() {
    let server = Server::start();
    let link = invite_john(&server);
    let dashboard = format!("{}/mx/dashboard/", server.url);
    let login = format!("{}/mx/dashboard/login", server.url);
    let dir = TempDir::new();
    let browser = Browser::start(dir.path());

    // The link opens the registration form, pre-filled from the API call.
    browser.goto(&link);
    assert_eq!(browser.find("#first_name").value(), "John");
    assert_eq!(browser.find("#last_name").value(), "Foo");
    assert_eq!(browser.find("#company_name").value(), "MX");
    assert!(browser.find("main").text().contains(EMAIL));
    browser.find("#password").type_text(PASSWORD);
    browser.find("#password_confirmation").type_text(PASSWORD);
    browser.find("button[type=submit]").click();

    // The form post redirects to the overview, signed in by the session cookie.
    browser.wait_for_url(&dashboard);
    let details = overview(&browser);
    assert_eq!(field(&details, "Company"), "MX");
    assert_eq!(field(&details, "Contact"), "John Foo");
    assert_eq!(field(&details, "E-mail"), EMAIL);
    assert_eq!(field(&details, "Status"), "registered");
    assert!(field(&details, "Enrolled by").contains("PROCESSOR-1234"));

    // On a phone the overview must fit the screen: nothing may push the page wider than
    // the viewport (long IDs and e-mails wrap instead).
    browser.set_viewport(PHONE.0, PHONE.1);
    let width = browser.execute(
        "return [document.documentElement.scrollWidth, window.innerWidth]",
        json!([]),
    );
    let scroll_width = width[0].as_u64().expect("scrollWidth is a number");
    let inner_width = width[1].as_u64().expect("innerWidth is a number");
    assert_eq!(
        inner_width,
        u64::from(PHONE.0),
        "the viewport did not shrink to a phone's"
    );
    assert!(
        scroll_width <= inner_width,
        "the dashboard is {scroll_width} px wide on a {inner_width} px phone screen"
    );
    let png = browser.screenshot();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG"
    );
    let png_width = u32::from_be_bytes(png[16..20].try_into().expect("an IHDR width"));
    assert!(
        png_width >= PHONE.0,
        "a {png_width} px wide screenshot of a {} px viewport",
        PHONE.0
    );
    let shot = dir.join("dashboard-phone.png");
    std::fs::write(&shot, &png).expect("saving the screenshot");
    // The temporary directory goes with the test; to look at the page, ask for a copy.
    if let Some(keep) = std::env::var_os("CLIENTELE_SCREENSHOTS") {
        std::fs::create_dir_all(&keep).expect("creating $CLIENTELE_SCREENSHOTS");
        std::fs::copy(&shot, Path::new(&keep).join("dashboard-phone.png"))
            .expect("copying the screenshot to $CLIENTELE_SCREENSHOTS");
    }

    // Sign out: back to the sign-in page, and the overview is closed to this browser.
    browser.find("form[action$='/logout'] button").click();
    browser.wait_for_url(&login);
    browser.goto(&dashboard);
    browser.wait_for_url(&login);

    // A wrong password is refused, without saying which of the two was wrong.
    browser.find("#email").type_text(EMAIL);
    browser.find("#password").type_text("not the password");
    browser.find("button[type=submit]").click();
    assert_eq!(browser.find(".error").text(), "Wrong e-mail or password.");
    // The refused form keeps the e-mail, so only the password is typed again.
    assert_eq!(browser.find("#email").value(), EMAIL);
    browser.find("#password").type_text(PASSWORD);
    browser.find("button[type=submit]").click();
    browser.wait_for_url(&dashboard);
    let details = overview(&browser);
    assert_eq!(field(&details, "Company"), "MX");
    assert_eq!(field(&details, "Status"), "registered");

    // The link was one-time: opening it again explains it was used.
    browser.goto(&link);
    assert_eq!(browser.find("h1").text(), "This link has been used");
    assert!(
        browser.title().starts_with("This link has been used"),
        "{}",
        browser.title()
    );
}
