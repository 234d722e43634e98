//! The admin console: the admin API's data as server-rendered HTML for people, under
//! `/_admin/` (the sign-in page) and `/_admin/console/...` (docs/console.md). It exists only
//! with `--admin-token`, like the rest of `/_admin`.
//!
//! Signing in takes the admin token once and sets a session cookie (`HttpOnly`,
//! `SameSite=Strict`, `Secure` under TLS, path `/_admin`). The cookie opens console pages
//! only: the JSON API keeps asking for the bearer token, so a cookie never authorizes a JSON
//! call. Every form carries a CSRF token: the sign-in form a double-submit cookie, the others
//! the session's own token. Sessions live in memory (a restart or a different admin token
//! signs everyone out), and are not touched by a reset of the data.
//!
//! Every page works without JavaScript; `live.js` (a few lines) reloads the outbox and the
//! journal when something new arrives, by polling a tiny stamp endpoint. One page per file:
//! `outbox`, `requests`, `tenants`, `controls`. Nothing here names a vendor: flavours are
//! reached through `flavours::ALL`.

mod controls;
mod outbox;
mod requests;
mod tenants;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::TryRngCore;

use crate::app::App;
use crate::auth::{constant_time_eq, sha256};
use crate::http::{cookie, escape_html as esc, form_body, form_field, Request, Response};

/// Where the console's pages live, below the sign-in page `/_admin/`.
pub const BASE: &str = "/_admin/console";
const SIGN_IN: &str = "/_admin/";
const SESSION_COOKIE: &str = "clientele_console";
const CSRF_COOKIE: &str = "clientele_console_csrf";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// At most this many sessions at once; the oldest go first.
const MAX_SESSIONS: usize = 256;

const STYLE: &str = include_str!("style.css");
const LIVE_JS: &str = include_str!("live.js");

/// Answers a request for a console page, or `None` when the path is not the console's
/// (then it belongs to the JSON API).
pub fn handle(app: &App, req: &Request) -> Option<Response> {
    let admin_token = app.settings.admin_token.as_deref()?;
    let below = req.path.strip_prefix("/_admin")?;
    let page = if below == "/" {
        ""
    } else {
        match below.strip_prefix("/console") {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
            _ => return None,
        }
    };
    let started = Instant::now();
    let response = route(app, req, admin_token, page);
    let response = secure_headers(response);
    // Pages are meant to render in well under 5 ms; say so when one does not.
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if ms > 5.0 {
        crate::log::line(format!("console: {} took {ms:.1} ms", req.path));
    }
    Some(response)
}

fn route(app: &App, req: &Request, admin_token: &str, page: &str) -> Response {
    let method = req.method.as_str();
    let signed_in = session(req, admin_token);
    if below_root(req) {
        return match (method, signed_in) {
            ("GET" | "HEAD", Some(_)) => Response::redirect(&format!("{BASE}/outbox")),
            ("GET" | "HEAD", None) => sign_in_page(req, None, 200),
            _ => text(405, "use GET").with_header("Allow", "GET"),
        };
    }
    if (method, page) == ("POST", "/signin") {
        return sign_in(app, req, admin_token);
    }
    let Some(session) = signed_in else {
        // A page sends the browser to the sign-in page; anything else is refused.
        return if method == "GET" || method == "HEAD" {
            Response::redirect(SIGN_IN).with_header("Cache-Control", "no-store")
        } else {
            text(403, "sign in to the console first")
        };
    };
    let segments: Vec<&str> = page.split('/').filter(|s| !s.is_empty()).collect();
    let ctx = Ctx {
        app,
        req,
        csrf: &session.csrf,
    };
    if method == "POST" {
        let form = form_body(req);
        let sent = form_field(&form, "csrf").unwrap_or("");
        if !constant_time_eq(sent.as_bytes(), session.csrf.as_bytes()) {
            return text(
                403,
                "this form expired or came from another page: reload it and try again",
            );
        }
        return match segments.as_slice() {
            ["signout"] => sign_out(req, &session),
            ["outbox", id, action] => outbox::act(&ctx, id, action),
            ["requests", "clear"] => {
                app.journal.clear();
                Response::redirect(&format!("{BASE}/requests"))
            }
            ["tenants", "action"] => tenants::act(&ctx, &form),
            ["tenant-sets", id, "delete"] => tenants::delete_set(&ctx, id),
            ["faults"] => controls::add_fault(&ctx, &form),
            ["faults", id, "delete"] => controls::delete_fault(&ctx, id),
            ["clock"] => controls::clock(&ctx, &form),
            ["reset"] => controls::reset(&ctx, &form),
            _ => text(404, "no such console action"),
        };
    }
    if method != "GET" && method != "HEAD" {
        return text(405, "use GET or POST").with_header("Allow", "GET, POST");
    }
    match segments.as_slice() {
        [] => Response::redirect(&format!("{BASE}/outbox")),
        ["live.js"] => Response::empty(200)
            .with_header("Content-Type", "text/javascript; charset=utf-8")
            .with_header("Cache-Control", "private, max-age=3600")
            .with_body(LIVE_JS.as_bytes().to_vec()),
        ["outbox"] => outbox::list(&ctx),
        ["outbox", "stamp"] => outbox::stamp(&ctx),
        ["outbox", id] => outbox::show(&ctx, id),
        ["requests"] => requests::list(&ctx),
        ["requests", "stamp"] => text(200, &app.journal.last_id().to_string()),
        ["requests", id] => requests::show(&ctx, id),
        ["tenants"] => tenants::list(&ctx),
        ["controls"] => controls::show(&ctx, None, 200),
        _ => text(404, "no such console page"),
    }
}

