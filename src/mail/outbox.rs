//! The outbox as an operator sees it (the console's outbox page, through `admin`): mail
//! searched by recipient and state, one mail with its delivery attempts, and the two things
//! a person may do to one: send it again now, or delete it.

use crate::db::{Connection, OptionalExtension, Transaction};

/// The states a mail is shown in, as a search names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for its first attempt.
    Queued,
    /// Failed at least once, waiting for the next attempt.
    Retry,
    Sent,
    /// Given up.
    Failed,
}

impl State {
    pub const ALL: [State; 4] = [State::Queued, State::Retry, State::Sent, State::Failed];

    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Retry => "retry",
            State::Sent => "sent",
            State::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The state of a row (`status`, `attempts` of `mail_outbox`).
    fn of(status: &str, attempts: i64) -> State {
        match status {
            "sent" => State::Sent,
            "failed" => State::Failed,
            _ if attempts > 0 => State::Retry,
            _ => State::Queued,
        }
    }

    /// `status` and "has been attempted" as the table stores them.
    fn columns(self) -> (&'static str, Option<bool>) {
        match self {
            State::Queued => ("pending", Some(false)),
            State::Retry => ("pending", Some(true)),
            State::Sent => ("sent", None),
            State::Failed => ("failed", None),
        }
    }
}

/// Which mail a search wants: newest first, below `before` (an id).
#[derive(Debug, Default, Clone)]
pub struct Search {
    /// Any part of the recipient's address.
    pub to: String,
    pub state: Option<State>,
    pub before: Option<i64>,
    pub limit: usize,
}

/// One row of a search.
#[derive(Debug)]
pub struct Summary {
    pub id: i64,
    pub flavour: String,
    pub to: String,
    pub subject: String,
    pub state: State,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

/// Mail that matches `search`, newest first, and whether there is more past the page.
pub fn search(c: &Connection, search: &Search) -> crate::db::Result<(Vec<Summary>, bool)> {
    // `%`, `_` and `\` in the address stand for themselves.
    let pattern = (!search.to.is_empty()).then(|| {
        let escaped = search
            .to
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let (status, attempted) = search.state.map_or((None, None), |s| {
        let (status, attempted) = s.columns();
        (Some(status), attempted)
    });
    let limit = i64::try_from(search.limit + 1).unwrap_or(i64::MAX);
    let mut rows = c
        .prepare_cached(
            "SELECT id, flavour, recipient, subject, status, attempts, next_attempt_at,
                    created_at
             FROM mail_outbox
             WHERE id < ?1
               AND (CAST(?2 AS TEXT) IS NULL OR recipient LIKE CAST(?2 AS TEXT) ESCAPE '\\')
               AND (CAST(?3 AS TEXT) IS NULL OR status = ?3)
               AND (CAST(?4 AS BIGINT) IS NULL
                    OR (CASE WHEN attempts > 0 THEN 1 ELSE 0 END) = CAST(?4 AS BIGINT))
             ORDER BY id DESC LIMIT ?5",
        )?
        .query_map(
            crate::params![
                search.before.unwrap_or(i64::MAX),
                pattern,
                status,
                attempted,
                limit
            ],
            |r| {
                Ok(Summary {
                    id: r.get(0)?,
                    flavour: r.get(1)?,
                    to: r.get(2)?,
                    subject: r.get(3)?,
                    state: State::of(&r.get::<_, String>(4)?, r.get(5)?),
                    next_attempt_at: r.get(6)?,
                    created_at: r.get(7)?,
                })
            },
        )?
        .collect::<crate::db::Result<Vec<_>>>()?;
    let more = rows.len() > search.limit;
    rows.truncate(search.limit);
    Ok((rows, more))
}

/// What changes when mail arrives, is sent, fails or goes: the newest id, the count, how many
/// rows are sent and failed, and the attempts made.
pub fn stamp(c: &Connection) -> crate::db::Result<String> {
    c.prepare_cached(
        "SELECT coalesce(max(id), 0), count(*),
                coalesce(sum(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0),
                coalesce(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0),
                coalesce(sum(attempts), 0)
         FROM mail_outbox",
    )?
    .query_row([], |r| {
        Ok(format!(
            "{}-{}-{}-{}-{}",
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?
        ))
    })
}

/// One delivery attempt (`mail_attempts`).
#[derive(Debug)]
pub struct Attempt {
    pub attempt: i64,
    /// `sent`, `retry` or `failed`.
    pub outcome: String,
    /// When it was delivered, or when the next attempt is due.
    pub at: Option<i64>,
    pub error: Option<String>,
}

/// One mail as stored, with its attempts.
#[derive(Debug)]
pub struct Stored {
    pub id: i64,
    pub flavour: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub links: Vec<String>,
    pub state: State,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub attempt_log: Vec<Attempt>,
}

/// Mail `id`, if the outbox still has it.
pub fn get(c: &Connection, id: i64) -> crate::db::Result<Option<Stored>> {
    let mail = c
        .prepare_cached(
            "SELECT flavour, recipient, subject, text_body, html_body, links, status, attempts,
                    next_attempt_at, last_error, created_at, sent_at
             FROM mail_outbox WHERE id = ?1",
        )?
        .query_row([id], |r| {
            let links: String = r.get(5)?;
            let attempts = r.get(7)?;
            Ok(Stored {
                id,
                flavour: r.get(0)?,
                to: r.get(1)?,
                subject: r.get(2)?,
                text: r.get(3)?,
                html: r.get(4)?,
                links: serde_json::from_str::<Vec<String>>(&links).unwrap_or_default(),
                state: State::of(&r.get::<_, String>(6)?, attempts),
                attempts,
                next_attempt_at: r.get(8)?,
                last_error: r.get(9)?,
                created_at: r.get(10)?,
                sent_at: r.get(11)?,
                attempt_log: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut mail) = mail else {
        return Ok(None);
    };
    mail.attempt_log = c
        .prepare_cached(
            "SELECT attempt, outcome, at, error FROM mail_attempts
             WHERE mail_id = ?1 ORDER BY attempt",
        )?
        .query_map([id], |r| {
            Ok(Attempt {
                attempt: r.get(0)?,
                outcome: r.get(1)?,
                at: r.get(2)?,
                error: r.get(3)?,
            })
        })?
        .collect::<crate::db::Result<Vec<_>>>()?;
    Ok(Some(mail))
}

/// Makes mail `id` due now, if it is waiting or was given up (a sent one is left alone);
/// false when there is no such mail to retry. Wake the sender after the commit.
pub fn retry(tx: &Transaction, id: i64, now_ms: i64) -> crate::db::Result<bool> {
    let changed = tx
        .prepare_cached(
            "UPDATE mail_outbox SET status = 'pending', next_attempt_at = ?2
             WHERE id = ?1 AND status IN ('pending', 'failed')",
        )?
        .execute(crate::params![id, now_ms])?;
    Ok(changed > 0)
}

/// Deletes mail `id`; false when there is none.
pub fn delete(tx: &Transaction, id: i64) -> crate::db::Result<bool> {
    let changed = tx
        .prepare_cached("DELETE FROM mail_outbox WHERE id = ?1")?
        .execute([id])?;
    Ok(changed > 0)
}
