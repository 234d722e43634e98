//! The front door: what is checked before a request gets anywhere (sign-in timing, the
//! database lock, the log that must never block, the Nueve09 signing key).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{mx_invite, newest_link_path, post_form, set_cookie, Server};

fn basic(user: &str, secret: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
    format!("Basic {encoded}")
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median time of failed sign-ins as a known user with wrong secrets, and as an unknown one.
/// Every attempt uses a fresh secret, so no remembered verdict short-cuts it.
fn failed_sign_in_times(mut attempt: impl FnMut(bool, &str) -> u16) -> (Duration, Duration) {
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..7 {
        for (is_known, samples) in [(true, &mut known), (false, &mut unknown)] {
            let secret = format!("wrong secret {i} {is_known}");
            let started = Instant::now();
            let status = attempt(is_known, &secret);
            samples.push(started.elapsed());
            assert!((400..500).contains(&status), "a failed sign-in: {status}");
        }
    }
    (median(known), median(unknown))
}

fn assert_alike(what: &str, (known, unknown): (Duration, Duration)) {
    // A wrong secret costs one argon2 run (milliseconds); a name nobody has must cost it too.
    assert!(
        unknown * 3 >= known,
        "{what}: unknown user {unknown:?}, known user with a wrong secret {known:?}"
    );
}

#[test]
fn a_failed_sign_in_costs_the_same_for_unknown_and_known_users() {
    let server = Server::start();
    // An MX client with a dashboard password.
    const EMAIL: &str = "john.foo@mx.com";
    assert_eq!(mx_invite(&server, EMAIL).status, 200);
    let link = newest_link_path(&server, EMAIL);
    let form = server.get(&link, &[]);
    let cookie = set_cookie(&form, "mx_csrf").unwrap();
    let csrf = cookie.split_once('=').unwrap().1.to_string();
    let password = "correct horse battery";
    let registered = post_form(
        &server,
        &link,
        &cookie,
        &[
            ("csrf", &csrf),
            ("password", password),
            ("password_confirmation", password),
        ],
    );
    assert_eq!(registered.status, 303);

    let mx = failed_sign_in_times(|known, secret| {
        let user = if known {
            "PROCESSOR-1234"
        } else {
            "PROCESSOR-9999"
        };
        let auth = basic(user, secret);
        server
            .post("/mx/clients", &[("Authorization", &auth)], "{}")
            .status
    });
    assert_alike("MX Basic", mx);

    let shieldconex = failed_sign_in_times(|known, secret| {
        let user = if known {
            "waterford@example.com"
        } else {
            "nobody@example.com"
        };
        let auth = basic(user, secret);
        server
            .get("/shieldconex/api/v1/clients", &[("Authorization", &auth)])
            .status
    });
    assert_alike("ShieldConex Basic", shieldconex);

    let nueve09 = failed_sign_in_times(|known, secret| {
        let api_key = if known { "api_key" } else { "no_such_key" };
        let body = json!({"api_client": {"api_key": api_key, "password": secret}});
        server
            .post(
                "/nueve09/auth/login",
                &[("Content-Type", "application/json")],
                &body.to_string(),
            )
            .status
    });
    assert_alike("Nueve09 login", nueve09);

    let makeleaps = failed_sign_in_times(|known, secret| {
        let client = if known {
            "demo-client-id"
        } else {
            "no-such-client"
        };
        let auth = basic(client, secret);
        server
            .post(
                "/makeleaps/user/oauth2/token/",
                &[
                    ("Authorization", &auth),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                "grant_type=client_credentials",
            )
            .status
    });
    assert_alike("MakeLeaps client secret", makeleaps);

    let login = server.get("/mx/dashboard/login", &[]);
    let csrf_cookie = set_cookie(&login, "mx_csrf").unwrap();
    let csrf = csrf_cookie.split_once('=').unwrap().1.to_string();
    let dashboard = failed_sign_in_times(|known, secret| {
        let email = if known { EMAIL } else { "nobody@mx.com" };
        post_form(
            &server,
            "/mx/dashboard/login",
            &csrf_cookie,
            &[("csrf", &csrf), ("email", email), ("password", secret)],
        )
        .status
    });
    assert_alike("MX dashboard sign-in", dashboard);
}

#[test]
fn a_second_server_on_the_same_database_file_is_refused() {
    if crate::support::sqlite_only("the lock file") {
        return;
    }
    let server = Server::start();
    let db = server.db_path();
    let mbox = format!("mbox:{}", server.dir().join("second.mbox").display());
    let db_arg = db.display().to_string();
    let output = crate::support::run_briefly(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            &db_arg,
            "--mail",
            &mbox,
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty(), "no readiness line");
    assert!(
        stderr.contains(&format!("{}.lock", db.display())),
        "names the lock file: {stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {}", server.pid())),
        "names the process that holds it: {stderr}"
    );
    // The first one is untouched and serves on.
    assert_eq!(
        crate::support::mx_invite(&server, "a@example.com").status,
        200
    );
    assert_eq!(server.get("/healthz", &[]).status, 200);
    // Once it has gone, the file is free again.
    let dir = server.kill();
    let again = Server::builder().start_in(dir);
    assert_eq!(again.count("mx_clients"), 1);
}

