//! The MX Client Dashboard over HTTP: registration through the one-time link (single use,
//! expiry, concurrent redemption, restart), sign-in, sign-out and CSRF.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{mx_invite, newest_link_path, post_form, set_cookie, Reply, Server};

const TO: &str = "john.foo@mx.com";
const PASSWORD: &str = "correct horse battery";

/// Opens the registration form; returns the CSRF cookie (`mx_csrf=...`) and its value.
pub(crate) fn open_form(server: &Server, path: &str) -> (String, String) {
    let reply = server.get(path, &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cookie = set_cookie(&reply, "mx_csrf").expect("a CSRF cookie");
    let value = cookie.split_once('=').unwrap().1.to_string();
    assert!(
        reply.body.contains(&format!("value=\"{value}\"")),
        "the form carries the token"
    );
    (cookie, value)
}

pub(crate) fn register(
    server: &Server,
    path: &str,
    cookie: &str,
    csrf: &str,
    password: &str,
    confirm: &str,
) -> Reply {
    post_form(
        server,
        path,
        cookie,
        &[
            ("csrf", csrf),
            ("password", password),
            ("password_confirmation", confirm),
        ],
    )
}

fn invited(server: &Server) -> String {
    assert_eq!(mx_invite(server, TO).status, 200);
    newest_link_path(server, TO)
}

#[test]
fn the_mailed_link_registers_once_and_shows_the_dashboard() {
    let server = Server::start();
    let link = invited(&server);
    let form = server.get(&link, &[]);
    assert!(form.body.contains("value=\"John\"") && form.body.contains("value=\"Foo\""));
    assert!(form.body.contains("value=\"MX\""), "pre-filled company");
    assert!(
        form.body.contains("name=\"viewport\""),
        "readable on a phone"
    );
    let (cookie, csrf) = open_form(&server, &link);
    let reply = register(&server, &link, &cookie, &csrf, PASSWORD, PASSWORD);
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(reply.header("Location"), Some("/mx/dashboard/"));
    let session = reply
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("mx_session="))
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    let session = session.split(';').next().unwrap().to_string();

    let page = server.get("/mx/dashboard/", &[("Cookie", &session)]);
    assert_eq!(page.status, 200);
    for expected in [
        "MX",
        "John Foo",
        TO,
        "Demo Processor (PROCESSOR-1234)",
        "CLT-",
        "registered",
    ] {
        assert!(
            page.body.contains(expected),
            "{expected} not on the dashboard"
        );
    }
    let hash: String = server
        .db()
        .query_row("SELECT password_hash FROM mx_clients", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));

    // Used: the form is gone, and so is a second submission.
    let again = server.get(&link, &[]);
    assert_eq!(again.status, 410);
    assert!(again.body.contains("has been used") && again.body.contains("new invitation"));
    assert_eq!(
        register(&server, &link, &cookie, &csrf, PASSWORD, PASSWORD).status,
        410
    );
}

#[test]
fn an_unknown_link_is_404_and_an_expired_one_410() {
    let server = Server::builder().arg("--link-ttl").arg("1s").start();
    let unknown = server.get(
        "/mx/dashboard/register/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &[],
    );
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("not valid"));
    let link = invited(&server);
    let (cookie, csrf) = open_form(&server, &link);
    std::thread::sleep(Duration::from_millis(1100));
    let expired = server.get(&link, &[]);
    assert_eq!(expired.status, 410);
    assert!(expired.body.contains("expired"));
    assert_eq!(
        register(&server, &link, &cookie, &csrf, PASSWORD, PASSWORD).status,
        410
    );
    assert_eq!(server.count("sessions"), 0);
}

