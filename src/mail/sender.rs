//! The sender thread: delivers due outbox rows, retries with capped exponential backoff while
//! the transport fails transiently, gives up after `--mail-give-up`, and picks up pending rows
//! after a restart (they are just rows). A row is marked sent only after the transport said
//! the mail is safe, so a crash between the two never loses a mail.
//!
//! Into an mbox, it does not duplicate one either: before appending, the sender claims the
//! rows it is about to write (`claimed_len`, the size of each entry), and the outcome clears
//! the claim. Claimed rows found at startup were perhaps appended before the process died:
//! the sender reads the end of the mbox (as many bytes as those entries take), marks the
//! mails it finds there sent, cuts off an entry that was only half written, and appends the
//! rest. Over SMTP a crash between the server's "250" and the sent mark sends the mail again,
//! with the same Message-ID (`<outbox-ID.TAG@domain>`).
//!
//! Over SMTP, a batch goes out on up to `SMTP_CONNECTIONS` connections at once, each mail's
//! outcome recorded as soon as the relay answered, as when they went one by one; two mails to
//! one recipient never go at the same time, so that they arrive in the order they were
//! queued. The connections stay open for the next batch and close once nothing has been due
//! for `SMTP_KEEP_OPEN`.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::db::OptionalExtension;
use lettre::message::{header::ContentType, Mailbox, MultiPart};
use lettre::Message;

use super::transport::{check_mbox_tail, mbox_entry, DeliveryError, InDoubt, Transport};
use crate::clock::Clock;
use crate::store::Store;

/// First retry after this, doubling per attempt up to `MAX_BACKOFF_MS`.
const FIRST_BACKOFF_MS: i64 = 500;
const MAX_BACKOFF_MS: i64 = 60_000;
/// Rows taken per pass.
const BATCH: i64 = 20;
/// The longest the thread sleeps before looking again (so a moved clock is noticed).
const MAX_IDLE: Duration = Duration::from_secs(1);
/// The least time between two WAL truncations by an idle sender.
const WAL_TRUNCATE_EVERY: Duration = Duration::from_secs(2);
/// The most mails sent over SMTP at once, and so the most connections open to the relay. A
/// relay takes its time to accept a mail (it writes it to its queue first): to one that takes
/// 5 ms, 4 connections send 3.7 times what one does (bench/README.md, "Mail over SMTP"), and
/// stay well under the connections a relay allows a client (Postfix: 50).
const SMTP_CONNECTIONS: usize = 4;
/// How long SMTP connections stay open once nothing is due: a test suite's next mail is
/// usually this close to its last, while a relay is not held for nothing.
const SMTP_KEEP_OPEN: Duration = Duration::from_secs(2);

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

#[derive(Clone)]
struct Due {
    id: i64,
    recipient: String,
    subject: String,
    /// Its text and links as stored: what it is sent with, and what is scrubbed once it is
    /// sent, in the same statement that marks it sent.
    stored: super::Stored,
    attempts: i64,
    created_at: i64,
}

/// A due row ready to go: its message, and its mbox entry (for the mbox transport).
struct Outgoing<'a> {
    row: &'a Due,
    message: Result<Message, DeliveryError>,
    entry: Vec<u8>,
}

/// What the sender thread works with, and nothing more: the outbox's store, the server's
/// clock, the `Mailer` it is woken, stopped and told to fail through, and whether delivered
/// mail keeps its links (only while the admin API can show them).
pub struct Outbox {
    pub store: Arc<Store>,
    pub clock: Arc<Clock>,
    pub mailer: Arc<Mailer>,
    /// True in a deployment (no `--admin-token`): the links of delivered mail are scrubbed.
    pub scrubs_links: bool,
    /// This process among the instances sharing a PostgreSQL database: the owner of the
    /// outbox leases it takes (random, new at each start).
    pub instance: String,
}

/// How long a PostgreSQL outbox lease lasts: other instances leave the row alone meanwhile,
/// and take it over once it has expired (its instance died, or is stuck).
const LEASE_MS: i64 = 60_000;

