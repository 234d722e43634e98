//! The admin API under `/_admin` (docs/fixture.md), for test suites and operators: the
//! operations of `admin` as JSON. It exists only with `--admin-token`: without it every
//! admin path is 404, as if absent. Every call needs the token as a bearer token; errors are
//! `{"error": "..."}`.
//!
//! `ROUTES` is the one list of calls: the router answers 404, and 405 with its `Allow`,
//! from it and from the flavours' own calls (`Flavour::admin_routes`), as it does for the
//! vendors' tables.

use serde_json::{json, Value};

use crate::admin::{self, Move, Refusal};
use crate::app::App;
use crate::auth::parse_bearer;
use crate::http::{Body, Request, Response};
use crate::journal::Filter;
use crate::router::{Params, Route, Routing, Table};

/// Answers one call: parses the request, runs the operation, renders its answer.
type Handler = fn(&App, &Request, &Params) -> Response;

/// Every call of the admin API (paths below `/_admin`).
static ROUTES: &[Route<Handler>] = &[
    route("POST", "/reset", |app, _, _| {
        answer(admin::reset(app), |()| json!({"status": "reset"}))
    }),
    route("POST", "/seed", seed),
    route("GET", "/mail", |app, req, _| {
        answer(admin::mailbox(app, req.query_param("to").as_deref()), |m| m)
    }),
    route("POST", "/mail/failures", mail_failures),
    route("GET", "/requests", |app, req, _| {
        answer(filter(req).map(|f| admin::requests(app, &f)), |r| r)
    }),
    route("DELETE", "/requests", |app, _, _| {
        admin::clear_requests(app);
        Response::json(200, &json!({"requests": []}))
    }),
    route("GET", "/conformance", |app, req, _| {
        answer(filter(req).and_then(|f| admin::conformance(app, &f)), |c| c)
    }),
    route("GET", "/faults", |app, _, _| {
        Response::json(200, &admin::faults(app))
    }),
    route("POST", "/faults", add_fault),
    route("DELETE", "/faults", |app, _, _| {
        admin::clear_faults(app);
        Response::json(200, &admin::faults(app))
    }),
    route("DELETE", "/faults/{id}", |app, _, params| {
        answer(admin::delete_fault(app, params.get("id")), |()| {
            admin::faults(app)
        })
    }),
    route(
        "POST",
        "/tenants",
        |app, _, _| match admin::create_tenant_set(app) {
            Ok(set) => Response::json(201, &set),
            Err(e) => error_response(&e),
        },
    ),
    route("DELETE", "/tenants/{id}", |app, _, params| {
        let id = params.get("id");
        answer(
            admin::delete_tenant_set(app, id),
            |()| json!({"deleted": id}),
        )
    }),
    route("GET", "/log", |_, _, _| Response::json(200, &admin::log())),
    route("GET", "/clock", |app, _, _| clock(Ok(admin::clock(app)))),
    route("POST", "/clock", move_clock),
    route("DELETE", "/clock", |app, _, _| {
        clock(admin::move_clock(app, Move::Real))
    }),
];

const fn route(method: &'static str, path: &'static str, handler: Handler) -> Route<Handler> {
    Route {
        method,
        path,
        handler,
    }
}

static TABLE: Table<Handler> = Table::without_document(ROUTES);

/// Every (method, path below `/_admin`) the API answers: its own calls, then the flavours'.
pub fn operations() -> Vec<(&'static str, &'static str)> {
    let own = ROUTES.iter().map(|r| (r.method, r.path));
    let flavours = crate::flavours::ALL
        .iter()
        .flat_map(|f| f.admin_routes().iter().map(|r| (r.method, r.path)));
    own.chain(flavours).collect()
}

/// Answers a request whose path starts with `/_admin` and is not the console's.
pub fn handle(app: &App, req: &Request) -> Response {
    if app.settings.admin_token.is_none() {
        return error(404, "not found");
    }
    if let Err(refused) = authorize(app, req) {
        return refused;
    }
    let below = req.path.strip_prefix("/_admin").unwrap_or(&req.path);
    match TABLE.lookup(&req.method, below) {
        Routing::Found {
            handler, params, ..
        } => handler(app, req, &params),
        Routing::OtherMethod { allow, .. } => method_not_allowed(&allow),
        Routing::Unlisted | Routing::Document => flavour_call(app, req, below),
    }
}

