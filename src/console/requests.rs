//! The requests page: the journal newest first, filtered by flavour, tenant, status and
//! path; one request with its method, path, redacted headers and body, status, duration and
//! the answer's body (redacted as the request's is).

use super::layout::{enc, input, missing, select, text, Ctx, BASE};
use crate::admin;
use crate::clock::iso_millis;
use crate::conformance::Deviation;
use crate::http::Response;
use crate::journal::Entry;
use crate::markup::{html, Markup};
use crate::router::Params;

/// Rows per page.
const PAGE: usize = 50;

/// The list's filters, as the query gives them.
struct Filters {
    flavour: String,
    tenant: String,
    status: String,
    path: String,
    before: u64,
}

impl Filters {
    fn parse(ctx: &Ctx) -> Filters {
        Filters {
            flavour: ctx.query("flavour"),
            tenant: ctx.query("tenant"),
            status: ctx.query("status"),
            path: ctx.query("path"),
            before: ctx.query("before").parse().unwrap_or(u64::MAX),
        }
    }

    fn keep(&self, id: u64, e: &Entry) -> bool {
        id < self.before
            && (self.flavour.is_empty() || e.flavour == Some(self.flavour.as_str()))
            && (self.tenant.is_empty() || e.tenant.as_deref() == Some(self.tenant.as_str()))
            && (self.path.is_empty() || e.path.contains(self.path.as_str()))
            && status_matches(&self.status.trim().to_ascii_lowercase(), e.status)
    }

    /// The next page's address, below entry `last`.
    fn older(&self, last: u64) -> String {
        format!(
            "{BASE}/requests?flavour={}&tenant={}&status={}&path={}&before={last}",
            enc(&self.flavour),
            enc(&self.tenant),
            enc(&self.status),
            enc(&self.path),
        )
    }
}

/// `GET /requests?flavour=&tenant=&status=&path=`. `status` is a code (`201`) or a class
/// (`4xx`); `path` matches anywhere in the path.
pub fn list(ctx: &Ctx, _: &Params) -> Response {
    let filters = Filters::parse(ctx);
    let mut entries = admin::newest_requests(ctx.app, |id, e| filters.keep(id, e), PAGE + 1);
    let more = entries.len() > PAGE;
    entries.truncate(PAGE);
    let mut flavours: Vec<(&str, &str)> = vec![("", "any flavour")];
    flavours.extend(crate::flavours::ALL.iter().map(|f| (f.name(), f.title())));
    let body = html! {
        h1 { "Requests" }
        (ctx.note())
        form.filters method="get" action={ (BASE) "/requests" } {
            (select("flavour", "Flavour", &flavours, &filters.flavour))
            (input("tenant", "Tenant", &filters.tenant, "user or key"))
            (input("status", "Status", &filters.status, "201 or 4xx"))
            (input("path", "Path contains", &filters.path, "/clients"))
            button.quiet { "Filter" }
        }
        @if !ctx.app.journal.enabled() {
            p.muted { "The journal is off (" code { "--journal-entries 0" } ")." }
        } @else if entries.is_empty() {
            p.muted #empty { "No requests." }
        } @else {
            (table(&entries))
        }
        @if let Some((last, _)) = entries.last().filter(|_| more) {
            p.paging { a href=(filters.older(*last)) { "Older requests" } }
        }
        p { (ctx.form("/requests/clear", html! {}, "Clear the journal", "quiet")) }
    };
    let last = ctx.app.journal.last_id().to_string();
    let stamp_url = format!("{BASE}/requests/stamp");
    Response::html(
        200,
        ctx.page("Requests", "requests", body, Some((&stamp_url, &last))),
    )
}

fn table(entries: &[(u64, Entry)]) -> Markup {
    html! {
        div.table-box {
            table #requests {
                thead { tr { th { "#" } th { "At" } th { "Request" } th { "Status" } th { "Flavour" } th { "Tenant" } th { "ms" } } }
                tbody {
                    @for (id, e) in entries {
                        tr {
                            td { (id) }
                            td { (iso_millis(e.at_ms)) }
                            td { a href={ (BASE) "/requests/" (id) } { (e.method) " " (e.path) (query(e)) } }
                            td class={ "s-" (e.status / 100) } { (e.status) }
                            td { (e.flavour.unwrap_or("")) }
                            td { (e.tenant.as_deref().unwrap_or("")) }
                            td { (format!("{:.1}", e.duration_ms)) }
                        }
                    }
                }
            }
        }
    }
}

