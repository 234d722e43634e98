//! The welcome mail and its set-password page. A user created with `sendWelcomeEmail: true`
//! (directly, or inline as a client's or partner's contact) "will receive an email with a
//! link to access the system [and] will be prompted to update their password" (Bluefin's
//! administration guide); a PATCH with `sendWelcomeEmail: true` sends a fresh link, as the
//! portal's "Resetting a User's Password" does.
//!
//! The mail is queued in the transaction that creates or updates the user (`mail::enqueue`),
//! with a one-time link (`links`, purpose `shieldconex.welcome`, subject the user id); a new
//! link revokes the user's earlier ones. `GET /welcome/{token}` shows a password form;
//! `POST` redeems the link atomically and stores the password's argon2id hash, after which
//! the user can call the API with Basic `userName:password`. The token in the path is the
//! only credential, so the form needs no CSRF token of its own: a forged POST would have to
//! know it.

use crate::db::{OptionalExtension, Transaction};

use super::error::Error;
use crate::app::App;
use crate::clock::iso_seconds;
use crate::http::{form_body, Request, Response};
use crate::links::{self, LinkError};
use crate::mail::{self, Mail};
use crate::markup::{html, DOCTYPE};
use crate::pages::{error_box, DeadLinkText, Look};

pub(super) const WELCOME_LINK: &str = "shieldconex.welcome";

/// Who a welcome mail greets.
struct Recipient {
    user_name: String,
    first_name: String,
    email: String,
}

/// Queues the welcome mail of user `user_id`, with a fresh set-password link, in `tx`.
/// Call `after_commit` once the transaction committed.
pub fn send(app: &App, tx: &Transaction, user_id: i64, now_ms: i64) -> Result<(), Error> {
    let who = tx
        .prepare_cached("SELECT user_name, first_name, email FROM sc_users WHERE id = ?1")?
        .query_row([user_id], |r| {
            Ok(Recipient {
                user_name: r.get(0)?,
                first_name: r.get(1)?,
                email: r.get(2)?,
            })
        })?;
    let ttl = app.settings.link_ttl_ms;
    let token = links::issue(
        tx,
        &app.ids,
        WELCOME_LINK,
        &user_id.to_string(),
        now_ms,
        ttl,
    )?;
    let link = format!("{}/shieldconex/welcome/{token}", app.settings.public_url);
    mail::enqueue(
        tx,
        &welcome_mail(&who, &link, now_ms.saturating_add(ttl)),
        now_ms,
    )?;
    Ok(())
}

/// Lets the mail sender know, when a committed transaction queued a welcome mail.
pub fn after_commit(app: &App, queued: bool) {
    if queued {
        app.wake_mailer();
    }
}

fn welcome_mail(who: &Recipient, link: &str, expires_at_ms: i64) -> Mail {
    let expiry = iso_seconds(expires_at_ms)
        .replace('T', " ")
        .replace('Z', " UTC");
    let text = format!(
        "Hello {first},\n\n\
         Welcome to ShieldConex. Your user name is {user}. Use this one-time link to set your \
         password:\n\n{link}\n\n\
         The link works once and expires on {expiry}. After that, ask your administrator to \
         send a new welcome e-mail.\n\n\
         With your user name and password you can sign in to the ShieldConex API (HTTP Basic \
         authentication).\n",
        first = who.first_name,
        user = who.user_name,
    );
    let button = "display:inline-block;padding:10px 18px;background:#00539b;color:#fff;\
                  border-radius:6px;text-decoration:none";
    let html = html! {
        (DOCTYPE)
        html { body style="font-family:sans-serif;line-height:1.5" {
            p { "Hello " (who.first_name) "," }
            p {
                "Welcome to ShieldConex. Your user name is " b { (who.user_name) }
                ". Use this one-time link to set your password:"
            }
            p { a href=(link) style=(button) { "Set your password" } }
            p style="font-size:90%" { "Or open " (link) }
            p {
                "The link works once and expires on " (expiry) ". After that, ask your \
                 administrator to send a new welcome e-mail."
            }
        } }
    }
    .into_string();
    Mail {
        flavour: "shieldconex",
        to: who.email.clone(),
        subject: "Welcome to ShieldConex: set your password".to_string(),
        text,
        html: Some(html),
        links: vec![link.to_string()],
    }
}

