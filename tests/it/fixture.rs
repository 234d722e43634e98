//! The test-fixture side of the admin API: request journal, fault injection, clock control,
//! and failing mail deliveries on purpose.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    mails_to, mx_invite, newest_link_path, wait_mail_status, Server, MX_DEMO_AUTH,
};

#[test]
fn the_journal_lists_requests_with_secrets_redacted_and_can_be_cleared() {
    let server = Server::start();
    assert_eq!(mx_invite(&server, "a@example.com").status, 200);
    let login = json!({"api_client": {"api_key": "api_key", "password": "password"}});
    server.post(
        "/nueve09/auth/login",
        &[("Content-Type", "application/json")],
        &login.to_string(),
    );
    server.get("/healthz", &[]);

    let all = server.admin("GET", "/requests", None).json();
    let requests = all["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 3, "admin calls are not journaled: {all}");
    let create = &requests[0];
    assert_eq!(create["method"], "POST");
    assert_eq!(create["path"], "/mx/clients");
    assert_eq!(create["status"], 200);
    assert_eq!(create["flavour"], "mx");
    assert_eq!(create["tenant"], "PROCESSOR-1234");
    assert!(create["body"].as_str().unwrap().contains("a@example.com"));
    let login_body = requests[1]["body"].as_str().unwrap();
    assert!(
        !login_body.contains("\"password\"}") && login_body.contains("***"),
        "{login_body}"
    );

    let mx_only = server.admin("GET", "/requests?flavour=mx", None).json();
    assert_eq!(mx_only["requests"].as_array().unwrap().len(), 1);
    let by_path = server.admin("GET", "/requests?path=/healthz", None).json();
    assert_eq!(by_path["requests"].as_array().unwrap().len(), 1);
    let future = server
        .admin("GET", "/requests?since=2999-01-01T00:00:00Z", None)
        .json();
    assert_eq!(future["requests"].as_array().unwrap().len(), 0);
    assert_eq!(
        server
            .admin("GET", "/requests?since=yesterday", None)
            .status,
        400
    );

    assert_eq!(server.admin("DELETE", "/requests", None).status, 200);
    assert_eq!(
        server.admin("GET", "/requests", None).json()["requests"],
        json!([])
    );
}

#[test]
fn the_journal_is_a_bounded_ring() {
    let server = Server::builder().arg("--journal-entries").arg("5").start();
    for _ in 0..12 {
        server.get("/healthz", &[]);
    }
    assert_eq!(
        server.admin("GET", "/requests", None).json()["requests"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn a_fault_answers_in_the_vendor_format_for_the_next_n_requests() {
    let server = Server::start();
    let rule =
        json!({"flavour": "mx", "method": "POST", "path": "/clients", "status": 503, "times": 2});
    let added = server.admin("POST", "/faults", Some(&rule.to_string()));
    assert_eq!(added.status, 201, "{}", added.body);
    for _ in 0..2 {
        let reply = mx_invite(&server, "a@example.com");
        assert_eq!(reply.status, 503);
        assert_eq!(reply.json(), json!({"error": "Service Unavailable"}));
    }
    assert_eq!(
        mx_invite(&server, "a@example.com").status,
        200,
        "the rule is used up"
    );
    assert_eq!(
        server.admin("GET", "/faults", None).json()["faults"],
        json!([])
    );

    let custom = json!({"path": "/api/v1/clients/*", "status": 500, "body": {"custom": true}});
    let id = server
        .admin("POST", "/faults", Some(&custom.to_string()))
        .json()["id"]
        .as_u64()
        .unwrap();
    let reply = server.get("/shieldconex/api/v1/clients/744", &[]);
    assert_eq!((reply.status, reply.json()), (500, json!({"custom": true})));
    assert_eq!(
        server
            .admin("DELETE", &format!("/faults/{id}"), None)
            .status,
        200
    );
    assert_eq!(
        server
            .admin("DELETE", &format!("/faults/{id}"), None)
            .status,
        404
    );

    for bad in [
        json!({"path": "/x"}),
        json!({"status": 99}),
        json!({"flavour": "stripe", "status": 500}),
        json!({"status": 500, "colour": "red"}),
    ] {
        assert_eq!(
            server
                .admin("POST", "/faults", Some(&bad.to_string()))
                .status,
            400,
            "{bad}"
        );
    }
}

#[test]
fn a_fault_can_delay_or_drop_the_connection() {
    let server = Server::start();
    let delay = json!({"path": "/clients", "delay_ms": 300, "times": 1});
    server.admin("POST", "/faults", Some(&delay.to_string()));
    let started = Instant::now();
    assert_eq!(
        mx_invite(&server, "a@example.com").status,
        200,
        "delayed, then handled"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));

    let drop = json!({"flavour": "mx", "drop": true, "times": 1});
    server.admin("POST", "/faults", Some(&drop.to_string()));
    let addr = server.url.trim_start_matches("http://");
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
        .write_all(format!("POST /mx/clients HTTP/1.1\r\nHost: x\r\nAuthorization: {MX_DEMO_AUTH}\r\nContent-Length: 0\r\n\r\n").as_bytes())
        .unwrap();
    let mut buf = Vec::new();
    let read = socket.read_to_end(&mut buf);
    assert!(
        read.is_err() || buf.is_empty(),
        "no answer, the connection closed: {:?}",
        String::from_utf8_lossy(&buf)
    );
    assert_eq!(server.get("/healthz", &[]).status, 200);
}

#[test]
fn moving_the_clock_expires_a_link_without_waiting() {
    let server = Server::start();
    assert_eq!(mx_invite(&server, "a@example.com").status, 200);
    let link = newest_link_path(&server, "a@example.com");
    assert_eq!(server.get(&link, &[]).status, 200);
    let moved = server.admin("POST", "/clock", Some(r#"{"advance": "8d"}"#));
    assert_eq!(moved.status, 200);
    assert!(moved.json()["offset_ms"].as_i64().unwrap() >= 8 * 86_400_000);
    assert_eq!(server.get(&link, &[]).status, 410);
    let set = server
        .admin("POST", "/clock", Some(r#"{"set": "2030-01-01T00:00:00Z"}"#))
        .json();
    assert!(set["now"]
        .as_str()
        .unwrap()
        .starts_with("2030-01-01T00:00:0"));
    assert_eq!(mx_invite(&server, "b@example.com").status, 200);
    assert!(mails_to(&server, "b@example.com")[0]["created"]
        .as_str()
        .unwrap()
        .starts_with("2030-01-01"));
    assert_eq!(
        server.admin("DELETE", "/clock", None).json()["offset_ms"],
        0
    );
    assert_eq!(
        server
            .admin("POST", "/clock", Some(r#"{"advance": "soon"}"#))
            .status,
        400
    );
}

#[test]
fn the_mail_sender_can_be_told_to_fail() {
    let server = Server::start();
    let told = server.admin("POST", "/mail/failures", Some(r#"{"count": 2}"#));
    assert_eq!(told.status, 200);
    assert_eq!(mx_invite(&server, "a@example.com").status, 200);
    let mails = wait_mail_status(&server, "a@example.com", "sent", Duration::from_secs(6));
    assert_eq!(mails[0]["status"], "sent");
    assert_eq!(mails[0]["attempts"], 3);
}

#[test]
fn deterministic_mode_replays_the_same_ids_and_tokens() {
    let run = |args: &[&str]| {
        let mut builder = Server::builder();
        for a in args {
            builder = builder.arg(*a);
        }
        let server = builder.start();
        assert_eq!(mx_invite(&server, "a@example.com").status, 200);
        let first = newest_link_path(&server, "a@example.com");
        assert_eq!(server.admin("POST", "/reset", None).status, 200);
        assert_eq!(mx_invite(&server, "a@example.com").status, 200);
        let after_reset = newest_link_path(&server, "a@example.com");
        let id: String = server
            .db()
            .query_row("SELECT id FROM mx_clients", [], |r| r.get(0))
            .unwrap();
        (first, after_reset, id)
    };
    let a = run(&["--deterministic=42"]);
    let b = run(&["--deterministic=42"]);
    assert_eq!(a, b, "the same seed gives the same ids and links");
    assert_eq!(a.0, a.1, "a reset starts the sequence over");
    let c = run(&["--deterministic=7"]);
    assert_ne!(a.0, c.0);
    let d = run(&[]);
    let e = run(&[]);
    assert_ne!(d.0, e.0, "random by default");
}
