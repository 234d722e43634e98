//! Where mail goes (`--mail`): appended to an mbox file and fsynced, or handed to an SMTP
//! relay through lettre's synchronous `SmtpConnection`, on connections kept open while mail
//! is due (see `Relay`).

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    Certificate, CertificateStore, SmtpConnection, Tls, TlsParameters,
};
use lettre::transport::smtp::commands::Rset;
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;

pub enum Transport {
    Mbox(PathBuf),
    Smtp(Box<Relay>),
}

/// An SMTP relay from `--mail smtp://...`, the connections to it that wait for the next
/// mail, and how to name it in logs and errors (never with its password).
///
/// A connection (TCP, TLS, EHLO and login: several round trips) serves one mail after
/// another. Before it takes the next one, RSET checks that the relay still holds it open;
/// a connection that failed in any way is dropped, and the next mail connects anew. Those
/// waiting are closed (QUIT) by `close_connections`, which the sender calls once nothing
/// has been due for a while. How many are open at once is the number of threads sending:
/// each takes one connection for the mail it sends.
pub struct Relay {
    host: String,
    port: u16,
    tls: Tls,
    /// From `USER:PASS@`, sent with AUTH PLAIN or LOGIN.
    login: Option<Credentials>,
    /// The connections waiting for the next mail, the one used last at the end.
    idle: Mutex<Vec<SmtpConnection>>,
    /// e.g. `smtp://mailer@relay.example.com:587 (STARTTLS required, login as mailer)`.
    pub summary: String,
    /// `tls_insecure=true`: the relay's certificate is not verified.
    pub insecure: bool,
}

/// Why a delivery failed: worth retrying (server down, 4xx) or not (5xx, bad address).
#[derive(Debug, Clone)]
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
        Err(format!(
            "--mail {:?}: use {SPEC_FORMS}",
            crate::redact::text(spec)
        ))
    }

    /// One line for the startup log: where mail goes and how.
    pub fn summary(&self) -> String {
        match self {
            Transport::Mbox(path) => format!("mbox {}", path.display()),
            Transport::Smtp(relay) => relay.summary.clone(),
        }
    }

    /// The mbox file, for the transport that writes one.
    pub fn mbox_path(&self) -> Option<&Path> {
        match self {
            Transport::Mbox(path) => Some(path),
            Transport::Smtp(_) => None,
        }
    }

    /// Delivers one message; `Ok` only once it is on disk (fsynced) or accepted by the server.
    /// `mbox_entry` is the message as `mbox_entry` formatted it (for the mbox transport).
    pub fn deliver(&self, message: &Message, mbox_entry: &[u8]) -> Result<(), DeliveryError> {
        match self {
            Transport::Mbox(path) => append_mbox(path, mbox_entry)
                .map_err(|e| DeliveryError::Transient(format!("{}: {e}", path.display()))),
            Transport::Smtp(relay) => relay.send(message),
        }
    }

    /// Closes the SMTP connections waiting for a mail (nothing to do for an mbox).
    pub fn close_connections(&self) {
        if let Transport::Smtp(relay) = self {
            relay.close_connections();
        }
    }

    /// Appends `entries` to the mbox in one write and one fsync (nothing to do for none);
    /// `Ok` only once all are on disk, and on failure none of them is left in the file.
    pub fn append_all(&self, entries: &[&[u8]]) -> Result<(), DeliveryError> {
        let Transport::Mbox(path) = self else {
            return Err(DeliveryError::Permanent("not an mbox".into()));
        };
        if entries.is_empty() {
            return Ok(());
        }
        append_mbox(path, &entries.concat())
            .map_err(|e| DeliveryError::Transient(format!("{}: {e}", path.display())))
    }

    /// Connects once (TLS and login included) without sending a mail: what
    /// `clientele check-mail` reports. For an mbox, checks that the file can be appended to.
    pub fn check(&self) -> Result<String, String> {
        match self {
            Transport::Mbox(path) => open_mbox(path)
                .map(|_| format!("{}: can append", self.summary()))
                .map_err(|e| format!("{}: {e}", path.display())),
            Transport::Smtp(relay) => relay.check(),
        }
    }
}

/// How long the relay may take to answer, or to take what is sent, before the exchange is
/// given up (a failed attempt, retried later).
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

