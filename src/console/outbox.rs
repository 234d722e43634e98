//! The outbox page: mail newest first, filtered by recipient and state; one mail with its
//! headers, text and HTML parts (the HTML in a sandboxed frame), its links as buttons and
//! its delivery; retry and delete.

use super::layout::{back, enc, input, missing, refused, select, text, Ctx, BASE};
use crate::admin;
use crate::clock::iso_seconds;
use crate::http::Response;
use crate::mail::outbox::{Attempt, Search, State, Stored, Summary};
use crate::markup::{html, Markup};
use crate::router::Params;

/// Rows per page of the list.
const PAGE: usize = 50;

/// `GET /outbox?to=&state=&before=`.
pub fn list(ctx: &Ctx, _: &Params) -> Response {
    let (to, wanted) = (ctx.query("to"), ctx.query("state"));
    let search = Search {
        to: to.clone(),
        state: State::parse(&wanted),
        before: ctx.query("before").parse().ok(),
        limit: PAGE,
    };
    let (rows, more, stamp) = match admin::outbox(ctx.app, &search) {
        Ok(found) => found,
        Err(e) => return refused(&e),
    };
    let mut states = vec![("", "any state")];
    states.extend(State::ALL.map(|s| (s.name(), label(s))));
    let older = rows.last().filter(|_| more).map(|last| {
        format!(
            "{BASE}/outbox?to={}&state={}&before={}",
            enc(&to),
            enc(&wanted),
            last.id
        )
    });
    let body = html! {
        h1 { "Outbox" }
        (ctx.note())
        form.filters method="get" action={ (BASE) "/outbox" } {
            (input("to", "Recipient", &to, "someone@example.com"))
            (select("state", "State", &states, &wanted))
            button.quiet { "Filter" }
        }
        @if rows.is_empty() {
            p.muted #empty { "No mail." }
        } @else {
            (table(&rows))
        }
        @if let Some(older) = older {
            p.paging { a href=(older) { "Older mail" } }
        }
    };
    let stamp_url = format!("{BASE}/outbox/stamp");
    Response::html(
        200,
        ctx.page("Outbox", "outbox", body, Some((&stamp_url, &stamp))),
    )
}

/// How a state reads in the filter.
fn label(state: State) -> &'static str {
    match state {
        State::Retry => "retry at",
        other => other.name(),
    }
}

