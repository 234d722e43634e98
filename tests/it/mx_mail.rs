//! MX invitation mail through the durable outbox: mbox and a real SMTP socket, retries while
//! the SMTP server is down, and delivery resumed after a restart.

use std::time::Duration;

use crate::smtp_sink::{DownPort, SmtpSink};
use crate::support::{mails_to, mx_invite, wait_mail_status, Server};

const TO: &str = "john.foo@mx.com";

/// Undoes quoted-printable soft line breaks and `=3D`, enough to read our mails' text.
fn unfold_qp(text: &str) -> String {
    text.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

#[test]
fn the_seed_example_mails_one_link_to_the_mbox_within_a_second() {
    let server = Server::start();
    assert_eq!(mx_invite(&server, TO).status, 200);
    let mails = wait_mail_status(&server, TO, "sent", Duration::from_secs(1));
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail["attempts"], 1);
    let link = mail["links"][0].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/mx/dashboard/register/", server.url)),
        "{link}"
    );
    let token = link.rsplit('/').next().unwrap();
    assert_eq!(token.len(), 43, "32 bytes, base64url");
    let text = mail["text"].as_str().unwrap();
    assert!(text.starts_with("Hello John,"));
    assert!(text.contains("Demo Processor") && text.contains("MX") && text.contains("expires on"));

    // The mbox parses back as mbox: one "From " separator line, RFC 5322 headers, our link.
    let mbox = std::fs::read_to_string(server.dir().join("clientele.mbox")).unwrap();
    let messages: Vec<&str> = mbox
        .split("\n\nFrom ")
        .filter(|m| !m.trim().is_empty())
        .collect();
    assert_eq!(messages.len(), 1);
    assert!(mbox.starts_with("From no-reply@localhost "));
    let (headers, body) = mbox.split_once("\n\n").unwrap();
    for header in [
        "From: Clientele <no-reply@localhost>",
        "To: john.foo@mx.com",
        "Date: ",
        "Message-ID: <",
        "Subject: ",
    ] {
        assert!(headers.contains(header), "{header} missing in {headers}");
    }
    assert!(
        unfold_qp(body).contains(link),
        "the link is in the mbox body"
    );
    assert!(body.contains("text/html"), "an HTML alternative");
    assert!(mbox.ends_with("\n\n"));

    // The tables hold the link's hash only.
    let db = server.db();
    let stored: Vec<u8> = db
        .query_row("SELECT token_hash FROM links", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored.len(), 32);
    let count: i64 = db
        .query_row(
            "SELECT count(*) FROM links WHERE token_hash = ?1",
            [token.as_bytes()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 0, "the token itself is not the key");
}

#[test]
fn smtp_delivery_reaches_a_real_smtp_server() {
    let sink = SmtpSink::start(0);
    let server = Server::builder()
        .arg("--mail")
        .arg(format!("smtp://127.0.0.1:{}?tls=none", sink.port))
        .arg("--mail-from")
        .arg("MX <enablement@mx.example>")
        .start();
    assert_eq!(mx_invite(&server, TO).status, 200);
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, vec![TO.to_string()]);
    assert!(got[0].from.contains("enablement@mx.example"));
    assert!(got[0]
        .data
        .contains("Subject: Register MX on the MX Client Dashboard"));
    let link = mails_to(&server, TO)[0]["links"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(unfold_qp(&got[0].data).contains(&link));
    assert_eq!(
        wait_mail_status(&server, TO, "sent", Duration::from_secs(2))[0]["status"],
        "sent"
    );
}

#[test]
fn mail_waits_while_smtp_is_down_and_is_delivered_once_when_it_is_back() {
    let down = DownPort::reserve();
    let server = Server::builder()
        .arg("--mail")
        .arg(format!("smtp://127.0.0.1:{}?tls=none", down.port))
        .start();
    assert_eq!(
        mx_invite(&server, TO).status,
        200,
        "the API does not wait for mail"
    );
    std::thread::sleep(Duration::from_millis(1200));
    let pending = mails_to(&server, TO);
    assert_eq!(pending[0]["status"], "pending");
    assert!(pending[0]["attempts"].as_i64().unwrap() >= 1);
    assert!(pending[0]["error"].is_string());

    let sink = SmtpSink::start(down.release());
    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.received().len(), 1, "delivered once");
    assert_eq!(mails_to(&server, TO)[0]["status"], "sent");
}

#[test]
fn pending_mail_survives_a_kill_and_goes_out_after_the_restart() {
    let down = DownPort::reserve();
    let smtp = format!("smtp://127.0.0.1:{}?tls=none", down.port);
    let server = Server::builder().arg("--mail").arg(&smtp).start();
    assert_eq!(mx_invite(&server, TO).status, 200);
    let dir = server.kill();
    let first_run = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();

    let sink = SmtpSink::start(down.release());
    let server = Server::builder().arg("--mail").arg(&smtp).start_in(dir);
    if crate::support::postgres().is_some() {
        // On PostgreSQL the killed run may have leased the mail (for a minute) before it
        // died; over SMTP the new run is another instance, which waits for that lease.
        let moved = server.admin("POST", "/clock", Some(r#"{"advance": "2m"}"#));
        assert_eq!(moved.status, 200, "{}", moved.body);
    }
    assert_eq!(
        sink.wait_for(1, Duration::from_secs(5)).len(),
        1,
        "the first run logged:\n{first_run}\nthe second:\n{}",
        server.stderr()
    );
    assert_eq!(
        wait_mail_status(&server, TO, "sent", Duration::from_secs(2))[0]["status"],
        "sent"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.received().len(), 1);
}

#[test]
fn delivery_gives_up_after_the_configured_time() {
    let down = DownPort::reserve();
    let server = Server::builder()
        .arg("--mail")
        .arg(format!("smtp://127.0.0.1:{}?tls=none", down.port))
        .arg("--mail-give-up")
        .arg("1s")
        .start();
    assert_eq!(mx_invite(&server, TO).status, 200);
    let mails = wait_mail_status(&server, TO, "failed", Duration::from_secs(6));
    assert_eq!(mails[0]["status"], "failed");
}

#[test]
fn a_reinvitation_mails_a_new_link_and_kills_the_old_one() {
    let server = Server::start();
    assert_eq!(mx_invite(&server, TO).status, 200);
    assert_eq!(mx_invite(&server, TO).status, 200);
    let mails = mails_to(&server, TO);
    assert_eq!(mails.len(), 2);
    let old = mails[0]["links"][0].as_str().unwrap();
    let new = mails[1]["links"][0].as_str().unwrap();
    assert_ne!(old, new);
    let path = |link: &str| link.strip_prefix(&server.url).unwrap().to_string();
    assert_eq!(server.get(&path(old), &[]).status, 410);
    assert_eq!(server.get(&path(new), &[]).status, 200);
}

#[test]
fn a_bad_mail_option_stops_startup_with_a_message() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--mail",
            "carrier-pigeon",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--mail"));
}