/// `GET /welcome/{token}`: the password form, or a page saying the link is dead.
pub fn show_form(app: &App, req: &Request, token: &str) -> Result<Response, Error> {
    let now = app.clock.now_ms();
    let user = app.store.read(|conn| {
        Ok::<_, crate::db::Error>(match links::check(conn, WELCOME_LINK, token, now) {
            Ok(id) => Ok(user_name(conn, &id)?),
            Err(e) => Err(e),
        })
    })?;
    Ok(match user {
        Ok(Some(user_name)) => html(200, &form(req, token, &user_name, None)),
        Ok(None) => dead_link(&LinkError::Unknown),
        Err(e) => dead_link(&e),
    })
}

/// `POST /welcome/{token}`: sets the password and burns the link.
pub fn set_password(app: &App, req: &Request, token: &str) -> Result<Response, Error> {
    let fields = form_body(req);
    let field = |name: &str| crate::http::form_field(&fields, name).unwrap_or("");
    let password = field("password");
    let problem = crate::auth::new_password_problem(password, field("password_confirmation"));
    let now = app.clock.now_ms();
    // The link first: a dead one must not cost an argon2 run (an unauthenticated request).
    let user = app.store.read(|conn| {
        Ok::<_, crate::db::Error>(match links::check(conn, WELCOME_LINK, token, now) {
            Ok(id) => Ok(user_name(conn, &id)?),
            Err(e) => Err(e),
        })
    })?;
    let user_name = match user {
        Ok(Some(user_name)) => user_name,
        Ok(None) => return Ok(dead_link(&LinkError::Unknown)),
        Err(e) => return Ok(dead_link(&e)),
    };
    if let Some(problem) = problem {
        return Ok(html(422, &form(req, token, &user_name, Some(&problem))));
    }
    // Hash before taking the write lock: argon2 takes tens of milliseconds.
    let password_hash = app.credentials.hash_chosen(password, &app.ids);
    // Row by row: the link is used up by one conditional UPDATE.
    let outcome = app.store.write_rows(|tx| {
        let user_id = match links::redeem(tx, WELCOME_LINK, token, now) {
            Ok(id) => id,
            Err(LinkError::Store(e)) => return Err(e),
            Err(e) => return Ok(Err(e)),
        };
        let user_name: Option<String> = tx
            .prepare_cached(
                "UPDATE sc_users SET password_hash = ?2 WHERE id = ?1 RETURNING user_name",
            )?
            .query_row(crate::params![user_id, password_hash], |r| r.get(0))
            .optional()?;
        Ok(user_name.ok_or(LinkError::Unknown))
    })?;
    Ok(match outcome {
        Ok(user_name) => html(
            200,
            &notice(
                "Your password is set",
                &format!(
                    "You can now call the ShieldConex API as {user_name}, with HTTP Basic \
                     authentication (user name and password)."
                ),
            ),
        ),
        Err(e) => dead_link(&e),
    })
}

fn user_name(conn: &crate::db::Connection, user_id: &str) -> crate::db::Result<Option<String>> {
    conn.prepare_cached("SELECT user_name FROM sc_users WHERE id = ?1")?
        .query_row([user_id], |r| r.get(0))
        .optional()
}

/// What ShieldConex's dead-link pages say: an administrator can send a new welcome mail.
const DEAD_LINK: DeadLinkText = DeadLinkText {
    unknown: "This link does not exist. Check that you opened the whole link from the e-mail.",
    used: "This link was used already or replaced by a newer welcome e-mail. Ask your \
           administrator to send a new one if you still need to set your password.",
    expired: "Ask your administrator to send a new welcome e-mail.",
};

