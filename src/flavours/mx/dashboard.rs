//! The Client Dashboard (the vendor's documentation: "a one-time use link to register on the Client
//! Dashboard"): registration through the mailed link, sign-in, the overview, sign-out.
//!
//! Sessions are rows of the shared `sessions` table (the cookie holds a random token, we
//! keep its SHA-256). Forms are protected against CSRF: the anonymous ones (register, sign
//! in) by a double-submit cookie, sign-out by the session's own CSRF token.

use crate::db::OptionalExtension;

use super::pages::{self, Overview, RegisterForm};
use super::{Error, REGISTER_LINK};
use crate::app::App;
use crate::auth::{constant_time_eq, new_password_problem, sha256, verify_secret};
use crate::clock::iso_seconds;
use crate::http::{cookie, form_body, form_field, Request, Response};
use crate::links::{self, LinkError};
use crate::pages::DeadLinkText;

pub(super) const SESSION_PURPOSE: &str = "mx.dashboard";
const SESSION_COOKIE: &str = "mx_session";
const CSRF_COOKIE: &str = "mx_csrf";
const SESSION_TTL_MS: i64 = 12 * 3_600_000;

/// `/mx/dashboard` on the main listener, `/dashboard` on a dedicated one.
fn base(req: &Request) -> String {
    format!("{}/dashboard", req.mount)
}

fn cookie_header(req: &Request, name: &str, value: &str, max_age_s: i64) -> String {
    let secure = if req.secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; Path={}; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}",
        base(req)
    )
}

/// The double-submit CSRF value: the browser's cookie if it has one, else a new one.
fn csrf_for_form(ids: &crate::ids::Ids, req: &Request) -> (String, Option<String>) {
    match cookie(req, CSRF_COOKIE).filter(|v| v.len() >= 32) {
        Some(existing) => (existing, None),
        None => {
            let fresh = ids.secret_token();
            let header = cookie_header(req, CSRF_COOKIE, &fresh, 86_400);
            (fresh, Some(header))
        }
    }
}

fn with_cookie(response: Response, set_cookie: Option<String>) -> Response {
    match set_cookie {
        Some(c) => response.with_header("Set-Cookie", &c),
        None => response,
    }
    .with_header("Cache-Control", "no-store")
}

/// True when the form's `csrf` field matches the double-submit cookie.
fn csrf_ok(req: &Request, form: &[(String, String)]) -> bool {
    let sent = field(form, "csrf");
    match cookie(req, CSRF_COOKIE) {
        Some(c) => !c.is_empty() && constant_time_eq(c.as_bytes(), sent.as_bytes()),
        None => false,
    }
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form_field(form, name).unwrap_or("")
}

fn stale_form(req: &Request) -> Response {
    Response::html(
        403,
        pages::notice(
            "Please try again",
            "This form expired or was sent from another page. Reload it and submit again.",
            Some((&format!("{}/login", base(req)), "Back to sign in")),
        ),
    )
}

/// What MX's dead-link pages say: the processor can send a new invitation.
const DEAD_LINK: DeadLinkText = DeadLinkText {
    unknown: "This registration link does not exist. Check that you opened the whole link \
              from the e-mail; your processor can send a new invitation.",
    used: "This registration link was used already or replaced by a newer invitation. If \
           you registered, sign in; otherwise your processor can send a new invitation.",
    expired: "This registration link has expired. Your processor can send a new invitation.",
};

fn dead_link(req: &Request, error: &LinkError) -> Response {
    let sign_in = format!("{}/login", base(req));
    let (status, page) =
        crate::pages::dead_link(&pages::LOOK, error, &DEAD_LINK, Some((&sign_in, "Sign in")));
    Response::html(status, page)
}

/// The client a registration link names, for the form.
struct Invitee {
    email: String,
    first_name: String,
    last_name: String,
    company_name: String,
}

fn invitee(app: &App, client_id: &str) -> Result<Invitee, Error> {
    Ok(app.store.read(|c| {
        c.prepare_cached(
            "SELECT email, first_name, last_name, company_name FROM mx_clients WHERE id = ?1",
        )?
        .query_row([client_id], |r| {
            Ok(Invitee {
                email: r.get(0)?,
                first_name: r.get(1)?,
                last_name: r.get(2)?,
                company_name: r.get(3)?,
            })
        })
    })?)
}

/// `GET /dashboard/register/{token}`: the registration form, pre-filled.
pub fn show_register(app: &App, req: &Request, token: &str) -> Result<Response, Error> {
    let now = app.clock.now_ms();
    let client_id = match app
        .store
        .read(|c| Ok::<_, crate::db::Error>(links::check(c, REGISTER_LINK, token, now)))?
    {
        Ok(id) => id,
        Err(e) => return Ok(dead_link(req, &e)),
    };
    let who = invitee(app, &client_id)?;
    let (csrf, set_cookie) = csrf_for_form(&app.ids, req);
    let action = format!("{}/register/{token}", base(req));
    let page = pages::register(&RegisterForm {
        action: &action,
        csrf: &csrf,
        email: &who.email,
        first_name: &who.first_name,
        last_name: &who.last_name,
        company_name: &who.company_name,
        error: None,
    });
    Ok(with_cookie(Response::html(200, page), set_cookie))
}