/// A call a flavour adds (`Flavour::admin_routes`), or 404.
fn flavour_call(app: &App, req: &Request, below: &str) -> Response {
    for flavour in crate::flavours::ALL {
        if let Some(done) = admin::flavour_call(app, *flavour, &req.method, below) {
            return answer(done, |value| value);
        }
        let table = Table::without_document(flavour.admin_routes());
        if let Routing::OtherMethod { allow, .. } = table.lookup(&req.method, below) {
            return method_not_allowed(&allow);
        }
    }
    error(404, "no such admin call")
}

/// Checks the bearer token (`admin::check_token`).
fn authorize(app: &App, req: &Request) -> Result<(), Response> {
    let unauthorized = || {
        error(401, "a valid admin bearer token is required")
            .with_header("WWW-Authenticate", "Bearer realm=\"clientele-admin\"")
    };
    let given = parse_bearer(req.header("Authorization")).ok_or_else(unauthorized)?;
    let address = crate::http::client_ip(req, &app.settings.trusted_proxies);
    admin::check_token(app, address, given).map_err(|refusal| match refusal {
        Refusal::Wrong => unauthorized(),
        Refusal::TooMany { retry_after_s } => error(
            429,
            &format!(
                "too many wrong admin tokens from this address: try again in {retry_after_s} s"
            ),
        )
        .with_header("Retry-After", &retry_after_s.to_string()),
    })
}

// Parse.

/// The body as a JSON object, or why not.
fn json_object(req: &Request) -> Result<Value, Response> {
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
fn filter(req: &Request) -> admin::Result<Filter> {
    let since_ms = match req.query_param("since") {
        None => None,
        Some(text) => Some(
            crate::clock::parse_iso(&text)
                .map_err(|m| admin::Error::Invalid(format!("since: {m}")))?,
        ),
    };
    Ok(Filter {
        flavour: req.query_param("flavour"),
        path: req.query_param("path"),
        since_ms,
        tenant: req.query_param("tenant"),
    })
}

// Act and render.

fn seed(app: &App, req: &Request, _: &Params) -> Response {
    match &req.body {
        Body::Complete(bytes) => answer(admin::seed(app, bytes), |s| json!({"seeded": s})),
        Body::TooLarge => error(413, "the seed document is over 1 MiB"),
        Body::Unreadable => error(400, "the request body could not be read"),
    }
}

fn mail_failures(app: &App, req: &Request, _: &Params) -> Response {
    let body = match json_object(req) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(count) = body["count"].as_u64().and_then(|n| u32::try_from(n).ok()) else {
        return error(400, "count must be a non-negative integer");
    };
    admin::fail_mail(app, count);
    Response::json(200, &json!({"fail_next": count}))
}

fn add_fault(app: &App, req: &Request, _: &Params) -> Response {
    let body = match json_object(req) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let rule = match serde_json::from_value::<crate::faults::Rule>(body) {
        Ok(rule) => rule,
        Err(e) => return error(400, &format!("invalid fault rule: {e}")),
    };
    match admin::add_fault(app, rule) {
        Ok(shown) => Response::json(201, &shown),
        Err(e) => error_response(&e),
    }
}

/// `{"advance": "8d"}` or `{"set": "2030-01-01T00:00:00Z"}`.
fn move_clock(app: &App, req: &Request, _: &Params) -> Response {
    let body = match json_object(req) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let to = match (body.get("advance"), body.get("set")) {
        (Some(Value::String(by)), None) => Move::Advance(by),
        (None, Some(Value::String(at))) => Move::Set(at),
        _ => {
            return error(
                400,
                "give either {\"advance\": \"8d\"} or {\"set\": \"2030-01-01T00:00:00Z\"}",
            )
        }
    };
    clock(admin::move_clock(app, to))
}

fn clock(moved: admin::Result<admin::Clock>) -> Response {
    answer(moved, |clock| json!(clock))
}

/// 200 with `render`'s JSON, or the error's answer.
fn answer<T>(result: admin::Result<T>, render: impl FnOnce(T) -> Value) -> Response {
    match result {
        Ok(value) => Response::json(200, &render(value)),
        Err(e) => error_response(&e),
    }
}

fn error_response(e: &admin::Error) -> Response {
    error(e.status(), &e.shown_by("admin"))
}

fn method_not_allowed(allowed: &str) -> Response {
    error(405, &format!("use {allowed}")).with_header("Allow", allowed)
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "error": message }))
}