fn dead_link(error: &LinkError) -> Response {
    let (status, page) = crate::pages::dead_link(&LOOK, error, &DEAD_LINK, None);
    html(status, &page)
}

fn html(status: u16, page: &str) -> Response {
    Response::html(status, page.to_string()).with_header("Cache-Control", "no-store")
}

const STYLE: &str = "\
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1d2733;background:#f2f4f7}\
header{background:#00539b;color:#fff;padding:12px 20px;font-weight:600}\
main{max-width:520px;margin:24px auto;padding:0 16px}\
.card{background:#fff;border-radius:10px;padding:20px;box-shadow:0 1px 3px rgba(0,0,0,.12)}\
h1{font-size:1.4em;margin:0 0 12px}label{display:block;margin:12px 0 4px;font-weight:600}\
input{width:100%;padding:10px;border:1px solid #b8c2cc;border-radius:6px;font-size:1em}\
button{margin-top:18px;width:100%;padding:12px;border:0;border-radius:6px;background:#00539b;color:#fff;font-size:1em;cursor:pointer}\
.error{background:#fde8e8;color:#8a1c1c;padding:10px;border-radius:6px;margin-bottom:12px}";

/// The welcome page's look, in the shared page shell.
const LOOK: Look = Look {
    flavour: "shieldconex",
    brand: "ShieldConex",
    style: STYLE,
};

fn notice(title: &str, message: &str) -> String {
    crate::pages::notice(&LOOK, title, message, None)
}

fn form(req: &Request, token: &str, user_name: &str, error: Option<&str>) -> String {
    let body = html! {
        h1 { "Set your password" }
        (error_box(error))
        p { "Choose the password of " b { (user_name) } "." }
        form method="post" action={ (req.mount) "/welcome/" (token) } {
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="new-password"
                required minlength=(crate::auth::MIN_PASSWORD) maxlength=(crate::auth::MAX_PASSWORD);
            label for="password_confirmation" { "Confirm password" }
            input id="password_confirmation" name="password_confirmation" type="password"
                autocomplete="new-password" required minlength=(crate::auth::MIN_PASSWORD);
            button type="submit" { "Set password" }
        }
    };
    crate::pages::page(&LOOK, "Set your password", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_greets_names_the_user_and_escapes_html() {
        let who = Recipient {
            user_name: "John <Doe>".into(),
            first_name: "John".into(),
            email: "john@example.com".into(),
        };
        let mail = welcome_mail(&who, "http://x/shieldconex/welcome/t", 0);
        assert!(mail.text.starts_with("Hello John,"));
        assert!(mail.text.contains("Your user name is John <Doe>."));
        assert!(mail.text.contains("1970-01-01 00:00:00 UTC"));
        let html = mail.html.unwrap();
        assert!(html.contains("John &lt;Doe&gt;") && !html.contains("<Doe>"));
        assert_eq!(mail.links, vec!["http://x/shieldconex/welcome/t"]);
        assert_eq!(mail.to, "john@example.com");
    }

    #[test]
    fn the_set_password_page_shows_hostile_values_as_text() {
        const HOSTILE: &str = "\"><script>alert(1)</script><b a='";
        let req = Request {
            method: "GET".into(),
            path: "/welcome/t".into(),
            query: String::new(),
            mount: HOSTILE.into(),
            headers: Vec::new(),
            body: crate::http::Body::Complete(Vec::new()),
            remote: None,
            secure: false,
        };
        let pages = [
            form(&req, HOSTILE, HOSTILE, Some(HOSTILE)),
            notice(HOSTILE, HOSTILE),
        ];
        for page in pages {
            assert!(
                !page.contains("<script>") && !page.contains("<b a="),
                "{page}"
            );
            assert!(
                page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{page}"
            );
        }
    }
}