impl Relay {
    /// Sends one mail; `Ok` once the relay accepted it.
    fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let mut conn = self.checkout().map_err(|e| explain(&e, &self.summary))?;
        match conn.send(message.envelope(), &message.formatted()) {
            Ok(_) => {
                lock(&self.idle).push(conn);
                Ok(())
            }
            Err(e) => {
                // lettre has said QUIT already after a failed command; not after a mail it
                // refused to send (non-ASCII without the extension), which leaves the
                // connection as it was: it goes too, so that every failure starts afresh.
                if !conn.has_broken() {
                    conn.abort();
                }
                Err(explain(&e, &self.summary))
            }
        }
    }

    /// A connection ready for a mail: one that waited and still answers RSET (the relay
    /// may have closed it meanwhile), or a new one.
    fn checkout(&self) -> Result<SmtpConnection, lettre::transport::smtp::Error> {
        loop {
            let Some(mut conn) = lock(&self.idle).pop() else {
                return self.connect();
            };
            if conn.command(Rset).is_ok() {
                return Ok(conn);
            }
        }
    }

    /// A new connection: TCP (or TLS from the first byte), EHLO, STARTTLS and the login as
    /// `--mail` asks, as lettre's `SmtpTransport` makes one for each mail.
    fn connect(&self) -> Result<SmtpConnection, lettre::transport::smtp::Error> {
        let hello = ClientId::default();
        let implicit = match &self.tls {
            Tls::Wrapper(parameters) => Some(parameters),
            _ => None,
        };
        let address = (self.host.as_str(), self.port);
        let mut conn =
            SmtpConnection::connect(address, Some(SMTP_TIMEOUT), &hello, implicit, None)?;
        match &self.tls {
            Tls::Opportunistic(parameters) if conn.can_starttls() => {
                conn.starttls(parameters, &hello)?
            }
            Tls::Required(parameters) => conn.starttls(parameters, &hello)?,
            _ => {}
        }
        if let Some(login) = &self.login {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], login)?;
        }
        Ok(conn)
    }

    fn close_connections(&self) {
        let waiting = std::mem::take(&mut *lock(&self.idle));
        for mut conn in waiting {
            // A relay that closed it already has nothing to be told.
            let _ = conn.quit();
        }
    }

    /// `clientele check-mail`: connects (TLS and login included), and says QUIT. Reports
    /// what happened, a line each: the connection, TLS only if it was negotiated, the login
    /// only if one was made.
    fn check(&self) -> Result<String, String> {
        let mut conn = self
            .connect()
            .map_err(|e| match explain(&e, &self.summary) {
                DeliveryError::Transient(m) | DeliveryError::Permanent(m) => m,
            })?;
        let answered = conn.test_connected();
        let encrypted = conn.is_encrypted();
        let _ = conn.quit();
        if !answered {
            return Err(format!("{}: the relay closed the connection", self.summary));
        }
        let tls = match (&self.tls, encrypted) {
            (Tls::Wrapper(_), true) => "TLS: negotiated from the first byte (tls=tls)",
            (_, true) => "TLS: negotiated with STARTTLS",
            (Tls::Opportunistic(_), false) => {
                "TLS: not used (the relay does not offer STARTTLS; mail goes in the clear)"
            }
            (_, false) => "TLS: not used (tls=none; mail goes in the clear)",
        };
        let login = match &self.login {
            Some(_) => "login: accepted",
            None => "login: none made (no USER:PASS in --mail)",
        };
        Ok(format!("{}: connected\n{tls}\n{login}", self.summary))
    }
}

/// The relay's waiting connections are a plain list: a thread that panicked while holding
/// it left it whole.
fn lock(idle: &Mutex<Vec<SmtpConnection>>) -> std::sync::MutexGuard<'_, Vec<SmtpConnection>> {
    idle.lock().unwrap_or_else(|e| e.into_inner())
}

