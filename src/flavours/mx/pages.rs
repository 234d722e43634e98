//! The Client Dashboard's HTML, in the shared page shell (`crate::pages`) with MX's look.
//! Every value is escaped here; callers pass plain text.

use crate::http::escape_html as esc;
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

/// A whole page around `body` (already HTML).
pub fn page(title: &str, body: &str) -> String {
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
    let body = format!(
        "<h1>Register {company}</h1>{error}\
         <p>You are registering as <b>{email}</b>. Choose a password to finish.</p>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"first_name\">First name</label>\
         <input id=\"first_name\" name=\"first_name\" value=\"{first}\" required maxlength=\"100\">\
         <label for=\"last_name\">Last name</label>\
         <input id=\"last_name\" name=\"last_name\" value=\"{last}\" required maxlength=\"100\">\
         <label for=\"company_name\">Company</label>\
         <input id=\"company_name\" name=\"company_name\" value=\"{company}\" required maxlength=\"255\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"8\">\
         <label for=\"password_confirmation\">Confirm password</label>\
         <input id=\"password_confirmation\" name=\"password_confirmation\" type=\"password\" \
         autocomplete=\"new-password\" required minlength=\"8\">\
         <button type=\"submit\">Register</button></form>",
        company = esc(form.company_name),
        error = error_box(form.error),
        email = esc(form.email),
        action = esc(form.action),
        csrf = esc(form.csrf),
        first = esc(form.first_name),
        last = esc(form.last_name),
    );
    page("Register", &body)
}

pub fn login(action: &str, csrf: &str, email: &str, error: Option<&str>) -> String {
    let body = format!(
        "<h1>Sign in</h1>{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"email\">E-mail</label>\
         <input id=\"email\" name=\"email\" type=\"email\" value=\"{email}\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        error = error_box(error),
        action = esc(action),
        csrf = esc(csrf),
        email = esc(email),
    );
    page("Sign in", &body)
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
    let rows = [
        ("Company", &o.company_name),
        ("Contact", &format!("{} {}", o.first_name, o.last_name)),
        ("E-mail", &o.email),
        (
            "Enrolled by",
            &format!("{} ({})", o.processor_name, o.processor_id),
        ),
        ("Client ID", &o.client_id),
        ("Status", &o.status),
        ("Created", &o.created),
        ("Registered", &o.registered),
    ]
    .iter()
    .map(|(k, v)| format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(v)))
    .collect::<String>();
    let body = format!(
        "<h1>Welcome, {first}</h1><p>{company} is registered on MX. Keep these details at \
         hand when you talk to {processor} or to MX.</p><dl id=\"overview\">{rows}</dl>\
         <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf\" \
         value=\"{csrf}\"><button type=\"submit\">Sign out</button></form>",
        first = esc(&o.first_name),
        company = esc(&o.company_name),
        processor = esc(&o.processor_name),
        action = esc(logout_action),
        csrf = esc(csrf),
    );
    page("Overview", &body)
}