fn query(e: &Entry) -> String {
    if e.query.is_empty() {
        String::new()
    } else {
        format!("?{}", e.query)
    }
}

fn status_matches(wanted: &str, status: u16) -> bool {
    if wanted.is_empty() {
        return true;
    }
    if let Some(class) = wanted.strip_suffix("xx") {
        return class.parse::<u16>().is_ok_and(|c| status / 100 == c);
    }
    wanted.parse::<u16>().is_ok_and(|s| s == status)
}

/// `GET /requests/stamp`: the newest entry's id, for `live.js`.
pub fn stamp(ctx: &Ctx, _: &Params) -> Response {
    text(200, &ctx.app.journal.last_id().to_string())
}

/// `POST /requests/clear`.
pub fn clear(ctx: &Ctx, _: &Params) -> Response {
    admin::clear_requests(ctx.app);
    Response::redirect(&format!("{BASE}/requests"))
}

/// `GET /requests/{id}`.
pub fn show(ctx: &Ctx, params: &Params) -> Response {
    let found = params.get("id").parse::<u64>().ok().and_then(|id| {
        admin::request(ctx.app, id).map(|(entry, deviations)| (id, entry, deviations))
    });
    let Some((id, e, deviations)) = found else {
        let message = "The journal no longer holds it (it keeps the most recent requests only).";
        let back = ("/requests", "Back to the requests");
        return missing(ctx, "No such request", "requests", message, back);
    };
    let body = html! {
        p { a href={ (BASE) "/requests" } { "← Requests" } }
        h1 #request-line { (e.method) " " (e.path) (query(&e)) }
        dl #summary {
            dt { "Status" } dd class={ "s-" (e.status / 100) } id="status" { (e.status) }
            dt { "Duration" } dd { (format!("{:.3}", e.duration_ms)) " ms" }
            dt { "At" } dd { (iso_millis(e.at_ms)) }
            dt { "Flavour" } dd { (e.flavour.unwrap_or("")) }
            dt { "Tenant" } dd { (e.tenant.as_deref().unwrap_or("")) }
            dt { "Journal id" } dd { (id) }
        }
        (conformance(&deviations))
        h2 { "Request headers" }
        div.table-box {
            table #headers { tbody {
                @for (name, value) in &e.headers { tr { th { (name) } td { (value) } } }
            } }
        }
        h2 { "Request body" }
        pre #body { (pretty(&e.body)) }
        h2 { "Answer body" }
        pre #answer { (pretty(&e.answer)) }
    };
    let title = format!("{} {}", e.method, e.path);
    Response::html(200, ctx.page(&title, "requests", body, None))
}

/// The request's deviations from its vendor's contract: what the real vendor would refuse
/// (or might), each with the rule, where it is documented and where the request broke it
/// (the field, when the rule covers many).
fn conformance(deviations: &[Deviation]) -> Markup {
    html! {
        h2 { "Conformance" }
        @if deviations.is_empty() {
            p #conformance { "No deviation from the vendor's contract." }
        } @else {
            div.table-box {
                table #conformance {
                    thead {
                        tr {
                            th { "Rule" }
                            th { "Where" }
                            th { "What the vendor requires" }
                            th { "Source" }
                            th { "Here" }
                        }
                    }
                    tbody {
                        @for d in deviations {
                            tr {
                                td { code { (d.rule.code) } }
                                td {
                                    @if let Some(detail) = &d.detail {
                                        code { (detail) }
                                    }
                                }
                                td { (d.rule.rule) }
                                td {
                                    @if d.rule.source.starts_with("http") {
                                        a href=(d.rule.source) rel="noreferrer" { (d.rule.source) }
                                    } @else {
                                        (d.rule.source)
                                    }
                                }
                                td { (if d.refused { "refused" } else { "accepted, recorded" }) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// JSON indented for reading; anything else as it is; "(empty)" for nothing.
fn pretty(kept: &str) -> String {
    if kept.is_empty() {
        return "(empty)".to_string();
    }
    match serde_json::from_str::<serde_json::Value>(kept) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_else(|_| kept.to_string()),
        Err(_) => kept.to_string(),
    }
}
