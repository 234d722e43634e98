//! The HTML shell that flavours with pages share (a mailed link's form, a dead end): one
//! layout, server-rendered, no external assets, readable on a phone, and one set of pages
//! for links that no longer lead anywhere. Each flavour brings its own look (`Look`) and
//! words. Pages are maud templates (`markup`): every value is escaped, callers pass plain
//! text, and a flavour's body is `Markup` from its own templates.

use crate::links::LinkError;
use crate::markup::{html, trusted_style, Markup, DOCTYPE};

/// How one flavour's pages look.
pub struct Look {
    /// The flavour's name, for the log.
    pub flavour: &'static str,
    /// The header, and the end of every title.
    pub brand: &'static str,
    /// The page's whole stylesheet.
    pub style: &'static str,
}

/// What a flavour's dead-link pages say under their title, for each way a link dies.
pub struct DeadLinkText {
    pub unknown: &'static str,
    pub used: &'static str,
    pub expired: &'static str,
}

/// A whole page around `body`.
pub fn page(look: &Look, title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) " · " (look.brand) }
                style { (trusted_style(look.style)) }
            }
            body {
                header { (look.brand) }
                main { div.card { (body) } }
            }
        }
    }
    .into_string()
}

/// The alert above a form that was sent with a mistake (nothing when there is none).
pub fn error_box(error: Option<&str>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
    }
}

/// A page that explains a dead end (a used or expired link, a stale form) and, with `link`
/// (href, text), where to go instead.
pub fn notice(look: &Look, title: &str, message: &str, link: Option<(&str, &str)>) -> String {
    let body = html! {
        h1 { (title) }
        p { (message) }
        @if let Some((href, text)) = link {
            a.link href=(href) { (text) }
        }
    };
    page(look, title, body)
}

/// The page about a link that leads nowhere: its status (`LinkError::status`) and HTML. A
/// store failure is logged and shown as a generic failure.
pub fn dead_link(
    look: &Look,
    error: &LinkError,
    text: &DeadLinkText,
    link: Option<(&str, &str)>,
) -> (u16, String) {
    let (title, message) = match error {
        LinkError::Unknown => ("This link is not valid", text.unknown),
        LinkError::Used => ("This link has been used", text.used),
        LinkError::Expired => ("This link has expired", text.expired),
        LinkError::Store(_) => ("Something went wrong", "Please try again later."),
    };
    if let LinkError::Store(e) = error {
        crate::log::line(format!("{}: internal error: {e}", look.flavour));
    }
    (error.status(), notice(look, title, message, link))
}
