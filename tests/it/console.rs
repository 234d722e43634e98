//! The admin console over plain HTTP: who gets in (the session cookie, only after the admin
//! token), what every form needs (its CSRF token), that the cookie never opens the JSON API,
//! and what the pages show and do. `console_browser.rs` walks it in a real browser.

use std::time::{Duration, Instant};

use clientele::console::{FORMS, PAGES};
use serde_json::json;

use crate::support::{mx_invite, newest_link_path, set_cookie, Reply, Server, ADMIN_TOKEN};

const BASE: &str = "/_admin/console";

/// A signed-in console: its session cookie and CSRF token.
struct Console<'s> {
    server: &'s Server,
    cookie: String,
    csrf: String,
}

/// The value of the first `<input name="csrf">` of a page.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF field in {page}"));
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("a closing quote")].to_string()
}

impl<'s> Console<'s> {
    fn sign_in(server: &'s Server) -> Console<'s> {
        let form = server.get("/_admin/", &[]);
        assert_eq!(form.status, 200, "{}", form.body);
        let double = set_cookie(&form, "clientele_console_csrf").expect("a CSRF cookie");
        let csrf = csrf_of(&form.body);
        let body = format!("csrf={csrf}&token={ADMIN_TOKEN}");
        let signed = server.post(
            &format!("{BASE}/signin"),
            &[
                ("Cookie", double.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &body,
        );
        assert_eq!(signed.status, 303, "{}", signed.body);
        assert_eq!(signed.header("Location"), Some("/_admin/console/outbox"));
        let attributes = signed
            .headers
            .iter()
            .find(|(k, v)| {
                k.eq_ignore_ascii_case("Set-Cookie") && v.starts_with("clientele_console=")
            })
            .map(|(_, v)| v.clone())
            .expect("a session cookie");
        for wanted in ["HttpOnly", "SameSite=Strict", "Path=/_admin"] {
            assert!(attributes.contains(wanted), "{attributes}");
        }
        assert!(!attributes.contains("Secure"), "not over plain HTTP");
        let cookie = set_cookie(&signed, "clientele_console").expect("a session cookie");
        let outbox = server.get(&format!("{BASE}/outbox"), &[("Cookie", cookie.as_str())]);
        assert_eq!(outbox.status, 200, "{}", outbox.body);
        let csrf = csrf_of(&outbox.body);
        Console {
            server,
            cookie,
            csrf,
        }
    }

    fn get(&self, path: &str) -> Reply {
        self.server.get(
            &format!("{BASE}{path}"),
            &[("Cookie", self.cookie.as_str())],
        )
    }

    /// Posts the form fields (with the CSRF token unless `csrf` is false).
    fn post(&self, path: &str, fields: &[(&str, &str)], csrf: bool) -> Reply {
        let mut form = form_urlencoded::Serializer::new(String::new());
        if csrf {
            form.append_pair("csrf", &self.csrf);
        }
        form.extend_pairs(fields);
        self.server.post(
            &format!("{BASE}{path}"),
            &[
                ("Cookie", self.cookie.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &form.finish(),
        )
    }
}

#[test]
fn every_page_refuses_a_request_without_the_session_cookie() {
    let server = Server::start();
    let console = Console::sign_in(&server);
    // Every listed page, and any other path under the console (the gate comes first).
    let unlisted = ["", "/", "/no/such/page", "/outbox/1/retry"];
    for page in PAGES.iter().chain(unlisted.iter()) {
        let path = format!("{BASE}{page}");
        for cookie in [None, Some("clientele_console=forged-or-expired")] {
            let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("Cookie", *c)).collect();
            let reply = server.get(&path, &headers);
            assert_eq!(
                reply.status, 303,
                "GET {path} with {cookie:?}: {}",
                reply.body
            );
            assert_eq!(reply.header("Location"), Some("/_admin/"), "{path}");
            assert!(!reply.body.contains("<table"), "{path}");
        }
        // With the cookie, the same page is there (or a plain 404 for a missing record).
        if PAGES.contains(page) {
            let signed = console.get(page);
            assert!(
                signed.status == 200 || signed.status == 404,
                "{page}: {}",
                signed.status
            );
        }
    }
    for form in FORMS {
        let path = format!("{BASE}{form}");
        let body = format!("csrf={}", console.csrf);
        let reply = server.post(
            &path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &body,
        );
        assert_eq!(reply.status, 403, "POST {path} without a session");
    }
}

#[test]
fn every_form_refuses_a_request_without_its_csrf_token() {
    let server = Server::start();
    server.admin("POST", "/faults", Some(r#"{"status": 503, "path": "/x"}"#));
    mx_invite(&server, "csrf@example.com");
    let console = Console::sign_in(&server);
    for form in FORMS {
        for fields in [vec![], vec![("csrf", "not-the-token")]] {
            let reply = console.post(form, &fields, false);
            assert_eq!(
                reply.status, 403,
                "POST {form} with {fields:?}: {}",
                reply.body
            );
        }
    }
    // Nothing happened: the fault, the mail and the session are all still there.
    assert_eq!(
        server.admin("GET", "/faults", None).json()["faults"][0]["id"],
        1
    );
    assert_eq!(server.count("mail_outbox"), 1);
    assert_eq!(console.get("/outbox").status, 200);
    // Signing in needs the double-submit cookie and its field too.
    let reply = server.post(
        &format!("{BASE}/signin"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("token={ADMIN_TOKEN}&csrf=abc"),
    );
    assert_eq!(reply.status, 403);
}

#[test]
fn the_cookie_never_opens_the_json_api_and_a_wrong_token_opens_nothing() {
    let server = Server::start();
    let console = Console::sign_in(&server);
    let cookie = [("Cookie", console.cookie.as_str())];
    for (method, path) in [
        ("GET", "/_admin/mail"),
        ("GET", "/_admin/requests"),
        ("POST", "/_admin/reset"),
        ("POST", "/_admin/faults"),
        ("DELETE", "/_admin/clock"),
    ] {
        let reply = server.call(method, path, &cookie, Some(b"{}"));
        assert_eq!(
            reply.status, 401,
            "{method} {path} with only the console cookie"
        );
    }
    // The JSON API under bearer auth is as before.
    assert_eq!(server.admin("GET", "/mail", None).status, 200);

    // A wrong token: the form again, with an error, and no session.
    let form = server.get("/_admin/", &[]);
    let double = set_cookie(&form, "clientele_console_csrf").unwrap();
    let reply = server.post(
        &format!("{BASE}/signin"),
        &[
            ("Cookie", double.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &format!("csrf={}&token=wrong", csrf_of(&form.body)),
    );
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("not the admin token"), "{}", reply.body);
    assert!(set_cookie(&reply, "clientele_console").is_none());

    // Signing out ends the session on the server, not only in the browser.
    let out = console.post("/signout", &[], true);
    assert_eq!(out.status, 303);
    assert_eq!(out.header("Location"), Some("/_admin/"));
    assert_eq!(console.get("/outbox").status, 303);
}

#[test]
fn without_an_admin_token_there_is_no_console() {
    let server = Server::builder().no_admin().start();
    assert_eq!(server.get("/_admin/", &[]).status, 404);
    assert_eq!(server.get(&format!("{BASE}/outbox"), &[]).status, 404);
}

/// Waits until the outbox row for `to` has `status`.
fn wait_status(server: &Server, to: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Option<String> = server
            .db()
            .query_row(
                "SELECT status FROM mail_outbox WHERE recipient = ?1",
                [to],
                |r| r.get(0),
            )
            .ok();
        if found.as_deref() == Some(status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{to} still {found:?}, not {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_outbox_shows_a_mail_and_retries_and_deletes_it() {
    let server = Server::start();
    server.admin("POST", "/mail/failures", Some(r#"{"count": 1}"#));
    mx_invite(&server, "ana@example.com");
    let console = Console::sign_in(&server);
    let id: i64 = server
        .db()
        .query_row("SELECT id FROM mail_outbox", [], |r| r.get(0))
        .unwrap();
    // The first attempt fails: the mail waits for its retry.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .db()
        .query_row("SELECT attempts FROM mail_outbox", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
        == 0
    {
        assert!(Instant::now() < deadline, "no attempt");
        std::thread::sleep(Duration::from_millis(50));
    }
    let list = console.get("/outbox?state=retry");
    assert!(list.body.contains("ana@example.com"), "{}", list.body);
    assert!(list.body.contains("retry at"), "{}", list.body);
    assert!(list.body.len() < 30 * 1024, "{} bytes", list.body.len());
    let none = console.get("/outbox?state=sent&to=ana");
    assert!(!none.body.contains("ana@example.com"));
    // The recipient filter matches any part of the address, `_` and `%` as themselves.
    assert!(console
        .get("/outbox?to=NA%40EXAMPLE")
        .body
        .contains("ana@example.com"));
    assert!(!console
        .get("/outbox?to=ana_")
        .body
        .contains("ana@example.com"));
    assert!(!console
        .get("/outbox?to=%25")
        .body
        .contains("ana@example.com"));

    let mail = console.get(&format!("/outbox/{id}"));
    assert_eq!(mail.status, 200);
    assert!(
        mail.body.contains("<iframe id=\"html\" sandbox=\"\""),
        "{}",
        mail.body
    );
    assert!(
        mail.body.contains("class=\"button\" href=\"http"),
        "{}",
        mail.body
    );
    assert!(mail.body.contains("injected failure") || mail.body.contains("Last error"));

    let retried = console.post(&format!("/outbox/{id}/retry"), &[], true);
    assert_eq!(retried.status, 303, "{}", retried.body);
    wait_status(&server, "ana@example.com", "sent");

    // The headers the mail went out with: its sender and the Message-ID the mbox received.
    let mail = console.get(&format!("/outbox/{id}"));
    assert!(
        mail.body.contains("Clientele &lt;no-reply@localhost&gt;"),
        "{}",
        mail.body
    );
    let message_id = mail
        .body
        .split("<dd id=\"message-id\">&lt;")
        .nth(1)
        .and_then(|rest| rest.split("&gt;</dd>").next())
        .expect("a Message-ID on the page");
    assert!(
        message_id.starts_with(&format!("outbox-{id}.")),
        "{message_id}"
    );
    let mbox = std::fs::read_to_string(server.dir().join("clientele.mbox")).unwrap();
    assert!(
        mbox.contains(&format!("Message-ID: <{message_id}>")),
        "the page shows the Message-ID the mail was sent with: {message_id}\n{mbox}"
    );
    // Both attempts are listed: the failure with its error and the delivery.
    let mail = console.get(&format!("/outbox/{id}"));
    let attempts = &mail.body[mail.body.find("id=\"attempts\"").expect("attempts")..];
    let failed = attempts
        .find("<td>1</td><td>failed, retried</td>")
        .expect("attempt 1");
    let delivered = attempts
        .find("<td>2</td><td>delivered</td>")
        .expect("attempt 2");
    assert!(failed < delivered);
    assert!(console
        .get("/outbox?state=sent")
        .body
        .contains("ana@example.com"));

    let deleted = console.post(&format!("/outbox/{id}/delete"), &[], true);
    assert_eq!(deleted.status, 303);
    assert_eq!(server.count("mail_outbox"), 0);
    assert_eq!(
        server.count("mail_attempts"),
        0,
        "its attempts went with it"
    );
    assert_eq!(console.get(&format!("/outbox/{id}")).status, 404);
}

#[test]
fn the_journal_keeps_redacted_headers_and_the_answer() {
    let server = Server::start();
    let created = mx_invite(&server, "journal@example.com");
    assert_eq!(created.status, 200, "{}", created.body);
    let console = Console::sign_in(&server);
    let list = console.get("/requests?flavour=mx&status=2xx&path=/clients");
    assert!(list.body.contains("POST /mx/clients"), "{}", list.body);
    assert!(!console
        .get("/requests?status=5xx")
        .body
        .contains("POST /mx/clients"));
    let id = server.admin("GET", "/requests", None).json()["requests"][0]["id"]
        .as_u64()
        .unwrap();
    let shown = console.get(&format!("/requests/{id}"));
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("Basic ***"), "{}", shown.body);
    assert!(
        !shown.body.contains("UFJPQ0VTU09S"),
        "the credentials are not kept"
    );
    assert!(
        shown.body.contains("journal@example.com"),
        "the request body"
    );
    assert!(
        shown.body.contains("<pre id=\"answer\">(empty)</pre>"),
        "MX answers nothing"
    );
    // An answer with a body is kept, pretty-printed.
    assert_eq!(server.get("/shieldconex/nowhere", &[]).status, 404);
    let id = server.admin("GET", "/requests", None).json()["requests"][1]["id"]
        .as_u64()
        .unwrap();
    let shown = console.get(&format!("/requests/{id}"));
    assert!(
        shown.body.contains("&quot;errorCode&quot;: 7404"),
        "{}",
        shown.body
    );

    // A page served at a mailed link repeats its one-time token; the journal does not.
    let link = newest_link_path(&server, "journal@example.com");
    let token = link.rsplit('/').next().unwrap().to_string();
    let form = server.get(&link, &[]);
    assert!(
        form.body.contains(&token),
        "the form posts back to its link"
    );
    let id = server.admin("GET", "/requests", None).json()["requests"][2]["id"]
        .as_u64()
        .unwrap();
    let shown = console.get(&format!("/requests/{id}"));
    assert!(
        shown.body.contains("/mx/dashboard/register/…"),
        "{}",
        shown.body
    );
    assert!(!shown.body.contains(&token), "{}", shown.body);
}

#[test]
fn controls_add_and_delete_faults_move_the_clock_and_reset_after_confirmation() {
    let server = Server::start();
    let console = Console::sign_in(&server);
    let added = console.post(
        "/faults",
        &[
            ("flavour", "mx"),
            ("path", "/clients"),
            ("status", "503"),
            ("times", "1"),
        ],
        true,
    );
    assert_eq!(added.status, 303, "{}", added.body);
    let faults = server.admin("GET", "/faults", None).json();
    assert_eq!(faults["faults"][0]["status"], 503);
    assert_eq!(mx_invite(&server, "f@example.com").status, 503);
    let refused = console.post("/faults", &[("flavour", "stripe"), ("status", "500")], true);
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("unknown flavour"), "{}", refused.body);
    console.post("/faults", &[("status", "500")], true);
    let id = server.admin("GET", "/faults", None).json()["faults"][0]["id"]
        .as_u64()
        .unwrap();
    assert_eq!(
        console
            .post(&format!("/faults/{id}/delete"), &[], true)
            .status,
        303
    );
    assert_eq!(
        server.admin("GET", "/faults", None).json(),
        json!({"faults": []})
    );

    assert_eq!(
        console
            .post(
                "/clock",
                &[("action", "set"), ("at", "2030-01-01T00:00:00Z")],
                true
            )
            .status,
        303
    );
    assert!(server.admin("GET", "/clock", None).json()["now"]
        .as_str()
        .unwrap()
        .starts_with("2030-01-01"));
    console.post("/clock", &[("action", "advance"), ("by", "1d")], true);
    assert!(console.get("/controls").body.contains("2030-01-02"));
    console.post("/clock", &[("action", "real")], true);
    assert_eq!(server.admin("GET", "/clock", None).json()["offset_ms"], 0);

    mx_invite(&server, "kept@example.com");
    let unconfirmed = console.post("/reset", &[], true);
    assert_eq!(unconfirmed.status, 400);
    assert_eq!(server.count("mx_clients"), 1, "nothing was deleted");
    assert_eq!(
        console.post("/reset", &[("confirm", "yes")], true).status,
        303
    );
    assert_eq!(server.count("mx_clients"), 0);
    // The session outlives the reset.
    assert_eq!(console.get("/controls").status, 200);
}

#[test]
fn tenants_list_each_flavour_s_records_and_tenant_sets_can_be_deleted() {
    let server = Server::builder()
        .arg("--trusted-networks")
        .arg("10.0.0.0/8")
        .start();
    mx_invite(&server, "held@example.com");
    let set = server.admin("POST", "/tenants", None).json();
    let set_id = set["id"].as_str().unwrap().to_string();
    let console = Console::sign_in(&server);
    let mx = console.get("/tenants?flavour=mx");
    assert!(mx.body.contains("PROCESSOR-1234"), "{}", mx.body);
    assert!(mx.body.contains("held@example.com"));
    assert!(mx.body.contains(&set_id));
    for flavour in clientele::flavours::ALL {
        let page = console.get(&format!("/tenants?flavour={}", flavour.name()));
        assert_eq!(page.status, 200, "{}", flavour.name());
        assert!(
            page.body.matches("<table").count() >= 2,
            "{}",
            flavour.name()
        );
    }
    let id: String = server
        .db()
        .query_row(
            "SELECT id FROM mx_clients WHERE status = 'pending_review'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let approved = console.post(
        "/tenants/action",
        &[
            ("flavour", "mx"),
            ("path", &format!("/reviews/{id}/approve")),
        ],
        true,
    );
    assert_eq!(approved.status, 303, "{}", approved.body);
    wait_status(&server, "held@example.com", "sent");
    let unknown = console.post(
        "/tenants/action",
        &[("flavour", "mx"), ("path", "/reset")],
        true,
    );
    assert_eq!(unknown.status, 404, "only the flavour's own admin calls");

    let deleted = console.post(&format!("/tenant-sets/{set_id}/delete"), &[], true);
    assert_eq!(deleted.status, 303);
    assert_eq!(server.count("tenant_sets"), 0);
}

#[test]
fn a_full_first_page_stays_under_30_kb() {
    let server = Server::start();
    for i in 0..60 {
        let to = format!("someone.with.a.long.address.{i}@example.com");
        assert_eq!(mx_invite(&server, &to).status, 200);
    }
    let console = Console::sign_in(&server);
    for page in ["/outbox", "/requests", "/tenants", "/controls"] {
        let reply = console.get(page);
        assert_eq!(reply.status, 200, "{page}");
        assert!(
            reply.body.len() < 30 * 1024,
            "{page}: {} bytes",
            reply.body.len()
        );
    }
    // 60 mails: the first page shows 50 and links to the rest.
    let outbox = console.get("/outbox");
    assert_eq!(
        outbox.body.matches("someone.with.a.long.address.").count(),
        50
    );
    assert!(outbox.body.contains("Older mail"));
    let older = console.get("/outbox?to=&state=&before=11");
    assert_eq!(
        older.body.matches("someone.with.a.long.address.").count(),
        10
    );
}

#[test]
fn a_request_shows_its_deviations_from_the_vendor_s_contract() {
    let server = Server::start();
    let console = Console::sign_in(&server);
    let created = mx_invite(&server, "conforming@example.com");
    assert_eq!(created.status, 200, "{}", created.body);
    let id = server.admin("GET", "/requests", None).json()["requests"][0]["id"]
        .as_u64()
        .unwrap();
    let shown = console.get(&format!("/requests/{id}"));
    assert!(shown.body.contains("No deviation"), "{}", shown.body);

    // No Accept header: MX refuses it (406), and the console says which rule and where.
    let refused = server.post(
        "/mx/clients",
        &[
            ("Authorization", crate::support::MX_DEMO_AUTH),
            ("Content-Type", "application/json"),
        ],
        r#"{"client":{"company_name":"MX","email":"x@example.com"}}"#,
    );
    assert_eq!(refused.status, 406, "{}", refused.body);
    let id = server.admin("GET", "/requests", None).json()["requests"][1]["id"]
        .as_u64()
        .unwrap();
    let shown = console.get(&format!("/requests/{id}"));
    assert!(
        shown.body.contains("<code>mx.accept</code>"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("refused"), "{}", shown.body);

    // A rule that covers many fields: the console names the one this request broke.
    let refused = server.post(
        "/mx/clients",
        &[
            ("Accept", crate::support::MX_ACCEPT),
            ("Authorization", crate::support::MX_DEMO_AUTH),
            ("Content-Type", "application/json"),
        ],
        r#"{"client":{"company_name":"MX","email":"y@example.com","first_name":null,
            "last_name":"Foo"}}"#,
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    let id = server.admin("GET", "/requests", None).json()["requests"][2]["id"]
        .as_u64()
        .unwrap();
    let shown = console.get(&format!("/requests/{id}"));
    assert!(
        shown.body.contains("<code>mx.null</code>"),
        "{}",
        shown.body
    );
    assert!(
        shown.body.contains("<code>client.first_name</code>"),
        "{}",
        shown.body
    );
}

/// The methods in the order an `Allow` header lists them.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Each path of a route list (its `{name}` segments filled in), and the methods that work on
/// it: those of every template it matches.
fn paths_of(operations: &[(&str, &str)]) -> Vec<(String, Vec<&'static str>)> {
    let fill = |template: &str| {
        template
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    };
    let matches = |template: &str, path: &str| {
        let (t, p): (Vec<&str>, Vec<&str>) =
            (template.split('/').collect(), path.split('/').collect());
        t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
    };
    let mut paths: Vec<(String, Vec<&'static str>)> = Vec::new();
    for (_, template) in operations {
        let path = fill(template);
        if paths.iter().any(|(p, _)| *p == path) {
            continue;
        }
        let methods = METHODS
            .into_iter()
            .filter(|m| {
                operations
                    .iter()
                    .any(|(om, t)| om == m && matches(t, &path))
            })
            .collect();
        paths.push((path, methods));
    }
    paths
}

/// Every `/_admin` path, of the JSON API and of the console, answers a method it does not
/// take with 405 and an `Allow` that lists exactly the methods that work.
#[test]
fn every_admin_path_refuses_other_methods_with_what_it_allows() {
    let server = Server::start();
    let console = Console::sign_in(&server);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let api = paths_of(&clientele::admin_api::operations());
    let pages = paths_of(&clientele::console::operations());
    assert!(api.len() > 10 && pages.len() > 15, "{api:?} {pages:?}");
    for (paths, auth) in [
        (&api, ("Authorization", bearer.as_str())),
        (&pages, ("Cookie", console.cookie.as_str())),
    ] {
        for (path, allowed) in paths {
            let url = format!("/_admin{path}");
            let allow = allowed.join(", ");
            for method in METHODS.iter().filter(|m| !allowed.contains(m)) {
                let reply = server.call(method, &url, &[auth], None);
                assert_eq!(reply.status, 405, "{method} {url}: {}", reply.body);
                assert_eq!(
                    reply.header("Allow"),
                    Some(allow.as_str()),
                    "{method} {url}"
                );
            }
        }
    }
    // What the JSON API allows works: no listed method of a path is refused as a method.
    for (path, allowed) in &api {
        for method in allowed {
            let url = format!("/_admin{path}");
            let reply = server.call(method, &url, &[("Authorization", &bearer)], None);
            assert_ne!(reply.status, 405, "{method} {url}: {}", reply.body);
            assert!(
                !reply.body.contains("no such admin call"),
                "{method} {url} is listed: {}",
                reply.body
            );
        }
    }
}

/// Markup in every field a page shows: what a flavour stored, the journal kept, a fault
/// rule said, a query or a form asked for.
const HOSTILE: &str = "\"><script>alert(1)</script><b a='";

/// Every console page shows hostile values as text: none becomes markup or leaves its
/// attribute.
#[test]
fn every_page_shows_hostile_values_as_text() {
    let server = Server::start();
    let fields = json!({"client": {"company_name": HOSTILE, "email": "x@example.com",
                                   "first_name": HOSTILE, "last_name": HOSTILE}});
    let created = server.post(
        "/mx/clients",
        &[
            ("Accept", crate::support::MX_ACCEPT),
            ("Authorization", crate::support::MX_DEMO_AUTH),
            ("Content-Type", "application/json"),
            ("X-Hostile", HOSTILE),
        ],
        &fields.to_string(),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let rule = json!({"path": HOSTILE, "status": 503, "body": {"error": HOSTILE}, "times": 1});
    let added = server.admin("POST", "/faults", Some(&rule.to_string()));
    assert_eq!(added.status, 201, "{}", added.body);
    let console = Console::sign_in(&server);
    let q = urlencode(HOSTILE);
    let mail_id = server.admin("GET", "/mail", None).json()["messages"][0]["id"]
        .as_u64()
        .expect("the invitation");
    let request_id = server.admin("GET", "/requests", None).json()["requests"][0]["id"]
        .as_u64()
        .expect("the create");
    let pages = [
        format!("/outbox?to={q}&state={q}&before={q}"),
        "/outbox".to_string(),
        format!("/outbox/{mail_id}"),
        format!("/requests?flavour={q}&tenant={q}&status={q}&path={q}"),
        "/requests".to_string(),
        format!("/requests/{request_id}"),
        format!("/tenants?flavour={q}&offset={q}"),
        "/tenants".to_string(),
        format!("/controls?note={q}"),
    ];
    for page in &pages {
        let reply = console.get(page);
        assert_eq!(reply.status, 200, "{page}: {}", reply.body);
        assert!(
            !reply.body.contains("<script>alert"),
            "{page}: {}",
            reply.body
        );
        assert!(!reply.body.contains("<b a="), "{page}: {}", reply.body);
    }
    // The values are there, as text.
    let mail = console.get(&format!("/outbox/{mail_id}"));
    assert!(
        mail.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        mail.body
    );
    let refused = console.post("/faults", &[("path", HOSTILE), ("status", HOSTILE)], true);
    assert_eq!(refused.status, 400);
    assert!(!refused.body.contains("<script>alert"), "{}", refused.body);
}

fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