/// Starts the sender thread.
pub fn spawn_sender(
    app: Outbox,
    transport: Transport,
    from: Mailbox,
    give_up_ms: i64,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("mail-sender".into())
        .spawn(move || {
            Sender {
                app,
                transport,
                from,
                give_up_ms,
                recovered: false,
                unrecorded: Vec::new(),
                wal_dirty: false,
                truncated_at: None,
                last_sent_at: Instant::now(),
            }
            .run()
        })
        .expect("spawning the mail sender")
}

/// The sender thread's state between passes.
struct Sender {
    app: Outbox,
    transport: Transport,
    from: Mailbox,
    give_up_ms: i64,
    /// The mails in doubt after a restart are settled (on PostgreSQL: checked again at
    /// every pass, as another instance's lease may run out).
    recovered: bool,
    /// Outcomes that could not be recorded yet: nothing else goes out before they are.
    unrecorded: Vec<(Due, Result<(), DeliveryError>)>,
    /// A deployment scrubs the links of what it delivers (`Outbox::scrubs_links`); the WAL
    /// still holds the rows as they were until it is truncated, which happens when the
    /// sender is idle (at most every `WAL_TRUNCATE_EVERY`: a truncation holds the writer for
    /// a moment).
    wal_dirty: bool,
    truncated_at: Option<Instant>,
    last_sent_at: Instant,
}

/// What a pass asks of the loop.
enum Next {
    /// Another pass at once (a full batch went out).
    Pass,
    /// Sleep up to this long (a wake-up ends it early).
    Sleep(Duration),
}

impl Sender {
    fn run(mut self) {
        while !self.app.mailer.stopping.load(Ordering::SeqCst) {
            match self.pass() {
                Next::Pass => {}
                Next::Sleep(wait) if wait.is_zero() => {}
                Next::Sleep(wait) => self.app.mailer.sleep(wait),
            }
        }
        self.transport.close_connections();
        // The last writer is done (the requests ended first): leave no old page versions,
        // with links not yet scrubbed, in the WAL.
        if let Err(e) = self.app.store.truncate_wal() {
            crate::log::line(format!("mail: truncating the WAL at shutdown failed: {e}"));
        }
    }

    /// Settles what is in doubt, then sends what is due.
    fn pass(&mut self) -> Next {
        let now = self.app.clock.now_ms();
        if let Err(e) = self.recover_if_due() {
            crate::log::line(format!("mail: checking the mails in doubt failed: {e}"));
            return Next::Sleep(MAX_IDLE);
        }
        let (app, give_up_ms) = (&self.app, self.give_up_ms);
        self.unrecorded
            .retain(|(row, outcome)| record(app, row, outcome, give_up_ms).is_err());
        if !self.unrecorded.is_empty() {
            return Next::Sleep(MAX_IDLE);
        }
        let due = claim_due(&self.app, now).unwrap_or_else(|e| {
            crate::log::line(format!("mail: reading the outbox failed: {e}"));
            Vec::new()
        });
        let outgoing = match prepare(&self.app, &self.transport, &self.from, &due) {
            Ok(outgoing) => outgoing,
            Err(e) => {
                crate::log::line(format!("mail: claiming mails to send failed: {e}"));
                return Next::Sleep(MAX_IDLE);
            }
        };
        self.send(outgoing);
        if due.len() as i64 == BATCH {
            return Next::Pass;
        }
        if due.is_empty() {
            self.truncate_wal_if_due();
        }
        Next::Sleep(self.until_next_due())
    }

    /// At the first pass, and at every pass on PostgreSQL: mail claimed by an instance that
    /// died is checked whenever its lease runs out, not only at startup.
    fn recover_if_due(&mut self) -> Result<(), String> {
        if self.recovered && self.app.store.dialect() != crate::db::Dialect::Postgres {
            return Ok(());
        }
        recover(&self.app, &self.transport, !self.recovered)?;
        self.recovered = true;
        self.wal_dirty |= self.app.scrubs_links;
        Ok(())
    }