#[test]
fn a_bad_password_or_csrf_keeps_the_link_alive() {
    let server = Server::start();
    let link = invited(&server);
    let (cookie, csrf) = open_form(&server, &link);
    let mismatch = register(&server, &link, &cookie, &csrf, PASSWORD, "something else");
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("do not match"));
    let short = register(&server, &link, &cookie, &csrf, "short", "short");
    assert_eq!(short.status, 422);
    assert!(short.body.contains("at least 8"));
    let forged = register(&server, &link, &cookie, "forged", PASSWORD, PASSWORD);
    assert_eq!(forged.status, 403);
    let no_cookie = register(&server, &link, "", &csrf, PASSWORD, PASSWORD);
    assert_eq!(no_cookie.status, 403);
    assert_eq!(
        register(&server, &link, &cookie, &csrf, PASSWORD, PASSWORD).status,
        303
    );
}

#[test]
fn of_many_concurrent_redemptions_exactly_one_wins() {
    let server = Arc::new(Server::start());
    let link = invited(&server);
    let (cookie, csrf) = open_form(&server, &link);
    let threads: Vec<_> = (0..12)
        .map(|i| {
            let (server, link, cookie, csrf) =
                (server.clone(), link.clone(), cookie.clone(), csrf.clone());
            std::thread::spawn(move || {
                let password = format!("password-{i}");
                register(&server, &link, &cookie, &csrf, &password, &password).status
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 410),
        "{statuses:?}"
    );
    assert_eq!(server.count("sessions"), 1);
}

#[test]
fn a_burned_link_stays_burned_after_a_restart() {
    let server = Server::start();
    let link = invited(&server);
    let (cookie, csrf) = open_form(&server, &link);
    assert_eq!(
        register(&server, &link, &cookie, &csrf, PASSWORD, PASSWORD).status,
        303
    );
    let server = Server::builder().start_in(server.kill());
    assert_eq!(server.get(&link, &[]).status, 410);
}

#[test]
fn sign_in_and_sign_out() {
    let server = Server::start();
    let link = invited(&server);
    let (cookie, csrf) = open_form(&server, &link);
    assert_eq!(
        register(&server, &link, &cookie, &csrf, PASSWORD, PASSWORD).status,
        303
    );

    assert_eq!(
        server.get("/mx/dashboard/", &[]).header("Location"),
        Some("/mx/dashboard/login")
    );
    let login = server.get("/mx/dashboard/login", &[]);
    let csrf_cookie = set_cookie(&login, "mx_csrf").unwrap();
    let csrf = csrf_cookie.split_once('=').unwrap().1.to_string();
    for (email, password) in [(TO, "wrong password"), ("nobody@mx.com", PASSWORD)] {
        let wrong = post_form(
            &server,
            "/mx/dashboard/login",
            &csrf_cookie,
            &[("csrf", &csrf), ("email", email), ("password", password)],
        );
        assert_eq!(wrong.status, 401);
        assert!(
            wrong.body.contains("Wrong e-mail or password."),
            "the same words either way"
        );
    }
    let forged = post_form(
        &server,
        "/mx/dashboard/login",
        "",
        &[("csrf", &csrf), ("email", TO), ("password", PASSWORD)],
    );
    assert_eq!(forged.status, 403);
    let ok = post_form(
        &server,
        "/mx/dashboard/login",
        &csrf_cookie,
        &[
            ("csrf", &csrf),
            ("email", "JOHN.FOO@mx.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(ok.status, 303);
    let session = set_cookie(&ok, "mx_session").unwrap();
    let page = server.get("/mx/dashboard/", &[("Cookie", &session)]);
    assert_eq!(page.status, 200);
    let session_csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    let forged_logout = post_form(
        &server,
        "/mx/dashboard/logout",
        &session,
        &[("csrf", "nope")],
    );
    assert_eq!(forged_logout.status, 403);
    assert_eq!(
        server.get("/mx/dashboard/", &[("Cookie", &session)]).status,
        200,
        "still signed in"
    );
    let logout = post_form(
        &server,
        "/mx/dashboard/logout",
        &session,
        &[("csrf", &session_csrf)],
    );
    assert_eq!(logout.status, 303);
    assert_eq!(
        server.get("/mx/dashboard/", &[("Cookie", &session)]).status,
        303,
        "signed out"
    );
}
