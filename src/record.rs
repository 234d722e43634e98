//! What is kept of each exchange once it is answered: the deviations from the vendor's
//! contract counted in the store, the journal entry (redacted), and the redaction of what
//! the log shows.

use crate::app::App;
use crate::flavours::Flavour;
use crate::http::{Request, Response};
use crate::journal::{self, Journal};

/// What the server knows of an answered request.
pub struct Exchange<'a> {
    pub req: &'a Request,
    /// The flavour it went to (`None`: `/healthz`, an unknown prefix).
    pub flavour: Option<&'static dyn Flavour>,
    /// Whether the journal keeps it (not the admin's own calls).
    pub journalled: bool,
    pub status: u16,
    /// The redacted copy of the answer's body (`kept_answer`).
    pub answer: String,
    pub elapsed_ms: f64,
}

/// The redacted copy of an answer's body the journal keeps.
pub fn kept_answer(response: &Response, req: &Request) -> String {
    journal::redact_answer(
        &response.body,
        response.header("Content-Type"),
        &format!("{}{}", req.mount, req.path),
    )
}

/// Counts the request's deviations and journals it.
pub fn settle(app: &App, exchange: Exchange) {
    let (deviations, tenant) = crate::conformance::take();
    let tenant = match exchange.flavour {
        // Who the credentials name, whether or not the handler got as far as checking them;
        // only asked when something keeps it (a flavour may read the database for it).
        Some(flavour) if exchange.journalled || !deviations.is_empty() => {
            tenant.or_else(|| flavour.caller_tenant(app, exchange.req))
        }
        _ => None,
    };
    if let (Some(flavour), false) = (exchange.flavour, deviations.is_empty()) {
        count_deviations(app, flavour, tenant.as_deref(), &deviations);
    }
    if exchange.journalled {
        record(
            &app.journal,
            app.clock.now_ms(),
            exchange.req,
            (exchange.flavour, tenant),
            (exchange.status, exchange.answer),
            exchange.elapsed_ms,
            deviations,
        );
    }
}

/// Adds a request's deviations to the stored counts (`conformance::count`); a failure is
/// counted too, so that the report says what it misses.
fn count_deviations(
    app: &App,
    flavour: &dyn Flavour,
    tenant: Option<&str>,
    deviations: &[crate::conformance::Deviation],
) {
    // Upserts of counters: beside the other writes, never waiting for all of them.
    let stored = app.store.write_rows(|tx| {
        crate::conformance::count(tx, tenant.unwrap_or_default(), flavour.name(), deviations)
    });
    if let Err(e) = stored {
        app.journal.note_uncounted();
        crate::log::line(format!("conformance: counting a deviation failed: {e}"));
    }
}

fn record(
    journal: &Journal,
    now_ms: i64,
    req: &Request,
    (flavour, tenant): (Option<&dyn Flavour>, Option<String>),
    (status, answer): (u16, String),
    ms: f64,
    deviations: Vec<crate::conformance::Deviation>,
) {
    let (flavour, path) = match flavour {
        Some(f) => (Some(f.name()), format!("{}{}", req.mount, req.path)),
        None => (None, req.path.clone()),
    };
    let body = match &req.body {
        crate::http::Body::Complete(bytes) => {
            journal::redact_body(bytes, req.header("Content-Type"))
        }
        crate::http::Body::TooLarge => "(over the body limit)".to_string(),
        crate::http::Body::Unreadable => "(unreadable)".to_string(),
    };
    journal.record(
        journal::Entry {
            at_ms: now_ms,
            method: req.method.clone(),
            // One-time tokens in paths and secret query parameters are not kept.
            path: redact_path(&path),
            query: redact_query(&req.query),
            status,
            flavour,
            tenant,
            duration_ms: ms,
            body,
            headers: journal::redact_headers(&req.headers),
            answer,
        },
        deviations,
    );
}

/// The path and query for the log, with long opaque segments (one-time tokens) elided.
pub fn redact(url: &str) -> String {
    match url.split_once('?') {
        Some((path, query)) => format!("{}?{}", redact_path(path), redact_query(query)),
        None => redact_path(url),
    }
}

/// A query string with the values of secret-named parameters (`token=`, ...) replaced.
fn redact_query(query: &str) -> String {
    let pairs = form_urlencoded::parse(query.as_bytes()).map(|(k, v)| {
        let v = if journal::is_secret(&k) {
            "***".into()
        } else {
            v
        };
        (k, v)
    });
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn redact_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if journal::is_opaque(segment) {
                "…"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_query_parameters_are_not_logged() {
        let logged = redact("/alpha/oauth2/revoke-token/?token=abc&x=1");
        assert_eq!(logged, "/alpha/oauth2/revoke-token/?token=***&x=1");
    }

    #[test]
    fn tokens_are_not_logged() {
        let token = crate::ids::Ids::new(None).secret_token();
        let logged = redact(&format!("/alpha/register/{token}"));
        assert_eq!(logged, "/alpha/register/…");
    }
}
