//! Where mail goes (`--mail`): appended to an mbox file and fsynced, or handed to an SMTP
//! server through lettre's synchronous transport.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport as _};

pub enum Transport {
    Mbox(PathBuf),
    Smtp(Box<Relay>),
}

/// An SMTP relay from `--mail smtp://...`, and how to name it in logs and errors (never with
/// its password).
pub struct Relay {
    smtp: SmtpTransport,
    /// e.g. `smtp://mailer@relay.example.com:587 (STARTTLS required, login as mailer)`.
    pub summary: String,
    /// `tls_insecure=true`: the relay's certificate is not verified.
    pub insecure: bool,
}

/// Why a delivery failed: worth retrying (server down, 4xx) or not (5xx, bad address).
#[derive(Debug)]
pub enum DeliveryError {
    Transient(String),
    Permanent(String),
}

/// The `--mail` spec's shape, for error messages.
const SPEC_FORMS: &str =
    "mbox:PATH or smtp://[USER:PASS@]HOST:PORT[?tls=none|starttls|tls][&ca=PEM][&tls_insecure=true]";

impl Transport {
    /// `mbox:PATH` or `smtp://[USER:PASS@]HOST:PORT[?tls=...&ca=PATH&tls_insecure=true]`.
    pub fn parse(spec: &str) -> Result<Transport, String> {
        if let Some(path) = spec.strip_prefix("mbox:") {
            if path.is_empty() {
                return Err("--mail mbox: needs a path, e.g. mbox:./clientele.mbox".into());
            }
            return Ok(Transport::Mbox(PathBuf::from(path)));
        }
        if spec.starts_with("smtp://") {
            return relay(spec).map(|t| Transport::Smtp(Box::new(t)));
        }
        Err(format!("--mail {:?}: use {SPEC_FORMS}", redact_spec(spec)))
    }

    /// One line for the startup log: where mail goes and how.
    pub fn summary(&self) -> String {
        match self {
            Transport::Mbox(path) => format!("mbox {}", path.display()),
            Transport::Smtp(relay) => relay.summary.clone(),
        }
    }

    /// Delivers one message; `Ok` only once it is on disk (fsynced) or accepted by the server.
    pub fn deliver(
        &self,
        message: &Message,
        envelope_from: &str,
        date: &str,
    ) -> Result<(), DeliveryError> {
        match self {
            Transport::Mbox(path) => append_mbox(path, message, envelope_from, date)
                .map_err(|e| DeliveryError::Transient(format!("{}: {e}", path.display()))),
            Transport::Smtp(relay) => relay
                .smtp
                .send(message)
                .map(drop)
                .map_err(|e| explain(&e, &relay.summary)),
        }
    }

    /// Connects once (TLS and login included) without sending a mail: what
    /// `clientele check-mail` reports. For an mbox, checks that the file can be appended to.
    pub fn check(&self) -> Result<String, String> {
        match self {
            Transport::Mbox(path) => OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(|_| format!("{}: can append", self.summary()))
                .map_err(|e| format!("{}: {e}", path.display())),
            Transport::Smtp(relay) => match relay.smtp.test_connection() {
                Ok(true) => Ok(format!(
                    "{}: connected, TLS and login accepted",
                    relay.summary
                )),
                Ok(false) => Err(format!(
                    "{}: the relay closed the connection",
                    relay.summary
                )),
                Err(e) => Err(match explain(&e, &relay.summary) {
                    DeliveryError::Transient(m) | DeliveryError::Permanent(m) => m,
                }),
            },
        }
    }
}

/// The spec with the password replaced, for messages.
pub fn redact_spec(spec: &str) -> String {
    match url::Url::parse(spec) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => spec.to_string(),
    }
}

