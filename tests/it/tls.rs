//! HTTPS (`--tls-cert`/`--tls-key`, docs/deploy.md): every listener speaks TLS 1.3 and 1.2 and
//! nothing older, through the vendored tiny_http's rustls 0.23 module. Each test makes its
//! own self-signed certificate for 127.0.0.1 and localhost with the `openssl` command.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::support::{call_with, mx_invite, newest_link_path, post_form, set_cookie};
use crate::support::{Server, TempDir};

/// A self-signed P-256 certificate and its key, valid for localhost and 127.0.0.1.
struct Certificate {
    dir: TempDir,
}

impl Certificate {
    fn new() -> Certificate {
        let dir = TempDir::new();
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            // A leaf, not a CA (webpki refuses a CA certificate as the server's own).
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "extendedKeyUsage=serverAuth"])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("running openssl");
        assert!(status.success(), "openssl req failed");
        Certificate { dir }
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    fn pem(&self) -> Vec<u8> {
        std::fs::read(self.cert()).expect("reading the certificate")
    }

    fn serve(&self) -> Server {
        Server::builder().tls(&self.cert(), &self.key()).start()
    }
}

/// `host:port` of an `https://` base URL.
fn authority(url: &str) -> &str {
    url.strip_prefix("https://").expect("an https URL")
}

/// A raw rustls client connection limited to `version`, trusting `cert_pem`.
fn connect(
    server: &Server,
    cert_pem: &[u8],
    version: &'static rustls::SupportedProtocolVersion,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cert_pem).expect("a PEM certificate"))
        .expect("a usable root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .expect("a supported version")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connection =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap())
            .expect("a client connection");
    let socket = TcpStream::connect(authority(&server.url)).expect("connecting");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    rustls::StreamOwned::new(connection, socket)
}

/// One `GET /healthz` limited to `version`: the version negotiated and the whole response.
fn healthz_over(
    server: &Server,
    cert_pem: &[u8],
    version: &'static rustls::SupportedProtocolVersion,
) -> (rustls::ProtocolVersion, String) {
    let mut tls = connect(server, cert_pem, version);
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("sending the request");
    let mut response = Vec::new();
    // Ok only if the server closed with a close_notify (rustls reports a bare FIN as an
    // unexpected EOF).
    tls.read_to_end(&mut response)
        .expect("a response ending with close_notify");
    let version = tls.conn.protocol_version().expect("a finished handshake");
    (version, String::from_utf8_lossy(&response).into_owned())
}

/// `openssl s_client` limited to one protocol version (`-tls1_1`, `-tls1_2`).
fn s_client(server: &Server, version_flag: &str) -> Output {
    Command::new("openssl")
        .args(["s_client", "-connect", authority(&server.url), version_flag])
        // OpenSSL 3 will not even offer TLS 1.1 at its default security level.
        .args(["-cipher", "DEFAULT@SECLEVEL=0"])
        .stdin(Stdio::null())
        .output()
        .expect("running openssl s_client")
}

/// Runs `clientele serve` (no harness) expecting it to fail; its exit code and stderr.
fn failed_start(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_clientele"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--mail",
        ])
        .arg(format!("mbox:{}", dir.join("mbox").display()))
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in envs {
        command.env(k, v);
    }
    let output = command.output().expect("running clientele");
    assert!(output.stdout.is_empty(), "no readiness line");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_readiness_line_says_https_and_healthz_answers_over_tls() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let reply = server.get("/healthz", &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["status"], "ok");
}

#[test]
fn tls_1_3_and_tls_1_2_are_both_served() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    for (version, expected) in [
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
    ] {
        let (negotiated, response) = healthz_over(&server, &certificate.pem(), version);
        assert_eq!(negotiated, expected);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains(r#""status":"ok""#), "{response}");
    }
}

#[test]
fn one_tls_connection_carries_several_requests() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    let mut tls = connect(&server, &certificate.pem(), &rustls::version::TLS13);
    // Pipelined: tiny_http reads the next request on a TLS connection only once the
    // previous one is answered (both directions share one rustls session).
    let keep = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let last = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    tls.write_all(format!("{keep}{keep}{last}").as_bytes())
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).expect("three answers");
    assert_eq!(response.matches("HTTP/1.1 200").count(), 3, "{response}");
}

#[test]
fn ambiguous_framing_over_tls_is_refused_and_closed_with_a_close_notify() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    let mut tls = connect(&server, &certificate.pem(), &rustls::version::TLS13);
    let smuggling = "POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\
                     Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let hidden = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    tls.write_all(format!("{smuggling}{hidden}").as_bytes())
        .unwrap();
    let mut response = Vec::new();
    tls.read_to_end(&mut response)
        .expect("the answer, then a close_notify");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert_eq!(response.matches("HTTP/1.1 ").count(), 1, "{response}");
}

