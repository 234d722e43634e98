//! The admin console in a real headless browser (the machinery of `browser.rs`): sign in
//! with the admin token, see an MX invitation arrive by live refresh, open it and follow its
//! link to the Client Dashboard, find the request in the journal, approve a held client,
//! add a fault and see it applied, sign out; and on a phone's width, no page wider than the
//! screen, its tables scrolling in their own box. `#[ignore]`d like `browser.rs`; run with
//! `cargo test --test it browser:: -- --ignored`. With `CLIENTELE_SCREENSHOTS=DIR` the main
//! pages are saved there as PNG (docs/console.md shows them).

use std::path::Path;

use serde_json::json;

use crate::browser::{poll, Browser, PHONE};
use crate::support::{Server, TempDir, ADMIN_TOKEN, MX_ACCEPT, MX_DEMO_AUTH};

/// A desktop viewport, for the screenshots.
const DESKTOP: (u32, u32) = (1100, 720);

/// Creates an MX client through the API; from a trusted network (through the trusted proxy)
/// it is invited at once, from elsewhere it waits for review.
fn create(server: &Server, email: &str, trusted: bool) -> u16 {
    let mut headers = vec![
        ("Accept", MX_ACCEPT),
        ("Authorization", MX_DEMO_AUTH),
        ("Content-Type", "application/json"),
    ];
    if trusted {
        headers.push(("X-Forwarded-For", "10.1.2.3"));
    }
    let body = json!({"client": {"company_name": "Acme", "email": email,
                                 "first_name": "Ana", "last_name": "Lima"}});
    server
        .post("/mx/clients", &headers, &body.to_string())
        .status
}

/// Waits until the element `css` reads `needle` somewhere in its text.
fn wait_text(browser: &Browser, css: &str, needle: &str) {
    let found = poll(|| {
        let text = browser.execute(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            json!([css]),
        );
        text.as_str()
            .is_some_and(|t| t.contains(needle))
            .then_some(())
    });
    if found.is_none() {
        let page = browser.execute("return document.body.innerText", json!([]));
        panic!(
            "{css:?} never read {needle:?} on {}; the page reads:\n{page}",
            browser.current_url()
        );
    }
}

/// Signs `browser` in to the console of `server` with the admin token.
fn sign_in(browser: &Browser, server: &Server) {
    let console = format!("{}/_admin/console", server.url);
    browser.goto(&format!("{console}/outbox"));
    browser.wait_for_url(&format!("{}/_admin/", server.url));
    browser.find("#token").type_text(ADMIN_TOKEN);
    browser.find("button[type=submit]").click();
    browser.wait_for_url(&format!("{console}/outbox"));
}

/// On the page open in `browser`, the document is no wider than the phone's viewport and
/// every table sits in a box that scrolls sideways; the table `wide` (if any), wider than
/// a phone, scrolls in its box.
fn assert_fits_a_phone(browser: &Browser, wide: Option<&str>) {
    let page = browser.current_url();
    let widths = browser.execute(
        "const tables = [...document.querySelectorAll('table')];
         const found = {document: document.documentElement.scrollWidth,
                        viewport: window.innerWidth, tables: tables.length,
                        boxed: tables.filter(t =>
                            getComputedStyle(t.parentElement).overflowX === 'auto').length};
         const table = arguments[0] && document.querySelector(arguments[0]);
         if (table) {
             const box = table.parentElement;
             box.scrollLeft = 40;
             Object.assign(found, {table: table.offsetWidth, box: box.clientWidth,
                                   moved: box.scrollLeft});
             box.scrollLeft = 0;
         }
         return found;",
        json!([wide]),
    );
    let width = |key: &str| widths[key].as_u64().unwrap_or(u64::MAX);
    assert_eq!(width("viewport"), u64::from(PHONE.0), "{page}: {widths}");
    assert!(
        width("document") <= width("viewport"),
        "{page} is wider than the screen: {widths}"
    );
    assert!(width("tables") > 0, "{page} has a table: {widths}");
    assert_eq!(width("boxed"), width("tables"), "{page}: {widths}");
    if let Some(wide) = wide {
        assert!(
            width("table") > width("box") && width("moved") == 40,
            "{page}: {wide} is wider than its box, which scrolls: {widths}"
        );
    }
}

/// Saves a screenshot of the viewport as `name` in `$CLIENTELE_SCREENSHOTS`, if set.
fn keep_screenshot(browser: &Browser, name: &str) {
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    if let Some(dir) = std::env::var_os("CLIENTELE_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).expect("creating $CLIENTELE_SCREENSHOTS");
        std::fs::write(Path::new(&dir).join(name), &png).expect("saving a screenshot");
    }
}