/// `/_admin/` itself, the sign-in page.
fn below_root(req: &Request) -> bool {
    req.path == SIGN_IN
}

/// What a page needs: the app, the request, and the session's CSRF token for its forms.
pub(crate) struct Ctx<'a> {
    pub app: &'a App,
    pub req: &'a Request,
    pub csrf: &'a str,
}

impl Ctx<'_> {
    /// A form that POSTs to `action` (below `BASE`) with the CSRF token and `fields` (HTML).
    pub fn form(&self, action: &str, fields: &str, button: &str, class: &str) -> String {
        format!(
            "<form method=\"post\" action=\"{BASE}{}\"><input type=\"hidden\" name=\"csrf\" \
             value=\"{}\">{fields}<button class=\"{class}\">{}</button></form>",
            esc(action),
            esc(self.csrf),
            esc(button)
        )
    }

    /// A whole page: the header with the navigation (`current` marks one) and sign-out,
    /// then `body`. With `live`, (stamp URL, stamp) makes `live.js` reload it on a change.
    pub fn page(
        &self,
        title: &str,
        current: &str,
        body: &str,
        live: Option<(&str, &str)>,
    ) -> String {
        let nav: String = [
            ("outbox", "Outbox"),
            ("requests", "Requests"),
            ("tenants", "Tenants"),
            ("controls", "Controls"),
        ]
        .iter()
        .map(|(path, name)| {
            let mark = if *path == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<a href=\"{BASE}/{path}\"{mark}>{name}</a>")
        })
        .collect();
        let sign_out = self.form("/signout", "", "Sign out", "quiet");
        let (live_attrs, script) = match live {
            Some((url, stamp)) => (
                format!(
                    " data-stamp-url=\"{}\" data-stamp=\"{}\"",
                    esc(url),
                    esc(stamp)
                ),
                format!("<script src=\"{BASE}/live.js\"></script>"),
            ),
            None => (String::new(), String::new()),
        };
        shell(
            title,
            &format!(
                "<body{live_attrs}><header><b>Clientele console</b>{nav}{sign_out}</header>\
                 <main>{body}</main>{script}</body>"
            ),
        )
    }

    /// A note from a redirect after an action (`?note=`), from a fixed list.
    pub fn note(&self) -> String {
        let text = match self.req.query_param("note").as_deref() {
            Some("retried") => "The mail will be sent again now.",
            Some("deleted") => "The mail was deleted.",
            Some("fault-added") => "The fault was added.",
            Some("fault-deleted") => "The fault was deleted.",
            Some("clock") => "The clock moved.",
            Some("reset") => "All data was deleted and the startup tenants seeded again.",
            Some("done") => "Done.",
            Some("set-deleted") => "The tenant set and its data were deleted.",
            _ => return String::new(),
        };
        format!("<p class=\"note\" role=\"status\">{text}</p>")
    }
}

/// The document around a `<body>...</body>`.
fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><title>{} · Clientele console</title><style>{STYLE}</style></head>{body}</html>",
        esc(title)
    )
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

pub(crate) fn text(status: u16, message: &str) -> Response {
    Response::empty(status)
        .with_header("Content-Type", "text/plain; charset=utf-8")
        .with_body(message.as_bytes().to_vec())
}

/// A redirect to a console page (below `BASE`) with a note for the next page.
pub(crate) fn back(path: &str, note: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Response::redirect(&format!("{BASE}{path}{sep}note={note}"))
}

/// Logs a failure and answers a plain 500 page.
pub(crate) fn failed(what: &str, e: &dyn std::fmt::Display) -> Response {
    crate::log::line(format!("console: {what} failed: {e}"));
    text(500, &format!("{what} failed"))
}

// Sessions.

struct Session {
    /// SHA-256 of the admin token it was opened with: a server with another token (or
    /// another in-process server) does not accept it.
    admin: [u8; 32],
    csrf: String,
    expires: Instant,
}

#[derive(Clone)]
struct Open {
    key: [u8; 32],
    csrf: String,
}

fn sessions() -> std::sync::MutexGuard<'static, HashMap<[u8; 32], Session>> {
    static SESSIONS: OnceLock<Mutex<HashMap<[u8; 32], Session>>> = OnceLock::new();
    SESSIONS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// 32 bytes from the operating system, base64url: never from the server's seedable source,
