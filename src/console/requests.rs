//! The requests page: the journal newest first, filtered by flavour, tenant, status and
//! path; one request with its method, path, redacted headers and body, status, duration and
//! the answer's body (redacted as the request's is).

use super::{enc, esc, input, select, Ctx, BASE};
use crate::clock::iso_millis;
use crate::http::Response;
use crate::journal::Entry;

/// Rows per page.
const PAGE: usize = 50;

/// `GET /requests?flavour=&tenant=&status=&path=`. `status` is a code (`201`) or a class
/// (`4xx`); `path` matches anywhere in the path.
pub fn list(ctx: &Ctx) -> Response {
    let q = |name| ctx.req.query_param(name).unwrap_or_default();
    let (flavour, tenant, status, path) = (q("flavour"), q("tenant"), q("status"), q("path"));
    let status_wanted = status.trim().to_ascii_lowercase();
    let before = ctx
        .req
        .query_param("before")
        .and_then(|b| b.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    let keep = |id: u64, e: &Entry| {
        id < before
            && (flavour.is_empty() || e.flavour == Some(flavour.as_str()))
            && (tenant.is_empty() || e.tenant.as_deref() == Some(tenant.as_str()))
            && (path.is_empty() || e.path.contains(path.as_str()))
            && status_matches(&status_wanted, e.status)
    };
    let mut entries = ctx.app.journal.newest(keep, PAGE + 1);
    let more = entries.len() > PAGE;
    entries.truncate(PAGE);
    let mut flavours: Vec<(&str, &str)> = vec![("", "any flavour")];
    flavours.extend(crate::flavours::ALL.iter().map(|f| (f.name(), f.title())));
    let mut body = format!(
        "<h1>Requests</h1>{}<form class=\"filters\" method=\"get\" action=\"{BASE}/requests\">\
         {}{}{}{}<button class=\"quiet\">Filter</button></form>",
        ctx.note(),
        select("flavour", "Flavour", &flavours, &flavour),
        input("tenant", "Tenant", &tenant, "user or key"),
        input("status", "Status", &status, "201 or 4xx"),
        input("path", "Path contains", &path, "/clients"),
    );
    if !ctx.app.journal.enabled() {
        body.push_str(
            "<p class=\"muted\">The journal is off (<code>--journal-entries 0</code>).</p>",
        );
    } else if entries.is_empty() {
        body.push_str("<p class=\"muted\" id=\"empty\">No requests.</p>");
    } else {
        body.push_str(
            "<table id=\"requests\"><thead><tr><th>#</th><th>At</th><th>Request</th>\
             <th>Status</th><th>Flavour</th><th>Tenant</th><th>ms</th></tr></thead><tbody>",
        );
        for (id, e) in &entries {
            let query = if e.query.is_empty() {
                String::new()
            } else {
                format!("?{}", e.query)
            };
            body.push_str(&format!(
                "<tr><td>{id}</td><td>{}</td><td><a href=\"{BASE}/requests/{id}\">{} {}{}</a></td>\
                 <td class=\"s-{}\">{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
                iso_millis(e.at_ms),
                esc(&e.method),
                esc(&e.path),
                esc(&query),
                e.status / 100,
                e.status,
                esc(e.flavour.unwrap_or("")),
                esc(e.tenant.as_deref().unwrap_or("")),
                e.duration_ms,
            ));
        }
        body.push_str("</tbody></table>");
    }
    if let Some((last, _)) = entries.last().filter(|_| more) {
        body.push_str(&format!(
            "<p class=\"paging\"><a href=\"{BASE}/requests?flavour={}&amp;tenant={}&amp;status={}\
             &amp;path={}&amp;before={last}\">Older requests</a></p>",
            enc(&flavour),
            enc(&tenant),
            enc(&status),
            enc(&path),
        ));
    }
    body.push_str(&format!(
        "<p>{}</p>",
        ctx.form("/requests/clear", "", "Clear the journal", "quiet")
    ));
    let last = ctx.app.journal.last_id().to_string();
    let stamp_url = format!("{BASE}/requests/stamp");
    Response::html(
        200,
        ctx.page("Requests", "requests", &body, Some((&stamp_url, &last))),
    )
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

/// `GET /requests/{id}`.
pub fn show(ctx: &Ctx, id: &str) -> Response {
    let Some((id, e)) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| ctx.app.journal.get(id).map(|e| (id, e)))
    else {
        let body = format!(
            "<h1>No such request</h1><p>The journal no longer holds it (it keeps the most \
             recent requests only). <a href=\"{BASE}/requests\">Back to the requests</a></p>"
        );
        return Response::html(404, ctx.page("No such request", "requests", &body, None));
    };
    let query = if e.query.is_empty() {
        String::new()
    } else {
        format!("?{}", e.query)
    };
    let mut body = format!(
        "<p><a href=\"{BASE}/requests\">← Requests</a></p>\
         <h1 id=\"request-line\">{} {}{}</h1>\
         <dl id=\"summary\"><dt>Status</dt><dd class=\"s-{}\" id=\"status\">{}</dd>\
         <dt>Duration</dt><dd>{:.3} ms</dd><dt>At</dt><dd>{}</dd>\
         <dt>Flavour</dt><dd>{}</dd><dt>Tenant</dt><dd>{}</dd><dt>Journal id</dt><dd>{id}</dd></dl>",
        esc(&e.method),
        esc(&e.path),
        esc(&query),
        e.status / 100,
        e.status,
        e.duration_ms,
        iso_millis(e.at_ms),
        esc(e.flavour.unwrap_or("")),
        esc(e.tenant.as_deref().unwrap_or("")),
    );
    body.push_str(&conformance(&ctx.app.journal.deviations(id)));
    body.push_str("<h2>Request headers</h2><table id=\"headers\"><tbody>");
    for (name, value) in &e.headers {
        body.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(name),
            esc(value)
        ));
    }
    body.push_str("</tbody></table>");
    body.push_str(&format!(
        "<h2>Request body</h2><pre id=\"body\">{}</pre><h2>Answer body</h2><pre id=\"answer\">{}</pre>",
        esc(&pretty(&e.body)),
        esc(&pretty(&e.answer)),
    ));
    let title = format!("{} {}", e.method, e.path);
    Response::html(200, ctx.page(&title, "requests", &body, None))
}

/// The request's deviations from its vendor's contract: what the real vendor would refuse
/// (or might), each with the rule and where it is documented.
fn conformance(deviations: &[crate::conformance::Deviation]) -> String {
    if deviations.is_empty() {
        return "<h2>Conformance</h2><p id=\"conformance\">No deviation from the vendor's \
                contract.</p>"
            .to_string();
    }
    let mut html = String::from(
        "<h2>Conformance</h2><table id=\"conformance\"><thead><tr><th>Rule</th>\
         <th>What the vendor requires</th><th>Source</th><th>Here</th></tr></thead><tbody>",
    );
    for d in deviations {
        let source = if d.rule.source.starts_with("http") {
            format!(
                "<a href=\"{0}\" rel=\"noreferrer\">{0}</a>",
                esc(d.rule.source)
            )
        } else {
            esc(d.rule.source)
        };
        html.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{source}</td><td>{}</td></tr>",
            esc(d.rule.code),
            esc(d.rule.rule),
            if d.refused {
                "refused"
            } else {
                "accepted, recorded"
            },
        ));
    }
    html.push_str("</tbody></table>");
    html
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