#[test]
#[ignore = "needs chromium and chromedriver; .ci/run installs them and runs it"]
fn an_operator_follows_mail_requests_reviews_and_faults_in_the_console() {
    let server = Server::builder()
        .arg("--trusted-networks")
        .arg("10.0.0.0/8")
        .arg("--trusted-proxies")
        .arg("127.0.0.1")
        .start();
    let console = format!("{}/_admin/console", server.url);
    let dir = TempDir::new();
    let browser = Browser::start(dir.path());
    browser.set_viewport(DESKTOP.0, DESKTOP.1);

    // Signing in: a console page sends the browser to the sign-in form first.
    browser.goto(&format!("{console}/outbox"));
    browser.wait_for_url(&format!("{}/_admin/", server.url));
    keep_screenshot(&browser, "console-sign-in.png");
    browser.find("#token").type_text(ADMIN_TOKEN);
    browser.find("button[type=submit]").click();
    browser.wait_for_url(&format!("{console}/outbox"));
    browser.find("#empty");

    // An invitation appears without a reload by hand (live refresh), and opens.
    assert_eq!(create(&server, "ana@example.com", true), 200);
    wait_text(&browser, "#mail", "ana@example.com");
    wait_text(&browser, "#mail", "sent");
    keep_screenshot(&browser, "console-outbox.png");
    browser.find("#mail tbody a").click();
    wait_text(&browser, "#headers", "ana@example.com");
    assert!(browser
        .find("#text")
        .text()
        .contains("/mx/dashboard/register/"));
    let sandbox = browser.execute(
        "return document.querySelector('#html').getAttribute('sandbox')",
        json!([]),
    );
    assert_eq!(sandbox, json!(""), "the HTML part runs in a sandbox");
    keep_screenshot(&browser, "console-mail.png");
    let mail_page = browser.current_url();

    // Its link leads to the Client Dashboard's registration form, pre-filled.
    browser.find("#links a.button").click();
    browser.find("#first_name");
    assert_eq!(browser.find("#first_name").value(), "Ana");
    assert!(browser.current_url().contains("/mx/dashboard/register/"));
    browser.goto(&mail_page);

    // The request that caused it is in the journal, with what it got back.
    browser.find("header a[href$='/requests']").click();
    wait_text(&browser, "#requests", "GET /mx/dashboard/register/");
    browser.find("select[name=flavour]");
    browser.find("input[name=path]").type_text("/mx/clients");
    browser.find("form.filters button").click();
    wait_text(&browser, "#requests", "POST /mx/clients");
    browser.find("#requests tbody a").click();
    wait_text(&browser, "#request-line", "POST /mx/clients");
    assert_eq!(browser.find("#status").text(), "200");
    assert!(browser.find("#headers").text().contains("Basic ***"));

    // A client from an untrusted network waits; approving it sends its invitation.
    assert_eq!(create(&server, "held@example.com", false), 200);
    browser.find("header a[href$='/tenants']").click();
    wait_text(&browser, "main", "held@example.com");
    keep_screenshot(&browser, "console-tenants.png");
    browser
        .find("form[action$='/tenants/action'] button:not(.danger)")
        .click();
    wait_text(&browser, ".note", "Done.");
    browser.find("header a[href$='/outbox']").click();
    wait_text(&browser, "#mail", "held@example.com");

    // A fault added in the controls applies to the next matching request.
    browser.find("header a[href$='/controls']").click();
    browser.find("#no-faults");
    browser.execute(
        "document.querySelector('#add-fault select[name=flavour]').value = 'mx';",
        json!([]),
    );
    browser
        .find("#add-fault input[name=path]")
        .type_text("/clients");
    browser
        .find("#add-fault input[name=status]")
        .type_text("503");
    browser.find("#add-fault button").click();
    wait_text(&browser, ".note", "The fault was added.");
    wait_text(&browser, "#faults", "answer 503");
    keep_screenshot(&browser, "console-controls.png");
    assert_eq!(create(&server, "late@example.com", true), 503);
    browser.goto(&format!("{console}/requests?status=503"));
    wait_text(&browser, "#requests", "POST /mx/clients");
    browser.goto(&format!("{console}/requests"));
    wait_text(&browser, "#requests", "503");
    keep_screenshot(&browser, "console-requests.png");

    // Signing out closes the console to this browser.
    browser
        .find("header form[action$='/signout'] button")
        .click();
    browser.wait_for_url(&format!("{}/_admin/", server.url));
    browser.goto(&format!("{console}/outbox"));
    browser.wait_for_url(&format!("{}/_admin/", server.url));
    browser.find("#token");
}

#[test]
#[ignore = "needs chromium and chromedriver; .ci/run installs them and runs it"]
fn on_a_phone_the_console_s_tables_scroll_in_their_own_box() {
    let server = Server::builder()
        .arg("--trusted-networks")
        .arg("10.0.0.0/8")
        .arg("--trusted-proxies")
        .arg("127.0.0.1")
        .start();
    // Mail, requests and tenants, with addresses as long as real ones get.
    for who in ["ana.lima", "bruno.costa", "carla.mendes"] {
        let email = format!("{who}.accounts-payable@a-rather-long-company-name.example.com");
        assert_eq!(create(&server, &email, true), 200);
    }
    let dir = TempDir::new();
    let browser = Browser::start(dir.path());
    browser.set_viewport(PHONE.0, PHONE.1);
    sign_in(&browser, &server);
    let console = format!("{}/_admin/console", server.url);

    wait_text(&browser, "#mail", "carla.mendes");
    assert_fits_a_phone(&browser, Some("#mail"));
    keep_screenshot(&browser, "console-phone-outbox.png");
    browser.find("#mail tbody a").click();
    wait_text(&browser, "#attempts", "delivered");
    assert_fits_a_phone(&browser, None);

    browser.goto(&format!("{console}/requests"));
    wait_text(&browser, "#requests", "POST /mx/clients");
    assert_fits_a_phone(&browser, Some("#requests"));
    browser.find("#requests tbody a").click();
    wait_text(&browser, "#headers", "Basic ***");
    assert_fits_a_phone(&browser, None);

    browser.goto(&format!("{console}/tenants?flavour=mx"));
    wait_text(&browser, "main", "carla.mendes");
    assert_fits_a_phone(&browser, Some("main table"));

    let rule = json!({"flavour": "mx", "path": "/a/rather/long/path/that/names/no/route/at/all",
                      "status": 503});
    let added = server.admin("POST", "/faults", Some(&rule.to_string()));
    assert_eq!(added.status, 201, "{}", added.body);
    browser.goto(&format!("{console}/controls"));
    wait_text(&browser, "#faults", "answer 503");
    assert_fits_a_phone(&browser, None);
}
