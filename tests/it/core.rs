//! The server itself: readiness, health, dispatch, admin API, signals, and the tiny_http fix.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use crate::support::{call, Server, ADMIN_TOKEN, MX_ACCEPT, MX_DEMO_AUTH};

#[test]
fn readiness_line_names_a_working_url_and_health_is_ok() {
    let server = Server::start();
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    let reply = server.get("/healthz", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"status": "ok", "log_lines_dropped": 0})
    );
    // The log line is written just after the answer, so wait for it.
    assert!(
        server.stderr_shows("GET /healthz 200"),
        "one log line per request"
    );
}

#[test]
fn unknown_prefix_is_404_and_lists_the_flavours() {
    let server = Server::start();
    let reply = server.get("/stripe/v1/customers", &[]);
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["flavours"][0], "/mx");
}

#[test]
fn admin_refuses_a_wrong_or_missing_token() {
    let server = Server::start();
    let wrong = server.call(
        "POST",
        "/_admin/reset",
        &[("Authorization", "Bearer nope")],
        None,
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("WWW-Authenticate").is_some());
    assert!(wrong.json()["error"].is_string());
    let missing = server.call("POST", "/_admin/reset", &[], None);
    assert_eq!(missing.status, 401);
}

#[test]
fn admin_api_is_404_without_admin_token() {
    // Run the binary directly, without the harness's --admin-token.
    let dir = crate::support::TempDir::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.join("db"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let reply = call(
        "POST",
        &format!("{url}/_admin/reset"),
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        None,
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(reply.status, 404);
}

fn create_john(server: &Server, email: &str) -> u16 {
    let body = json!({"client": {"company_name": "MX", "email": email,
                                 "first_name": "John", "last_name": "Foo"}});
    server
        .post(
            "/mx/clients",
            &[
                ("Accept", MX_ACCEPT),
                ("Authorization", MX_DEMO_AUTH),
                ("Content-Type", "application/json"),
            ],
            &body.to_string(),
        )
        .status
}

#[test]
fn reset_deletes_data_and_keeps_the_startup_tenants() {
    let server = Server::start();
    assert_eq!(create_john(&server, "john.foo@mx.com"), 200);
    assert_eq!(server.count("mx_clients"), 1);
    let reply = server.admin("POST", "/reset", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(server.count("mx_clients"), 0);
    assert_eq!(server.count("mx_processors"), 1);
    assert_eq!(
        create_john(&server, "john.foo@mx.com"),
        200,
        "demo credentials still work"
    );
}

#[test]
fn admin_seed_adds_tenants_that_can_authenticate() {
    let server = Server::builder().no_demo().start();
    assert_eq!(
        create_john(&server, "a@example.com"),
        401,
        "no demo without --demo"
    );
    let seed = json!({"mx": {"processors": [{"id": "PROCESSOR-1234", "api_key": "API-KEY-4567"}]}});
    let reply = server.admin("POST", "/seed", Some(&seed.to_string()));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["seeded"]["mx"]["processors"], 1);
    assert_eq!(create_john(&server, "a@example.com"), 200);

    let bad = server.admin(
        "POST",
        "/seed",
        Some(r#"{"mx": {"processors": [{"id": 5}]}}"#),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"]
        .as_str()
        .unwrap()
        .contains("invalid seed"));
    let dangling = json!({"shieldconex": {"clients": [{"name": "X", "directPartner": 999}]}});
    let bad = server.admin("POST", "/seed", Some(&dangling.to_string()));
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(
        server.count("sc_clients"),
        0,
        "a failed seed writes nothing"
    );
}

#[test]
fn seed_file_is_loaded_at_startup_and_is_idempotent() {
    let dir = crate::support::TempDir::new();
    let seed_path = dir.join("seed.json");
    std::fs::write(
        &seed_path,
        json!({"mx": {"processors": [{"id": "P-9", "api_key": "k9", "name": "Nine"}]}}).to_string(),
    )
    .unwrap();
    let server = Server::builder()
        .no_demo()
        .arg("--seed")
        .arg(seed_path.to_str().unwrap())
        .start_in(dir);
    assert_eq!(server.count("mx_processors"), 1);
    let dir = server.kill();
    let seed_path = dir.join("seed.json");
    let server = Server::builder()
        .no_demo()
        .arg("--seed")
        .arg(seed_path.to_str().unwrap())
        .start_in(dir);
    assert_eq!(
        server.count("mx_processors"),
        1,
        "loading twice adds nothing"
    );
    let name: String = server
        .db()
        .query_row("SELECT name FROM mx_processors", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "Nine");
}

#[test]
fn options_come_from_the_environment_too() {
    let server = Server::builder()
        .no_demo()
        .env("CLIENTELE_DEMO", "true")
        .start();
    assert_eq!(create_john(&server, "env@example.com"), 200);
}

#[test]
fn sigterm_exits_zero_and_keeps_what_was_acknowledged() {
    let mut server = Server::start();
    assert_eq!(create_john(&server, "john.foo@mx.com"), 200);
    let status = server.terminate();
    assert_eq!(status.code(), Some(0));
    assert_eq!(server.count("mx_clients"), 1);
}

#[test]
fn sigkill_loses_nothing_acknowledged() {
    let server = Server::start();
    for i in 0..20 {
        assert_eq!(create_john(&server, &format!("u{i}@example.com")), 200);
    }
    let dir = server.kill();
    let server = Server::builder().start_in(dir);
    assert_eq!(server.count("mx_clients"), 20);
}

#[test]
fn help_documents_every_option() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--listen",
        "--db",
        "--mail",
        "--mail-from",
        "--public-url",
        "--demo",
        "--seed",
        "--admin-token",
        "--listen-mx",
        "--link-ttl",
        "--nueve09-signing-key-file",
        "CLIENTELE_NUEVE09_SIGNING_KEY",
        "CLIENTELE_DB",
    ] {
        assert!(help.contains(option), "serve --help lacks {option}");
    }
}

#[test]
fn an_unusable_database_path_fails_with_a_message() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            "/nonexistent/dir/x.db",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot open the database"));
    assert!(
        output.stdout.is_empty(),
        "no readiness line when startup fails"
    );
}

