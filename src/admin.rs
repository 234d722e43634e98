//! The admin API under `/_admin` (docs/fixture.md), for test suites and operators. It exists
//! only with `--admin-token`: without it every admin path is 404, as if absent.
//! Errors are `{"error": "..."}`. Flavours add calls of their own (`Flavour::admin_routes`).
//! The console (`console`: HTML pages for people) lives at `/_admin/` and
//! `/_admin/console/`, with its own sign-in.

use serde_json::json;

use crate::app::App;
use crate::auth::{constant_time_eq, parse_bearer, sha256};
use crate::flavours::AdminError;
use crate::http::{Body, Request, Response};
use crate::seed::Document;

/// Answers a request whose path starts with `/_admin`.
pub fn handle(app: &App, req: &Request) -> Response {
    let Some(token) = &app.settings.admin_token else {
        return error(404, "not found");
    };
    // The console's HTML pages (`/_admin/`, `/_admin/console/...`), with their own sign-in.
    if let Some(page) = crate::console::handle(app, req) {
        return page;
    }
    if let Err(refused) = authorize(app, req, token) {
        return refused;
    }
    if let Some(response) = flavour_call(app, req) {
        return response;
    }
    let segments = req.segments();
    match (req.method.as_str(), &segments[1..]) {
        ("GET", ["mail"]) => mailbox(app, req),
        ("POST", ["mail", "failures"]) => mail_failures(app, req),
        ("POST", ["reset"]) => reset(app),
        ("POST", ["seed"]) => seed(app, req),
        ("GET", ["requests"]) => requests(app, req),
        ("GET", ["conformance"]) => conformance(app, req),
        (_, ["conformance"]) => method_not_allowed("GET"),
        ("DELETE", ["requests"]) => {
            app.journal.clear();
            Response::json(200, &json!({"requests": []}))
        }
        ("GET", ["faults"]) => Response::json(200, &app.faults.list()),
        ("POST", ["faults"]) => add_fault(app, req),
        ("DELETE", ["faults"]) => {
            app.faults.remove(None);
            Response::json(200, &app.faults.list())
        }
        ("DELETE", ["faults", id]) => match id
            .parse::<u64>()
            .ok()
            .filter(|id| app.faults.remove(Some(*id)))
        {
            Some(_) => Response::json(200, &app.faults.list()),
            None => error(404, "no such fault"),
        },
        ("POST", ["tenants"]) => match crate::tenants::create(app) {
            Ok(set) => Response::json(201, &set),
            Err(e) => internal("creating a tenant set", &e),
        },
        ("DELETE", ["tenants", id]) => match crate::tenants::delete(app, id) {
            Ok(true) => Response::json(200, &json!({"deleted": id})),
            Ok(false) => error(404, "no such tenant set"),
            Err(e) => internal("deleting a tenant set", &e),
        },
        (_, ["tenants"]) => method_not_allowed("POST"),
        (_, ["tenants", _]) => method_not_allowed("DELETE"),
        ("GET", ["log"]) => {
            Response::json(200, &json!({"log_lines_dropped": crate::log::dropped()}))
        }
        (_, ["log"]) => method_not_allowed("GET"),
        ("GET", ["clock"]) => clock(app),
        ("POST", ["clock"]) => move_clock(app, req),
        ("DELETE", ["clock"]) => {
            app.clock.reset();
            clock(app)
        }
        (_, ["reset"] | ["seed"] | ["mail", "failures"]) => method_not_allowed("POST"),
        (_, ["mail"]) => method_not_allowed("GET"),
        (_, ["requests"] | ["clock"]) => method_not_allowed("GET, POST, DELETE"),
        (_, ["faults"]) => method_not_allowed("GET, POST, DELETE"),
        _ => error(404, "no such admin call"),
    }
}

