//! Signing in and out: the sign-in page at `/_admin/` takes the admin token once and opens a
//! session (`sessions`) whose cookie opens the console's pages. Its form carries a
//! double-submit CSRF cookie; wrong tokens count against the address, as on the admin API
//! (`guesses`).

use super::layout::{shell, text, Ctx, BASE, SIGN_IN};
use crate::app::App;
use crate::auth::{constant_time_eq, sha256};
use crate::http::{cookie, form_body, form_field, Request, Response};
use crate::markup::html;
use crate::router::Params;
use crate::sessions::{random_token, Open, TTL};

pub const SESSION_COOKIE: &str = "clientele_console";
const CSRF_COOKIE: &str = "clientele_console_csrf";

/// The open session the request's cookie names, if any.
pub fn session(app: &App, req: &Request) -> Option<Open> {
    app.console_sessions.find(&cookie(req, SESSION_COOKIE)?)
}

fn cookie_header(req: &Request, name: &str, value: &str, max_age_s: u64) -> String {
    let secure = if req.secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/_admin; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}")
}

/// `GET /_admin/`: to the outbox when signed in, else the form.
pub fn root(app: &App, req: &Request) -> Response {
    match session(app, req) {
        Some(_) => Response::redirect(&format!("{BASE}/outbox")),
        None => page(req, None, 200),
    }
}

/// The sign-in form, with `error` above it.
fn page(req: &Request, error: Option<&str>, status: u16) -> Response {
    let (csrf, set_cookie) = match cookie(req, CSRF_COOKIE).filter(|v| v.len() >= 32) {
        Some(existing) => (existing, None),
        None => {
            let fresh = random_token();
            let header = cookie_header(req, CSRF_COOKIE, &fresh, 86_400);
            (fresh, Some(header))
        }
    };
    let body = html! {
        body { main { div.signin {
            h1 { "Clientele console" }
            (super::layout::error_box(error))
            form method="post" action={ (BASE) "/signin" } {
                input type="hidden" name="csrf" value=(csrf);
                label {
                    "Admin token"
                    input id="token" name="token" type="password" autocomplete="current-password" required autofocus;
                }
                button type="submit" { "Sign in" }
            }
            p.muted { "The token given to " code { "--admin-token" } "." }
        } } }
    };
    let response = Response::html(status, shell("Sign in", body));
    match set_cookie {
        Some(c) => response.with_header("Set-Cookie", &c),
        None => response,
    }
}

/// `POST /_admin/console/signin`.
pub fn sign_in(app: &App, req: &Request) -> Response {
    let Some(admin_token) = app.settings.admin_token.as_deref() else {
        return text(404, "not found");
    };
    let form = form_body(req);
    let sent = form_field(&form, "csrf").unwrap_or("");
    let double = cookie(req, CSRF_COOKIE).unwrap_or_default();
    if double.is_empty() || !constant_time_eq(double.as_bytes(), sent.as_bytes()) {
        return text(
            403,
            "this form expired or came from another page: reload it and try again",
        );
    }
    let address = crate::http::client_ip(req, &app.settings.trusted_proxies);
    if let Err(wait) = app.admin_guesses.check(address) {
        let seconds = crate::guesses::retry_after(wait);
        let error = format!("Too many wrong tokens from your address: try again in {seconds} s.");
        return page(req, Some(&error), 429).with_header("Retry-After", &seconds.to_string());
    }
    let given = form_field(&form, "token").unwrap_or("");
    if !constant_time_eq(&sha256(given.as_bytes()), &sha256(admin_token.as_bytes())) {
        app.admin_guesses.wrong(address);
        return page(req, Some("That is not the admin token."), 401);
    }
    app.admin_guesses.right(address);
    let token = app.console_sessions.open();
    Response::redirect(&format!("{BASE}/outbox")).with_header(
        "Set-Cookie",
        &cookie_header(req, SESSION_COOKIE, &token, TTL.as_secs()),
    )
}

/// `POST /_admin/console/signout`: the session ends on the server, not only in the browser.
pub fn sign_out(ctx: &Ctx, _: &Params) -> Response {
    ctx.app.console_sessions.close(ctx.session);
    Response::redirect(SIGN_IN)
        .with_header("Set-Cookie", &cookie_header(ctx.req, SESSION_COOKIE, "", 0))
}