/// A PostgreSQL database that cannot be reached, or a URL that is not one, stops startup with
/// the reason and exit 1, and the URL (with its password) is never printed.
#[test]
fn an_unreachable_or_malformed_postgres_url_fails_with_a_message_and_no_password() {
    // Port 1 on loopback: nothing listens there.
    for (url, reason) in [
        (
            "postgres://clientele:s3cret-pw@127.0.0.1:1/clientele",
            "unavailable",
        ),
        (
            "postgresql://clientele:s3cret-pw@127.0.0.1:1/clientele?sslmode=sometimes",
            "sslmode",
        ),
        (
            "postgres://clientele:s3cret-pw@127.0.0.1:1/clientele?nonsense=1",
            "not a PostgreSQL URL",
        ),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_clientele"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--db-timeout",
                "2s",
                "--db",
                url,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{url}: {stderr}");
        assert!(
            stderr.contains("cannot open the database of --db"),
            "{stderr}"
        );
        assert!(stderr.contains(reason), "{url}: {stderr}");
        assert!(
            !stderr.contains("s3cret-pw"),
            "the password was printed: {stderr}"
        );
        assert!(
            output.stdout.is_empty(),
            "no readiness line when startup fails"
        );
    }
}

/// Regression test for the tiny_http connection-starvation bug (CONTRIBUTING.md, "The vendored
/// tiny_http"): many keep-alive connections opened at once must each get their answer.
#[test]
fn many_simultaneous_keep_alive_connections_are_all_answered() {
    let server = Server::start();
    let addr = server.url.trim_start_matches("http://").to_string();
    for _round in 0..5 {
        let mut sockets: Vec<TcpStream> = (0..48)
            .map(|_| TcpStream::connect(&addr).expect("connecting"))
            .collect();
        for s in &mut sockets {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
                .unwrap();
        }
        for s in &mut sockets {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 512];
            let n = s
                .read(&mut buf)
                .expect("every connection gets an answer in time");
            assert!(
                buf[..n].starts_with(b"HTTP/1.1 200"),
                "{:?}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
    }
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    let mut server = Server::start();
    let slow = json!({"flavour": "mx", "path": "/clients", "delay_ms": 600, "times": 1});
    assert_eq!(
        server
            .admin("POST", "/faults", Some(&slow.to_string()))
            .status,
        201
    );
    let url = server.url.clone();
    let in_flight = std::thread::spawn(move || {
        let body = json!({"client": {"company_name": "MX", "email": "late@example.com",
                                     "first_name": "L", "last_name": "F"}});
        call(
            "POST",
            &format!("{url}/mx/clients"),
            &[
                ("Accept", MX_ACCEPT),
                ("Authorization", MX_DEMO_AUTH),
                ("Content-Type", "application/json"),
            ],
            Some(body.to_string().as_bytes()),
        )
        .status
    });
    std::thread::sleep(Duration::from_millis(200));
    server.signal("TERM");
    assert_eq!(in_flight.join().unwrap(), 200, "answered before exiting");
    assert_eq!(server.wait_exit().code(), Some(0));
    assert_eq!(server.count("mx_clients"), 1);
}

/// A client cannot make the server allocate without bound with one endless header line
/// (the vendored tiny_http read header lines of any length): past 16 KiB it answers 400 and
/// closes, and the server carries on.
#[test]
fn an_endless_header_line_is_cut_off_with_400() {
    let server = Server::start();
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut socket = TcpStream::connect(&addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ")
        .unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    // The server closes after its 400; later writes may fail, which is the point.
    for _ in 0..64 {
        if socket.write_all(&chunk).is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(80)])
    );
    let many: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    let mut socket = TcpStream::connect(&addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    assert!(answer.starts_with(b"HTTP/1.1 400"));
    assert_eq!(server.get("/healthz", &[]).status, 200);
}

/// Runs `serve` on a free port and an in-memory database with these extra arguments and
/// environment; the process must fail at startup (it is killed after 10 s otherwise).
pub(crate) fn failed_start(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--db", ":memory:"];
    all.extend_from_slice(args);
    crate::support::run_briefly(&all, envs)
}

#[test]
fn an_empty_admin_token_is_refused_at_startup() {
    let runs = [
        failed_start(&["--admin-token", ""], &[]),
        failed_start(&["--admin-token", "  "], &[]),
        failed_start(&[], &[("CLIENTELE_ADMIN_TOKEN", "")]),
        failed_start(&[], &[("CLIENTELE_ADMIN_TOKEN", " \t")]),
    ];
    for output in runs {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("--admin-token"), "{stderr}");
        assert!(stderr.contains("is empty"), "{stderr}");
        assert!(output.stdout.is_empty(), "no readiness line");
    }
}

#[test]
fn healthz_answers_get_and_head_only() {
    let server = Server::start();
    assert_eq!(server.call("HEAD", "/healthz", &[], None).status, 200);
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let reply = server.call(method, "/healthz", &[], Some(b"{}"));
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("Allow"), Some("GET, HEAD"), "{method}");
    }
    // A method that is no HTTP token at all, over a raw socket: the request line is
    // malformed (RFC 9112 §3), and the connection closed.
    let addr = server.url.trim_start_matches("http://");
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
        .write_all(b"F@@ /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Connection: close"), "{answer}");
}
