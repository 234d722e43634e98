//! The library: a server started in-process, as a Rust test suite would use it.

use std::time::{Duration, Instant};

use clientele::testing::Server;

use crate::support::{call, MX_ACCEPT, MX_DEMO_AUTH};

#[test]
fn an_in_process_server_serves_and_captures_mail() {
    let server = Server::start();
    let body = r#"{"client": {"company_name": "MX", "email": "john.foo@mx.com", "first_name": "John", "last_name": "Foo"}}"#;
    let reply = call(
        "POST",
        &format!("{}/mx/clients", server.url()),
        &[
            ("Accept", MX_ACCEPT),
            ("Authorization", MX_DEMO_AUTH),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(reply.status, 200);
    let links = server.links_to("john.foo@mx.com");
    assert_eq!(links.len(), 1);
    assert!(links[0].starts_with(&format!("{}/mx/dashboard/register/", server.url())));
    assert_eq!(call("GET", &links[0], &[], None).status, 200);

    let deadline = Instant::now() + Duration::from_secs(2);
    while server.mails()[0]["status"] != "sent" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.mails()[0]["status"], "sent");
    server.reset();
    assert!(server.mails().is_empty());
}

#[test]
fn many_in_process_servers_run_side_by_side() {
    let servers: Vec<Server> = (0..3).map(|_| Server::start()).collect();
    let mut urls: Vec<&str> = servers.iter().map(|s| s.url()).collect();
    urls.dedup();
    assert_eq!(urls.len(), 3);
    for s in &servers {
        assert_eq!(
            call("GET", &format!("{}/healthz", s.url()), &[], None).status,
            200
        );
    }
    assert!(Server::with_args(&["--link-ttl", "forever"]).is_err());
    assert!(Server::with_args(&["--admin-token", ""]).is_err());
}

#[test]
fn an_in_process_server_on_a_file_holds_it_until_dropped() {
    let dir = crate::support::TempDir::new();
    let db = dir.join("clientele.db").display().to_string();
    let first = Server::with_args(&["--db", &db]).expect("the first server on the file");
    let refused = Server::with_args(&["--db", &db])
        .err()
        .expect("a second server on the same file is refused");
    assert!(refused.contains(&format!("{db}.lock")), "{refused}");
    drop(first);
    // Another test of this process may be between fork and exec of a child at this moment:
    // the child then shares the lock file's description until its exec closes it (O_CLOEXEC),
    // so the lock can outlive the drop by that long.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let again = loop {
        match Server::with_args(&["--db", &db]) {
            Ok(server) => break server,
            Err(e) if std::time::Instant::now() > deadline => {
                panic!("the file is free once dropped: {e}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
    assert_eq!(
        call("GET", &format!("{}/healthz", again.url()), &[], None).status,
        200
    );
}
