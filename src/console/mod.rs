//! The admin console: the operations of `admin` as server-rendered HTML for people, under
//! `/_admin/` (the sign-in page) and `/_admin/console/...` (docs/console.md). It exists only
//! with `--admin-token`, like the rest of `/_admin`.
//!
//! Signing in takes the admin token once and sets a session cookie (`HttpOnly`,
//! `SameSite=Strict`, `Secure` under TLS, path `/_admin`). The cookie opens console pages
//! only: the JSON API keeps asking for the bearer token, so a cookie never authorizes a JSON
//! call. Every form carries a CSRF token: the sign-in form a double-submit cookie, the others
//! the session's own token. Sessions live in the server's memory (`sessions`: a restart
//! signs everyone out), and are not touched by a reset of the data.
//!
//! `ROUTES` is the one list of pages and forms: the router answers 404, and 405 with its
//! `Allow`, from it. Pages are `maud` templates (`markup`), so every value is escaped.
//! Every page works without JavaScript; `live.js` (a few lines) reloads the outbox and the
//! journal when something new arrives, by polling a tiny stamp endpoint. One page per file:
//! `outbox`, `requests`, `tenants`, `controls`; `signin`, and `layout` for what they share.
//! Nothing here names a vendor: flavours are reached through `flavours::ALL`.

mod controls;
mod layout;
mod outbox;
mod requests;
mod signin;
mod tenants;

use std::time::Instant;

use crate::app::App;
use crate::auth::constant_time_eq;
use crate::http::{form_body, form_field, Request, Response};
use crate::router::{Params, Route, Routing, Table};

pub use layout::BASE;
use layout::{text, Ctx, SIGN_IN};

const LIVE_JS: &str = include_str!("live.js");

/// What answers a console path.
#[derive(Clone, Copy)]
enum Handler {
    /// Open to anyone: the sign-in page and its form.
    Open(fn(&App, &Request) -> Response),
    /// A page or form of a signed-in session (a form's CSRF token checked first).
    Signed(fn(&Ctx, &Params) -> Response),
}

const fn open(
    method: &'static str,
    path: &'static str,
    f: fn(&App, &Request) -> Response,
) -> Route<Handler> {
    Route {
        method,
        path,
        handler: Handler::Open(f),
    }
}

const fn signed(
    method: &'static str,
    path: &'static str,
    f: fn(&Ctx, &Params) -> Response,
) -> Route<Handler> {
    Route {
        method,
        path,
        handler: Handler::Signed(f),
    }
}

/// Every page and form (paths below `/_admin`).
static ROUTES: &[Route<Handler>] = &[
    open("GET", "/", signin::root),
    open("POST", "/console/signin", signin::sign_in),
    signed("POST", "/console/signout", signin::sign_out),
    signed("GET", "/console", |_, _| {
        Response::redirect(&format!("{BASE}/outbox"))
    }),
    signed("GET", "/console/live.js", |_, _| live_js()),
    signed("GET", "/console/outbox", outbox::list),
    signed("GET", "/console/outbox/stamp", outbox::stamp),
    signed("GET", "/console/outbox/{id}", outbox::show),
    signed("POST", "/console/outbox/{id}/retry", outbox::retry),
    signed("POST", "/console/outbox/{id}/delete", outbox::delete),
    signed("GET", "/console/requests", requests::list),
    signed("GET", "/console/requests/stamp", requests::stamp),
    signed("GET", "/console/requests/{id}", requests::show),
    signed("POST", "/console/requests/clear", requests::clear),
    signed("GET", "/console/tenants", tenants::list),
    signed("POST", "/console/tenants/action", tenants::act),
    signed(
        "POST",
        "/console/tenant-sets/{id}/delete",
        tenants::delete_set,
    ),
    signed("GET", "/console/controls", controls::show),
    signed("POST", "/console/faults", controls::add_fault),
    signed(
        "POST",
        "/console/faults/{id}/delete",
        controls::delete_fault,
    ),
    signed("POST", "/console/clock", controls::move_clock),
    signed("POST", "/console/reset", controls::reset),
];

static TABLE: Table<Handler> = Table::pages(ROUTES);

/// Answers a request for a console page, or `None` when the path is not the console's
/// (then it belongs to the JSON API).
pub fn handle(app: &App, req: &Request) -> Option<Response> {
    app.settings.admin_token.as_ref()?;
    let below = req.path.strip_prefix("/_admin")?;
    let console = below == "/"
        || below
            .strip_prefix("/console")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if !console {
        return None;
    }
    let started = Instant::now();
    let response = secure_headers(route(app, req, below));
    // Pages are meant to render in well under 5 ms; say so when one does not.
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if ms > 5.0 {
        crate::log::line(format!("console: {} took {ms:.1} ms", req.path));
    }
    Some(response)
}