/// so `--deterministic` neither predicts sessions nor shifts its own sequence for them.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&sha256(bytes));
    out
}

/// The open session the request's cookie names, if any.
fn session(req: &Request, admin_token: &str) -> Option<Open> {
    let token = cookie(req, SESSION_COOKIE)?;
    let key = digest(token.as_bytes());
    let mut all = sessions();
    let found = all.get(&key)?;
    if found.expires <= Instant::now() {
        all.remove(&key);
        return None;
    }
    constant_time_eq(&found.admin, &digest(admin_token.as_bytes())).then(|| Open {
        key,
        csrf: found.csrf.clone(),
    })
}

fn cookie_header(req: &Request, name: &str, value: &str, max_age_s: u64) -> String {
    let secure = if req.secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/_admin; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}")
}

fn sign_in_page(req: &Request, error: Option<&str>, status: u16) -> Response {
    let (csrf, set_cookie) = match cookie(req, CSRF_COOKIE).filter(|v| v.len() >= 32) {
        Some(existing) => (existing, None),
        None => {
            let fresh = random_token();
            let header = cookie_header(req, CSRF_COOKIE, &fresh, 86_400);
            (fresh, Some(header))
        }
    };
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))
    });
    let body = format!(
        "<body><main><div class=\"signin\"><h1>Clientele console</h1>{error}\
         <form method=\"post\" action=\"{BASE}/signin\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>Admin token<input id=\"token\" name=\"token\" type=\"password\" \
         autocomplete=\"current-password\" required autofocus></label>\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"muted\">The token given to <code>--admin-token</code>.</p></div></main></body>",
        esc(&csrf)
    );
    let response = Response::html(status, shell("Sign in", &body));
    match set_cookie {
        Some(c) => response.with_header("Set-Cookie", &c),
        None => response,
    }
}

fn sign_in(app: &App, req: &Request, admin_token: &str) -> Response {
    let form = form_body(req);
    let sent = form_field(&form, "csrf").unwrap_or("");
    let double = cookie(req, CSRF_COOKIE).unwrap_or_default();
    if double.is_empty() || !constant_time_eq(double.as_bytes(), sent.as_bytes()) {
        return text(
            403,
            "this form expired or came from another page: reload it and try again",
        );
    }
    // Wrong tokens count against the address, as on the admin API (`guesses`).
    let address = crate::http::client_ip(req, &app.settings.trusted_proxies);
    if let Err(wait) = app.admin_guesses.check(address) {
        let seconds = crate::guesses::retry_after(wait);
        let error = format!("Too many wrong tokens from your address: try again in {seconds} s.");
        return sign_in_page(req, Some(&error), 429)
            .with_header("Retry-After", &seconds.to_string());
    }
    let given = form_field(&form, "token").unwrap_or("");
    if !constant_time_eq(&sha256(given.as_bytes()), &sha256(admin_token.as_bytes())) {
        app.admin_guesses.wrong(address);
        return sign_in_page(req, Some("That is not the admin token."), 401);
    }
    app.admin_guesses.right(address);
    let token = random_token();
    let now = Instant::now();
    {
        let mut all = sessions();
        all.retain(|_, s| s.expires > now);
        while all.len() >= MAX_SESSIONS {
            let oldest = all.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k);
            match oldest {
                Some(k) => all.remove(&k),
                None => break,
            };
        }
        all.insert(
            digest(token.as_bytes()),
            Session {
                admin: digest(admin_token.as_bytes()),
                csrf: random_token(),
                expires: now + SESSION_TTL,
            },
        );
    }
    Response::redirect(&format!("{BASE}/outbox")).with_header(
        "Set-Cookie",
        &cookie_header(req, SESSION_COOKIE, &token, SESSION_TTL.as_secs()),
    )
}

fn sign_out(req: &Request, session: &Open) -> Response {
    sessions().remove(&session.key);
    Response::redirect(SIGN_IN)
        .with_header("Set-Cookie", &cookie_header(req, SESSION_COOKIE, "", 0))
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

/// A `<select>` of `options` (value, label) named `name` with `current` selected.
pub(crate) fn select(name: &str, label: &str, options: &[(&str, &str)], current: &str) -> String {
    let options: String = options
        .iter()
        .map(|(value, text)| {
            let selected = if *value == current { " selected" } else { "" };
            format!(
                "<option value=\"{}\"{selected}>{}</option>",
                esc(value),
                esc(text)
            )
        })
        .collect();
    format!(
        "<label>{}<select name=\"{name}\">{options}</select></label>",
        esc(label)
    )
}

/// A text `<input>` named `name` with `value`.
pub(crate) fn input(name: &str, label: &str, value: &str, placeholder: &str) -> String {
    format!(
        "<label>{}<input name=\"{name}\" value=\"{}\" placeholder=\"{}\"></label>",
        esc(label),
        esc(value),
        esc(placeholder)
    )
}

/// A query string's value, percent-encoded.
pub(crate) fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
