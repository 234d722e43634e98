//! The sender thread: delivers due outbox rows, retries with capped exponential backoff while
//! the transport fails transiently, gives up after `--mail-give-up`, and picks up pending rows
//! after a restart (they are just rows). A row is marked sent only after the transport said
//! the mail is safe; a crash between the two can send a mail twice, never lose one.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, UNIX_EPOCH};

use lettre::message::{header::ContentType, Mailbox, MultiPart};
use lettre::Message;
use rusqlite::OptionalExtension;

use super::transport::{DeliveryError, Transport};
use crate::clock::Clock;
use crate::store::Store;

/// First retry after this, doubling per attempt up to `MAX_BACKOFF_MS`.
const FIRST_BACKOFF_MS: i64 = 500;
const MAX_BACKOFF_MS: i64 = 60_000;
/// Rows taken per pass.
const BATCH: i64 = 20;
/// The longest the thread sleeps before looking again (so a moved clock is noticed).
const MAX_IDLE: Duration = Duration::from_secs(1);

/// The handle requests use to wake the sender, and test suites to make deliveries fail.
#[derive(Default)]
pub struct Mailer {
    woken: Mutex<bool>,
    wakeup: Condvar,
    stopping: AtomicBool,
    /// Fail this many upcoming deliveries on purpose (fault injection).
    fail_next: AtomicU32,
}

impl Mailer {
    pub fn wake(&self) {
        *self.woken.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wakeup.notify_one();
    }

    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake();
    }

    pub fn fail_next(&self, count: u32) {
        self.fail_next.store(count, Ordering::SeqCst);
    }

    fn sleep(&self, at_most: Duration) {
        let guard = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        let (mut woken, _) = self
            .wakeup
            .wait_timeout_while(guard, at_most, |woken| !*woken)
            .unwrap_or_else(|e| e.into_inner());
        *woken = false;
    }

    fn take_injected_failure(&self) -> bool {
        self.fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

struct Due {
    id: i64,
    recipient: String,
    subject: String,
    text: String,
    html: Option<String>,
    attempts: i64,
    created_at: i64,
}

/// Starts the sender thread. It gets what delivering needs and no more: the store (the
/// outbox), the server's clock, the `Mailer` it is woken and stopped through, and the
/// transport.
pub fn spawn_sender(
    store: Arc<Store>,
    clock: Arc<Clock>,
    mailer: Arc<Mailer>,
    transport: Transport,
    from: Mailbox,
    give_up_ms: i64,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("mail-sender".into())
        .spawn(move || {
            while !mailer.stopping.load(Ordering::SeqCst) {
                let now = clock.now_ms();
                let due = match store.read(|c| due_rows(c, now)) {
                    Ok(due) => due,
                    Err(e) => {
                        eprintln!("mail: reading the outbox failed: {e}");
                        Vec::new()
                    }
                };
                for row in &due {
                    if mailer.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let outcome = deliver(&mailer, &clock, &transport, &from, row);
                    if let Err(e) = record(&store, &clock, row, outcome, give_up_ms) {
                        eprintln!("mail: recording the outcome of mail {} failed: {e}", row.id);
                    }
                }
                if due.len() as i64 == BATCH {
                    continue;
                }
                let next = store.read(next_due).ok().flatten();
                let now = clock.now_ms();
                let wait = next.map_or(MAX_IDLE, |at| {
                    Duration::from_millis((at - now).clamp(0, 1000) as u64)
                });
                if !wait.is_zero() {
                    mailer.sleep(wait);
                }
            }
        })
        .expect("spawning the mail sender")
}

fn due_rows(conn: &rusqlite::Connection, now: i64) -> rusqlite::Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, recipient, subject, text_body, html_body, attempts, created_at
         FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= ?1
         ORDER BY next_attempt_at, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![now, BATCH], |r| {
        Ok(Due {
            id: r.get(0)?,
            recipient: r.get(1)?,
            subject: r.get(2)?,
            text: r.get(3)?,
            html: r.get(4)?,
            attempts: r.get(5)?,
            created_at: r.get(6)?,
        })
    })?;
    rows.collect()
}

fn next_due(conn: &rusqlite::Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT min(next_attempt_at) FROM mail_outbox WHERE status = 'pending'")?
        .query_row([], |r| r.get(0))
        .optional()
        .map(Option::flatten)
}

fn deliver(
    mailer: &Mailer,
    clock: &Clock,
    transport: &Transport,
    from: &Mailbox,
    row: &Due,
) -> Result<(), DeliveryError> {
    if mailer.take_injected_failure() {
        return Err(DeliveryError::Transient(
            "failure injected by the admin API".into(),
        ));
    }
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| DeliveryError::Permanent(format!("recipient {:?}: {e}", row.recipient)))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.as_str())
        .date(UNIX_EPOCH + Duration::from_millis(row.created_at.max(0) as u64))
        .message_id(Some(format!(
            "<{}.{}@{}>",
            row.id,
            row.created_at,
            from.email.domain()
        )));
    let message = match &row.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            row.text.clone(),
            html.clone(),
        )),
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(row.text.clone()),
    }
    .map_err(|e| DeliveryError::Permanent(format!("building the message: {e}")))?;
    let date = crate::clock::asctime(clock.now_ms());
    transport.deliver(&message, from.email.as_ref(), &date)
}

fn record(
    store: &Store,
    clock: &Clock,
    row: &Due,
    outcome: Result<(), DeliveryError>,
    give_up_ms: i64,
) -> rusqlite::Result<()> {
    let now = clock.now_ms();
    let attempts = row.attempts + 1;
    store.write(|tx| {
        match outcome {
            Ok(()) => {
                tx.prepare_cached(
                    "UPDATE mail_outbox SET status = 'sent', attempts = ?2, sent_at = ?3,
                         last_error = NULL WHERE id = ?1",
                )?
                .execute(rusqlite::params![row.id, attempts, now])?;
            }
            Err(error) => {
                let (message, permanent) = match error {
                    DeliveryError::Transient(m) => (m, false),
                    DeliveryError::Permanent(m) => (m, true),
                };
                let give_up = permanent || now - row.created_at >= give_up_ms;
                let backoff = FIRST_BACKOFF_MS
                    .saturating_mul(1 << (attempts - 1).clamp(0, 20))
                    .min(MAX_BACKOFF_MS);
                eprintln!(
                    "mail: delivery of mail {} failed (attempt {attempts}{}): {message}",
                    row.id,
                    if give_up { ", giving up" } else { "" }
                );
                tx.prepare_cached(
                    "UPDATE mail_outbox SET status = ?2, attempts = ?3, last_error = ?4,
                         next_attempt_at = ?5 WHERE id = ?1",
                )?
                .execute(rusqlite::params![
                    row.id,
                    if give_up { "failed" } else { "pending" },
                    attempts,
                    message,
                    now + backoff
                ])?;
            }
        }
        Ok(())
    })
}