/// The table's answer, behind the sign-in: without a session every console path, listed or
/// not, sends a browser to the sign-in page (and refuses anything else).
fn route(app: &App, req: &Request, below: &str) -> Response {
    let routing = TABLE.lookup(&req.method, below);
    match &routing {
        Routing::Found {
            handler: Handler::Open(answer),
            ..
        } => return answer(app, req),
        Routing::OtherMethod {
            allow,
            some_handler: Some(Handler::Open(_)),
        } => return method_not_allowed(allow),
        _ => {}
    }
    let Some(session) = signin::session(app, req) else {
        return if req.method == "GET" || req.method == "HEAD" {
            Response::redirect(SIGN_IN).with_header("Cache-Control", "no-store")
        } else {
            text(403, "sign in to the console first")
        };
    };
    match routing {
        Routing::Found {
            handler: Handler::Signed(page),
            params,
            ..
        } => {
            let posted = req.method == "POST";
            let form = if posted { form_body(req) } else { Vec::new() };
            let sent = form_field(&form, "csrf").unwrap_or("");
            if posted && !constant_time_eq(sent.as_bytes(), session.csrf.as_bytes()) {
                return layout::stale_form();
            }
            let ctx = Ctx {
                app,
                req,
                session: &session,
                form,
            };
            page(&ctx, &params)
        }
        Routing::OtherMethod { allow, .. } => method_not_allowed(&allow),
        _ => text(404, "no such console page"),
    }
}

fn method_not_allowed(allow: &str) -> Response {
    text(405, &format!("use {allow}")).with_header("Allow", allow)
}

fn live_js() -> Response {
    Response::empty(200)
        .with_header("Content-Type", "text/javascript; charset=utf-8")
        .with_header("Cache-Control", "private, max-age=3600")
        .with_body(LIVE_JS.as_bytes().to_vec())
}

/// What every console answer carries: no caching of admin data, no framing, a policy that
/// lets only our own script run (the HTML part of a mail is shown in a sandboxed frame).
fn secure_headers(response: Response) -> Response {
    let response = if response.header("Cache-Control").is_none() {
        response.with_header("Cache-Control", "no-store")
    } else {
        response
    };
    response
        .unframeable()
        .with_header_replaced(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; \
             connect-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        )
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
}

/// Every (method, path below `/_admin`) the console answers, from its table.
pub fn operations() -> Vec<(&'static str, &'static str)> {
    TABLE.operations()
}

/// Paths of the console pages a signed-in browser can GET, for the refusal tests and docs.
pub const PAGES: &[&str] = &[
    "/outbox",
    "/outbox/stamp",
    "/outbox/1",
    "/requests",
    "/requests/stamp",
    "/requests/1",
    "/tenants",
    "/controls",
    "/live.js",
];

/// The forms (actions below `BASE`) that change something, for the refusal tests.
pub const FORMS: &[&str] = &[
    "/signout",
    "/outbox/1/retry",
    "/outbox/1/delete",
    "/requests/clear",
    "/tenants/action",
    "/tenant-sets/x/delete",
    "/faults",
    "/faults/1/delete",
    "/clock",
    "/reset",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The lists the refusal tests walk are the table's signed-in pages and forms.
    #[test]
    fn pages_and_forms_are_the_table_s() {
        let concrete = |template: &str| {
            let id = if template.contains("tenant-sets") {
                "x"
            } else {
                "1"
            };
            template.replace("{id}", id)
        };
        let of = |method: &str| -> Vec<String> {
            ROUTES
                .iter()
                .filter(|r| r.method == method && matches!(r.handler, Handler::Signed(_)))
                .filter_map(|r| {
                    r.path
                        .strip_prefix("/console/")
                        .map(|p| concrete(&format!("/{p}")))
                })
                .collect()
        };
        let mut pages = of("GET");
        let mut listed: Vec<String> = PAGES.iter().map(|p| p.to_string()).collect();
        pages.sort();
        listed.sort();
        assert_eq!(pages, listed);
        let mut forms = of("POST");
        let mut listed: Vec<String> = FORMS.iter().map(|p| p.to_string()).collect();
        forms.sort();
        listed.sort();
        assert_eq!(forms, listed);
    }
}
