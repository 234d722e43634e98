//! Where mail goes (`--mail`): appended to an mbox file and fsynced, or handed to an SMTP
//! server through lettre's synchronous transport.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
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

/// Appends one entry and fsyncs before returning. A failed write is cut off again, so that
/// the next entry does not run into half of this one.
fn append_mbox(path: &Path, entry: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
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
            eprintln!(
                "mail: cut off an incomplete last mail of {} ({} bytes)",
                path.display(),
                entry.len()
            );
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
    }
}