    /// Into an mbox, the whole batch in one append, one fsync and one transaction; over SMTP,
    /// on the connections kept open, closed once nothing has been due for a while.
    fn send(&mut self, outgoing: Vec<Outgoing<'_>>) {
        let (app, transport, give_up_ms) = (&self.app, &self.transport, self.give_up_ms);
        if transport.mbox_path().is_some() {
            if outgoing.is_empty() || app.mailer.stopping.load(Ordering::SeqCst) {
                return;
            }
            self.wal_dirty |= self.app.scrubs_links;
            let outcomes = deliver_all(app, transport, outgoing);
            if let Err(e) = record_all(app, &outcomes, give_up_ms) {
                crate::log::line(format!(
                    "mail: recording the outcome of {} mail(s) failed: {e}",
                    outcomes.len()
                ));
                self.unrecorded.extend(
                    outcomes
                        .into_iter()
                        .map(|(row, outcome)| (row.clone(), outcome)),
                );
            }
        } else if !outgoing.is_empty() {
            self.wal_dirty |= self.app.scrubs_links;
            let unrecorded = send_batch(app, transport, outgoing, give_up_ms);
            self.unrecorded.extend(unrecorded);
            self.last_sent_at = Instant::now();
        } else if self.last_sent_at.elapsed() >= SMTP_KEEP_OPEN {
            transport.close_connections();
        }
    }

    fn truncate_wal_if_due(&mut self) {
        let due = self
            .truncated_at
            .is_none_or(|at| at.elapsed() >= WAL_TRUNCATE_EVERY);
        if !self.wal_dirty || !due {
            return;
        }
        self.truncated_at = Some(Instant::now());
        match self.app.store.truncate_wal() {
            Ok(done) => self.wal_dirty = !done,
            Err(e) => crate::log::line(format!("mail: truncating the WAL failed: {e}")),
        }
    }

    /// How long until the next mail is due, at most `MAX_IDLE` (so a moved clock is seen).
    fn until_next_due(&self) -> Duration {
        let next = self
            .app
            .store
            .read(|c| next_due(c, &self.app.instance, self.app.clock.now_ms()))
            .ok()
            .flatten();
        let now = self.app.clock.now_ms();
        next.map_or(MAX_IDLE, |at| {
            Duration::from_millis((at - now).clamp(0, 1000) as u64)
        })
    }
}

/// The rows due now. SQLite has one sender: it reads them. On PostgreSQL several instances
/// send from one outbox: each takes a lease on the rows it is about to send (in a write, so
/// two instances never lease the same row), and leaves rows leased by another alone until
/// their lease expires.
fn claim_due(app: &Outbox, now: i64) -> crate::db::Result<Vec<Due>> {
    let due = |r: &crate::db::Row<'_>| {
        Ok(Due {
            id: r.get(0)?,
            recipient: r.get(1)?,
            subject: r.get(2)?,
            stored: super::Stored {
                text: r.get(3)?,
                html: r.get(4)?,
                links: r.get(7)?,
                secret_links: r.get(8)?,
            },
            attempts: r.get(5)?,
            created_at: r.get(6)?,
        })
    };
    if app.store.dialect() == crate::db::Dialect::Sqlite {
        return app.store.read(|c| {
            c.prepare_cached(
                "SELECT id, recipient, subject, text_body, html_body, attempts, created_at,
                        links, secret_links
                 FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2",
            )?
            .query_map(crate::params![now, BATCH], due)?
            .collect()
        });
    }
    // Beside the requests' writes (`write_rows`): rows another instance is leasing right now
    // are locked, and skipped (SKIP LOCKED), so no two instances lease one row.
    let mut rows: Vec<Due> = app.store.write_rows(|tx| {
        tx.prepare_cached(
            "UPDATE mail_outbox SET lease_owner = ?3, lease_until = ?4
             WHERE id IN (SELECT id FROM mail_outbox
                          WHERE status = 'pending' AND next_attempt_at <= ?1
                            AND (lease_until IS NULL OR lease_until < ?1 OR lease_owner = ?3)
                            AND (claimed_len IS NULL OR lease_owner = ?3)
                          ORDER BY next_attempt_at, id LIMIT ?2
                          FOR UPDATE SKIP LOCKED)
             RETURNING id, recipient, subject, text_body, html_body, attempts, created_at,
                       links, secret_links",
        )?
        .query_map(
            crate::params![now, BATCH, app.instance, now + LEASE_MS],
            due,
        )?
        .collect::<crate::db::Result<_>>()
    })?;
    rows.sort_by_key(|row| row.id);
    Ok(rows)
}

