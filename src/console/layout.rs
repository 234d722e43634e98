//! What every console page shares: the request's context, the page around a body (header,
//! navigation, sign-out), forms with their CSRF token, the note after an action, and the
//! plain answers (a redirect with a note, a refusal, a failure).

use crate::admin;
use crate::app::App;
use crate::http::{form_field, Request, Response};
use crate::markup::{html, trusted_style, Markup, DOCTYPE};
use crate::sessions::Open;

/// Where the console's pages live, below the sign-in page `/_admin/`.
pub const BASE: &str = "/_admin/console";
pub const SIGN_IN: &str = "/_admin/";

const STYLE: &str = include_str!("style.css");

/// What a page needs: the app, the request, the session (whose CSRF token its forms carry),
/// and the fields of a form that was sent.
pub struct Ctx<'a> {
    pub app: &'a App,
    pub req: &'a Request,
    pub session: &'a Open,
    pub form: Vec<(String, String)>,
}

impl Ctx<'_> {
    /// A form field, trimmed; "" when absent.
    pub fn field(&self, name: &str) -> &str {
        form_field(&self.form, name).unwrap_or("").trim()
    }

    pub fn query(&self, name: &str) -> String {
        self.req.query_param(name).unwrap_or_default()
    }

    /// A form that POSTs to `action` (below `BASE`) with the CSRF token and `fields`.
    pub fn form(&self, action: &str, fields: Markup, button: &str, class: &str) -> Markup {
        self.form_with(action, "", "", fields, button, class)
    }

    /// `form` with the form's own id and class.
    pub fn form_with(
        &self,
        action: &str,
        id: &str,
        form_class: &str,
        fields: Markup,
        button: &str,
        class: &str,
    ) -> Markup {
        html! {
            form id=[(!id.is_empty()).then_some(id)]
                class=[(!form_class.is_empty()).then_some(form_class)]
                method="post" action={ (BASE) (action) } {
                input type="hidden" name="csrf" value=(self.session.csrf);
                (fields)
                button class=(class) { (button) }
            }
        }
    }

    /// A whole page: the header with the navigation (`current` marks one) and sign-out,
    /// then `body`. With `live`, (stamp URL, stamp) makes `live.js` reload it on a change.
    pub fn page(
        &self,
        title: &str,
        current: &str,
        body: Markup,
        live: Option<(&str, &str)>,
    ) -> String {
        const NAV: [(&str, &str); 4] = [
            ("outbox", "Outbox"),
            ("requests", "Requests"),
            ("tenants", "Tenants"),
            ("controls", "Controls"),
        ];
        let (stamp_url, stamp) = live.unzip();
        let body = html! {
            body data-stamp-url=[stamp_url] data-stamp=[stamp] {
                header {
                    b { "Clientele console" }
                    @for (path, name) in NAV {
                        a href={ (BASE) "/" (path) } aria-current=[(path == current).then_some("page")] { (name) }
                    }
                    (self.form("/signout", html! {}, "Sign out", "quiet"))
                }
                main { (body) }
                @if live.is_some() {
                    script src={ (BASE) "/live.js" } {}
                }
            }
        };
        shell(title, body)
    }

    /// A note from a redirect after an action (`?note=`), from a fixed list.
    pub fn note(&self) -> Markup {
        let text = match self.req.query_param("note").as_deref() {
            Some("retried") => "The mail will be sent again now.",
            Some("deleted") => "The mail was deleted.",
            Some("fault-added") => "The fault was added.",
            Some("fault-deleted") => "The fault was deleted.",
            Some("clock") => "The clock moved.",
            Some("reset") => "All data was deleted and the startup tenants seeded again.",
            Some("done") => "Done.",
            Some("set-deleted") => "The tenant set and its data were deleted.",
            _ => return html! {},
        };
        html! { p.note role="status" { (text) } }
    }
}

/// The document around a `<body>`.
pub fn shell(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                link rel="icon" href="data:,";
                title { (title) " · Clientele console" }
                style { (trusted_style(STYLE)) }
            }
            (body)
        }
    }
    .into_string()
}

/// A `<select>` of `options` (value, label) named `name` with `current` selected.
pub fn select(name: &str, label: &str, options: &[(&str, &str)], current: &str) -> Markup {
    html! {
        label {
            (label)
            select name=(name) {
                @for (value, text) in options {
                    option value=(value) selected[*value == current] { (text) }
                }
            }
        }
    }
}

/// A text `<input>` named `name` with `value`.
pub fn input(name: &str, label: &str, value: &str, placeholder: &str) -> Markup {
    html! {
        label { (label) input name=(name) value=(value) placeholder=(placeholder); }
    }
}

/// A hidden `<input>`.
pub fn hidden(name: &str, value: &str) -> Markup {
    html! { input type="hidden" name=(name) value=(value); }
}

/// A page that says a record is gone, with the way back.
pub fn missing(
    ctx: &Ctx,
    title: &str,
    current: &str,
    message: &str,
    back: (&str, &str),
) -> Response {
    let body = html! {
        h1 { (title) }
        p { (message) " " a href={ (BASE) (back.0) } { (back.1) } }
    };
    Response::html(404, ctx.page(title, current, body, None))
}

/// The refusal of a form whose CSRF token does not match (an old tab, another site).
pub fn stale_form() -> Response {
    text(
        403,
        "this form expired or came from another page: reload it and try again",
    )
}

pub fn text(status: u16, message: &str) -> Response {
    Response::empty(status)
        .with_header("Content-Type", "text/plain; charset=utf-8")
        .with_body(message.as_bytes().to_vec())
}

/// A redirect to a console page (below `BASE`) with a note for the next page.
pub fn back(path: &str, note: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Response::redirect(&format!("{BASE}{path}{sep}note={note}"))
}

/// A failed operation as a plain page: its status and message.
pub fn refused(e: &admin::Error) -> Response {
    text(e.status(), &e.shown_by("console"))
}

/// A query string's value, percent-encoded.
pub fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
