//! Mail that is never lost: a mail is a row of `mail_outbox`, written in the same transaction
//! as the record that causes it, and a sender thread (`sender.rs`) delivers due rows through
//! the transport chosen by `--mail` (`transport.rs`: an mbox file or SMTP through lettre).
//!
//! Delivery is exactly once into an mbox (a restart looks for mails that may have been
//! appended already, by their Message-ID) and at least once over SMTP (with a stable
//! Message-ID, so a receiver can drop a duplicate). The one-time tokens a mail carries are
//! not kept at rest longer than needed (`scrub`): without `--admin-token` the stored copy
//! loses them once the mail is delivered (or given up); with it, once the link expired.

pub mod outbox;
mod sender;
mod transport;

use crate::db::OptionalExtension;
use serde_json::{json, Value};

pub use sender::{message_id, spawn_sender, Mailer, Outbox};
pub use transport::{open_mbox, Transport};

/// A mail to send.
pub struct Mail {
    /// The flavour that sends it (for the admin mailbox and logs).
    pub flavour: &'static str,
    pub to: String,
    pub subject: String,
    pub text: String,
    /// An HTML alternative of `text`.
    pub html: Option<String>,
    /// The links the mail carries, so test suites can follow them without parsing mail.
    pub links: Vec<String>,
}

/// Queues `mail` in the caller's transaction; after it commits, call `App::wake_mailer`.
///
/// A link whose last path segment is a one-time token of `links` (issued in this
/// transaction, say) is remembered as secret, so that `scrub` can take it out later.
pub fn enqueue(tx: &crate::db::Transaction, mail: &Mail, now_ms: i64) -> crate::db::Result<i64> {
    let mut secret = Vec::new();
    for (i, link) in mail.links.iter().enumerate() {
        let token = link.rsplit('/').next().unwrap_or("");
        let expires_at: Option<i64> = tx
            .prepare_cached("SELECT expires_at FROM links WHERE token_hash = ?1")?
            .query_row([crate::auth::sha256(token.as_bytes())], |r| r.get(0))
            .optional()?;
        if let Some(at) = expires_at {
            secret.push((i, at));
        }
    }
    enqueue_with_secrets(tx, mail, now_ms, &secret)
}

/// `enqueue` for a caller that knows which of the mail's links are one-time links and when
/// each expires: (index in `mail.links`, expiry), so that none is looked up again.
pub fn enqueue_with_secrets(
    tx: &crate::db::Transaction,
    mail: &Mail,
    now_ms: i64,
    secret: &[(usize, i64)],
) -> crate::db::Result<i64> {
    let links = Value::from(mail.links.clone()).to_string();
    let secret_until = secret.iter().map(|(_, at)| *at).max();
    let secret_links = (!secret.is_empty())
        .then(|| Value::from(secret.iter().map(|(i, _)| *i).collect::<Vec<_>>()).to_string());
    tx.prepare_cached(
        "INSERT INTO mail_outbox (flavour, recipient, subject, text_body, html_body, links,
             next_attempt_at, created_at, secret_links, secret_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)
         RETURNING id",
    )?
    .query_row(
        crate::params![
            mail.flavour,
            mail.to,
            mail.subject,
            mail.text,
            mail.html,
            links,
            now_ms,
            secret_links,
            secret_until
        ],
        |r| r.get(0),
    )
}

/// What replaces a one-time link in the stored copy of a delivered mail.
pub const REMOVED_AFTER_DELIVERY: &str = "[link removed after delivery]";
/// What replaces it in a mail given up on (in a deployment, as after a delivery).
pub const REMOVED_UNDELIVERED: &str = "[link removed: the mail could not be delivered]";
/// What replaces it once the link expired (`--admin-token` keeps links readable until then).
pub const REMOVED_AFTER_EXPIRY: &str = "[link removed after it expired]";

/// Replaces the one-time links of mail `id` by `marker` in its text, HTML and links, so
/// that the stored copy no longer holds a usable token. Does nothing to a scrubbed mail.
pub fn scrub(tx: &crate::db::Transaction, id: i64, marker: &str) -> crate::db::Result<()> {
    let row: Option<Stored> = tx
        .prepare_cached(
            "SELECT text_body, html_body, links, secret_links FROM mail_outbox WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(Stored {
                text: r.get(0)?,
                html: r.get(1)?,
                links: r.get(2)?,
                secret_links: r.get(3)?,
            })
        })
        .optional()?;
    let Some(scrubbed) = row.and_then(|stored| stored.scrubbed(marker)) else {
        return Ok(());
    };
    tx.prepare_cached(
        "UPDATE mail_outbox SET text_body = ?2, html_body = ?3, links = ?4,
             secret_links = NULL, secret_until = NULL WHERE id = ?1",
    )?
    .execute(crate::params![
        id,
        scrubbed.text,
        scrubbed.html,
        scrubbed.links
    ])?;
    Ok(())
}

