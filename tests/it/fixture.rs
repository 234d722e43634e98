//! The test-fixture side of the admin API: request journal, fault injection, clock control,
//! and failing mail deliveries on purpose.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    mails_to, mx_invite, newest_link_path, try_call, wait_mail_status, Server, MX_DEMO_AUTH,
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
fn a_dropped_connection_gives_its_place_back() {
    // Two connections at most: were a dropped request's connection kept waiting for an
    // answer that never comes, two drops would take both places for good, and the health
    // check would never get one.
    let server = Server::builder().arg("--max-connections").arg("2").start();
    let drop = json!({"flavour": "mx", "drop": true, "times": 3});
    server.admin("POST", "/faults", Some(&drop.to_string()));
    let addr = server.url.trim_start_matches("http://");
    for _ in 0..3 {
        let mut socket = TcpStream::connect(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = socket.write_all(b"GET /mx/clients HTTP/1.1\r\nHost: x\r\n\r\n");
        // Closed without an answer: by the fault, or (if the previous dropped connection has
        // not given its place back yet) by the cap.
        let mut buf = Vec::new();
        let read = socket.read_to_end(&mut buf);
        assert!(
            read.is_err() || buf.is_empty(),
            "no answer: {:?}",
            String::from_utf8_lossy(&buf)
        );
    }
    // The server closes a dropped connection a moment after its answer is abandoned.
    let healthz = format!("{}/healthz", server.url);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut health = try_call("GET", &healthz, &[], None);
    while health.as_ref().map_or(true, |reply| reply.status != 200) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        health = try_call("GET", &healthz, &[], None);
    }
    assert_eq!(health.map(|reply| reply.status).ok(), Some(200));
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

fn invite_from(server: &Server, email: &str, forwarded_for: Option<&str>) -> u16 {
    let body = json!({"client": {"company_name": "MX", "email": email,
                                 "first_name": "Ana", "last_name": "Li"}});
    let mut headers = vec![
        ("Accept", crate::support::MX_ACCEPT),
        ("Authorization", MX_DEMO_AUTH),
        ("Content-Type", "application/json"),
    ];
    if let Some(xff) = forwarded_for {
        headers.push(("X-Forwarded-For", xff));
    }
    server
        .post("/mx/clients", &headers, &body.to_string())
        .status
}

#[test]
fn creates_from_untrusted_networks_wait_for_review() {
    let server = Server::builder()
        .arg("--trusted-networks")
        .arg("10.0.0.0/8")
        .start();
    assert_eq!(
        invite_from(&server, "held@example.com", None),
        200,
        "the caller cannot tell"
    );
    assert_eq!(invite_from(&server, "other@example.com", None), 200);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        mails_to(&server, "held@example.com").is_empty(),
        "no mail before approval"
    );
    let reviews = server.admin("GET", "/reviews", None).json();
    let reviews = reviews["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 2);
    assert_eq!(reviews[0]["email"], "held@example.com");
    assert_eq!(reviews[0]["source_ip"], "127.0.0.1");
    let held = reviews[0]["id"].as_str().unwrap().to_string();
    let other = reviews[1]["id"].as_str().unwrap().to_string();

    let approved = server.admin("POST", &format!("/reviews/{held}/approve"), None);
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.json()["status"], "invited");
    let mails = wait_mail_status(&server, "held@example.com", "sent", Duration::from_secs(2));
    assert_eq!(mails.len(), 1);
    let link = newest_link_path(&server, "held@example.com");
    assert_eq!(server.get(&link, &[]).status, 200);

    assert_eq!(
        server
            .admin("POST", &format!("/reviews/{other}/reject"), None)
            .status,
        200
    );
    assert_eq!(
        server
            .admin("POST", &format!("/reviews/{other}/approve"), None)
            .status,
        404,
        "decided already"
    );
    assert!(mails_to(&server, "other@example.com").is_empty());
    assert_eq!(
        server.admin("GET", "/reviews", None).json()["reviews"],
        json!([])
    );
    let status: String = server
        .db()
        .query_row(
            "SELECT status FROM mx_clients WHERE id = ?1",
            [&other],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "rejected");
}

