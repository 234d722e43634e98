//! Signing in and out: the sign-in page at `/_admin/` takes the admin token once and opens a
//! session (`sessions`) whose cookie opens the console's pages. Its form carries a
//! double-submit CSRF cookie; the token is checked as the admin API's is
//! (`admin::check_token`).

use super::layout::{shell, stale_form, Ctx, BASE, SIGN_IN};
use crate::admin::{self, Refusal};
use crate::app::App;
use crate::auth::constant_time_eq;
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
            (crate::pages::error_box(error))
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
    let form = form_body(req);
    let sent = form_field(&form, "csrf").unwrap_or("");
    let double = cookie(req, CSRF_COOKIE).unwrap_or_default();
    if double.is_empty() || !constant_time_eq(double.as_bytes(), sent.as_bytes()) {
        return stale_form();
    }
    let address = crate::http::client_ip(req, &app.settings.trusted_proxies);
    let given = form_field(&form, "token").unwrap_or("");
    match admin::check_token(app, address, given) {
        Ok(()) => {}
        Err(Refusal::Wrong) => return page(req, Some("That is not the admin token."), 401),
        Err(Refusal::TooMany { retry_after_s }) => {
            let error =
                format!("Too many wrong tokens from your address: try again in {retry_after_s} s.");
            return page(req, Some(&error), 429)
                .with_header("Retry-After", &retry_after_s.to_string());
        }
    }
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