/// A mail's stored text and links, as `scrub` reads them (the sender has them from its lease).
#[derive(Clone, Debug)]
pub struct Stored {
    pub text: String,
    pub html: Option<String>,
    /// The links, as a JSON array.
    pub links: String,
    /// Which of the links are one-time links, as a JSON array of indexes; `None` for none.
    pub secret_links: Option<String>,
}

impl Stored {
    /// The text, HTML and links (JSON) with every one-time link replaced by `marker`; `None`
    /// when the mail has none.
    pub fn scrubbed(&self, marker: &str) -> Option<Stored> {
        let secret: Vec<usize> = serde_json::from_str(self.secret_links.as_deref()?).ok()?;
        let mut links: Vec<String> = serde_json::from_str(&self.links).unwrap_or_default();
        let (mut text, mut html) = (self.text.clone(), self.html.clone());
        for i in secret {
            let Some(link) = links.get_mut(i) else {
                continue;
            };
            let token = link.rsplit('/').next().unwrap_or("").to_string();
            let escaped = crate::http::escape_html(link);
            text = text.replace(link.as_str(), marker);
            html = html.map(|h| h.replace(&escaped, marker).replace(link.as_str(), marker));
            // Whatever still shows the token (a link written differently) loses it too; a
            // token is long enough (43 characters) not to match ordinary words.
            if token.len() >= 32 {
                text = text.replace(&token, marker);
                html = html.map(|h| h.replace(&token, marker));
            }
            *link = marker.to_string();
        }
        Some(Stored {
            text,
            html,
            links: Value::from(links).to_string(),
            secret_links: None,
        })
    }
}

/// This database's Message-ID tag (`mail_identity`), made again if a reset deleted it.
pub fn identity_tag(store: &crate::store::Store) -> crate::db::Result<String> {
    let read = |c: &crate::db::Connection| {
        c.prepare_cached("SELECT tag FROM mail_identity WHERE id = 1")?
            .query_row([], |r| r.get::<_, String>(0))
            .optional()
    };
    if let Some(tag) = store.read(read)? {
        return Ok(tag);
    }
    store.write(|tx| {
        tx.execute(
            tx.pick(
                "INSERT OR IGNORE INTO mail_identity (id, tag) VALUES (1, lower(hex(randomblob(8))))",
                "INSERT INTO mail_identity (id, tag)
                 VALUES (1, substr(md5(random()::text || clock_timestamp()::text), 1, 16))
                 ON CONFLICT DO NOTHING",
            ),
            [],
        )?;
        read(tx)?.ok_or(crate::db::Error::NoRows)
    })
}

/// Most messages `GET /_admin/mail` lists (the newest).
const MAILBOX_LIMIT: i64 = 1000;

