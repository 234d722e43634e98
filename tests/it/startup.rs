//! What startup says: every wrong setting refused before the readiness line, with one line
//! that names the option and what to do; no secret in any message; the switches and
//! durations of the environment read as people write them.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{mx_invite, sqlite_only, Server, TempDir};

/// Runs `clientele` with `args` and `envs` (and no other CLIENTELE_ variable), in `dir`.
fn clientele(dir: &TempDir, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clientele"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CLIENTELE_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir.path())
        .stdin(Stdio::null());
    // A server that wrongly starts would serve on: it is killed after a while.
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning clientele");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("waiting for clientele").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("clientele's output")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A serve that must be refused: exit 1 or 2, no readiness line, and its stderr.
fn refused(dir: &TempDir, args: &[&str], envs: &[(&str, &str)]) -> String {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let output = clientele(dir, &all, envs);
    let shown = text(&output);
    assert!(
        matches!(output.status.code(), Some(1 | 2)),
        "{args:?} {envs:?}: {:?}\n{shown}",
        output.status
    );
    assert!(output.stdout.is_empty(), "no readiness line: {shown}");
    shown
}

/// Every option and variable that carries a secret, given a malformed value: refused, and
/// the secret is nowhere in what was printed.
#[test]
fn malformed_secret_bearing_values_are_refused_without_showing_the_secret() {
    let dir = TempDir::new();
    let secret = "S3cretPW-never-shown";
    let cases: Vec<(&str, String)> = vec![
        (
            "mail",
            format!("smtp://apikey:{secret}@mail.example.com:notaport"),
        ),
        (
            "mail",
            format!("smtp://apikey:{secret}@mail.example.com:25?tls=maybe"),
        ),
        (
            "mail",
            format!("smtp://apikey:{secret}/x@mail.example.com:25"),
        ),
        (
            "db",
            format!("postgres://clientele:{secret}@127.0.0.1:notaport/x"),
        ),
        (
            "db",
            format!("postgres://clientele:{secret}@127.0.0.1:1/x?nonsense=1"),
        ),
        ("nueve09-signing-key", secret.to_string()),
    ];
    for (option, value) in &cases {
        let variable = format!("CLIENTELE_{}", option.to_uppercase().replace('-', "_"));
        let flag = format!("--{option}");
        let on_command_line = refused(&dir, &["--db-timeout", "1s", &flag, value], &[]);
        let from_environment = refused(&dir, &["--db-timeout", "1s"], &[(&variable, value)]);
        for shown in [on_command_line, from_environment] {
            assert!(
                !shown.contains(secret),
                "{option} shows its secret:\n{shown}"
            );
            assert!(
                shown.contains(option),
                "{option}: the message names it:\n{shown}"
            );
        }
    }
    // The admin token is never malformed, but a refusal of another option beside it must
    // not show it either.
    let token = "admin-token-never-shown";
    for shown in [
        refused(&dir, &["--admin-token", token, "--workers", "many"], &[]),
        refused(
            &dir,
            &["--workers", "many"],
            &[("CLIENTELE_ADMIN_TOKEN", token)],
        ),
    ] {
        assert!(!shown.contains(token), "{shown}");
    }
}

#[test]
fn an_mbox_that_cannot_be_appended_to_stops_startup() {
    let dir = TempDir::new();
    let shown = refused(
        &dir,
        &[
            "--db",
            ":memory:",
            "--mail",
            "mbox:/proc/no-such-folder/mail.mbox",
        ],
        &[],
    );
    let line = shown
        .lines()
        .find(|l| l.contains("--mail"))
        .unwrap_or_else(|| panic!("no line names --mail:\n{shown}"));
    assert!(line.contains("/proc/no-such-folder/mail.mbox"), "{line}");
    assert!(line.contains("cannot append"), "{line}");
}

/// A database file the server may only read (`chattr +i` makes it so even for root):
/// refused at startup, naming --db, the file and the fix.
#[test]
fn a_database_that_cannot_be_written_stops_startup() {
    if sqlite_only("a read-only database file") {
        return;
    }
    let dir = TempDir::new();
    let db = dir.join("clientele.db").display().to_string();
    drop(Server::builder().database(&db).start());
    let immutable = Command::new("chattr").args(["+i", &db]).status();
    if !immutable.is_ok_and(|s| s.success()) {
        eprintln!("not run: chattr +i is not available on this filesystem");
        return;
    }
    let shown = refused(&dir, &["--db", &db, "--mail", "mbox:m.mbox"], &[]);
    let _ = Command::new("chattr").args(["-i", &db]).status();
    let line = shown
        .lines()
        .find(|l| l.contains("--db"))
        .unwrap_or_else(|| panic!("no line names --db:\n{shown}"));
    assert!(line.contains(&db), "{line}");
    assert!(line.contains("cannot be written"), "{line}");
    assert!(line.contains("write access"), "{line}");
}

/// Past startup, a database another process keeps locked: writes get the vendor's 503 (not
/// a bare 500) once the wait for the lock runs out, `/healthz` says so at once, and both
/// recover when the lock is let go.
#[test]
fn a_database_locked_elsewhere_answers_503_and_healthz_reports_it() {
    if sqlite_only("a lock on the SQLite file") {
        return;
    }
    let server = Server::start();
    let db = server.dir().join("clientele.db");
    let other = rusqlite::Connection::open(&db).expect("opening the database beside it");
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("taking the write lock");
    // At once, or once a write of the server's own (mail, housekeeping) has waited a while.
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut health = server.get("/healthz", &[]);
    while health.status == 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        health = server.get("/healthz", &[]);
    }
    assert_eq!(health.status, 503, "{}", health.body);
    assert!(health.body.contains("locked"), "{}", health.body);
    let create = mx_invite(&server, "locked@example.com");
    assert_eq!(create.status, 503, "{}", create.body);
    assert_eq!(create.body, r#"{"error":"Service Unavailable"}"#);
    other.execute_batch("ROLLBACK").expect("letting it go");
    // A finding stands for a second, so that a polling balancer costs one probe a second.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.get("/healthz", &[]).status != 200 {
        assert!(
            Instant::now() < deadline,
            "/healthz stays 503 after the lock is gone"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(mx_invite(&server, "locked@example.com").status, 200);
}

#[test]
fn durations_need_a_unit_on_the_command_line_and_in_the_environment() {
    let dir = TempDir::new();
    let shown = refused(&dir, &["--db", ":memory:", "--link-ttl", "7"], &[]);
    assert!(shown.contains("--link-ttl"), "{shown}");
    assert!(
        shown.contains("needs a unit") && shown.contains("7d"),
        "{shown}"
    );
    let shown = refused(
        &dir,
        &["--db", ":memory:"],
        &[("CLIENTELE_IDLE_TIMEOUT", "30")],
    );
    assert!(shown.contains("CLIENTELE_IDLE_TIMEOUT"), "{shown}");
    assert!(shown.contains("30s"), "{shown}");
}

#[test]
fn switches_in_the_environment_take_the_usual_forms_and_refusals_name_the_variable() {
    let dir = TempDir::new();
    for yes in ["1", "true", "yes", "on", "TRUE"] {
        let server = Server::builder()
            .no_demo()
            .env("CLIENTELE_DEMO", yes)
            .start();
        assert_eq!(
            mx_invite(&server, "demo@example.com").status,
            200,
            "CLIENTELE_DEMO={yes} seeds the demo processor"
        );
    }
    let server = Server::builder()
        .no_demo()
        .env("CLIENTELE_DEMO", "0")
        .start();
    assert_eq!(mx_invite(&server, "demo@example.com").status, 401);
    let shown = refused(&dir, &["--db", ":memory:"], &[("CLIENTELE_DEMO", "maybe")]);
    assert!(shown.contains("CLIENTELE_DEMO"), "{shown}");
    assert!(shown.contains("yes or no"), "{shown}");
}

/// A symbolic link to a database another server serves leads to the same lock.
#[test]
fn a_second_server_through_a_symbolic_link_is_refused() {
    if sqlite_only("the lock of a SQLite file") {
        return;
    }
    let first = Server::start();
    let db = first.dir().join("clientele.db");
    let link = first.dir().join("link.db");
    std::os::unix::fs::symlink(&db, &link).expect("a symbolic link");
    let dir = TempDir::new();
    let shown = refused(
        &dir,
        &["--db", &link.display().to_string(), "--mail", "mbox:m.mbox"],
        &[],
    );
    assert!(shown.contains("another clientele"), "{shown}");
}