#[test]
fn tls_1_1_is_refused() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    let old = s_client(&server, "-tls1_1");
    assert!(
        !old.status.success(),
        "TLS 1.1 handshake succeeded:\n{}",
        String::from_utf8_lossy(&old.stdout)
    );
    // The same client at TLS 1.2 gets through, so the refusal is the server's.
    let current = s_client(&server, "-tls1_2");
    let out = String::from_utf8_lossy(&current.stdout);
    assert!(current.status.success(), "{out}");
    assert!(out.contains("TLSv1.2"), "{out}");
}

#[test]
fn plain_http_to_the_tls_port_gets_no_http_answer() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    let mut socket = TcpStream::connect(authority(&server.url)).expect("connecting");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let _ = socket.read_to_end(&mut got);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the connection is closed at once, not left to time out"
    );
    assert!(
        !String::from_utf8_lossy(&got).contains("HTTP/"),
        "an HTTP answer: {got:?}"
    );
    // At most a TLS alert record.
    assert!(got.is_empty() || got[0] == 0x15, "{got:?}");
    assert_eq!(server.get("/healthz", &[]).status, 200, "still serving");
}

#[test]
fn the_seed_000_create_works_over_tls_and_the_dashboard_cookies_are_secure() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    let to = "john.foo@mx.com";
    let created = mx_invite(&server, to);
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(server.count("mx_clients"), 1);

    // The mailed link follows the https main URL (the default --public-url).
    let link = newest_link_path(&server, to);
    let form = server.get(&link, &[]);
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf_header = form
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("mx_csrf="))
        .map(|(_, v)| v.clone())
        .expect("a CSRF cookie");
    assert!(csrf_header.contains("; Secure"), "{csrf_header}");
    let csrf_cookie = set_cookie(&form, "mx_csrf").unwrap();
    let csrf = csrf_cookie.split_once('=').unwrap().1.to_string();

    let password = "correct horse battery";
    let registered = post_form(
        &server,
        &link,
        &csrf_cookie,
        &[
            ("csrf", csrf.as_str()),
            ("password", password),
            ("password_confirmation", password),
        ],
    );
    assert_eq!(registered.status, 303, "{}", registered.body);
    let session = registered
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("mx_session="))
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    assert!(session.contains("; Secure"), "{session}");
    assert!(session.contains("HttpOnly"), "{session}");
    let session = session.split(';').next().unwrap();
    let page = server.get("/mx/dashboard/", &[("Cookie", session)]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains(to));
}

#[test]
fn a_dedicated_listener_serves_tls_too() {
    let certificate = Certificate::new();
    let server = Server::builder()
        .tls(&certificate.cert(), &certificate.key())
        .arg("--listen-mx")
        .arg("127.0.0.1:0")
        .start();
    let line = server
        .stderr()
        .lines()
        .find(|l| l.contains("mx listening on "))
        .expect("the dedicated listener is announced on stderr")
        .to_string();
    let url = line.split("listening on ").nth(1).unwrap().trim();
    assert!(url.starts_with("https://127.0.0.1:"), "{line}");
    let reply = call_with(
        &server.agent,
        "GET",
        &format!("{url}/dashboard/login"),
        &[],
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let csrf = reply
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("mx_csrf="));
    assert!(
        csrf.is_some_and(|(_, v)| v.contains("; Secure")),
        "{csrf:?}"
    );
}

#[test]
fn a_drop_fault_closes_the_tls_connection_without_an_answer() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    let drop = serde_json::json!({"flavour": "mx", "drop": true, "times": 1});
    assert_eq!(
        server
            .admin("POST", "/faults", Some(&drop.to_string()))
            .status,
        201
    );
    let mut tls = connect(&server, &certificate.pem(), &rustls::version::TLS13);
    let request = format!(
        "POST /mx/clients HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\
         Content-Length: 0\r\n\r\n",
        crate::support::MX_DEMO_AUTH
    );
    tls.write_all(request.as_bytes()).unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let read = tls.read_to_end(&mut got);
    assert!(started.elapsed() < Duration::from_secs(5), "closed at once");
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    // Cut, not closed: the TLS session ends without a close_notify.
    assert_eq!(
        read.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::UnexpectedEof)
    );
    assert_eq!(server.get("/healthz", &[]).status, 200, "still serving");
}

#[test]
fn a_silent_client_does_not_hold_up_other_handshakes() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    // Connected, never says a word: its handshake waits on its own thread, not the
    // accept thread.
    let silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(authority(&server.url)).expect("connecting"))
        .collect();
    let started = Instant::now();
    assert_eq!(server.get("/healthz", &[]).status, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(silent);
}