fn relay(spec: &str) -> Result<Relay, String> {
    let shown = redact_spec(spec);
    let bad = |why: &str| format!("--mail {shown:?}: {why}");
    let url = url::Url::parse(spec).map_err(|e| bad(&e.to_string()))?;
    let host = url.host_str().ok_or_else(|| bad("no host"))?.to_string();
    let port = url.port().ok_or_else(|| bad("no port"))?;
    let (mut tls_mode, mut ca, mut insecure) = (None, None, false);
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "tls" => tls_mode = Some(value.into_owned()),
            "ca" => ca = Some(PathBuf::from(value.as_ref())),
            "tls_insecure" => {
                insecure = match value.as_ref() {
                    "true" => true,
                    "false" => false,
                    other => return Err(bad(&format!("tls_insecure={other}: use true or false"))),
                }
            }
            other => {
                return Err(bad(&format!(
                    "unknown parameter {other:?}; use {SPEC_FORMS}"
                )))
            }
        }
    }
    let decode = |s: &str| {
        percent_decode(s).map_err(|()| bad("the user or password is not valid percent-encoding"))
    };
    let user = decode(url.username())?;
    let password = decode(url.password().unwrap_or(""))?;
    let login = !user.is_empty();
    let parameters = || tls_parameters(&host, ca.as_deref(), insecure).map_err(|e| bad(&e));
    // A login goes over TLS unless plain text was asked for by name: without `tls=`, a relay
    // that does not offer STARTTLS is refused rather than sent the password in the clear.
    let (tls, how) = match tls_mode.as_deref() {
        None if login => (Tls::Required(parameters()?), "STARTTLS required"),
        None => (Tls::Opportunistic(parameters()?), "STARTTLS when offered"),
        Some("none") => (Tls::None, "no TLS"),
        Some("starttls") => (Tls::Required(parameters()?), "STARTTLS required"),
        Some("tls") => (Tls::Wrapper(parameters()?), "implicit TLS"),
        Some(other) => return Err(bad(&format!("tls={other}: use none, starttls or tls"))),
    };
    if matches!(tls, Tls::None) && (ca.is_some() || insecure) {
        return Err(bad("ca= and tls_insecure= need TLS; drop tls=none"));
    }
    let mut builder = SmtpTransport::builder_dangerous(host.as_str())
        .port(port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(15)));
    let mut summary = format!("smtp://{host}:{port} ({how}");
    if login {
        summary = format!("smtp://{user}@{host}:{port} ({how}, login as {user}");
        builder = builder
            .credentials(Credentials::new(user, password))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    if let Some(ca) = &ca {
        summary.push_str(&format!(", trusting {}", ca.display()));
    }
    if insecure {
        summary.push_str(", CERTIFICATE NOT VERIFIED");
    }
    summary.push(')');
    Ok(Relay {
        smtp: builder.build(),
        summary,
        insecure,
    })
}

