//! The admin operations: everything the admin API (`admin_api`, JSON) and the console
//! (`console`, HTML) can do to a server, as plain functions on its `App` that return a value
//! or an `Error`. Nothing here knows HTTP: each front parses its own requests, calls these,
//! and renders the answer in its own format, so the two cannot disagree on what an operation
//! does. Flavours add operations of their own (`Flavour::admin_routes`), reached through
//! `flavour_call`.

use serde::Serialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::flavours::{AdminError, Flavour, Page, Records};
use crate::journal::{Entry, Filter};
use crate::mail::outbox;
use crate::router::{Routing, Table};
use crate::seed::Document;

/// Why an operation did not happen.
#[derive(Debug)]
pub enum Error {
    /// What was asked is wrong, and this says why (the fronts answer 400).
    Invalid(String),
    /// Nothing has that id (404).
    NotFound(String),
    /// The store did not answer a read the operation needs (503): `what` failed, for the
    /// logged `detail`.
    Unavailable { what: &'static str, detail: String },
    /// Something underneath failed (500): `what` failed, for the logged `detail`.
    Failed { what: &'static str, detail: String },
}

impl Error {
    fn failed(what: &'static str) -> impl FnOnce(crate::db::Error) -> Error {
        move |e| Error::Failed {
            what,
            detail: e.to_string(),
        }
    }

    /// The status a front answers with.
    pub fn status(&self) -> u16 {
        match self {
            Error::Invalid(_) => 400,
            Error::NotFound(_) => 404,
            Error::Unavailable { .. } => 503,
            Error::Failed { .. } => 500,
        }
    }

    /// What a front (`admin`, `console`) shows: the whole message for a mistake of the
    /// caller's; for a failure underneath only what failed, its detail going to the log.
    pub fn shown_by(&self, front: &str) -> String {
        match self {
            Error::Invalid(m) | Error::NotFound(m) => m.clone(),
            Error::Unavailable { what, detail } | Error::Failed { what, detail } => {
                crate::log::line(format!("{front}: {what} failed: {detail}"));
                format!("{what} failed")
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

// The admin token.

/// Why an admin token was not taken.
#[derive(Debug)]
pub enum Refusal {
    /// Not the server's token (or the server has none).
    Wrong,
    /// Too many wrong tokens from this address lately: try again after this many seconds.
    TooMany { retry_after_s: u64 },
}

/// Checks a token given from `address` against the server's. Wrong ones count against the
/// address, which is refused for a while after a few (`guesses`) without its tokens being
/// even compared.
pub fn check_token(
    app: &App,
    address: Option<std::net::IpAddr>,
    given: &str,
) -> std::result::Result<(), Refusal> {
    if let Err(wait) = app.admin_guesses.check(address) {
        let retry_after_s = crate::guesses::retry_after(wait);
        return Err(Refusal::TooMany { retry_after_s });
    }
    let token = app.settings.admin_token.as_deref().unwrap_or_default();
    // Digests of equal length, so that not even the token's length shows in the timing.
    let digest = crate::auth::sha256;
    if token.is_empty()
        || !crate::auth::constant_time_eq(&digest(given.as_bytes()), &digest(token.as_bytes()))
    {
        app.admin_guesses.wrong(address);
        return Err(Refusal::Wrong);
    }
    app.admin_guesses.right(address);
    Ok(())
}

// Data.

/// Deletes all data and seeds the startup tenants again.
pub fn reset(app: &App) -> Result<()> {
    app.reset().map_err(Error::failed("reset"))
}

/// Applies a seed document (`docs/fixture.md`); answers what it seeded.
pub fn seed(app: &App, document: &[u8]) -> Result<Value> {
    let mut doc = Document::parse(document)
        .map_err(|m| Error::Invalid(format!("invalid seed document: {m}")))?;
    doc.prepare(
        &|secret| app.credentials.hash_chosen(secret, &app.ids),
        &app.ids,
    );
    let now = app.clock.now_ms();
    match app.store.write(|tx| doc.apply(tx, now)) {
        Ok(()) => Ok(doc.summary()),
        Err(crate::db::Error::Constraint(detail)) => Err(Error::Invalid(format!(
            "the seed refers to a record that does not exist or breaks a rule: {detail}"
        ))),
        Err(e) => Err(Error::failed("seeding")(e)),
    }
}

/// A new tenant set: one fresh tenant per flavour, and how to call each.
pub fn create_tenant_set(app: &App) -> Result<Value> {
    crate::tenants::create(app).map_err(Error::failed("creating a tenant set"))
}

/// Deletes a tenant set with all its tenants' data.
pub fn delete_tenant_set(app: &App, id: &str) -> Result<()> {
    match crate::tenants::delete(app, id) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::NotFound("no such tenant set".into())),
        Err(e) => Err(Error::failed("deleting a tenant set")(e)),
    }
}

/// What the console shows of the tenants: one page of `flavour`'s tables, and the newest
/// tenant sets.
pub fn tenants(
    app: &App,
    flavour: &dyn Flavour,
    page: Page,
) -> Result<(Vec<Records>, Vec<crate::tenants::Summary>)> {
    app.store
        .read(|c| Ok::<_, crate::db::Error>((flavour.records(c, page)?, crate::tenants::list(c)?)))
        .map_err(Error::failed("reading the tenants"))
}

/// Runs a flavour's own admin call (`Flavour::admin_routes`) on `method` `path` (below
/// `/_admin`); `None` when the flavour has no such path.
pub fn flavour_call(
    app: &App,
    flavour: &dyn Flavour,
    method: &str,
    path: &str,
) -> Option<Result<Value>> {
    let table = Table::without_document(flavour.admin_routes());
    let Routing::Found {
        handler, params, ..
    } = table.lookup(method, path)
    else {
        return None;
    };
    Some(handler(app, &params).map_err(|e| match e {
        AdminError::NotFound(message) => Error::NotFound(message.into()),
        AdminError::Failed { what, detail } => Error::Failed { what, detail },
    }))
}

// Faults.

/// `{"faults": [...]}`.
pub fn faults(app: &App) -> Value {
    app.faults.list()
}

/// Adds a fault rule whose flavour (if it names one) exists; answers the rule as listed.
pub fn add_fault(app: &App, rule: crate::faults::Rule) -> Result<Value> {
    if let Some(flavour) = &rule.flavour {
        if crate::flavours::by_name(flavour).is_none() {
            return Err(Error::Invalid(format!(
                "invalid fault rule: unknown flavour {flavour:?}"
            )));
        }
    }
    app.faults
        .add(rule)
        .map_err(|m| Error::Invalid(format!("invalid fault rule: {m}")))
}

/// Deletes fault rule `id` (as the list numbers them).
pub fn delete_fault(app: &App, id: &str) -> Result<()> {
    match id.parse::<u64>() {
        Ok(id) if app.faults.remove(Some(id)) => Ok(()),
        _ => Err(Error::NotFound("no such fault".into())),
    }
}

pub fn clear_faults(app: &App) {
    app.faults.remove(None);
}

/// How many of the next mails the sender fails on purpose.
pub fn fail_mail(app: &App, count: u32) {
    app.mailer.fail_next(count);
}

// The clock.

/// The server's time and how far it is from real time.
#[derive(Debug, Serialize)]
pub struct Clock {
    /// ISO 8601 with milliseconds.
    pub now: String,
    pub offset_ms: i64,
}

pub fn clock(app: &App) -> Clock {
    Clock {
        now: crate::clock::iso_millis(app.clock.now_ms()),
        offset_ms: app.clock.offset_ms(),
    }
}

/// How to move the clock.
#[derive(Debug)]
pub enum Move<'a> {
    /// Forward by a duration (`8d`).
    Advance(&'a str),
    /// To an ISO 8601 time.
    Set(&'a str),
    /// Back to real time.
    Real,
}

pub fn move_clock(app: &App, to: Move) -> Result<Clock> {
    match to {
        Move::Advance(by) => match crate::clock::parse_duration_ms(by) {
            // Far enough for any expiry; further would overflow the stamps derived from now.
            Ok(ms) if ms > 100 * 366 * 86_400_000 => {
                return Err(Error::Invalid(
                    "advance: at most 100 years at a time".into(),
                ))
            }
            Ok(ms) => app.clock.advance(ms),
            Err(m) => return Err(Error::Invalid(format!("advance: {m}"))),
        },
        Move::Set(at) => {
            let ms =
                crate::clock::parse_iso(at).map_err(|m| Error::Invalid(format!("set: {m}")))?;
            app.clock.set(ms);
        }
        Move::Real => app.clock.reset(),
    }
    // Mail waiting for its next attempt may be due now.
    app.wake_mailer();
    Ok(clock(app))
}

// The journal.

/// `{"requests": [...]}`, as the filter keeps them.
pub fn requests(app: &App, filter: &Filter) -> Value {
    app.journal.list(filter)
}

/// The newest `limit` entries `keep` keeps, with their ids.
pub fn newest_requests(
    app: &App,
    keep: impl Fn(u64, &Entry) -> bool,
    limit: usize,
) -> Vec<(u64, Entry)> {
    app.journal.newest(keep, limit)
}

/// Journal entry `id` and its deviations from the vendor's contract.
pub fn request(app: &App, id: u64) -> Option<(Entry, Vec<crate::conformance::Deviation>)> {
    let entry = app.journal.get(id)?;
    Some((entry, app.journal.deviations(id)))
}

pub fn clear_requests(app: &App) {
    app.journal.clear();
}

/// Deviations from the vendors' contracts, counted in the store (by tenant and flavour; a
/// `path` or `since` filter counts the journal's instead), with examples from the journal.
pub fn conformance(app: &App, filter: &Filter) -> Result<Value> {
    let stored = if filter.path.is_none() && filter.since_ms.is_none() {
        let counts = app.store.read(|conn| {
            crate::conformance::counts(conn, filter.tenant.as_deref(), filter.flavour.as_deref())
        });
        Some(counts.map_err(|e| Error::Unavailable {
            what: "reading the conformance counts",
            detail: e.to_string(),
        })?)
    } else {
        None
    };
    let catalogue: Vec<_> = crate::flavours::ALL
        .iter()
        .map(|f| (f.name(), f.conformance_rules()))
        .collect();
    Ok(app.journal.conformance(filter, stored.as_ref(), &catalogue))
}

/// The log lines the stderr writer had to drop.
pub fn log() -> Value {
    json!({"log_lines_dropped": crate::log::dropped()})
}

// Mail.

/// `{"messages": [...]}`: the mail to `to` (or all), oldest first.
pub fn mailbox(app: &App, to: Option<&str>) -> Result<Value> {
    app.store
        .read(|c| crate::mail::mailbox(c, to))
        .map_err(Error::failed("reading the mailbox"))
}

/// One page of the outbox, whether there is more, and the outbox's stamp (what changes when
/// anything in it does), read together.
pub fn outbox(app: &App, search: &outbox::Search) -> Result<(Vec<outbox::Summary>, bool, String)> {
    app.store
        .read(|c| {
            let (rows, more) = outbox::search(c, search)?;
            Ok::<_, crate::db::Error>((rows, more, outbox::stamp(c)?))
        })
        .map_err(Error::failed("reading the outbox"))
}

pub fn outbox_stamp(app: &App) -> Result<String> {
    app.store
        .read(outbox::stamp)
        .map_err(Error::failed("reading the outbox"))
}

/// One mail, and the Message-ID every delivery attempt of it carries (`None` when the
/// identity could not be read).
pub fn mail(app: &App, id: &str) -> Result<(outbox::Stored, Option<String>)> {
    let id = mail_id(id)?;
    let mail = app
        .store
        .read(|c| outbox::get(c, id))
        .map_err(Error::failed("reading a mail"))?
        .ok_or_else(|| Error::NotFound("no such mail".into()))?;
    let message_id = crate::mail::identity_tag(&app.store)
        .ok()
        .map(|tag| crate::mail::message_id(id, &tag, &app.settings.mail_from));
    Ok((mail, message_id))
}

/// Sends mail `id` again now (unless it was sent).
pub fn retry_mail(app: &App, id: &str) -> Result<i64> {
    let id = mail_id(id)?;
    let now = app.clock.now_ms();
    match app.store.write(|tx| outbox::retry(tx, id, now)) {
        Ok(true) => {
            app.wake_mailer();
            Ok(id)
        }
        Ok(false) => Err(Error::NotFound("no such mail, or nothing to retry".into())),
        Err(e) => Err(Error::failed("changing a mail")(e)),
    }
}

pub fn delete_mail(app: &App, id: &str) -> Result<()> {
    let id = mail_id(id)?;
    match app.store.write(|tx| outbox::delete(tx, id)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::NotFound("no such mail".into())),
        Err(e) => Err(Error::failed("changing a mail")(e)),
    }
}

fn mail_id(id: &str) -> Result<i64> {
    id.parse::<i64>()
        .map_err(|_| Error::NotFound("no such mail".into()))
}