/// When the next row may be due: its next attempt, or, for a row another instance has
/// leased, the end of that lease.
fn next_due(
    conn: &crate::db::Connection,
    instance: &str,
    now: i64,
) -> crate::db::Result<Option<i64>> {
    let sql = conn.pick(
        "SELECT min(next_attempt_at) FROM mail_outbox WHERE status = 'pending'",
        "SELECT min(CASE WHEN lease_until > ?2 AND lease_owner <> ?1 THEN lease_until
                         ELSE next_attempt_at END)
         FROM mail_outbox WHERE status = 'pending'",
    );
    let mut stmt = conn.prepare_cached(sql)?;
    let next = match conn.dialect() {
        crate::db::Dialect::Sqlite => stmt.query_row([], |r| r.get(0)),
        crate::db::Dialect::Postgres => stmt.query_row(crate::params![instance, now], |r| r.get(0)),
    };
    next.optional().map(Option::flatten)
}

/// Builds the messages of `due` and, for the mbox, claims their rows with the size of
/// their entries (in one transaction), before any of them is appended.
fn prepare<'a>(
    app: &Outbox,
    transport: &Transport,
    from: &Mailbox,
    due: &'a [Due],
) -> crate::db::Result<Vec<Outgoing<'a>>> {
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let tag = super::identity_tag(&app.store)?;
    let date = crate::clock::asctime(app.clock.now_ms());
    let outgoing: Vec<Outgoing> = due
        .iter()
        .map(|row| {
            let message = build(from, row, &tag);
            let entry = match (&message, transport.mbox_path()) {
                (Ok(message), Some(_)) => mbox_entry(message, from.email.as_ref(), &date),
                _ => Vec::new(),
            };
            Outgoing {
                row,
                message,
                entry,
            }
        })
        .collect();
    if transport.mbox_path().is_some() {
        // The rows are this instance's (leased): no other write contends for them.
        app.store.write_rows(|tx| {
            let mut claim = tx.prepare_cached(
                "UPDATE mail_outbox SET claimed_len = ?2 WHERE id = ?1 AND status = 'pending'",
            )?;
            for out in outgoing.iter().filter(|o| !o.entry.is_empty()) {
                claim.execute(crate::params![out.row.id, out.entry.len() as i64])?;
            }
            Ok::<_, crate::db::Error>(())
        })?;
    }
    Ok(outgoing)
}

/// The Message-ID of outbox row `id`: stable across attempts and restarts, and unique across
/// databases through `tag`.
pub fn message_id(id: i64, tag: &str, from: &Mailbox) -> String {
    format!("{}{}>", message_id_prefix(id, tag), from.email.domain())
}

fn message_id_prefix(id: i64, tag: &str) -> String {
    format!("<outbox-{id}.{tag}@")
}

fn build(from: &Mailbox, row: &Due, tag: &str) -> Result<Message, DeliveryError> {
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| DeliveryError::Permanent(format!("recipient {:?}: {e}", row.recipient)))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.as_str())
        .date(UNIX_EPOCH + Duration::from_millis(row.created_at.max(0) as u64))
        .message_id(Some(message_id(row.id, tag, from)));
    match &row.stored.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            row.stored.text.clone(),
            html.clone(),
        )),
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(row.stored.text.clone()),
    }
    .map_err(|e| DeliveryError::Permanent(format!("building the message: {e}")))
}

fn deliver(
    app: &Outbox,
    transport: &Transport,
    message: Result<Message, DeliveryError>,
    entry: &[u8],
) -> Result<(), DeliveryError> {
    let message = message?;
    if app.mailer.take_injected_failure() {
        return Err(DeliveryError::Transient(
            "failure injected by the admin API".into(),
        ));
    }
    transport.deliver(&message, entry)
}