fn table(rows: &[Summary]) -> Markup {
    html! {
        div.table-box {
            table #mail {
                thead { tr { th { "#" } th { "Created" } th { "To" } th { "Subject" } th { "Flavour" } th { "State" } } }
                tbody {
                    @for row in rows {
                        tr {
                            td { (row.id) }
                            td { (iso_seconds(row.created_at)) }
                            td { (row.to) }
                            td { a href={ (BASE) "/outbox/" (row.id) } { (subject(&row.subject)) } }
                            td { (row.flavour) }
                            td class={ "s-" (row.state.name()) } {
                                @if row.state == State::Retry {
                                    "retry at " (iso_seconds(row.next_attempt_at))
                                } @else {
                                    (row.state.name())
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn subject(subject: &str) -> &str {
    if subject.is_empty() {
        "(no subject)"
    } else {
        subject
    }
}

/// `GET /outbox/stamp`: the stamp the list was rendered with, for `live.js`.
pub fn stamp(ctx: &Ctx, _: &Params) -> Response {
    match admin::outbox_stamp(ctx.app) {
        Ok(stamp) => text(200, &stamp),
        Err(e) => refused(&e),
    }
}

/// `GET /outbox/{id}`.
pub fn show(ctx: &Ctx, params: &Params) -> Response {
    let id = params.get("id");
    let (mail, message_id) = match admin::mail(ctx.app, id) {
        Ok(found) => found,
        Err(admin::Error::NotFound(_)) if id.parse::<i64>().is_ok() => {
            let message =
                format!("Mail {id} is not in the outbox (deleted, pruned or never sent).");
            return missing(
                ctx,
                "No such mail",
                "outbox",
                &message,
                ("/outbox", "Back to the outbox"),
            );
        }
        Err(e) => return refused(&e),
    };
    let body = html! {
        p { a href={ (BASE) "/outbox" } { "← Outbox" } }
        h1 #subject { (mail.subject) }
        (ctx.note())
        (headers(ctx, &mail, message_id.as_deref()))
        (links(&mail.links))
        (delivery(&mail))
        p {
            @if mail.state != State::Sent {
                (ctx.form(&format!("/outbox/{}/retry", mail.id), html! {}, "Retry now", ""))
                " "
            }
            (ctx.form(&format!("/outbox/{}/delete", mail.id), html! {}, "Delete", "danger"))
        }
        h2 { "Text part" }
        pre #text { (mail.text) }
        @if let Some(part) = &mail.html {
            h2 { "HTML part" }
            // No allow-scripts, no allow-same-origin: the mail's HTML cannot run or reach us.
            iframe id="html" sandbox="" referrerpolicy="no-referrer" title="The HTML part" srcdoc=(part) {}
        }
    };
    let title = format!("Mail {}", mail.id);
    Response::html(200, ctx.page(&title, "outbox", body, None))
}

fn headers(ctx: &Ctx, mail: &Stored, message_id: Option<&str>) -> Markup {
    html! {
        dl #headers {
            dt { "From" } dd { (ctx.app.settings.mail_from.to_string()) }
            dt { "To" } dd { (mail.to) }
            dt { "Subject" } dd { (mail.subject) }
            dt { "Message-ID" } dd #message-id { (message_id.unwrap_or("(unknown)")) }
            dt { "Flavour" } dd { (mail.flavour) }
            dt { "Created" } dd { (iso_seconds(mail.created_at)) }
            dt { "Message" } dd { "#" (mail.id) }
        }
    }
}

/// Web links as buttons; anything else (a link already scrubbed) as text.
fn links(links: &[String]) -> Markup {
    let web = |l: &&String| l.starts_with("http://") || l.starts_with("https://");
    html! {
        @if !links.is_empty() {
            h2 { "Links" }
            p #links {
                @for (i, link) in links.iter().filter(web).enumerate() {
                    a class="button" href=(link) rel="noreferrer" title=(link) { "Open link " (i + 1) }
                    " "
                }
                @for link in links.iter().filter(|l| !web(l)) {
                    span.muted { (link) } " "
                }
            }
        }
    }
}

fn delivery(mail: &Stored) -> Markup {
    let shown = mail.state.name();
    html! {
        h2 { "Delivery" }
        dl #delivery {
            dt { "State" } dd class={ "s-" (shown) } { (shown) }
            dt { "Attempts" } dd { (mail.attempts) }
            @if matches!(mail.state, State::Queued | State::Retry) {
                dt { "Next attempt" } dd { (iso_seconds(mail.next_attempt_at)) }
            }
            @if let Some(at) = mail.sent_at {
                dt { "Sent" } dd { (iso_seconds(at)) }
            }
            @if let Some(error) = &mail.last_error {
                dt { "Last error" } dd { (error) }
            }
        }
        @if !mail.attempt_log.is_empty() {
            div.table-box {
                table #attempts {
                    thead { tr { th { "Attempt" } th { "Outcome" } th { "At" } th { "Error" } } }
                    tbody {
                        @for a in &mail.attempt_log {
                            @let (outcome, at) = attempt(a);
                            tr { td { (a.attempt) } td { (outcome) } td { (at) } td { (a.error.as_deref().unwrap_or("")) } }
                        }
                    }
                }
            }
        }
    }
}

/// What an attempt came to, and when.
fn attempt(a: &Attempt) -> (&'static str, String) {
    match a.outcome.as_str() {
        "sent" => ("delivered", a.at.map(iso_seconds).unwrap_or_default()),
        "retry" => (
            "failed, retried",
            a.at.map(|t| format!("next at {}", iso_seconds(t)))
                .unwrap_or_default(),
        ),
        _ => ("failed, given up", String::new()),
    }
}

/// `POST /outbox/{id}/retry`.
pub fn retry(ctx: &Ctx, params: &Params) -> Response {
    match admin::retry_mail(ctx.app, params.get("id")) {
        Ok(id) => back(&format!("/outbox/{id}"), "retried"),
        Err(e) => refused(&e),
    }
}

/// `POST /outbox/{id}/delete`.
pub fn delete(ctx: &Ctx, params: &Params) -> Response {
    match admin::delete_mail(ctx.app, params.get("id")) {
        Ok(()) => back("/outbox", "deleted"),
        Err(e) => refused(&e),
    }
}