fn relay(spec: &str) -> Result<Relay, String> {
    let shown = crate::redact::text(spec);
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
    let mut summary = format!("smtp://{host}:{port} ({how}");
    if login {
        summary = format!("smtp://{user}@{host}:{port} ({how}, login as {user}");
    }
    if let Some(ca) = &ca {
        summary.push_str(&format!(", trusting {}", ca.display()));
    }
    if insecure {
        summary.push_str(", CERTIFICATE NOT VERIFIED");
    }
    summary.push(')');
    Ok(Relay {
        host,
        port,
        tls,
        login: login.then(|| Credentials::new(user, password)),
        idle: Mutex::new(Vec::new()),
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

/// One message in mbox format: a `From ` line, `>From` quoting, a blank line after.
pub fn mbox_entry(message: &Message, envelope_from: &str, date: &str) -> Vec<u8> {
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
    entry.into_bytes()
}

/// The mbox opened for appending, made if it is not there.
pub fn open_mbox(path: &Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Appends one entry and fsyncs before returning. A failed write is cut off again, so that
/// the next entry does not run into half of this one.
fn append_mbox(path: &Path, entry: &[u8]) -> std::io::Result<()> {
    let mut file = open_mbox(path)?;
    let before = file.metadata()?.len();
    if let Err(e) = file.write_all(entry).and_then(|()| file.sync_all()) {
        let _ = file.set_len(before).and_then(|()| file.sync_all());
        return Err(e);
    }
    Ok(())
}

/// A mail that may have been appended before the process died: how its Message-ID starts
/// (`<outbox-ID.TAG@`: the domain may have changed since) and the size of its entry.
pub struct InDoubt<'a> {
    pub message_id_prefix: &'a str,
    pub len: u64,
}

/// The most the tail check reads, whatever the claimed sizes add up to.
const MAX_TAIL_BYTES: u64 = 64 * 1024 * 1024;

/// Looks at the end of the mbox (only as many bytes as the mails in doubt take, since they
/// were the last appended) for those mails, and returns the prefixes of those found whole.
/// A last entry cut short (the process died in the middle of writing it) is cut off, so
/// that its mail is appended again in full.
pub fn check_mbox_tail(path: &Path, in_doubt: &[InDoubt]) -> std::io::Result<Vec<String>> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        // A pipe or a device: nothing to look back at.
        return Ok(Vec::new());
    }
    let file_len = metadata.len();
    let wanted: u64 = in_doubt
        .iter()
        .map(|d| d.len)
        .sum::<u64>()
        .min(MAX_TAIL_BYTES);
    // One byte more, to see the newline before an entry that starts the window.
    let start = file_len.saturating_sub(wanted + 1);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity((file_len - start) as usize);
    file.read_to_end(&mut tail)?;

    // Entry starts: "From " at the start of a line (quoting keeps it out of bodies).
    let starts: Vec<usize> = (0..tail.len())
        .filter(|&i| {
            tail[i..].starts_with(b"From ")
                && (if i == 0 {
                    start == 0
                } else {
                    tail[i - 1] == b'\n'
                })
        })
        .collect();
    let mut found = Vec::new();
    for (k, &at) in starts.iter().enumerate() {
        let last = k + 1 == starts.len();
        let end = starts.get(k + 1).copied().unwrap_or(tail.len());
        let entry = &tail[at..end];
        let id = message_id(entry);
        let expected = id.and_then(|id| {
            in_doubt
                .iter()
                .find(|d| id.starts_with(d.message_id_prefix))
        });
        let cut_short =
            !entry.ends_with(b"\n\n") || expected.is_some_and(|d| (entry.len() as u64) < d.len);
        if last && cut_short {
            file.set_len(start + at as u64)?;
            file.sync_all()?;
            crate::log::line(format!(
                "mail: cut off an incomplete last mail of {} ({} bytes)",
                path.display(),
                entry.len()
            ));
            break;
        }
        if let Some(d) = expected {
            found.push(d.message_id_prefix.to_string());
        }
    }
    Ok(found)
}

/// The Message-ID of an mbox entry, from its header block.
fn message_id(entry: &[u8]) -> Option<String> {
    let end = entry
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(entry.len());
    let headers = String::from_utf8_lossy(&entry[..end]);
    headers.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("Message-ID")
            .then(|| value.trim().to_string())
    })
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
        let entry = mbox_entry(&message, "a@example.com", "Mon Nov 23 09:37:48 2026");
        for _ in 0..2 {
            transport.deliver(&message, &entry).unwrap();
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

    fn entry_for(id: i64, body: &str) -> Vec<u8> {
        let message = Message::builder()
            .from("a@example.com".parse().unwrap())
            .to("b@example.com".parse().unwrap())
            .subject("hi")
            .message_id(Some(format!("<outbox-{id}.tag@example.com>")))
            .header(lettre::message::header::ContentTransferEncoding::SevenBit)
            .body(body.to_string())
            .unwrap();
        mbox_entry(&message, "a@example.com", "Mon Nov 23 09:37:48 2026")
    }

    #[test]
    fn the_tail_check_finds_whole_mails_and_cuts_off_a_half_written_one() {
        let dir = std::env::temp_dir().join(format!("clientele-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tail.mbox");
        let (e1, e2, e3) = (
            entry_for(1, "one\nFrom the body\n"),
            entry_for(2, "two"),
            entry_for(3, "three"),
        );
        let doubt = |ids: &[(&'static str, &Vec<u8>)]| -> Vec<InDoubt<'static>> {
            ids.iter()
                .map(|(p, e)| InDoubt {
                    message_id_prefix: p,
                    len: e.len() as u64,
                })
                .collect()
        };
        // No mbox yet: nothing found.
        let _ = std::fs::remove_file(&path);
        assert!(check_mbox_tail(&path, &doubt(&[("<outbox-1.tag@", &e1)]))
            .unwrap()
            .is_empty());

        // 1 and 2 whole; 3 cut short after its headers: 3 is cut off, the file ends after 2.
        let whole = [e1.clone(), e2.clone()].concat();
        std::fs::write(&path, [&whole[..], &e3[..e3.len() - 4]].concat()).unwrap();
        let in_doubt = doubt(&[
            ("<outbox-2.tag@", &e2),
            ("<outbox-3.tag@", &e3),
            ("<outbox-4.tag@", &e3),
        ]);
        let found = check_mbox_tail(&path, &in_doubt).unwrap();
        assert_eq!(found, vec!["<outbox-2.tag@".to_string()]);
        assert_eq!(std::fs::read(&path).unwrap(), whole);

        // A fragment without its headers' end is cut off too; a mail before the window is not
        // looked at (only as many bytes as the mails in doubt take are read).
        std::fs::write(&path, [&whole[..], b"From a@example.com Mon"].concat()).unwrap();
        let found = check_mbox_tail(&path, &doubt(&[("<outbox-1.tag@", &e3)])).unwrap();
        assert!(found.is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), whole);
        let found = check_mbox_tail(&path, &doubt(&[("<outbox-1.tag@", &whole)])).unwrap();
        assert_eq!(found, vec!["<outbox-1.tag@".to_string()]);
        let _ = std::fs::remove_dir_all(&dir);
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