/// Sends a batch over SMTP, on as many connections at once as it has mails, up to
/// `SMTP_CONNECTIONS`, recording each outcome as soon as it is known. The outcomes that
/// could not be recorded come back, and nothing more is sent after one of them.
fn send_batch(
    app: &Outbox,
    transport: &Transport,
    outgoing: Vec<Outgoing<'_>>,
    give_up_ms: i64,
) -> Vec<(Due, Result<(), DeliveryError>)> {
    let senders = SMTP_CONNECTIONS.min(outgoing.len());
    let queue = Queue::new(outgoing);
    let unrecorded = Mutex::new(Vec::new());
    let send_all = || {
        while let Some(out) = queue.next(&app.mailer) {
            let outcome = deliver(app, transport, out.message, &out.entry);
            if let Err(e) = record(app, out.row, &outcome, give_up_ms) {
                crate::log::line(format!(
                    "mail: recording the outcome of mail {} failed: {e}",
                    out.row.id
                ));
                lock(&unrecorded).push((out.row.clone(), outcome));
                queue.halt();
            }
            queue.done(out.row);
        }
    };
    if senders <= 1 {
        send_all();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..senders {
                std::thread::Builder::new()
                    .name("mail-smtp".into())
                    .spawn_scoped(scope, send_all)
                    .expect("spawning a mail sender");
            }
        });
    }
    unrecorded.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// A batch's mails in the order they are due, handed to the threads sending them.
struct Queue<'a> {
    state: Mutex<QueueState<'a>>,
    /// A recipient is free again, or sending stopped.
    changed: Condvar,
}

struct QueueState<'a> {
    waiting: VecDeque<Outgoing<'a>>,
    /// The recipients of the mails being sent (lowercase).
    in_flight: HashSet<String>,
    halted: bool,
}

