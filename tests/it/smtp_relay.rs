//! Mail through a relay that speaks TLS and wants a login, as a deployment's Postfix or
//! provider does: a real SMTP server on a loopback socket with STARTTLS or implicit TLS, a
//! certificate from a throwaway CA made here with `openssl`, and AUTH PLAIN/LOGIN that it
//! only offers over TLS. A client that skipped certificate verification, TLS or the login
//! would fail these tests: the relay refuses MAIL before a login, and the certificate is only
//! trusted through `ca=`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use crate::support::{mx_invite, Server, TempDir};

const USER: &str = "mailer";
/// With characters that must be percent-encoded in the `--mail` URL.
const PASSWORD: &str = "p@ss w0rd:secret";
const PASSWORD_IN_URL: &str = "p%40ss%20w0rd%3Asecret";

/// A CA and a leaf it signed for 127.0.0.1 and localhost, made by `openssl`.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = TempDir::new();
        let openssl = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("running openssl");
            assert!(status.success(), "openssl {args:?} failed");
        };
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &key,
                &["-days", "2", "-subj", "/CN=Clientele Test CA"],
                &["-addext", "basicConstraints=critical,CA:TRUE"],
                &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                &["-keyout", "ca.key", "-out", "ca.pem"],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"][..],
                &key,
                &[
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    "key.pem",
                    "-out",
                    "leaf.csr",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "cert.pem",
        ]);
        Pki { dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let certs = CertificateDer::pem_file_iter(self.dir.join("cert.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(self.dir.join("key.pem")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        )
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    /// Port 587 style: plain greeting, STARTTLS offered, AUTH only after it.
    StartTls,
    /// Port 465 style: TLS from the first byte.
    Implicit,
    /// A relay that offers no STARTTLS (and so no AUTH).
    NoTls,
}

/// What the relay saw.
#[derive(Default)]
struct Seen {
    /// The DATA of each accepted mail.
    mails: Vec<String>,
    /// Each login attempt: (user, password, accepted).
    logins: Vec<(String, String, bool)>,
}

struct Relay {
    port: u16,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn start(pki: &Pki, mode: Mode, reject_recipients: bool) -> Relay {
        Relay::start_on(0, pki, mode, reject_recipients)
    }

    fn start_on(port: u16, pki: &Pki, mode: Mode, reject_recipients: bool) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("binding the relay");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (config, s, st) = (pki.server_config(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !st.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((tcp, _)) => {
                        let (config, s) = (config.clone(), s.clone());
                        std::thread::spawn(move || {
                            let _ = session(tcp, config, mode, reject_recipients, &s);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Relay { port, seen, stop }
    }

    fn mails(&self) -> Vec<String> {
        self.seen.lock().unwrap().mails.clone()
    }

    fn logins(&self) -> Vec<(String, String, bool)> {
        self.seen.lock().unwrap().logins.clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

fn tls(tcp: TcpStream, config: Arc<rustls::ServerConfig>) -> std::io::Result<Box<dyn Stream>> {
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    Ok(Box::new(rustls::StreamOwned::new(connection, tcp)))
}

fn read_line(stream: &mut dyn Stream) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if stream.read(&mut byte)? == 0 {
            return Ok(None);
        }
        line.push(byte[0]);
        if line.ends_with(b"\r\n") || line.len() > 64 * 1024 {
            return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
        }
    }
}

fn decode(b64: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn session(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    mode: Mode,
    reject_recipients: bool,
    seen: &Mutex<Seen>,
) -> std::io::Result<()> {
    tcp.set_nonblocking(false)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut secure = mode == Mode::Implicit;
    let mut stream: Box<dyn Stream> = if secure {
        tls(tcp.try_clone()?, config.clone())?
    } else {
        Box::new(tcp.try_clone()?)
    };
    let mut logged_in = false;
    stream.write_all(b"220 relay.test ESMTP\r\n")?;
    stream.flush()?;
    while let Some(line) = read_line(stream.as_mut())? {
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let mut reply = String::from("250-relay.test\r\n");
            if mode == Mode::StartTls && !secure {
                reply.push_str("250-STARTTLS\r\n");
            }
            if secure {
                reply.push_str("250-AUTH PLAIN LOGIN\r\n");
            }
            reply.push_str("250 8BITMIME\r\n");
            reply
        } else if upper == "STARTTLS" && mode == Mode::StartTls && !secure {
            stream.write_all(b"220 2.0.0 Ready to start TLS\r\n")?;
            stream.flush()?;
            stream = tls(tcp.try_clone()?, config.clone())?;
            secure = true;
            continue;
        } else if upper.starts_with("AUTH ") && secure {
            let mut words = command.split_whitespace().skip(1);
            let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
            let (user, password) = match mechanism.as_str() {
                "PLAIN" => {
                    let encoded = match words.next() {
                        Some(inline) => inline.to_string(),
                        None => {
                            stream.write_all(b"334 \r\n")?;
                            read_line(stream.as_mut())?.unwrap_or_default()
                        }
                    };
                    let decoded = decode(&encoded);
                    let mut parts = decoded.split('\0').skip(1);
                    let user = parts.next().unwrap_or("").to_string();
                    (user, parts.next().unwrap_or("").to_string())
                }
                "LOGIN" => {
                    stream.write_all(b"334 VXNlcm5hbWU6\r\n")?;
                    let user = decode(&read_line(stream.as_mut())?.unwrap_or_default());
                    stream.write_all(b"334 UGFzc3dvcmQ6\r\n")?;
                    (
                        user,
                        decode(&read_line(stream.as_mut())?.unwrap_or_default()),
                    )
                }
                _ => (String::new(), String::new()),
            };
            let accepted = user == USER && password == PASSWORD;
            seen.lock().unwrap().logins.push((user, password, accepted));
            logged_in = accepted;
            if accepted {
                "235 2.7.0 Authentication successful\r\n".into()
            } else {
                "535 5.7.8 Authentication credentials invalid\r\n".into()
            }
        } else if upper.starts_with("MAIL FROM:") {
            if logged_in {
                "250 2.1.0 OK\r\n".into()
            } else {
                "530 5.7.0 Authentication required\r\n".into()
            }
        } else if upper.starts_with("RCPT TO:") {
            if reject_recipients {
                "550 5.1.1 Recipient address rejected: User unknown\r\n".into()
            } else {
                "250 2.1.5 OK\r\n".into()
            }
        } else if upper == "DATA" {
            stream.write_all(b"354 go ahead\r\n")?;
            stream.flush()?;
            let mut data = String::new();
            while let Some(l) = read_line(stream.as_mut())? {
                if l == ".\r\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            seen.lock().unwrap().mails.push(data);
            "250 2.0.0 queued\r\n".into()
        } else if upper == "QUIT" {
            stream.write_all(b"221 bye\r\n")?;
            stream.flush()?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK\r\n".into()
        } else {
            "502 5.5.1 not implemented\r\n".into()
        };
        stream.write_all(reply.as_bytes())?;
        stream.flush()?;
    }
    Ok(())
}

fn mail_spec(port: u16, password: &str, query: &str) -> String {
    format!("smtp://{USER}:{password}@127.0.0.1:{port}?{query}")
}

fn start_with_mail(spec: &str) -> Server {
    Server::builder().arg("--mail").arg(spec).start()
}

/// The newest mail of `/_admin/mail` once `done(mail)` holds, or the last seen after 15 s.
fn wait_for_mail(server: &Server, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mailbox = server.admin("GET", "/mail", None).json();
        let newest = mailbox["messages"]
            .as_array()
            .and_then(|m| m.last().cloned())
            .unwrap_or(Value::Null);
        if done(&newest) || Instant::now() > deadline {
            return newest;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The password must not show in the log, the admin mailbox or the journal.
fn assert_password_nowhere(server: &Server) {
    let stderr = server.stderr();
    let mailbox = server.admin("GET", "/mail", None).body;
    let journal = server.admin("GET", "/requests", None).body;
    for (what, text) in [
        ("log", &stderr),
        ("mailbox", &mailbox),
        ("journal", &journal),
    ] {
        for secret in [PASSWORD, PASSWORD_IN_URL, "w0rd"] {
            assert!(
                !text.contains(secret),
                "the {what} shows the password:\n{text}"
            );
        }
    }
}

#[test]
fn mail_goes_through_starttls_with_a_private_ca_and_a_login() {
    let pki = Pki::new();
    let relay = Relay::start(&pki, Mode::StartTls, false);
    let ca = format!("ca={}", pki.ca().display());
    let server = start_with_mail(&mail_spec(relay.port, PASSWORD_IN_URL, &ca));
    assert_eq!(mx_invite(&server, "starttls@example.com").status, 200);
    let mail = wait_for_mail(&server, |m| m["status"] == "sent");
    assert_eq!(mail["status"], "sent", "{mail}");
    let mails = relay.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("starttls@example.com"));
    assert_eq!(
        relay.logins(),
        vec![(USER.to_string(), PASSWORD.to_string(), true)],
        "one login, with the percent-decoded password"
    );
    assert!(server
        .stderr()
        .contains("STARTTLS required, login as mailer"));
    assert_password_nowhere(&server);
}

#[test]
fn mail_goes_through_implicit_tls_with_a_private_ca() {
    let pki = Pki::new();
    let relay = Relay::start(&pki, Mode::Implicit, false);
    let query = format!("tls=tls&ca={}", pki.ca().display());
    let server = start_with_mail(&mail_spec(relay.port, PASSWORD_IN_URL, &query));
    assert_eq!(mx_invite(&server, "implicit@example.com").status, 200);
    let mail = wait_for_mail(&server, |m| m["status"] == "sent");
    assert_eq!(mail["status"], "sent", "{mail}");
    assert_eq!(relay.mails().len(), 1);
}

#[test]
fn without_the_ca_the_certificate_is_refused_with_a_clear_error() {
    let pki = Pki::new();
    let relay = Relay::start(&pki, Mode::StartTls, false);
    let server = start_with_mail(&mail_spec(relay.port, PASSWORD_IN_URL, "tls=starttls"));
    assert_eq!(mx_invite(&server, "noca@example.com").status, 200);
    let mail = wait_for_mail(&server, |m| m["error"].is_string());
    let error = mail["error"].as_str().unwrap_or_default();
    assert!(error.contains("certificate"), "{mail}");
    assert!(
        error.contains("ca="),
        "the error says how to fix it: {error}"
    );
    assert_eq!(mail["status"], "pending", "retried: {mail}");
    assert!(relay.mails().is_empty());
    assert!(
        relay.logins().is_empty(),
        "no password sent to an unverified relay"
    );
    assert!(server.stderr().contains("certificate"));
    assert_password_nowhere(&server);
}

#[test]
fn a_wrong_password_gives_a_clear_login_error() {
    let pki = Pki::new();
    let relay = Relay::start(&pki, Mode::StartTls, false);
    let ca = format!("ca={}", pki.ca().display());
    let server = start_with_mail(&mail_spec(relay.port, "not-the-password", &ca));
    assert_eq!(mx_invite(&server, "badlogin@example.com").status, 200);
    let mail = wait_for_mail(&server, |m| m["error"].is_string());
    let error = mail["error"].as_str().unwrap_or_default();
    assert!(error.contains("refused the login"), "{mail}");
    assert!(error.contains("535"), "{error}");
    assert!(!error.contains("not-the-password"), "{error}");
    assert!(relay.mails().is_empty());
    assert!(!server.stderr().contains("not-the-password"));
}

#[test]
fn a_relay_without_starttls_is_refused_when_starttls_was_asked_for() {
    let pki = Pki::new();
    let relay = Relay::start(&pki, Mode::NoTls, false);
    let query = format!("tls=starttls&ca={}", pki.ca().display());
    let server = start_with_mail(&mail_spec(relay.port, PASSWORD_IN_URL, &query));
    assert_eq!(mx_invite(&server, "nostarttls@example.com").status, 200);
    let mail = wait_for_mail(&server, |m| m["error"].is_string());
    let error = mail["error"].as_str().unwrap_or_default();
    assert!(error.contains("does not offer STARTTLS"), "{mail}");
    assert!(relay.logins().is_empty(), "no login in the clear");
}

#[test]
fn a_login_without_tls_parameter_is_not_sent_in_the_clear() {
    let pki = Pki::new();
    let relay = Relay::start(&pki, Mode::NoTls, false);
    let server = start_with_mail(&mail_spec(relay.port, PASSWORD_IN_URL, ""));
    assert_eq!(mx_invite(&server, "clear@example.com").status, 200);
    let mail = wait_for_mail(&server, |m| m["error"].is_string());
    assert!(
        mail["error"]
            .as_str()
            .unwrap_or_default()
            .contains("STARTTLS"),
        "{mail}"
    );
    assert!(relay.logins().is_empty());
}

#[test]
fn a_refused_recipient_fails_the_mail_for_good() {
    let pki = Pki::new();
    let relay = Relay::start(&pki, Mode::StartTls, true);
    let ca = format!("ca={}", pki.ca().display());
    let server = start_with_mail(&mail_spec(relay.port, PASSWORD_IN_URL, &ca));
    assert_eq!(mx_invite(&server, "unknown@example.com").status, 200);
    let mail = wait_for_mail(&server, |m| m["status"] == "failed");
    assert_eq!(mail["status"], "failed", "not retried: {mail}");
    let error = mail["error"].as_str().unwrap_or_default();
    assert!(error.contains("refused the mail"), "{error}");
    assert!(error.contains("550"), "{error}");
    assert_eq!(mail["attempts"], 1);
}

#[test]
fn mail_queued_while_the_relay_is_down_is_delivered_once_it_is_back() {
    let pki = Pki::new();
    let down = crate::smtp_sink::DownPort::reserve();
    let port = down.port;
    let ca = format!("ca={}", pki.ca().display());
    let server = start_with_mail(&mail_spec(port, PASSWORD_IN_URL, &ca));
    assert_eq!(mx_invite(&server, "outage@example.com").status, 200);
    let mail = wait_for_mail(&server, |m| m["error"].is_string());
    assert!(
        mail["error"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot reach the relay"),
        "{mail}"
    );
    let relay = Relay::start_on(down.release(), &pki, Mode::StartTls, false);
    let mail = wait_for_mail(&server, |m| m["status"] == "sent");
    assert_eq!(mail["status"], "sent", "{mail}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(relay.mails().len(), 1, "delivered exactly once");
}

fn check_mail(spec: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args(["check-mail", "--mail", spec])
        .env_remove("CLIENTELE_MAIL")
        .output()
        .expect("running clientele check-mail");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn check_mail_reports_tls_and_the_login_without_sending() {
    let pki = Pki::new();
    let relay = Relay::start(&pki, Mode::StartTls, false);
    let ca = format!("ca={}", pki.ca().display());
    let (ok, text) = check_mail(&mail_spec(relay.port, PASSWORD_IN_URL, &ca));
    assert!(ok, "{text}");
    assert!(text.contains(": connected\n"), "{text}");
    assert!(text.contains("TLS: negotiated with STARTTLS"), "{text}");
    assert!(text.contains("login: accepted"), "{text}");
    assert!(!text.contains("w0rd"), "{text}");
    let (ok, text) = check_mail(&mail_spec(relay.port, "wrong", &ca));
    assert!(!ok, "{text}");
    assert!(text.contains("refused the login"), "{text}");
    let (ok, text) = check_mail(&mail_spec(relay.port, PASSWORD_IN_URL, "tls=starttls"));
    assert!(!ok, "{text}");
    assert!(text.contains("certificate"), "{text}");
    assert!(relay.mails().is_empty(), "check-mail sends nothing");
}

/// A relay without TLS, reached without a user: check-mail says neither happened.
#[test]
fn check_mail_claims_no_tls_or_login_that_did_not_happen() {
    let pki = Pki::new();
    let relay = Relay::start(&pki, Mode::NoTls, false);
    let (ok, text) = check_mail(&format!("smtp://127.0.0.1:{}?tls=none", relay.port));
    assert!(ok, "{text}");
    assert!(text.contains(": connected\n"), "{text}");
    assert!(text.contains("TLS: not used"), "{text}");
    assert!(text.contains("login: none made"), "{text}");
    assert!(!text.contains("accepted"), "{text}");
    assert!(relay.mails().is_empty(), "check-mail sends nothing");
}

#[test]
fn tls_insecure_is_spelled_out_and_logged_loudly() {
    let pki = Pki::new();
    let relay = Relay::start(&pki, Mode::StartTls, false);
    let server = start_with_mail(&mail_spec(
        relay.port,
        PASSWORD_IN_URL,
        "tls=starttls&tls_insecure=true",
    ));
    assert!(server.stderr().contains("WARNING"));
    assert!(server.stderr().contains("NOT verified"));
    assert_eq!(mx_invite(&server, "insecure@example.com").status, 200);
    let mail = wait_for_mail(&server, |m| m["status"] == "sent");
    assert_eq!(mail["status"], "sent", "{mail}");
}