/// Checks the bearer token; a wrong one counts against the client's address, which is
/// refused with 429 for a while after a few (`guesses`).
fn authorize(app: &App, req: &Request, token: &str) -> Result<(), Response> {
    let unauthorized = || {
        error(401, "a valid admin bearer token is required")
            .with_header("WWW-Authenticate", "Bearer realm=\"clientele-admin\"")
    };
    let given = parse_bearer(req.header("Authorization")).ok_or_else(unauthorized)?;
    let address = crate::http::client_ip(req, &app.settings.trusted_proxies);
    if let Err(wait) = app.admin_guesses.check(address) {
        let seconds = crate::guesses::retry_after(wait);
        return Err(error(
            429,
            &format!("too many wrong admin tokens from this address: try again in {seconds} s"),
        )
        .with_header("Retry-After", &seconds.to_string()));
    }
    // Digests of equal length, so that not even the token's length shows in the timing.
    if !constant_time_eq(&sha256(given.as_bytes()), &sha256(token.as_bytes())) {
        app.admin_guesses.wrong(address);
        return Err(unauthorized());
    }
    app.admin_guesses.right(address);
    Ok(())
}

/// An admin call that a flavour adds (`Flavour::admin_routes`), if the path is one.
fn flavour_call(app: &App, req: &Request) -> Option<Response> {
    use crate::router::{Routing, Table};
    let below = req.path.strip_prefix("/_admin").unwrap_or(&req.path);
    crate::flavours::ALL.iter().find_map(|flavour| {
        let table = Table::new(flavour.admin_routes());
        match table.lookup(&req.method, below) {
            Routing::Found {
                handler, params, ..
            } => Some(match handler(app, req, &params) {
                Ok(answer) => Response::json(200, &answer),
                Err(AdminError::NotFound(message)) => error(404, message),
                Err(AdminError::Failed { what, detail }) => internal(what, &detail),
            }),
            Routing::OtherMethod {
                allow,
                some_handler: Some(_),
            } => Some(method_not_allowed(&allow)),
            _ => None,
        }
    })
}

/// Logs a failed admin call's detail and answers a 500 that names only what failed.
fn internal(what: &str, e: &dyn std::fmt::Display) -> Response {
    crate::log::line(format!("admin: {what} failed: {e}"));
    error(500, &format!("{what} failed"))
}

fn method_not_allowed(allowed: &str) -> Response {
    error(405, &format!("use {allowed}")).with_header("Allow", allowed)
}

/// The body as a JSON object, or the 4xx that says why not.
fn json_object(req: &Request) -> Result<serde_json::Value, Response> {
    match crate::http::json_body(req) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err(error(400, "the body must be a JSON object")),
        Err(crate::http::JsonError::TooLarge) => Err(error(413, "the body is over 1 MiB")),
        Err(crate::http::JsonError::Malformed(m)) => {
            Err(error(400, &format!("malformed JSON: {m}")))
        }
        Err(_) => Err(error(400, "the body must be a JSON object")),
    }
}

/// The journal filter of `/_admin/requests` and `/_admin/conformance`.
fn journal_filter(req: &Request) -> Result<crate::journal::Filter, Response> {
    let since_ms = match req.query_param("since") {
        None => None,
        Some(text) => match crate::clock::parse_iso(&text) {
            Ok(ms) => Some(ms),
            Err(m) => return Err(error(400, &format!("since: {m}"))),
        },
    };
    Ok(crate::journal::Filter {
        flavour: req.query_param("flavour"),
        path: req.query_param("path"),
        since_ms,
        tenant: req.query_param("tenant"),
    })
}

fn requests(app: &App, req: &Request) -> Response {
    match journal_filter(req) {
        Ok(filter) => Response::json(200, &app.journal.list(&filter)),
        Err(response) => response,
    }
}

/// `GET /_admin/conformance`: deviations from the vendors' contracts, counted in the store
/// (by tenant and flavour; a `path` or `since` filter counts the journal's instead), with
/// examples from the journal.
fn conformance(app: &App, req: &Request) -> Response {
    let filter = match journal_filter(req) {
        Ok(filter) => filter,
        Err(response) => return response,
    };
    let stored = if filter.path.is_none() && filter.since_ms.is_none() {
        let read = app.store.read(|conn| {
            crate::conformance::counts(conn, filter.tenant.as_deref(), filter.flavour.as_deref())
        });
        match read {
            Ok(counts) => Some(counts),
            Err(e) => {
                crate::log::line(format!("admin: reading the conformance counts failed: {e}"));
                return error(503, "reading the conformance counts failed");
            }
        }
    } else {
        None
    };
    Response::json(200, &app.journal.conformance(&filter, stored.as_ref()))
}

