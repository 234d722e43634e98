//! The HTML shell that flavours with pages share (a mailed link's form, a dead end): one
//! layout, server-rendered, no external assets, readable on a phone, and one set of pages
//! for links that no longer lead anywhere. Each flavour brings its own look (`Look`) and
//! words; every value is escaped here, callers pass plain text.

use crate::http::escape_html as esc;
use crate::links::LinkError;

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

/// A whole page around `body` (already HTML).
pub fn page(look: &Look, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · {brand}</title><style>{style}</style></head>\
         <body><header>{brand}</header><main><div class=\"card\">{body}</div></main>\
         </body></html>",
        title = esc(title),
        brand = look.brand,
        style = look.style,
    )
}

/// The alert above a form that was sent with a mistake (nothing when there is none).
pub fn error_box(error: Option<&str>) -> String {
    error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))
    })
}

/// A page that explains a dead end (a used or expired link, a stale form) and, with `link`
/// (href, text), where to go instead.
pub fn notice(look: &Look, title: &str, message: &str, link: Option<(&str, &str)>) -> String {
    let link = link.map_or(String::new(), |(href, text)| {
        format!("<a class=\"link\" href=\"{}\">{}</a>", esc(href), esc(text))
    });
    page(
        look,
        title,
        &format!("<h1>{}</h1><p>{}</p>{link}", esc(title), esc(message)),
    )
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