/// The outbox as the admin API shows it: `{"messages": [...]}`, oldest first.
pub fn mailbox(conn: &crate::db::Connection, to: Option<&str>) -> crate::db::Result<Value> {
    let mut stmt = conn.prepare_cached(
        "SELECT * FROM (
             SELECT id, flavour, recipient, subject, text_body, links, status, attempts,
                    created_at, sent_at, last_error
             FROM mail_outbox WHERE CAST(?1 AS TEXT) IS NULL OR recipient = CAST(?1 AS TEXT) COLLATE NOCASE
             ORDER BY id DESC LIMIT ?2) AS newest
         ORDER BY id",
    )?;
    let rows = stmt.query_map(crate::params![to, MAILBOX_LIMIT], |r| {
        let links: String = r.get(5)?;
        let sent_at: Option<i64> = r.get(9)?;
        Ok(json!({
            "id": r.get::<_, i64>(0)?,
            "flavour": r.get::<_, String>(1)?,
            "to": r.get::<_, String>(2)?,
            "subject": r.get::<_, String>(3)?,
            "text": r.get::<_, String>(4)?,
            "links": serde_json::from_str::<Value>(&links).unwrap_or_else(|_| json!([])),
            "status": r.get::<_, String>(6)?,
            "attempts": r.get::<_, i64>(7)?,
            "created": crate::clock::iso_millis(r.get(8)?),
            "sent": sent_at.map(crate::clock::iso_millis),
            "error": r.get::<_, Option<String>>(10)?,
        }))
    })?;
    let messages = rows.collect::<crate::db::Result<Vec<_>>>()?;
    Ok(json!({ "messages": messages }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store, SCHEMA};

    fn mail(links: Vec<String>) -> Mail {
        let text = format!("Hello,\n\n{}\n", links.join("\n"));
        let html = links
            .iter()
            .map(|l| format!("<a href=\"{l}\">go</a> or open {l}"))
            .collect();
        Mail {
            flavour: "acme",
            to: "a@example.com".into(),
            subject: "s".into(),
            text,
            html: Some(html),
            links,
        }
    }

    #[test]
    fn scrub_takes_out_the_one_time_links_only() {
        let store = Store::open(":memory:", Durability::Process).unwrap();
        let (id, token) = store
            .write(|tx| {
                let token = crate::links::issue(
                    tx,
                    &crate::ids::Ids::new(None),
                    "acme.invite",
                    "c1",
                    0,
                    1000,
                )?;
                let links = vec![
                    format!("http://x/acme/invite/{token}"),
                    "http://x/acme/login".to_string(),
                ];
                Ok::<_, crate::db::Error>((enqueue(tx, &mail(links), 0)?, token))
            })
            .unwrap();
        let secret: (Option<String>, Option<i64>) = store
            .read(|c| {
                c.query_row(
                    "SELECT secret_links, secret_until FROM mail_outbox WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .unwrap();
        assert_eq!(secret, (Some("[0]".into()), Some(1000)));
        store
            .write(|tx| scrub(tx, id, REMOVED_AFTER_DELIVERY))
            .unwrap();
        let (text, html, links, secret): (String, String, String, Option<String>) = store
            .read(|c| {
                c.query_row(
                    "SELECT text_body, html_body, links, secret_links FROM mail_outbox",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
            })
            .unwrap();
        for stored in [&text, &html, &links] {
            assert!(!stored.contains(&token), "{stored}");
            assert!(stored.contains(REMOVED_AFTER_DELIVERY), "{stored}");
            assert!(stored.contains("http://x/acme/login"), "{stored}");
        }
        assert_eq!(secret, None);
    }

    /// Migration 2 knows the two flavours' link paths that carried one-time tokens before it.
    #[test]
    fn migration_2_keeps_the_outbox_and_never_reuses_an_id() {
        let dir = std::env::temp_dir().join(format!("clientele-mail-mig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v1.db");
        let _ = std::fs::remove_file(&path);
        let v1 = &SCHEMA[..SCHEMA.find("\n-- migration: 2").unwrap()];
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(v1).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO mail_outbox (id, flavour, recipient, subject, text_body, links,
                                      status, next_attempt_at, created_at)
             VALUES (7, 'mx', 'a@example.com', 's', 't', '[]', 'sent', 0, 0),
                    (6, 'mx', 'b@example.com', 's', 'see http://x/mx/dashboard/register/tok',
                     '[\"http://x/mx/dashboard/register/tok\"]', 'sent', 0, 5);",
        )
        .unwrap();
        drop(conn);
        let store = Store::open(path.to_str().unwrap(), Durability::Process).unwrap();
        let (kept, tag): (String, String) = store
            .read(|c| {
                c.query_row(
                    "SELECT (SELECT recipient FROM mail_outbox WHERE id = 7),
                            (SELECT tag FROM mail_identity)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .unwrap();
        assert_eq!(kept, "a@example.com");
        assert_eq!(tag.len(), 16);
        let legacy: (Option<String>, Option<i64>) = store
            .read(|c| {
                c.query_row(
                    "SELECT secret_links, secret_until FROM mail_outbox WHERE id = 6",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .unwrap();
        assert_eq!(legacy, (Some("[0]".into()), Some(5 + 7 * 86_400_000)));
        store
            .write(|tx| scrub(tx, 6, REMOVED_AFTER_DELIVERY))
            .unwrap();
        let text: String = store
            .read(|c| {
                c.query_row("SELECT text_body FROM mail_outbox WHERE id = 6", [], |r| {
                    r.get(0)
                })
            })
            .unwrap();
        assert_eq!(text, format!("see {REMOVED_AFTER_DELIVERY}"));
        let ids: Vec<i64> = (0..2)
            .map(|_| {
                store
                    .write(|tx| {
                        let id = enqueue(tx, &mail(vec![]), 0)?;
                        tx.execute("DELETE FROM mail_outbox", [])?;
                        Ok::<_, crate::db::Error>(id)
                    })
                    .unwrap()
            })
            .collect();
        assert_eq!(ids, [8, 9], "not 8 again once 8 was deleted");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
