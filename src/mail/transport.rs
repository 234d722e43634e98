//! Where mail goes (`--mail`): appended to an mbox file and fsynced, or handed to an SMTP
//! server through lettre's synchronous transport.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport as _};

pub enum Transport {
    Mbox(PathBuf),
    Smtp(Box<SmtpTransport>),
}

/// Why a delivery failed: worth retrying (server down, 4xx) or not (5xx, bad address).
#[derive(Debug)]
pub enum DeliveryError {
    Transient(String),
    Permanent(String),
}

impl Transport {
    /// `mbox:PATH` or `smtp://[USER:PASS@]HOST:PORT[?tls=none|starttls|tls]`.
    pub fn parse(spec: &str) -> Result<Transport, String> {
        if let Some(path) = spec.strip_prefix("mbox:") {
            if path.is_empty() {
                return Err("--mail mbox: needs a path, e.g. mbox:./clientele.mbox".into());
            }
            return Ok(Transport::Mbox(PathBuf::from(path)));
        }
        if spec.starts_with("smtp://") {
            return smtp(spec).map(|t| Transport::Smtp(Box::new(t)));
        }
        Err(format!(
            "--mail {spec:?}: use mbox:PATH or smtp://[USER:PASS@]HOST:PORT[?tls=none|starttls|tls]"
        ))
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
            Transport::Smtp(smtp) => smtp.send(message).map(drop).map_err(|e| {
                if e.is_permanent() {
                    DeliveryError::Permanent(e.to_string())
                } else {
                    DeliveryError::Transient(e.to_string())
                }
            }),
        }
    }
}

fn smtp(spec: &str) -> Result<SmtpTransport, String> {
    let bad = |why: &str| format!("--mail {spec:?}: {why}");
    let url = url::Url::parse(spec).map_err(|e| bad(&e.to_string()))?;
    let host = url.host_str().ok_or_else(|| bad("no host"))?.to_string();
    let port = url.port().ok_or_else(|| bad("no port"))?;
    let tls_mode = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let parameters = || TlsParameters::new(host.clone()).map_err(|e| bad(&e.to_string()));
    let tls = match tls_mode.as_deref() {
        None => Tls::Opportunistic(parameters()?),
        Some("none") => Tls::None,
        Some("starttls") => Tls::Required(parameters()?),
        Some("tls") => Tls::Wrapper(parameters()?),
        Some(other) => return Err(bad(&format!("tls={other}: use none, starttls or tls"))),
    };
    let mut builder = SmtpTransport::builder_dangerous(host.as_str())
        .port(port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(15)));
    if !url.username().is_empty() {
        let decode = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let user = decode(url.username());
        let pass = decode(url.password().unwrap_or(""));
        builder = builder.credentials(Credentials::new(user, pass));
    }
    Ok(builder.build())
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
    }
}