/// `POST /dashboard/register/{token}`: set the password, burn the link, sign in.
pub fn submit_register(app: &App, req: &Request, token: &str) -> Result<Response, Error> {
    let form = form_body(req);
    if !csrf_ok(req, &form) {
        return Ok(stale_form(req));
    }
    let now = app.clock.now_ms();
    let client_id = match app
        .store
        .read(|c| Ok::<_, crate::db::Error>(links::check(c, REGISTER_LINK, token, now)))?
    {
        Ok(id) => id,
        Err(e) => return Ok(dead_link(req, &e)),
    };
    let who = invitee(app, &client_id)?;
    let registration = Registration::parse(&form, &who);
    if let Some(problem) = registration.problem() {
        let action = format!("{}/register/{token}", base(req));
        let page = pages::register(&RegisterForm {
            action: &action,
            csrf: registration.csrf,
            email: &who.email,
            first_name: &registration.first_name,
            last_name: &registration.last_name,
            company_name: &registration.company_name,
            error: Some(&problem),
        });
        return Ok(Response::html(422, page).with_header("Cache-Control", "no-store"));
    }
    // Hash before taking the write lock: argon2 takes tens of milliseconds.
    let password_hash = app.credentials.hash_chosen(registration.password, &app.ids);
    let session = app.ids.secret_token();
    // Row by row: the link is used up by one conditional UPDATE.
    let outcome = app.store.write_rows(|tx| {
        let client_id = match register(tx, token, &registration, &password_hash, now)? {
            Ok(id) => id,
            Err(e) => return Ok(Err(e)),
        };
        start_session(tx, &app.ids, &session, &client_id, now)?;
        Ok::<_, crate::db::Error>(Ok(()))
    })?;
    match outcome {
        Ok(()) => Ok(signed_in(req, &session)),
        Err(e) => Ok(dead_link(req, &e)),
    }
}

/// The registration form, parsed: a name left blank keeps the invitation's.
struct Registration<'f> {
    first_name: String,
    last_name: String,
    company_name: String,
    password: &'f str,
    password_confirmation: &'f str,
    csrf: &'f str,
}

