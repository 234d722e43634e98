//! Mail that is never lost: a mail is a row of `mail_outbox`, written in the same transaction
//! as the record that causes it, and a sender thread (`sender.rs`) delivers due rows through
//! the transport chosen by `--mail` (`transport.rs`: an mbox file or SMTP through lettre).

mod sender;
mod transport;

use serde_json::{json, Value};

pub use sender::{spawn_sender, Mailer};
pub use transport::Transport;

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
pub fn enqueue(tx: &rusqlite::Transaction, mail: &Mail, now_ms: i64) -> rusqlite::Result<i64> {
    let links = Value::from(mail.links.clone()).to_string();
    tx.prepare_cached(
        "INSERT INTO mail_outbox (flavour, recipient, subject, text_body, html_body, links,
             next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(rusqlite::params![
        mail.flavour,
        mail.to,
        mail.subject,
        mail.text,
        mail.html,
        links,
        now_ms
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Most messages `GET /_admin/mail` lists (the newest).
const MAILBOX_LIMIT: i64 = 1000;

/// The outbox as the admin API shows it: `{"messages": [...]}`, oldest first.
pub fn mailbox(conn: &rusqlite::Connection, to: Option<&str>) -> rusqlite::Result<Value> {
    let mut stmt = conn.prepare_cached(
        "SELECT * FROM (
             SELECT id, flavour, recipient, subject, text_body, links, status, attempts,
                    created_at, sent_at, last_error
             FROM mail_outbox WHERE ?1 IS NULL OR recipient = ?1 COLLATE NOCASE
             ORDER BY id DESC LIMIT ?2)
         ORDER BY id",
    )?;
    let rows = stmt.query_map(rusqlite::params![to, MAILBOX_LIMIT], |r| {
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
    let messages = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(json!({ "messages": messages }))
}