/// `requests` GETs of `path` over one keep-alive connection (a new one if the server closes
/// it); every answer must be a 200 within 10 s.
fn keep_alive_gets(addr: &str, path: &str, requests: usize) {
    use std::io::{BufRead, BufReader, Read, Write};
    let connect = || {
        let socket = std::net::TcpStream::connect(addr).expect("connecting");
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        socket
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        BufReader::new(socket)
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut reader = connect();
    let mut done = 0;
    while done < requests {
        reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut status = String::new();
        if reader.read_line(&mut status).expect("an answer in time") == 0 {
            reader = connect(); // closed by the server between requests: ask again
            continue;
        }
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "{status:?} after {done}"
        );
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).expect("headers in time");
            if header == "\r\n" || header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("the body in time");
        done += 1;
    }
}

#[test]
fn a_stderr_nobody_reads_does_not_stop_the_server() {
    let mut server = Server::builder().no_demo().stderr_unread().start();
    let addr = server.url.trim_start_matches("http://").to_string();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || keep_alive_gets(&addr, "/healthz", 25_000))
        })
        .collect();
    for thread in threads {
        thread.join().expect("100,000 requests answered");
    }
    let health = server.get("/healthz", &[]);
    assert_eq!(health.status, 200);
    let dropped = health.json()["log_lines_dropped"].as_u64().unwrap();
    assert!(dropped > 0, "{}", health.body);
    let admin = server.admin("GET", "/log", None).json();
    assert!(admin["log_lines_dropped"].as_u64().unwrap() >= dropped);

    // Once someone reads, the log flows again and says what was lost.
    let mut pipe = server.take_unread_stderr();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(&mut pipe).lines() {
            let Ok(line) = line else { break };
            if line.contains("log lines dropped)") {
                let _ = tx.send(line);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let reported = loop {
        assert_eq!(server.get("/healthz", &[]).status, 200);
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
            break line;
        }
        assert!(
            Instant::now() < deadline,
            "no line reported the dropped ones"
        );
    };
    let count: u64 = reported
        .rsplit_once('(')
        .and_then(|(_, n)| n.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{reported}"));
    assert!(count > 0, "{reported}");
}

/// Logs the demo Nueve09 account in; its bearer token.
fn nueve09_token(server: &Server) -> String {
    let body = r#"{"api_client":{"api_key":"api_key","password":"password"}}"#;
    let reply = server.post(
        "/nueve09/auth/login",
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.header("Authorization").unwrap()["Bearer ".len()..].to_string()
}

/// True when `token`'s HS256 signature is made with `key`.
fn signed_with(token: &str, key: &[u8]) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(signed.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

#[test]
fn the_nueve09_signing_key_can_come_from_a_file_or_the_environment() {
    const KEY: &str = "0123456789abcdef0123456789abcdef-from-a-file";
    let dir = crate::support::TempDir::new();
    let key_file = dir.join("signing.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let server = Server::builder()
        .arg("--nueve09-signing-key-file")
        .arg(key_file.display().to_string())
        .start_in(dir);
    let token = nueve09_token(&server);
    assert!(signed_with(&token, KEY.as_bytes()), "{token}");
    let states = server.get(
        "/nueve09/catalogs/states",
        &[("Authorization", &format!("Bearer {token}"))],
    );
    assert_eq!(states.status, 200, "{}", states.body);
    assert_eq!(server.count("n09_signing_key"), 0, "not in the database");
    assert!(server.stderr_shows("signed with the key in"));

    const ENV_KEY: &str = "an environment key of well over thirty-two bytes";
    let server = Server::builder()
        .env("CLIENTELE_NUEVE09_SIGNING_KEY", ENV_KEY)
        .start();
    let token = nueve09_token(&server);
    assert!(signed_with(&token, ENV_KEY.as_bytes()), "{token}");
    assert_eq!(server.count("n09_signing_key"), 0, "not in the database");
}

#[test]
fn a_generated_nueve09_signing_key_is_kept_in_the_database_and_says_so() {
    let server = Server::start();
    // A PostgreSQL URL is not repeated: it may hold a password.
    let database = match crate::support::postgres() {
        Some(_) => "PostgreSQL database of --db".to_string(),
        None => format!("database {}", server.db_path().display()),
    };
    assert!(
        server.stderr_shows(&format!("kept in the clear in the {database}")),
        "{}",
        server.stderr()
    );
    let token = nueve09_token(&server);
    let key: Vec<u8> = server
        .db()
        .query_row("SELECT secret FROM n09_signing_key", [], |r| r.get(0))
        .unwrap();
    assert!(signed_with(&token, &key));
}

#[test]
fn a_short_or_unreadable_nueve09_signing_key_is_refused_at_startup() {
    let dir = crate::support::TempDir::new();
    let short = dir.join("short.key");
    std::fs::write(&short, "too short\n").unwrap();
    let missing = dir.join("missing.key");
    let (short, missing) = (short.display().to_string(), missing.display().to_string());
    let flag = "--nueve09-signing-key-file";
    let env = "CLIENTELE_NUEVE09_SIGNING_KEY";
    let outputs = [
        (
            crate::core::failed_start(&[flag, &short], &[]),
            "at least 32",
        ),
        (
            crate::core::failed_start(&[flag, &missing], &[]),
            "missing.key",
        ),
        (
            crate::core::failed_start(&[], &[(env, "short")]),
            "at least 32",
        ),
    ];
    for (output, expected) in outputs {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(output.stdout.is_empty(), "no readiness line");
    }
}

#[test]
fn sigterm_stops_a_server_whose_stderr_nobody_reads() {
    let mut server = Server::builder().no_demo().stderr_unread().start();
    let addr = server.url.trim_start_matches("http://").to_string();
    // Enough log lines to fill the pipe (64 KiB) and the log's queue behind it.
    keep_alive_gets(&addr, "/healthz", 12_000);
    let health = server.get("/healthz", &[]).json();
    assert!(
        health["log_lines_dropped"].as_u64().unwrap() > 0,
        "{health}"
    );
    assert_eq!(server.terminate().code(), Some(0));
}

/// A raw exchange from `local`: the status and the headers of the answer, and its body.
fn exchange_from(server: &Server, local: &str, request: &str) -> (u16, String) {
    use std::io::Write;
    let mut stream = crate::socket_limits::connect_from(server, local, None);
    stream.write_all(request.as_bytes()).unwrap();
    let answer = crate::socket_limits::read_until_closed(&mut stream);
    let status = answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer: {answer:?}"));
    (status, answer)
}

/// An answer's header (its first line of that name), from the raw text.
fn raw_header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer.split("\r\n\r\n").next()?.lines().find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// `GET /_admin/log` from `local` with `token`.
fn admin_from(server: &Server, local: &str, token: &str) -> (u16, String) {
    let request = format!(
        "GET /_admin/log HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    exchange_from(server, local, &request)
}

#[test]
fn guessing_the_admin_token_is_slowed_per_address_and_logged() {
    let server = Server::start();
    let right = crate::support::ADMIN_TOKEN;
    // Five wrong tokens are free; the sixth shuts the address out for a second.
    for i in 0..6 {
        let (status, _) = admin_from(&server, "127.0.0.2", &format!("guess-{i}"));
        assert_eq!(status, 401, "guess {i}");
    }
    let (status, answer) = admin_from(&server, "127.0.0.2", "guess-6");
    assert_eq!(status, 429, "{answer}");
    assert_eq!(raw_header(&answer, "Retry-After"), Some("1"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"too many wrong admin tokens"#),
        "{answer}"
    );
    // While it is shut out, even the right token is not looked at from there...
    assert_eq!(admin_from(&server, "127.0.0.2", right).0, 429);
    // ...but from another address it works at once.
    assert_eq!(admin_from(&server, "127.0.0.3", right).0, 200);
    assert!(
        server.stderr_shows("6 wrong admin tokens from 127.0.0.2"),
        "{}",
        server.stderr()
    );
    // Once the second has passed, one more wrong token shuts it out for two.
    let deadline = Instant::now() + Duration::from_secs(10);
    while admin_from(&server, "127.0.0.2", "guess-7").0 == 429 {
        assert!(Instant::now() < deadline, "still shut out");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, answer) = admin_from(&server, "127.0.0.2", "guess-8");
    assert_eq!(status, 429);
    assert_eq!(raw_header(&answer, "Retry-After"), Some("2"), "{answer}");
}

#[test]
fn guessing_the_token_at_the_console_sign_in_is_slowed_too() {
    let server = Server::start();
    let (status, page) = exchange_from(
        &server,
        "127.0.0.4",
        "GET /_admin/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    let cookie = raw_header(&page, "Set-Cookie")
        .and_then(|c| c.split(';').next())
        .expect("the sign-in form's cookie")
        .to_string();
    let csrf = cookie.split_once('=').unwrap().1.to_string();
    let sign_in = |local: &str, token: &str| {
        let body = format!("csrf={csrf}&token={token}");
        let request = format!(
            "POST /_admin/console/signin HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        exchange_from(&server, local, &request)
    };
    for i in 0..6 {
        assert_eq!(
            sign_in("127.0.0.4", &format!("guess-{i}")).0,
            401,
            "guess {i}"
        );
    }
    let (status, page) = sign_in("127.0.0.4", "guess-6");
    assert_eq!(status, 429, "{page}");
    assert!(raw_header(&page, "Retry-After").is_some(), "{page}");
    assert!(page.contains("Too many wrong tokens"), "{page}");
    // The admin API counts the same address, and another address signs in.
    assert_eq!(
        admin_from(&server, "127.0.0.4", crate::support::ADMIN_TOKEN).0,
        429
    );
    assert_eq!(sign_in("127.0.0.5", crate::support::ADMIN_TOKEN).0, 303);
}

#[test]
fn every_html_page_refuses_to_be_framed() {
    let server = Server::start();
    assert_eq!(mx_invite(&server, "framed@example.com").status, 200);
    let mx_link = newest_link_path(&server, "framed@example.com");
    let waterford = basic("waterford@example.com", "waterford123");
    let user = json!({"userName": "Framed", "firstName": "F", "lastName": "R",
                      "email": "framed@shieldconex.example", "phone": "+14155552671",
                      "partner": {"id": 793}, "userRole": {"name": "Partner User"},
                      "isActive": true, "sendWelcomeEmail": true});
    let created = server.post(
        "/shieldconex/api/v1/users",
        &[
            ("Authorization", &waterford),
            ("Content-Type", "application/json"),
        ],
        &user.to_string(),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let welcome = newest_link_path(&server, "framed@shieldconex.example");
    let pages = [
        "/mx/dashboard/login",
        &mx_link,
        "/mx/dashboard/register/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &welcome,
        "/shieldconex/welcome/not-a-token",
        "/_admin/",
    ];
    for path in pages {
        let page = server.get(path, &[]);
        assert!(
            page.header("Content-Type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{path}: {page:?}"
        );
        assert_eq!(page.header("X-Frame-Options"), Some("DENY"), "{path}");
        let policies: Vec<&str> = page
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("Content-Security-Policy"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(policies.len(), 1, "{path}: one policy: {policies:?}");
        assert!(
            policies[0].contains("frame-ancestors 'none'"),
            "{path}: {policies:?}"
        );
    }
}
