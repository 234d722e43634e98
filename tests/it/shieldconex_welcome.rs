//! ShieldConex welcome mail: `sendWelcomeEmail: true` mails a one-time set-password link
//! through the outbox; the page behind it sets the password, after which Basic auth works.

use std::time::Duration;

use serde_json::{json, Value};

use super::{basic, call, get, WATERFORD};
use crate::support::{mails_to, newest_link_path, post_form, wait_mail_status, Reply, Server};

const JOHN: &str = "john.doe@example.com";

fn john(send: bool) -> Value {
    json!({"userName": "John Doe", "firstName": "John", "lastName": "Doe", "email": JOHN,
           "phone": "+14155552671", "partner": {"id": 793},
           "userRole": {"name": "Partner User"}, "isActive": true, "sendWelcomeEmail": send})
}

fn set_password(server: &Server, path: &str, password: &str, confirmation: &str) -> Reply {
    post_form(
        server,
        path,
        "",
        &[
            ("password", password),
            ("password_confirmation", confirmation),
        ],
    )
}

#[test]
fn a_new_user_sets_a_password_through_the_welcome_link_and_signs_in() {
    let server = Server::start();
    let reply = call(&server, "POST", "/users", WATERFORD, Some(&john(true)));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mails = wait_mail_status(&server, JOHN, "sent", Duration::from_secs(2));
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail["status"], "sent");
    let link = mail["links"][0].as_str().unwrap();
    let prefix = format!("{}/shieldconex/welcome/", server.url);
    assert!(link.starts_with(&prefix), "{link}");
    assert_eq!(link[prefix.len()..].len(), 43, "32 bytes, base64url");
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.starts_with("Hello John,") && text.contains("John Doe"),
        "{text}"
    );
    assert!(text.contains(link));

    // No password yet: the API refuses the user.
    let credential = "John Doe:correct horse";
    assert_eq!(get(&server, "/partners/793", credential).status, 401);

    let path = newest_link_path(&server, JOHN);
    let form = server.get(&path, &[]);
    assert_eq!(form.status, 200);
    assert!(form
        .header("Content-Type")
        .unwrap()
        .starts_with("text/html"));
    assert!(form.body.contains("John Doe") && form.body.contains("name=\"password\""));

    // A bad form keeps the link alive.
    let short = set_password(&server, &path, "short", "short");
    assert_eq!(short.status, 422);
    assert!(short.body.contains("at least 8"));
    let mismatch = set_password(&server, &path, "correct horse", "correct horsf");
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("do not match"));

    let done = set_password(&server, &path, "correct horse", "correct horse");
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Your password is set"));
    let hash: String = server
        .db()
        .query_row(
            "SELECT password_hash FROM sc_users WHERE user_name = 'John Doe'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "only the hash is stored");

    let reply = get(&server, "/partners/793", credential);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        get(&server, "/partners/792", credential).status,
        403,
        "a sub-partner user"
    );

    // The link worked once.
    assert_eq!(server.get(&path, &[]).status, 410);
    assert_eq!(
        set_password(&server, &path, "another pass", "another pass").status,
        410
    );
    assert_eq!(
        get(&server, "/partners/793", credential).status,
        200,
        "password unchanged"
    );
}

#[test]
fn no_mail_without_send_welcome_email_or_when_the_create_fails() {
    let server = Server::start();
    assert_eq!(
        call(&server, "POST", "/users", WATERFORD, Some(&john(false))).status,
        200
    );
    let mut failing = john(true);
    failing["userName"] = json!("Jane Doe");
    failing["phone"] = json!("not a phone");
    assert_eq!(
        call(&server, "POST", "/users", WATERFORD, Some(&failing)).status,
        409
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(mails_to(&server, JOHN).is_empty());
    assert_eq!(server.count("mail_outbox"), 0);
    assert_eq!(server.count("links"), 0);
}

#[test]
fn an_inline_contact_gets_its_welcome_mail() {
    let server = Server::start();
    let body = json!({"name": "Welcome Co", "directPartner": {"id": 792},
                      "contact": {"userName": "jane@welcome.example", "firstName": "Jane",
                                  "lastName": "W", "email": "jane@welcome.example",
                                  "phone": "+14155550111", "sendWelcomeEmail": true}});
    let reply = call(&server, "POST", "/clients", WATERFORD, Some(&body));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let client_id = reply.json()["id"].as_i64().unwrap();
    let mails = wait_mail_status(
        &server,
        "jane@welcome.example",
        "sent",
        Duration::from_secs(2),
    );
    assert_eq!(mails.len(), 1);
    let path = newest_link_path(&server, "jane@welcome.example");
    assert_eq!(
        set_password(&server, &path, "jane's secret", "jane's secret").status,
        200
    );
    // The new Client Admin sees its client and nothing else.
    let credential = "jane@welcome.example:jane's secret";
    assert_eq!(
        get(&server, &format!("/clients/{client_id}"), credential).status,
        200
    );
    assert_eq!(get(&server, "/clients/744", credential).status, 404);
}

#[test]
fn a_patch_sends_a_fresh_link_that_replaces_the_old_one() {
    let server = Server::start();
    // The demo contact 2664 has no password: its administrator sends it a welcome mail.
    let patch = json!({"sendWelcomeEmail": true});
    assert_eq!(
        call(&server, "PATCH", "/users/2664", WATERFORD, Some(&patch)).status,
        200
    );
    let first = newest_link_path(&server, "contact@example.com");
    assert_eq!(
        call(&server, "PATCH", "/users/2664", WATERFORD, Some(&patch)).status,
        200
    );
    let second = newest_link_path(&server, "contact@example.com");
    assert_ne!(first, second);
    assert_eq!(mails_to(&server, "contact@example.com").len(), 2);
    assert_eq!(
        server.get(&first, &[]).status,
        410,
        "revoked by the newer link"
    );
    assert_eq!(
        set_password(&server, &second, "contact-pass", "contact-pass").status,
        200
    );
    let credential = "contact@example.com:contact-pass";
    let me = get(&server, "/users/2664", credential);
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["version"], 2, "each PATCH counted");
    assert_eq!(get(&server, "/clients/744", credential).status, 200);
}

#[test]
fn unknown_and_expired_links_are_explained() {
    let server = Server::builder().arg("--link-ttl").arg("1s").start();
    let unknown = server.get("/shieldconex/welcome/not-a-token", &[]);
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("not valid"));
    assert_eq!(
        call(&server, "POST", "/users", WATERFORD, Some(&john(true))).status,
        200
    );
    let path = newest_link_path(&server, JOHN);
    assert_eq!(server.get(&path, &[]).status, 200);
    std::thread::sleep(Duration::from_millis(1100));
    let expired = server.get(&path, &[]);
    assert_eq!(expired.status, 410);
    assert!(expired.body.contains("expired"));
    assert_eq!(
        set_password(&server, &path, "too late now", "too late now").status,
        410
    );
    let auth = basic("John Doe:too late now");
    assert_eq!(
        server
            .get(
                "/shieldconex/api/v1/partners/793",
                &[("Authorization", auth.as_str())]
            )
            .status,
        401
    );
}
