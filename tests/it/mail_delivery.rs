//! The outbox's promises under attack: SIGKILLs in the middle of a storm of MX creates leave
//! every acknowledged create's mail in the mbox exactly once, and the database of a
//! deployment keeps no usable one-time token once the mail is delivered (while a fixture
//! with `--admin-token` shows the links until they expire).

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{
    mails_to, mx_invite, wait_mail_status, Server, TempDir, MX_ACCEPT, MX_DEMO_AUTH,
};

/// One MX create over a fresh connection, without panicking when the server dies under it:
/// `Some(status)` once the status line arrived (a 200 means the create was committed).
fn try_invite(addr: &str, email: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body = serde_json::json!({"client": {"company_name": "Storm", "email": email,
                                             "first_name": "Storm", "last_name": "Test"}})
    .to_string();
    let request = format!(
        "POST /mx/clients HTTP/1.1\r\nHost: {addr}\r\nAccept: {MX_ACCEPT}\r\n\
         Authorization: {MX_DEMO_AUTH}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let head = String::from_utf8_lossy(&reply);
    head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// The entries of an mbox, split at its `From ` lines.
fn mbox_entries(mbox: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = mbox.match_indices("\nFrom ").map(|(i, _)| i + 1).collect();
    if mbox.starts_with("From ") {
        starts.insert(0, 0);
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &at)| &mbox[at..starts.get(k + 1).copied().unwrap_or(mbox.len())])
        .collect()
}

/// A header of an mbox entry (its header block only).
fn header<'a>(entry: &'a str, name: &str) -> Option<&'a str> {
    let headers = entry.split("\n\n").next().unwrap_or("");
    headers.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A pause from 300 to 900 ms, different each round, so the kills land anywhere.
fn some_pause(round: u64) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    Duration::from_millis(300 + (nanos / 1000 + round * 211) % 600)
}

