//! The Client Dashboard's HTML, in the shared page shell (`crate::pages`) with MX's look.
//! Pages are maud templates (`markup`): every value is escaped; callers pass plain text.

use crate::markup::{html, Markup};
use crate::pages::{error_box, Look};

const STYLE: &str = "\
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1d2733;background:#f3f5f8}\
header{background:#0b2e59;color:#fff;padding:12px 20px;font-weight:600}\
main{max-width:560px;margin:24px auto;padding:0 16px}\
.card{background:#fff;border-radius:10px;padding:20px;box-shadow:0 1px 3px rgba(0,0,0,.12)}\
h1{font-size:1.4em;margin:0 0 12px}label{display:block;margin:12px 0 4px;font-weight:600}\
input{width:100%;padding:10px;border:1px solid #b8c2cc;border-radius:6px;font-size:1em}\
button{margin-top:18px;width:100%;padding:12px;border:0;border-radius:6px;background:#1b5fd1;color:#fff;font-size:1em;cursor:pointer}\
.error{background:#fde8e8;color:#8a1c1c;padding:10px;border-radius:6px;margin-bottom:12px}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0}dt{color:#5b6773}dd{margin:0;overflow-wrap:anywhere}\
.link{margin-top:16px;display:block;text-align:center}";

/// The Client Dashboard's look, in the shared page shell.
pub const LOOK: Look = Look {
    flavour: "mx",
    brand: "MX Client Dashboard",
    style: STYLE,
};

/// A whole page around `body`.
pub fn page(title: &str, body: Markup) -> String {
    crate::pages::page(&LOOK, title, body)
}

/// What the registration form shows and keeps.
pub struct RegisterForm<'a> {
    pub action: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub company_name: &'a str,
    pub error: Option<&'a str>,
}

pub fn register(form: &RegisterForm) -> String {
    let body = html! {
        h1 { "Register " (form.company_name) }
        (error_box(form.error))
        p { "You are registering as " b { (form.email) } ". Choose a password to finish." }
        form method="post" action=(form.action) {
            input type="hidden" name="csrf" value=(form.csrf);
            label for="first_name" { "First name" }
            input id="first_name" name="first_name" value=(form.first_name) required maxlength="100";
            label for="last_name" { "Last name" }
            input id="last_name" name="last_name" value=(form.last_name) required maxlength="100";
            label for="company_name" { "Company" }
            input id="company_name" name="company_name" value=(form.company_name) required maxlength="255";
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="new-password" required minlength="8";
            label for="password_confirmation" { "Confirm password" }
            input id="password_confirmation" name="password_confirmation" type="password"
                autocomplete="new-password" required minlength="8";
            button type="submit" { "Register" }
        }
    };
    page("Register", body)
}

pub fn login(action: &str, csrf: &str, email: &str, error: Option<&str>) -> String {
    let body = html! {
        h1 { "Sign in" }
        (error_box(error))
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            label for="email" { "E-mail" }
            input id="email" name="email" type="email" value=(email) autocomplete="username" required;
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
    };
    page("Sign in", body)
}

/// A page that explains a dead end (a used or expired link, a stale form) and what to do.
pub fn notice(title: &str, message: &str, link: Option<(&str, &str)>) -> String {
    crate::pages::notice(&LOOK, title, message, link)
}

/// What the dashboard shows a signed-in client.
pub struct Overview {
    pub client_id: String,
    pub company_name: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub status: String,
    pub processor_id: String,
    pub processor_name: String,
    pub created: String,
    pub registered: String,
}

pub fn dashboard(o: &Overview, logout_action: &str, csrf: &str) -> String {
    let contact = format!("{} {}", o.first_name, o.last_name);
    let enrolled_by = format!("{} ({})", o.processor_name, o.processor_id);
    let rows = [
        ("Company", &o.company_name),
        ("Contact", &contact),
        ("E-mail", &o.email),
        ("Enrolled by", &enrolled_by),
        ("Client ID", &o.client_id),
        ("Status", &o.status),
        ("Created", &o.created),
        ("Registered", &o.registered),
    ];
    let body = html! {
        h1 { "Welcome, " (o.first_name) }
        p {
            (o.company_name) " is registered on MX. Keep these details at hand when you talk to "
            (o.processor_name) " or to MX."
        }
        dl #overview {
            @for (name, value) in rows { dt { (name) } dd { (value) } }
        }
        form method="post" action=(logout_action) {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { "Sign out" }
        }
    };
    page("Overview", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "\"><script>alert(1)</script><b a='";

    /// Every field of every page, hostile: each shows as text, none leaves its element or
    /// attribute.
    #[test]
    fn every_page_shows_hostile_values_as_text() {
        let register = register(&RegisterForm {
            action: HOSTILE,
            csrf: HOSTILE,
            email: HOSTILE,
            first_name: HOSTILE,
            last_name: HOSTILE,
            company_name: HOSTILE,
            error: Some(HOSTILE),
        });
        let overview = Overview {
            client_id: HOSTILE.into(),
            company_name: HOSTILE.into(),
            first_name: HOSTILE.into(),
            last_name: HOSTILE.into(),
            email: HOSTILE.into(),
            status: HOSTILE.into(),
            processor_id: HOSTILE.into(),
            processor_name: HOSTILE.into(),
            created: HOSTILE.into(),
            registered: HOSTILE.into(),
        };
        let pages = [
            register,
            login(HOSTILE, HOSTILE, HOSTILE, Some(HOSTILE)),
            dashboard(&overview, HOSTILE, HOSTILE),
            notice(HOSTILE, HOSTILE, Some((HOSTILE, HOSTILE))),
        ];
        for page in pages {
            assert!(!page.contains("<script>"), "{page}");
            assert!(!page.contains("<b a="), "{page}");
            assert!(
                page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{page}"
            );
        }
    }
}
