//! The outbox page: mail newest first, filtered by recipient and state; one mail with its
//! headers, text and HTML parts (the HTML in a sandboxed frame), its links as buttons and
//! its delivery; retry and delete.

use crate::db::OptionalExtension;

use super::{back, enc, esc, failed, input, select, text, Ctx, BASE};
use crate::clock::iso_seconds;
use crate::http::Response;

/// Rows per page of the list.
const PAGE: i64 = 50;

/// The states a mail is shown in: (filter value, label).
const STATES: &[(&str, &str)] = &[
    ("", "any state"),
    ("queued", "queued"),
    ("retry", "retry at"),
    ("sent", "sent"),
    ("failed", "failed"),
];

/// The state of a row, as the filter names it.
fn state(status: &str, attempts: i64) -> &'static str {
    match status {
        "sent" => "sent",
        "failed" => "failed",
        _ if attempts > 0 => "retry",
        _ => "queued",
    }
}

struct Row {
    id: i64,
    flavour: String,
    to: String,
    subject: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    created_at: i64,
}

/// `GET /outbox?to=&state=&before=`.
pub fn list(ctx: &Ctx) -> Response {
    let to = ctx.req.query_param("to").unwrap_or_default();
    let wanted = ctx.req.query_param("state").unwrap_or_default();
    let before = ctx
        .req
        .query_param("before")
        .and_then(|b| b.parse::<i64>().ok())
        .unwrap_or(i64::MAX);
    let (status, retrying): (Option<&str>, Option<bool>) = match wanted.as_str() {
        "queued" => (Some("pending"), Some(false)),
        "retry" => (Some("pending"), Some(true)),
        "sent" => (Some("sent"), None),
        "failed" => (Some("failed"), None),
        _ => (None, None),
    };
    // Any part of the address; `%`, `_` and `\` in it stand for themselves.
    let pattern = (!to.is_empty()).then(|| {
        let escaped = to
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let read = ctx.app.store.read(|c| {
        let rows = c
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
                crate::params![before, pattern, status, retrying, PAGE + 1],
                |r| {
                    Ok(Row {
                        id: r.get(0)?,
                        flavour: r.get(1)?,
                        to: r.get(2)?,
                        subject: r.get(3)?,
                        status: r.get(4)?,
                        attempts: r.get(5)?,
                        next_attempt_at: r.get(6)?,
                        created_at: r.get(7)?,
                    })
                },
            )?
            .collect::<crate::db::Result<Vec<_>>>()?;
        Ok::<_, crate::db::Error>((rows, stamp_of(c)?))
    });
    let (mut rows, stamp) = match read {
        Ok(found) => found,
        Err(e) => return failed("reading the outbox", &e),
    };
    let more = rows.len() > PAGE as usize;
    rows.truncate(PAGE as usize);
    let mut body = format!(
        "<h1>Outbox</h1>{}<form class=\"filters\" method=\"get\" action=\"{BASE}/outbox\">{}{}\
         <button class=\"quiet\">Filter</button></form>",
        ctx.note(),
        input("to", "Recipient", &to, "someone@example.com"),
        select("state", "State", STATES, &wanted),
    );
    if rows.is_empty() {
        body.push_str("<p class=\"muted\" id=\"empty\">No mail.</p>");
    } else {
        body.push_str(
            "<table id=\"mail\"><thead><tr><th>#</th><th>Created</th><th>To</th>\
             <th>Subject</th><th>Flavour</th><th>State</th></tr></thead><tbody>",
        );
        for row in &rows {
            let shown = state(&row.status, row.attempts);
            let label = if shown == "retry" {
                format!("retry at {}", iso_seconds(row.next_attempt_at))
            } else {
                shown.to_string()
            };
            body.push_str(&format!(
                "<tr><td>{id}</td><td>{}</td><td>{}</td>\
                 <td><a href=\"{BASE}/outbox/{id}\">{}</a></td><td>{}</td>\
                 <td class=\"s-{shown}\">{}</td></tr>",
                iso_seconds(row.created_at),
                esc(&row.to),
                esc(if row.subject.is_empty() {
                    "(no subject)"
                } else {
                    &row.subject
                }),
                esc(&row.flavour),
                esc(&label),
                id = row.id,
            ));
        }
        body.push_str("</tbody></table>");
    }
    if more {
        if let Some(last) = rows.last() {
            body.push_str(&format!(
                "<p class=\"paging\"><a href=\"{BASE}/outbox?to={}&amp;state={}&amp;before={}\">\
                 Older mail</a></p>",
                enc(&to),
                enc(&wanted),
                last.id
            ));
        }
    }
    let stamp_url = format!("{BASE}/outbox/stamp");
    Response::html(
        200,
        ctx.page("Outbox", "outbox", &body, Some((&stamp_url, &stamp))),
    )
}

/// What changes when mail arrives, is sent, fails or goes: the newest id, the count, and
/// how many rows are sent and failed.
fn stamp_of(c: &crate::db::Connection) -> crate::db::Result<String> {
    c.prepare_cached(
        "SELECT coalesce(max(id), 0), count(*), coalesce(sum(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0),
                coalesce(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0), coalesce(sum(attempts), 0)
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

/// `GET /outbox/stamp`: the stamp the list was rendered with, for `live.js`.
pub fn stamp(ctx: &Ctx) -> Response {
    match ctx.app.store.read(stamp_of) {
        Ok(stamp) => text(200, &stamp),
        Err(e) => failed("reading the outbox", &e),
    }
}

/// One delivery attempt (`mail_attempts`).
struct Attempt {
    attempt: i64,
    outcome: String,
    at: Option<i64>,
    error: Option<String>,
}

struct Mail {
    flavour: String,
    to: String,
    subject: String,
    text: String,
    html: Option<String>,
    links: Vec<String>,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
    attempt_log: Vec<Attempt>,
}

/// `GET /outbox/{id}`.
pub fn show(ctx: &Ctx, id: &str) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return text(404, "no such mail");
    };
    let mail = ctx.app.store.read(|c| {
        c.prepare_cached(
            "SELECT flavour, recipient, subject, text_body, html_body, links, status, attempts,
                    next_attempt_at, last_error, created_at, sent_at
             FROM mail_outbox WHERE id = ?1",
        )?
        .query_row([id], |r| {
            let links: String = r.get(5)?;
            Ok(Mail {
                flavour: r.get(0)?,
                to: r.get(1)?,
                subject: r.get(2)?,
                text: r.get(3)?,
                html: r.get(4)?,
                links: serde_json::from_str::<Vec<String>>(&links).unwrap_or_default(),
                status: r.get(6)?,
                attempts: r.get(7)?,
                next_attempt_at: r.get(8)?,
                last_error: r.get(9)?,
                created_at: r.get(10)?,
                sent_at: r.get(11)?,
                attempt_log: Vec::new(),
            })
        })
        .optional()?
        .map(|mut mail| {
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
            Ok::<_, crate::db::Error>(mail)
        })
        .transpose()
    });
    let mail = match mail {
        Ok(Some(mail)) => mail,
        Ok(None) => {
            let body = format!(
                "<h1>No such mail</h1><p>Mail {id} is not in the outbox (deleted, pruned or \
                 never sent). <a href=\"{BASE}/outbox\">Back to the outbox</a></p>"
            );
            return Response::html(404, ctx.page("No such mail", "outbox", &body, None));
        }
        Err(e) => return failed("reading a mail", &e),
    };
    let shown = state(&mail.status, mail.attempts);
    let mut body = format!(
        "<p><a href=\"{BASE}/outbox\">← Outbox</a></p><h1 id=\"subject\">{}</h1>{}\
         <dl id=\"headers\"><dt>From</dt><dd>{}</dd><dt>To</dt><dd>{}</dd>\
         <dt>Subject</dt><dd>{}</dd><dt>Message-ID</dt><dd id=\"message-id\">{}</dd>\
         <dt>Flavour</dt><dd>{}</dd><dt>Created</dt><dd>{}</dd><dt>Message</dt><dd>#{id}</dd></dl>",
        esc(&mail.subject),
        ctx.note(),
        esc(&ctx.app.settings.mail_from.to_string()),
        esc(&mail.to),
        esc(&mail.subject),
        // The one every delivery attempt of this mail carries.
        crate::mail::identity_tag(&ctx.app.store).map_or_else(
            |_| String::from("(unknown)"),
            |tag| esc(&crate::mail::message_id(
                id,
                &tag,
                &ctx.app.settings.mail_from
            )),
        ),
        esc(&mail.flavour),
        iso_seconds(mail.created_at),
    );
    let links: Vec<&String> = mail
        .links
        .iter()
        .filter(|l| l.starts_with("http://") || l.starts_with("https://"))
        .collect();
    if !mail.links.is_empty() {
        body.push_str("<h2>Links</h2><p id=\"links\">");
        for (i, link) in links.iter().enumerate() {
            body.push_str(&format!(
                "<a class=\"button\" href=\"{}\" rel=\"noreferrer\" title=\"{}\">Open link {}</a> ",
                esc(link),
                esc(link),
                i + 1
            ));
        }
        for link in mail.links.iter().filter(|l| !links.contains(l)) {
            body.push_str(&format!("<span class=\"muted\">{}</span> ", esc(link)));
        }
        body.push_str("</p>");
    }
    body.push_str(&format!(
        "<h2>Delivery</h2><dl id=\"delivery\"><dt>State</dt><dd class=\"s-{shown}\">{}</dd>\
         <dt>Attempts</dt><dd>{}</dd>",
        esc(shown),
        mail.attempts
    ));
    if mail.status == "pending" {
        body.push_str(&format!(
            "<dt>Next attempt</dt><dd>{}</dd>",
            iso_seconds(mail.next_attempt_at)
        ));
    }
    if let Some(at) = mail.sent_at {
        body.push_str(&format!("<dt>Sent</dt><dd>{}</dd>", iso_seconds(at)));
    }
    if let Some(error) = &mail.last_error {
        body.push_str(&format!("<dt>Last error</dt><dd>{}</dd>", esc(error)));
    }
    body.push_str("</dl>");
    if !mail.attempt_log.is_empty() {
        body.push_str(
            "<table id=\"attempts\"><thead><tr><th>Attempt</th><th>Outcome</th><th>At</th>\
             <th>Error</th></tr></thead><tbody>",
        );
        for a in &mail.attempt_log {
            let (outcome, at) = match a.outcome.as_str() {
                "sent" => ("delivered", a.at.map(iso_seconds).unwrap_or_default()),
                "retry" => (
                    "failed, retried",
                    a.at.map(|t| format!("next at {}", iso_seconds(t)))
                        .unwrap_or_default(),
                ),
                _ => ("failed, given up", String::new()),
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td>{outcome}</td><td>{}</td><td>{}</td></tr>",
                a.attempt,
                esc(&at),
                esc(a.error.as_deref().unwrap_or(""))
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<p>");
    if mail.status != "sent" {
        body.push_str(&ctx.form(&format!("/outbox/{id}/retry"), "", "Retry now", ""));
        body.push(' ');
    }
    body.push_str(&ctx.form(&format!("/outbox/{id}/delete"), "", "Delete", "danger"));
    body.push_str("</p>");
    body.push_str(&format!(
        "<h2>Text part</h2><pre id=\"text\">{}</pre>",
        esc(&mail.text)
    ));
    if let Some(html) = &mail.html {
        // No allow-scripts, no allow-same-origin: the mail's HTML cannot run or reach us.
        body.push_str(&format!(
            "<h2>HTML part</h2><iframe id=\"html\" sandbox=\"\" referrerpolicy=\"no-referrer\" \
             title=\"The HTML part\" srcdoc=\"{}\"></iframe>",
            esc(html)
        ));
    }
    let title = format!("Mail {id}");
    Response::html(200, ctx.page(&title, "outbox", &body, None))
}

/// `POST /outbox/{id}/retry` and `/delete`.
pub fn act(ctx: &Ctx, id: &str, action: &str) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return text(404, "no such mail");
    };
    let now = ctx.app.clock.now_ms();
    let changed = match action {
        // A failed mail gets one more round; a sent one is left alone.
        "retry" => ctx.app.store.write(|tx| {
            tx.prepare_cached(
                "UPDATE mail_outbox SET status = 'pending', next_attempt_at = ?2
                 WHERE id = ?1 AND status IN ('pending', 'failed')",
            )?
            .execute(crate::params![id, now])
        }),
        "delete" => ctx.app.store.write(|tx| {
            tx.prepare_cached("DELETE FROM mail_outbox WHERE id = ?1")?
                .execute([id])
        }),
        _ => return text(404, "no such console action"),
    };
    match changed {
        Ok(0) => text(404, "no such mail, or nothing to retry"),
        Ok(_) if action == "retry" => {
            ctx.app.wake_mailer();
            back(&format!("/outbox/{id}"), "retried")
        }
        Ok(_) => back("/outbox", "deleted"),
        Err(e) => failed("changing a mail", &e),
    }
}