#[test]
fn sigkills_during_a_storm_of_creates_neither_duplicate_nor_lose_a_mail() {
    const ROUNDS: u64 = 3;
    const CLIENTS: usize = 4;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut dir = TempDir::new();
    for round in 0..ROUNDS {
        let server = Server::builder().no_admin().start_in(dir);
        let addr = server.url.trim_start_matches("http://").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (addr, stop, acknowledged) = (addr.clone(), stop.clone(), acknowledged.clone());
                std::thread::spawn(move || {
                    for n in 0..100_000 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let email = format!("storm-{round}-{c}-{n}@example.com");
                        if try_invite(&addr, &email) == Some(200) {
                            acknowledged.lock().unwrap().push(email);
                        }
                    }
                })
            })
            .collect();
        // Each round kills a server that is busy: at least a few creates in, however slow
        // the machine (bounded), then a little later, so the kill lands anywhere.
        let before = acknowledged.lock().unwrap().len();
        let busy_by = Instant::now() + Duration::from_secs(30);
        while acknowledged.lock().unwrap().len() < before + 10 && Instant::now() < busy_by {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(some_pause(round));
        dir = server.kill();
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.join().unwrap();
        }
    }

    // A last start delivers what is left; then a clean stop.
    let mut server = Server::builder().no_admin().start_in(dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    let pending = || -> i64 {
        server
            .db()
            .query_row(
                "SELECT count(*) FROM mail_outbox WHERE status != 'sent'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    while pending() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(pending(), 0, "every mail is sent in the end");
    assert!(server.terminate().success());

    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 30,
        "the storm made only {} creates",
        acknowledged.len()
    );
    let db = server.db();
    let tag: String = db
        .query_row("SELECT tag FROM mail_identity", [], |r| r.get(0))
        .unwrap();
    let outbox: Vec<(i64, String)> = db
        .rows(
            "SELECT id, recipient FROM mail_outbox ORDER BY id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();

    let mbox = std::fs::read_to_string(server.dir().join("clientele.mbox")).unwrap();
    let entries = mbox_entries(&mbox);
    let mut by_id: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for entry in &entries {
        assert!(entry.ends_with("\n\n"), "a whole entry: {entry:?}");
        let id = header(entry, "Message-ID").expect("every mail has a Message-ID");
        by_id.entry(id.to_string()).or_default().push(entry);
    }
    let duplicates: Vec<_> = by_id.iter().filter(|(_, e)| e.len() > 1).collect();
    assert!(
        duplicates.is_empty(),
        "{} of {} mails appended more than once: {:?}",
        duplicates.len(),
        entries.len(),
        duplicates
            .iter()
            .map(|(id, e)| (id, e.len()))
            .collect::<Vec<_>>()
    );
    let domain = "localhost";
    let mut mailed = HashSet::new();
    for (id, recipient) in &outbox {
        let message_id = format!("<outbox-{id}.{tag}@{domain}>");
        let entry = by_id
            .get(&message_id)
            .unwrap_or_else(|| panic!("mail {id} to {recipient} is not in the mbox"));
        assert_eq!(header(entry[0], "To"), Some(recipient.as_str()));
        mailed.insert(recipient.clone());
    }
    assert_eq!(
        entries.len(),
        outbox.len(),
        "nothing in the mbox but the outbox"
    );
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|e| !mailed.contains(*e))
        .collect();
    assert!(lost.is_empty(), "acknowledged but never mailed: {lost:?}");
    let stderr = server.stderr();
    eprintln!(
        "{} acknowledged creates, {} mails; after the kills: {}",
        acknowledged.len(),
        entries.len(),
        stderr
            .lines()
            .filter(|l| l.contains("in doubt") || l.contains("incomplete"))
            .collect::<Vec<_>>()
            .join("; ")
    );
}

/// Undoes quoted-printable soft line breaks and `=3D`, enough to read our mails' text.
fn unfold_qp(text: &str) -> String {
    text.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// Waits (at most 10 s) for the mbox to hold `n` registration links; returns them in order.
fn mailed_links(server: &Server, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mbox = std::fs::read_to_string(server.dir().join("clientele.mbox")).unwrap_or_default();
        let text = unfold_qp(&mbox);
        let mut links: Vec<String> = Vec::new();
        for (at, _) in text.match_indices("/mx/dashboard/register/") {
            let start = text[..at].rfind("http").unwrap();
            let end = at
                + text[at..]
                    .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
                    .unwrap();
            let link = text[start..end].to_string();
            if !links.contains(&link) {
                links.push(link);
            }
        }
        if links.len() >= n {
            return links;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} links mailed",
            links.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_deployment_keeps_no_usable_token_once_the_mail_is_delivered() {
    const MAILS: usize = 30;
    let mut server = Server::builder().no_admin().start();
    for i in 0..MAILS {
        let to = format!("rest-{i}@example.com");
        assert_eq!(mx_invite(&server, &to).status, 200);
    }
    let links = mailed_links(&server, MAILS);
    let tokens: Vec<String> = links
        .iter()
        .map(|l| l.rsplit('/').next().unwrap().to_string())
        .collect();
    assert!(tokens.iter().all(|t| t.len() == 43));
    let path = links[0].strip_prefix(&server.url).unwrap().to_string();
    assert_eq!(server.get(&path, &[]).status, 200, "the mailed link works");

    let deadline = Instant::now() + Duration::from_secs(5);
    let unsent = || -> i64 {
        server
            .db()
            .query_row(
                "SELECT count(*) FROM mail_outbox WHERE status != 'sent'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    while unsent() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(unsent(), 0);
    let stored: Vec<(String, String, String)> = server
        .db()
        .rows(
            "SELECT text_body, html_body, links FROM mail_outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(stored.len(), MAILS);
    for (text, html, links) in &stored {
        for column in [text, html, links] {
            assert!(tokens.iter().all(|t| !column.contains(t)), "{column}");
            assert!(column.contains("[link removed after delivery]"), "{column}");
        }
        assert!(text.starts_with("Hello John,"), "the mail itself is kept");
    }

    // Every byte the database keeps on disk: the file, and its WAL and index. While running,
    // the WAL is truncated once the sender has nothing to do.
    let files = ["clientele.db", "clientele.db-wal", "clientele.db-shm"];
    let holding = |dir: &TempDir| -> Vec<(&str, usize)> {
        files
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(dir.join(f)).unwrap_or_default();
                (f, tokens.iter().filter(|t| contains(&bytes, t)).count())
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !holding(server.dir()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        holding(server.dir()),
        vec![],
        "tokens on disk while running"
    );
    assert!(server.terminate().success());
    assert_eq!(
        holding(server.dir()),
        vec![],
        "tokens on disk after a clean stop"
    );

    let stderr = server.stderr();
    assert!(
        tokens.iter().all(|t| !stderr.contains(t)),
        "the log holds a token"
    );
    // The tokens were usable all along: only their copies are gone.
    let server = Server::builder().no_admin().start_in(server.kill());
    assert_eq!(server.get(&path, &[]).status, 200);
}

#[test]
fn a_fixture_shows_links_until_they_expire() {
    let server = Server::start();
    assert_eq!(mx_invite(&server, "fixture@example.com").status, 200);
    let mails = wait_mail_status(
        &server,
        "fixture@example.com",
        "sent",
        Duration::from_secs(5),
    );
    let link = mails[0]["links"][0].as_str().unwrap().to_string();
    assert_eq!(
        link,
        mailed_links(&server, 1)[0],
        "the admin mailbox shows the link"
    );
    assert!(mails[0]["text"].as_str().unwrap().contains(&link));
    let token = link.rsplit('/').next().unwrap().to_string();

    // Past the link's expiry (7 days) and a housekeeping pass.
    assert_eq!(
        server
            .admin("POST", "/clock", Some(r#"{"advance": "8d"}"#))
            .status,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut mails = mails_to(&server, "fixture@example.com");
    while mails[0]["links"][0] == link.as_str() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        mails = mails_to(&server, "fixture@example.com");
    }
    assert_eq!(mails[0]["links"][0], "[link removed after it expired]");
    assert!(!mails[0]["text"].as_str().unwrap().contains(&token));
    let html: String = server
        .db()
        .query_row("SELECT html_body FROM mail_outbox", [], |r| r.get(0))
        .unwrap();
    assert!(!html.contains(&token));
}

#[test]
fn smtp_mail_has_a_message_id_of_its_own_across_databases_and_resets() {
    let sink = crate::smtp_sink::SmtpSink::start(0);
    let smtp = format!("smtp://127.0.0.1:{}?tls=none", sink.port);
    let first = Server::builder().arg("--mail").arg(&smtp).start();
    let second = Server::builder().arg("--mail").arg(&smtp).start();
    assert_eq!(mx_invite(&first, "one@example.com").status, 200);
    assert_eq!(mx_invite(&second, "two@example.com").status, 200);
    assert_eq!(
        first.admin("POST", "/reset", None).status,
        200,
        "a reset starts the data over, not the outbox ids"
    );
    assert_eq!(mx_invite(&first, "three@example.com").status, 200);
    let got = sink.wait_for(3, Duration::from_secs(10));
    assert_eq!(got.len(), 3);
    let id_of = |to: &str| -> String {
        let mail = got
            .iter()
            .find(|m| m.to == vec![to.to_string()])
            .unwrap_or_else(|| panic!("no mail to {to}"));
        let value = header(&mail.data.replace("\r\n", "\n"), "Message-ID")
            .unwrap()
            .to_string();
        value
    };
    let tag = |server: &Server| -> String {
        server
            .db()
            .query_row("SELECT tag FROM mail_identity", [], |r| r.get(0))
            .unwrap()
    };
    let (one, two, three) = (
        id_of("one@example.com"),
        id_of("two@example.com"),
        id_of("three@example.com"),
    );
    assert!(
        one.starts_with("<outbox-1.") && one.ends_with("@localhost>"),
        "{one}"
    );
    assert!(two.starts_with("<outbox-1."), "{two}");
    assert_ne!(one, two, "two databases, two Message-IDs");
    assert_eq!(two, format!("<outbox-1.{}@localhost>", tag(&second)));
    assert_eq!(three, format!("<outbox-2.{}@localhost>", tag(&first)));
}