#[test]
fn x_forwarded_for_counts_only_from_trusted_proxies() {
    let trusting = Server::builder()
        .arg("--trusted-networks")
        .arg("203.0.113.0/24")
        .arg("--trusted-proxies")
        .arg("127.0.0.1")
        .start();
    assert_eq!(
        invite_from(&trusting, "via-proxy@example.com", Some("203.0.113.5")),
        200
    );
    assert_eq!(
        wait_mail_status(
            &trusting,
            "via-proxy@example.com",
            "sent",
            Duration::from_secs(2)
        )
        .len(),
        1
    );
    assert_eq!(
        invite_from(
            &trusting,
            "spoofed@example.com",
            Some("203.0.113.5, 198.51.100.9")
        ),
        200
    );
    assert_eq!(
        trusting.admin("GET", "/reviews", None).json()["reviews"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let not_trusting = Server::builder()
        .arg("--trusted-networks")
        .arg("203.0.113.0/24")
        .start();
    assert_eq!(
        invite_from(&not_trusting, "claims@example.com", Some("203.0.113.5")),
        200
    );
    assert_eq!(
        not_trusting.admin("GET", "/reviews", None).json()["reviews"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Each flavour's cheapest authenticated call as tenant set `set`; the statuses.
fn calls_as(server: &Server, set: &serde_json::Value) -> [u16; 4] {
    let mx = invite_with(
        server,
        set["mx"]["authorization"].as_str().unwrap(),
        "x@example.com",
    );
    let partner = set["shieldconex"]["partner"]["id"].as_i64().unwrap();
    let sc = server
        .get(
            &format!("/shieldconex/api/v1/clients?partner={partner}"),
            &[(
                "Authorization",
                set["shieldconex"]["authorization"].as_str().unwrap(),
            )],
        )
        .status;
    let login = json!({"api_client": {"api_key": set["nueve09"]["api_key"], "password": set["nueve09"]["password"]}});
    let n09 = server
        .post(
            "/nueve09/auth/login",
            &[("Content-Type", "application/json")],
            &login.to_string(),
        )
        .status;
    let ml = server
        .post(
            "/makeleaps/user/oauth2/token/",
            &[
                (
                    "Authorization",
                    set["makeleaps"]["authorization"].as_str().unwrap(),
                ),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            "grant_type=client_credentials",
        )
        .status;
    [mx, sc, n09, ml]
}

/// An MX create as `authorization`; its status.
pub(crate) fn invite_with(server: &Server, authorization: &str, email: &str) -> u16 {
    let body = json!({"client": {"company_name": "T", "email": email, "first_name": "T", "last_name": "T"}});
    server
        .post(
            "/mx/clients",
            &[
                ("Accept", crate::support::MX_ACCEPT),
                ("Authorization", authorization),
                ("Content-Type", "application/json"),
            ],
            &body.to_string(),
        )
        .status
}

#[test]
fn tenant_sets_are_isolated_and_deleted_whole() {
    let server = Server::start();
    let a = server.admin("POST", "/tenants", None);
    assert_eq!(a.status, 201, "{}", a.body);
    let a = a.json();
    let b = server.admin("POST", "/tenants", None).json();
    assert_ne!(a["id"], b["id"]);
    assert_ne!(a["mx"]["processor_id"], b["mx"]["processor_id"]);
    assert_eq!(calls_as(&server, &a), [200, 200, 200, 200]);
    assert_eq!(calls_as(&server, &b), [200, 200, 200, 200]);
    assert_eq!(server.count("mx_clients"), 2);

    let deleted = server.admin(
        "DELETE",
        &format!("/tenants/{}", a["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(calls_as(&server, &a), [401, 401, 401, 401], "set A is gone");
    assert_eq!(
        calls_as(&server, &b),
        [200, 200, 200, 200],
        "set B is untouched"
    );
    assert_eq!(server.count("mx_clients"), 1);
    assert_eq!(
        mx_invite(&server, "demo@example.com").status,
        200,
        "the demo tenants too"
    );
    assert_eq!(
        server
            .admin(
                "DELETE",
                &format!("/tenants/{}", a["id"].as_str().unwrap()),
                None
            )
            .status,
        404
    );
}

#[test]
fn a_link_mailed_before_a_review_cannot_get_around_it() {
    let server = Server::builder()
        .arg("--trusted-networks")
        .arg("203.0.113.0/24")
        .arg("--trusted-proxies")
        .arg("127.0.0.1")
        .start();
    assert_eq!(
        invite_from(&server, "ana@example.com", Some("203.0.113.5")),
        200
    );
    let link = newest_link_path(&server, "ana@example.com");
    assert_eq!(server.get(&link, &[]).status, 200);
    assert_eq!(
        invite_from(&server, "ana@example.com", None),
        200,
        "again, from elsewhere"
    );
    assert_eq!(
        server.get(&link, &[]).status,
        410,
        "held for review: the old link is dead"
    );
    let id = server.admin("GET", "/reviews", None).json()["reviews"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        server
            .admin("POST", &format!("/reviews/{id}/reject"), None)
            .status,
        200
    );
    assert_eq!(server.get(&link, &[]).status, 410);
}

#[test]
fn dead_rows_are_pruned_once_long_past() {
    let server = Server::start();
    assert_eq!(mx_invite(&server, "old@example.com").status, 200);
    wait_mail_status(&server, "old@example.com", "sent", Duration::from_secs(2));
    assert_eq!((server.count("links"), server.count("mail_outbox")), (1, 1));
    assert_eq!(
        server
            .admin("POST", "/clock", Some(r#"{"advance": "40d"}"#))
            .status,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.count("links") + server.count("mail_outbox") > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!((server.count("links"), server.count("mail_outbox")), (0, 0));
    assert_eq!(server.count("mx_clients"), 1, "records stay");
}