fn add_fault(app: &App, req: &Request) -> Response {
    let body = match json_object(req) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let rule = match serde_json::from_value::<crate::faults::Rule>(body) {
        Ok(rule) => rule,
        Err(e) => return error(400, &format!("invalid fault rule: {e}")),
    };
    match add_fault_rule(app, rule) {
        Ok(shown) => Response::json(201, &shown),
        Err(m) => error(400, &format!("invalid fault rule: {m}")),
    }
}

/// Adds a fault rule whose flavour (if it names one) exists; shared with the console.
pub(crate) fn add_fault_rule(
    app: &App,
    rule: crate::faults::Rule,
) -> Result<serde_json::Value, String> {
    if let Some(flavour) = &rule.flavour {
        if crate::flavours::by_name(flavour).is_none() {
            return Err(format!("unknown flavour {flavour:?}"));
        }
    }
    app.faults.add(rule)
}

fn mail_failures(app: &App, req: &Request) -> Response {
    let body = match json_object(req) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(count) = body["count"].as_u64().and_then(|n| u32::try_from(n).ok()) else {
        return error(400, "count must be a non-negative integer");
    };
    app.mailer.fail_next(count);
    Response::json(200, &json!({"fail_next": count}))
}

fn clock(app: &App) -> Response {
    let now = app.clock.now_ms();
    Response::json(
        200,
        &json!({"now": crate::clock::iso_millis(now), "offset_ms": app.clock.offset_ms()}),
    )
}

/// `{"advance": "8d"}` or `{"set": "2030-01-01T00:00:00Z"}`.
fn move_clock(app: &App, req: &Request) -> Response {
    let body = match json_object(req) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let moved = match (body.get("advance"), body.get("set")) {
        (Some(serde_json::Value::String(by)), None) => advance_clock(app, by),
        (None, Some(serde_json::Value::String(at))) => set_clock(app, at),
        _ => {
            return error(
                400,
                "give either {\"advance\": \"8d\"} or {\"set\": \"2030-01-01T00:00:00Z\"}",
            )
        }
    };
    match moved {
        Ok(()) => clock(app),
        Err(message) => error(400, &message),
    }
}

/// Moves the clock forward by a duration (`8d`); the error says why not. Shared with the
/// console.
pub(crate) fn advance_clock(app: &App, by: &str) -> Result<(), String> {
    match crate::clock::parse_duration_ms(by) {
        // Far enough for any expiry; further would overflow the stamps derived from now.
        Ok(ms) if ms > 100 * 366 * 86_400_000 => {
            return Err("advance: at most 100 years at a time".into())
        }
        Ok(ms) => app.clock.advance(ms),
        Err(m) => return Err(format!("advance: {m}")),
    }
    // Mail waiting for its next attempt may be due now.
    app.wake_mailer();
    Ok(())
}

/// Sets the clock to an ISO 8601 time; the error says why not. Shared with the console.
pub(crate) fn set_clock(app: &App, at: &str) -> Result<(), String> {
    let ms = crate::clock::parse_iso(at).map_err(|m| format!("set: {m}"))?;
    app.clock.set(ms);
    app.wake_mailer();
    Ok(())
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "error": message }))
}

fn mailbox(app: &App, req: &Request) -> Response {
    let to = req.query_param("to");
    match app.store.read(|c| crate::mail::mailbox(c, to.as_deref())) {
        Ok(messages) => Response::json(200, &messages),
        Err(e) => {
            crate::log::line(format!("admin: reading the mailbox failed: {e}"));
            error(500, "reading the mailbox failed")
        }
    }
}

fn reset(app: &App) -> Response {
    match app.reset() {
        Ok(()) => Response::json(200, &json!({"status": "reset"})),
        Err(e) => {
            crate::log::line(format!("admin: reset failed: {e}"));
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
    doc.prepare(
        &|secret| app.credentials.hash_chosen(secret, &app.ids),
        &app.ids,
    );
    let now = app.clock.now_ms();
    match app.store.write(|tx| doc.apply(tx, now)) {
        Ok(()) => Response::json(200, &json!({"seeded": doc.summary()})),
        Err(crate::db::Error::Constraint(detail)) => error(
            400,
            &format!("the seed refers to a record that does not exist or breaks a rule: {detail}"),
        ),
        Err(e) => {
            crate::log::line(format!("admin: seed failed: {e}"));
            error(500, "seeding failed")
        }
    }
}
