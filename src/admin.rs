//! The admin API under `/_admin` (DESIGN.md §5), for test suites and operators. It exists
//! only with `--admin-token`: without it every admin path is 404, as if absent.
//! Errors are `{"error": "..."}`.

use serde_json::json;

use crate::app::App;
use crate::auth::{constant_time_eq, parse_bearer};
use crate::http::{Body, Request, Response};
use crate::seed::Document;

/// Answers a request whose path starts with `/_admin`.
pub fn handle(app: &App, req: &Request) -> Response {
    let Some(token) = &app.config.admin_token else {
        return error(404, "not found");
    };
    let given = parse_bearer(req.header("Authorization")).unwrap_or("");
    if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
        return error(401, "a valid admin bearer token is required")
            .with_header("WWW-Authenticate", "Bearer realm=\"clientele-admin\"");
    }
    let segments = req.segments();
    match (req.method.as_str(), &segments[1..]) {
        ("GET", ["mail"]) => mailbox(app, req),
        ("POST", ["reset"]) => reset(app),
        ("POST", ["seed"]) => seed(app, req),
        (_, ["reset"] | ["seed"]) => error(405, "use POST").with_header("Allow", "POST"),
        _ => error(404, "no such admin call"),
    }
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "error": message }))
}

fn mailbox(app: &App, req: &Request) -> Response {
    let to = req.query_param("to");
    match app.store.read(|c| crate::mail::mailbox(c, to.as_deref())) {
        Ok(messages) => Response::json(200, &messages),
        Err(e) => {
            eprintln!("admin: reading the mailbox failed: {e}");
            error(500, "reading the mailbox failed")
        }
    }
}

fn reset(app: &App) -> Response {
    match app.reset() {
        Ok(()) => Response::json(200, &json!({"status": "reset"})),
        Err(e) => {
            eprintln!("admin: reset failed: {e}");
            error(500, "reset failed")
        }
    }
}

fn seed(app: &App, req: &Request) -> Response {
    let bytes = match &req.body {
        Body::Complete(bytes) => bytes,
        Body::TooLarge => return error(413, "the seed document is over 1 MiB"),
        Body::Unreadable => return error(400, "the request body could not be read"),
    };
    let mut doc = match Document::parse(bytes) {
        Ok(doc) => doc,
        Err(message) => return error(400, &format!("invalid seed document: {message}")),
    };
    doc.prepare(&crate::auth::hash_secret);
    let now = app.clock.now_ms();
    match app.store.write(|tx| doc.apply(tx, now)) {
        Ok(()) => Response::json(200, &json!({"seeded": doc.summary()})),
        Err(rusqlite::Error::SqliteFailure(e, detail))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            let detail = detail.unwrap_or_default();
            error(
                400,
                &format!(
                    "the seed refers to a record that does not exist or breaks a rule: {detail}"
                ),
            )
        }
        Err(e) => {
            eprintln!("admin: seed failed: {e}");
            error(500, "seeding failed")
        }
    }
}