impl<'a> Queue<'a> {
    fn new(outgoing: Vec<Outgoing<'a>>) -> Queue<'a> {
        Queue {
            state: Mutex::new(QueueState {
                waiting: outgoing.into(),
                in_flight: HashSet::new(),
                halted: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// The first mail whose recipient has no mail in flight, waiting while every one has;
    /// `None` once all are taken, or sending stopped.
    fn next(&self, mailer: &Mailer) -> Option<Outgoing<'a>> {
        let mut state = lock(&self.state);
        loop {
            if state.halted || mailer.stopping.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(out) = state.take() {
                return Some(out);
            }
            if state.waiting.is_empty() {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The mail to `row`'s recipient is done with: the next one to them may go.
    fn done(&self, row: &Due) {
        lock(&self.state)
            .in_flight
            .remove(&row.recipient.to_lowercase());
        self.changed.notify_all();
    }

    fn halt(&self) {
        lock(&self.state).halted = true;
        self.changed.notify_all();
    }
}

impl<'a> QueueState<'a> {
    fn take(&mut self) -> Option<Outgoing<'a>> {
        let at = self
            .waiting
            .iter()
            .position(|out| !self.in_flight.contains(&out.row.recipient.to_lowercase()))?;
        let out = self.waiting.remove(at)?;
        self.in_flight.insert(out.row.recipient.to_lowercase());
        Some(out)
    }
}

/// A poisoned lock is taken as it is: what these locks guard changes in single steps, which a
/// panicking thread cannot have left half done.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Delivers a batch into the mbox: the entries that can go are appended together and
/// fsynced once; each row's outcome.
fn deliver_all<'a>(
    app: &Outbox,
    transport: &Transport,
    outgoing: Vec<Outgoing<'a>>,
) -> Vec<(&'a Due, Result<(), DeliveryError>)> {
    let mut outcomes = Vec::with_capacity(outgoing.len());
    let mut appended = Vec::new();
    let mut entries: Vec<&[u8]> = Vec::new();
    for out in &outgoing {
        match &out.message {
            Err(e) => outcomes.push((out.row, Err(e.clone()))),
            Ok(_) if app.mailer.take_injected_failure() => outcomes.push((
                out.row,
                Err(DeliveryError::Transient(
                    "failure injected by the admin API".into(),
                )),
            )),
            Ok(_) => {
                appended.push(out.row);
                entries.push(&out.entry);
            }
        }
    }
    let result = transport.append_all(&entries);
    outcomes.extend(appended.into_iter().map(|row| {
        let outcome = match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(e.clone()),
        };
        (row, outcome)
    }));
    outcomes
}

/// At startup, settles the rows a previous process claimed for the mbox without recording
/// an outcome: those found whole at the end of the mbox are marked sent, the others lose
/// their claim and go out as usual.
/// `at_startup`: this run's first check, which also takes the rows this instance's previous
/// run claimed (on PostgreSQL, the same mbox on the same machine is the same instance).
fn recover(app: &Outbox, transport: &Transport, at_startup: bool) -> Result<(), String> {
    let Some(path) = transport.mbox_path() else {
        return Ok(());
    };
    let claimed = app
        .store
        .read(|c| claimed_rows(c, app, at_startup))
        .map_err(|e| e.to_string())?;
    if claimed.is_empty() {
        return Ok(());
    }
    let tag = super::identity_tag(&app.store).map_err(|e| e.to_string())?;
    let ids: Vec<String> = claimed
        .iter()
        .map(|(id, _)| message_id_prefix(*id, &tag))
        .collect();
    let in_doubt: Vec<InDoubt> = claimed
        .iter()
        .zip(&ids)
        .map(|((_, len), prefix)| InDoubt {
            message_id_prefix: prefix,
            len: (*len).max(0) as u64,
        })
        .collect();
    let found = check_mbox_tail(path, &in_doubt).map_err(|e| format!("{}: {e}", path.display()))?;
    let settled: Vec<(i64, bool)> = claimed
        .iter()
        .zip(&ids)
        .map(|((id, _), prefix)| (*id, found.contains(prefix)))
        .collect();
    app.store
        .write(|tx| settle_claims(tx, app, &settled))
        .map_err(|e| e.to_string())?;
    let appended = found.len();
    crate::log::line(format!(
        "mail: {} mail(s) in doubt after a restart: {appended} already in {}, {} to append",
        claimed.len(),
        path.display(),
        claimed.len() - appended
    ));
    Ok(())
}

/// The rows claimed for the mbox with no outcome recorded: (id, claimed length). On
/// PostgreSQL: this instance's own rows at startup (its previous run), and rows of another
/// instance whose lease has expired; the others are being sent by a live instance.
fn claimed_rows(
    c: &crate::db::Connection,
    app: &Outbox,
    at_startup: bool,
) -> crate::db::Result<Vec<(i64, i64)>> {
    let row = |r: &crate::db::Row<'_>| Ok((r.get(0)?, r.get(1)?));
    match c.dialect() {
        crate::db::Dialect::Sqlite => c
            .prepare_cached(
                "SELECT id, claimed_len FROM mail_outbox
                 WHERE status = 'pending' AND claimed_len IS NOT NULL ORDER BY id",
            )?
            .query_map([], row)?
            .collect(),
        crate::db::Dialect::Postgres => c
            .prepare_cached(
                "SELECT id, claimed_len FROM mail_outbox
                 WHERE status = 'pending' AND claimed_len IS NOT NULL
                   AND (lease_owner IS NOT DISTINCT FROM ?2 AND ?3 = 1
                        OR lease_owner IS DISTINCT FROM ?2
                           AND (lease_until IS NULL OR lease_until < ?1))
                 ORDER BY id",
            )?
            .query_map(
                crate::params![app.clock.now_ms(), app.instance, i64::from(at_startup)],
                row,
            )?
            .collect(),
    }
}

/// Marks sent the claimed rows found whole in the mbox (`true`), and takes the claim off
/// the others, which then go out as usual.
fn settle_claims(
    tx: &crate::db::Transaction,
    app: &Outbox,
    settled: &[(i64, bool)],
) -> crate::db::Result<()> {
    let now = app.clock.now_ms();
    for (id, found) in settled {
        if *found {
            tx.prepare_cached(
                "UPDATE mail_outbox SET status = 'sent', attempts = attempts + 1,
                     sent_at = ?2, last_error = NULL, claimed_len = NULL WHERE id = ?1",
            )?
            .execute(crate::params![id, now])?;
            if app.scrubs_links {
                super::scrub(tx, *id, super::REMOVED_AFTER_DELIVERY)?;
            }
        } else {
            tx.prepare_cached("UPDATE mail_outbox SET claimed_len = NULL WHERE id = ?1")?
                .execute([id])?;
        }
    }
    Ok(())
}

fn record(
    app: &Outbox,
    row: &Due,
    outcome: &Result<(), DeliveryError>,
    give_up_ms: i64,
) -> crate::db::Result<()> {
    let now = app.clock.now_ms();
    app.store
        .write_rows(|tx| record_in(tx, app, row, outcome, give_up_ms, now))
}

/// The outcomes of a batch, recorded in one transaction.
fn record_all(
    app: &Outbox,
    outcomes: &[(&Due, Result<(), DeliveryError>)],
    give_up_ms: i64,
) -> crate::db::Result<()> {
    let now = app.clock.now_ms();
    app.store.write_rows(|tx| {
        for (row, outcome) in outcomes {
            record_in(tx, app, row, outcome, give_up_ms, now)?;
        }
        Ok(())
    })
}

fn record_in(
    tx: &crate::db::Transaction,
    app: &Outbox,
    row: &Due,
    outcome: &Result<(), DeliveryError>,
    give_up_ms: i64,
    now: i64,
) -> crate::db::Result<()> {
    let attempts = row.attempts + 1;
    // A deployment (no admin API) keeps no usable token once the mail left.
    let scrub = app.scrubs_links;
    {
        match outcome {
            Ok(()) => match scrub
                .then(|| row.stored.scrubbed(super::REMOVED_AFTER_DELIVERY))
                .flatten()
            {
                None => {
                    tx.prepare_cached(
                        "UPDATE mail_outbox SET status = 'sent', attempts = ?2, sent_at = ?3,
                             last_error = NULL, claimed_len = NULL WHERE id = ?1",
                    )?
                    .execute(crate::params![row.id, attempts, now])?;
                }
                // Marked sent and scrubbed in one statement, from the text it was sent with.
                Some(scrubbed) => {
                    tx.prepare_cached(
                        "UPDATE mail_outbox SET status = 'sent', attempts = ?2, sent_at = ?3,
                             last_error = NULL, claimed_len = NULL, text_body = ?4,
                             html_body = ?5, links = ?6, secret_links = NULL,
                             secret_until = NULL
                         WHERE id = ?1",
                    )?
                    .execute(crate::params![
                        row.id,
                        attempts,
                        now,
                        scrubbed.text,
                        scrubbed.html,
                        scrubbed.links
                    ])?;
                }
            },
            Err(error) => {
                let (message, permanent) = match error {
                    DeliveryError::Transient(m) => (m, false),
                    DeliveryError::Permanent(m) => (m, true),
                };
                let give_up = permanent || now - row.created_at >= give_up_ms;
                let backoff = FIRST_BACKOFF_MS
                    .saturating_mul(1 << (attempts - 1).clamp(0, 20))
                    .min(MAX_BACKOFF_MS);
                crate::log::line(format!(
                    "mail: delivery of mail {} failed (attempt {attempts}{}): {message}",
                    row.id,
                    if give_up { ", giving up" } else { "" }
                ));
                tx.prepare_cached(
                    "UPDATE mail_outbox SET status = ?2, attempts = ?3, last_error = ?4,
                         next_attempt_at = ?5, claimed_len = NULL WHERE id = ?1",
                )?
                .execute(crate::params![
                    row.id,
                    if give_up { "failed" } else { "pending" },
                    attempts,
                    message,
                    now + backoff
                ])?;
                if give_up && scrub {
                    super::scrub(tx, row.id, super::REMOVED_UNDELIVERED)?;
                }
            }
        }
        Ok(())
    }
}