/// Total CPU time (user + system, clock ticks) the process has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("reading /proc");
    // Fields after "(comm)": state is the 3rd field; utime and stime the 14th and 15th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn rustsec_2024_0336_a_close_notify_after_the_client_hello_does_not_spin() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&certificate.pem()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    // TLS 1.2: the client's records stay in the clear until its Finished, so the server
    // takes the alert mid-handshake (under 1.3 it expects them encrypted and just fails).
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut client =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).expect("a ClientHello");
    // An alert record: warning (1), close_notify (0).
    hello.extend_from_slice(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00]);
    let mut socket = TcpStream::connect(authority(&server.url)).expect("connecting");
    socket.write_all(&hello).unwrap();
    // rustls 0.20.9 then loops in `complete_io` on the connection's thread while the socket
    // stays open (checked: upstream tiny_http 0.12.0 with ssl-rustls used 77 ticks here);
    // measure the server's CPU time over a second.
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(server.pid());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(server.pid()) - before;
    // Ticks are 1/100 s on Linux: a spinning thread would use about 100.
    assert!(used < 30, "the server used {used} ticks of CPU in 1 s");
    assert_eq!(server.get("/healthz", &[]).status, 200, "still serving");
    drop(socket);
}

#[test]
fn a_bad_certificate_or_key_fails_startup_naming_the_file() {
    let certificate = Certificate::new();
    let cert = certificate.cert().display().to_string();
    let key = certificate.key().display().to_string();
    let missing = certificate.dir.join("missing.pem").display().to_string();
    let garbage = certificate.dir.join("garbage.pem");
    std::fs::write(&garbage, "not a PEM file\n").unwrap();
    let garbage = garbage.display().to_string();

    for (args, named) in [
        (["--tls-cert", &missing, "--tls-key", &key], &missing),
        (["--tls-cert", &garbage, "--tls-key", &key], &garbage),
        (["--tls-cert", &cert, "--tls-key", &garbage], &garbage),
        // A certificate is not a key.
        (["--tls-cert", &cert, "--tls-key", &cert], &cert),
    ] {
        let (code, stderr) = failed_start(&args, &[]);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(named.as_str()), "{args:?}: {stderr}");
    }

    // A key that is not the certificate's.
    let other = Certificate::new();
    let other_key = other.key().display().to_string();
    let (code, stderr) = failed_start(&["--tls-cert", &cert, "--tls-key", &other_key], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("private key"), "{stderr}");

    // A key protected by a passphrase, in PKCS#8 and in the older format: named as such,
    // with the way to decrypt it.
    let encrypted = certificate.dir.join("encrypted.pem").display().to_string();
    let traditional = certificate
        .dir
        .join("traditional.pem")
        .display()
        .to_string();
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("running openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&[
        "pkey",
        "-in",
        &key,
        "-aes256",
        "-passout",
        "pass:secret",
        "-out",
        &encrypted,
    ]);
    openssl(&[
        "ec",
        "-in",
        &key,
        "-aes256",
        "-passout",
        "pass:secret",
        "-out",
        &traditional,
    ]);
    for path in [&encrypted, &traditional] {
        let (code, stderr) = failed_start(&["--tls-cert", &cert, "--tls-key", path], &[]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains(path.as_str()), "{stderr}");
        assert!(
            stderr.contains("encrypted") && stderr.contains("openssl pkey"),
            "{stderr}"
        );
    }

    // Both or neither, from the environment too.
    let (code, stderr) = failed_start(&["--tls-cert", &cert], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
    let (code, stderr) = failed_start(&[], &[("CLIENTELE_TLS_KEY", &key)]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");
}

#[test]
fn the_options_also_come_from_the_environment() {
    let certificate = Certificate::new();
    let server = Server::builder()
        .env(
            "CLIENTELE_TLS_CERT",
            &certificate.cert().display().to_string(),
        )
        .env(
            "CLIENTELE_TLS_KEY",
            &certificate.key().display().to_string(),
        )
        .start();
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let agent = crate::support::agent_trusting(&certificate.pem());
    let reply = call_with(&agent, "GET", &format!("{}/healthz", server.url), &[], None);
    assert_eq!(reply.status, 200);
}

#[test]
fn the_console_cookies_are_secure_under_tls() {
    let certificate = Certificate::new();
    let server = certificate.serve();
    let form = server.get("/_admin/", &[]);
    assert_eq!(form.status, 200, "{}", form.body);
    let secure = |reply: &crate::support::Reply, name: &str| {
        reply
            .headers
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} cookie"))
    };
    let csrf_header = secure(&form, "clientele_console_csrf=");
    assert!(csrf_header.contains("; Secure"), "{csrf_header}");
    let csrf_cookie = set_cookie(&form, "clientele_console_csrf").unwrap();
    let csrf = csrf_cookie.split_once('=').unwrap().1.to_string();
    let signed = post_form(
        &server,
        "/_admin/console/signin",
        &csrf_cookie,
        &[
            ("csrf", csrf.as_str()),
            ("token", crate::support::ADMIN_TOKEN),
        ],
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    let session = secure(&signed, "clientele_console=");
    for wanted in ["; Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(session.contains(wanted), "{session}");
    }
}