/// Trust for the relay's certificate: the web's roots, the system's store, and the PEM
/// bundle of `ca=`; always checked against `host`, unless `tls_insecure=true`.
fn tls_parameters(
    host: &str,
    ca: Option<&std::path::Path>,
    insecure: bool,
) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_string())
        .certificate_store(CertificateStore::WebpkiRoots)
        .dangerous_accept_invalid_certs(insecure);
    for der in rustls_native_certs::load_native_certs().certs {
        // A system certificate that rustls cannot use is skipped, as the system's own tools do.
        if let Ok(cert) = Certificate::from_der(der.to_vec()) {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(path) = ca {
        let pem = std::fs::read(path).map_err(|e| format!("ca={}: {e}", path.display()))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("ca={}: not a PEM certificate bundle ({e})", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| e.to_string())
}

/// `%40` → `@`; `Err` on invalid UTF-8.
fn percent_decode(text: &str) -> Result<String, ()> {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or(())
}

/// A failed exchange with the relay, in words an operator can act on. Failures of the
/// connection, TLS or the login do not depend on the mail: they are retried (until
/// `--mail-give-up`), so that mail queued while a certificate or password was wrong goes out
/// once it is fixed. A 5xx answer to the mail itself (sender, recipient, content) is final.
fn explain(error: &lettre::transport::smtp::Error, relay: &str) -> DeliveryError {
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !detail.contains(&text) {
            detail.push_str(": ");
            detail.push_str(&text);
        }
        source = inner.source();
    }
    let code = error.status().map(|c| c.to_string());
    // rustls' verdict on the certificate reaches us as a network error, not a TLS one.
    let certificate = detail.to_ascii_lowercase().contains("certificate");
    if error.is_tls() || certificate {
        let hint = if certificate {
            " (if the relay's certificate comes from a private CA, add it with &ca=PATH)"
        } else {
            ""
        };
        return DeliveryError::Transient(format!(
            "TLS with the relay failed, its certificate was not accepted or TLS could not be \
             set up: {detail}{hint} [{relay}]"
        ));
    }
    if detail.contains("STARTTLS is not supported") {
        return DeliveryError::Transient(format!(
            "the relay does not offer STARTTLS, which this --mail setting requires (use \
             tls=tls for implicit TLS, or tls=none to send in the clear) [{relay}]"
        ));
    }
    match code.as_deref() {
        Some("530" | "534" | "535" | "538" | "454") => {
            DeliveryError::Transient(format!("the relay refused the login: {detail} [{relay}]"))
        }
        Some(_) if error.is_permanent() => DeliveryError::Permanent(format!(
            "the relay refused the mail (its sender, a recipient or its content), permanently: \
             {detail} [{relay}]"
        )),
        Some(_) => {
            DeliveryError::Transient(format!("the relay deferred the mail: {detail} [{relay}]"))
        }
        None if detail.contains("authentication") || detail.contains("mechanism") => {
            DeliveryError::Transient(format!(
                "the relay offers no login this client can use (PLAIN or LOGIN) over this \
                 connection: {detail} [{relay}]"
            ))
        }
        None => DeliveryError::Transient(format!(
            "cannot reach the relay or the exchange broke off: {detail} [{relay}]"
        )),
    }
}

/// Appends one message in mbox format (a `From ` line, `>From` quoting, a blank line after)
/// and fsyncs before returning.
fn append_mbox(
    path: &PathBuf,
    message: &Message,
    envelope_from: &str,
    date: &str,
) -> std::io::Result<()> {
    let raw = String::from_utf8_lossy(&message.formatted()).replace("\r\n", "\n");
    let mut entry = format!("From {envelope_from} {date}\n");
    for line in raw.trim_end_matches('\n').split('\n') {
        if line.trim_start_matches('>').starts_with("From ") {
            entry.push('>');
        }
        entry.push_str(line);
        entry.push('\n');
    }
    entry.push('\n');
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(entry.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_quotes_from_lines_and_appends() {
        let path = std::env::temp_dir().join(format!("clientele-mbox-{}.mbox", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let message = Message::builder()
            .from("a@example.com".parse().unwrap())
            .to("b@example.com".parse().unwrap())
            .subject("hi")
            .header(lettre::message::header::ContentTransferEncoding::SevenBit)
            .body("line one\nFrom here on\n>From quoted\nend".to_string())
            .unwrap();
        let transport = Transport::Mbox(path.clone());
        for _ in 0..2 {
            transport
                .deliver(&message, "a@example.com", "Mon Nov 23 09:37:48 2026")
                .unwrap();
        }
        let mbox = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            mbox.matches("\nFrom a@example.com Mon Nov 23").count() + 1,
            2
        );
        assert!(mbox.starts_with("From a@example.com Mon Nov 23 09:37:48 2026\n"));
        assert!(mbox.contains("\n>From here on\n"));
        assert!(mbox.contains("\n>>From quoted\n"));
        assert!(!mbox.contains("\r"));
    }

    #[test]
    fn parses_specs() {
        assert!(matches!(
            Transport::parse("mbox:/tmp/x.mbox"),
            Ok(Transport::Mbox(_))
        ));
        assert!(matches!(
            Transport::parse("smtp://127.0.0.1:2525?tls=none"),
            Ok(Transport::Smtp(_))
        ));
        assert!(matches!(
            Transport::parse("smtp://u:p%40ss@mail.example.com:587"),
            Ok(Transport::Smtp(_))
        ));
        assert!(Transport::parse("smtp://127.0.0.1:25?tls=maybe").is_err());
        assert!(Transport::parse("smtp://127.0.0.1").is_err());
        assert!(Transport::parse("file:/tmp/x").is_err());
        assert!(Transport::parse("mbox:").is_err());
        assert!(Transport::parse("smtp://127.0.0.1:25?tsl=none").is_err());
        assert!(Transport::parse("smtp://127.0.0.1:25?tls=none&ca=/x.pem").is_err());
    }

    #[test]
    fn a_password_never_appears_in_a_message_or_summary() {
        let spec = "smtp://mailer:s%40cret-pw@127.0.0.1:25?tls=maybe";
        let error = Transport::parse(spec).err().expect("tls=maybe is refused");
        assert!(!error.contains("cret-pw"), "{error}");
        let spec = "smtp://mailer:s%40cret-pw@127.0.0.1:587";
        let relay = Transport::parse(spec).expect("a valid spec");
        assert!(!relay.summary().contains("cret-pw"));
        assert!(
            relay.summary().contains("STARTTLS required"),
            "a login requires TLS"
        );
        assert!(relay.summary().contains("login as mailer"));
    }
}