impl<'f> Registration<'f> {
    fn parse(form: &'f [(String, String)], who: &Invitee) -> Registration<'f> {
        let or_kept = |name: &str, kept: &str| {
            let v = field(form, name).trim();
            if v.is_empty() {
                kept.to_string()
            } else {
                v.to_string()
            }
        };
        Registration {
            first_name: or_kept("first_name", &who.first_name),
            last_name: or_kept("last_name", &who.last_name),
            company_name: or_kept("company_name", &who.company_name),
            password: field(form, "password"),
            password_confirmation: field(form, "password_confirmation"),
            csrf: field(form, "csrf"),
        }
    }

    /// What the page says is wrong with it, if anything.
    fn problem(&self) -> Option<String> {
        if let Some(problem) = new_password_problem(self.password, self.password_confirmation) {
            Some(problem)
        } else if self.first_name.chars().count() > 100
            || self.last_name.chars().count() > 100
            || self.company_name.chars().count() > 255
        {
            Some("Names are limited to 100 characters, the company to 255.".to_string())
        } else {
            None
        }
    }
}

/// Inside the write: redeems the link and registers its client, which must still be the
/// invited one (not held for review or rejected since). The client's id, or why the link no
/// longer registers anyone.
fn register(
    tx: &crate::db::Transaction,
    token: &str,
    registration: &Registration,
    password_hash: &str,
    now: i64,
) -> crate::db::Result<Result<String, LinkError>> {
    let client_id = match links::redeem(tx, REGISTER_LINK, token, now) {
        Ok(id) => id,
        Err(LinkError::Store(e)) => return Err(e),
        Err(e) => return Ok(Err(e)),
    };
    let registered = tx
        .prepare_cached(
            "UPDATE mx_clients SET password_hash = ?2, status = 'registered', registered_at = ?3,
                 updated_at = ?3, first_name = ?4, last_name = ?5, company_name = ?6
             WHERE id = ?1 AND status = 'invited'",
        )?
        .execute(crate::params![
            client_id,
            password_hash,
            now,
            registration.first_name,
            registration.last_name,
            registration.company_name
        ])?;
    if registered == 0 {
        return Ok(Err(LinkError::Used));
    }
    Ok(Ok(client_id))
}

fn start_session(
    tx: &crate::db::Transaction,
    ids: &crate::ids::Ids,
    token: &str,
    client_id: &str,
    now: i64,
) -> crate::db::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sessions (token_hash, purpose, subject_id, csrf_token, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(crate::params![
        sha256(token.as_bytes()),
        SESSION_PURPOSE,
        client_id,
        ids.secret_token(),
        now,
        now + SESSION_TTL_MS
    ])?;
    Ok(())
}

fn signed_in(req: &Request, session: &str) -> Response {
    Response::redirect(&format!("{}/", base(req)))
        .with_header(
            "Set-Cookie",
            &cookie_header(req, SESSION_COOKIE, session, SESSION_TTL_MS / 1000),
        )
        .with_header("Cache-Control", "no-store")
}

/// The signed-in client and the session's CSRF token, from the session cookie.
fn session(app: &App, req: &Request) -> Result<Option<(String, String, Vec<u8>)>, Error> {
    let Some(token) = cookie(req, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = sha256(token.as_bytes()).to_vec();
    let now = app.clock.now_ms();
    let row: Option<(String, String)> = app.store.read(|c| {
        c.prepare_cached(
            "SELECT subject_id, csrf_token FROM sessions
             WHERE token_hash = ?1 AND purpose = ?2 AND expires_at > ?3",
        )?
        .query_row(crate::params![hash, SESSION_PURPOSE, now], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
    })?;
    Ok(row.map(|(client, csrf)| (client, csrf, hash)))
}

/// `GET /dashboard/`: the overview, or the sign-in page for a visitor.
pub fn show_overview(app: &App, req: &Request) -> Result<Response, Error> {
    // Without its slash, to `/dashboard/`, where the page's relative links work.
    if !req.path.ends_with('/') {
        return Ok(Response::redirect(&format!("{}/dashboard/", req.mount)));
    }
    let Some((client_id, csrf, _)) = session(app, req)? else {
        return Ok(Response::redirect(&format!("{}/login", base(req))));
    };
    let overview = app.store.read(|c| {
        c.prepare_cached(
            "SELECT c.id, c.company_name, c.first_name, c.last_name, c.email, c.status,
                    p.id, p.name, c.created_at, c.registered_at
             FROM mx_clients c JOIN mx_processors p ON p.id = c.processor_id WHERE c.id = ?1",
        )?
        .query_row([&client_id], |r| {
            let registered: Option<i64> = r.get(9)?;
            Ok(Overview {
                client_id: r.get(0)?,
                company_name: r.get(1)?,
                first_name: r.get(2)?,
                last_name: r.get(3)?,
                email: r.get(4)?,
                status: r.get(5)?,
                processor_id: r.get(6)?,
                processor_name: r.get(7)?,
                created: iso_seconds(r.get(8)?),
                registered: registered.map_or("-".to_string(), iso_seconds),
            })
        })
        .optional()
    })?;
    let Some(overview) = overview else {
        // The client is gone (an admin reset): the session means nothing any more.
        return Ok(Response::redirect(&format!("{}/login", base(req))));
    };
    let page = pages::dashboard(&overview, &format!("{}/logout", base(req)), &csrf);
    Ok(Response::html(200, page).with_header("Cache-Control", "no-store"))
}

/// `GET /dashboard/login`.
pub fn show_login(app: &App, req: &Request) -> Response {
    let (csrf, set_cookie) = csrf_for_form(&app.ids, req);
    let page = pages::login(&format!("{}/login", base(req)), &csrf, "", None);
    with_cookie(Response::html(200, page), set_cookie)
}

/// `POST /dashboard/login`: e-mail and password; a failure does not say which was wrong.
pub fn submit_login(app: &App, req: &Request) -> Result<Response, Error> {
    let form = form_body(req);
    if !csrf_ok(req, &form) {
        return Ok(stale_form(req));
    }
    let email = field(&form, "email").trim();
    let password = field(&form, "password");
    let candidates: Vec<(String, String)> = app.store.read(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT id, password_hash FROM mx_clients
             WHERE email = ?1 AND status = 'registered' AND password_hash IS NOT NULL",
        )?;
        let rows = stmt.query_map([email], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    })?;
    // An unknown e-mail costs what a wrong password does.
    if candidates.is_empty() && !password.is_empty() {
        app.credentials.verify_nobody(password);
    }
    // One e-mail can be enrolled by several processors; the password picks the client.
    let matched = candidates
        .into_iter()
        .find(|(_, hash)| !password.is_empty() && verify_secret(password, hash));
    let Some((client_id, _)) = matched else {
        let csrf = field(&form, "csrf");
        let page = pages::login(
            &format!("{}/login", base(req)),
            csrf,
            email,
            Some("Wrong e-mail or password."),
        );
        return Ok(Response::html(401, page).with_header("Cache-Control", "no-store"));
    };
    let session = app.ids.secret_token();
    let now = app.clock.now_ms();
    app.store
        .write_rows(|tx| start_session(tx, &app.ids, &session, &client_id, now))?;
    Ok(signed_in(req, &session))
}

/// `POST /dashboard/logout`: ends the session (CSRF-checked against the session's token).
pub fn submit_logout(app: &App, req: &Request) -> Result<Response, Error> {
    let form = form_body(req);
    let login = format!("{}/login", base(req));
    if let Some((_, csrf, hash)) = session(app, req)? {
        if !constant_time_eq(csrf.as_bytes(), field(&form, "csrf").as_bytes()) {
            return Ok(stale_form(req));
        }
        app.store
            .write_rows(|tx| tx.execute("DELETE FROM sessions WHERE token_hash = ?1", [&hash]))?;
    }
    Ok(Response::redirect(&login)
        .with_header("Set-Cookie", &cookie_header(req, SESSION_COOKIE, "", 0)))
}
