//! Nueve09 (seed 002, VENDORS.md §3): an account logs in for a bearer token, reads the
//! States Catalog, and creates sub-clients funded from its own `available`; each sub-client
//! is an account with its own API key.
//!
//! Routes (below the `/nueve09` mount, or at the root of `--listen-nueve09`):
//!   POST /auth/login          api_key + password → token in the `Authorization` header
//!   GET  /catalogs/states     the 32 states a sub-client's `state` must be one of
//!   POST /clients             create a funded sub-client (seed 002)
//!   GET  /clients             the caller's sub-clients, paged
//!   GET  /clients/{id}        one of them
//!   GET  /openapi.json        this API's OpenAPI document (served by `server.rs`)
//!
//! `ROUTES` lists the same; the router asks it first (404 for an unknown path, 405 with
//! `Allow` for another method, before authentication).
//!
//! Login answers and fails in the login envelope `{"status": {...}, "data": ...}`; everything
//! else in the create envelope `{"success", "code", "message", "data"}` (see `error.rs`).

mod accounts;
mod clients;
pub mod error;
mod form;
mod login;
pub mod money;
pub mod seed;
mod states;
pub mod token;

use serde_json::{json, Value};

use super::{routing, Route, Routing, OPENAPI_ROUTE};
use crate::app::App;
use crate::http::{Request, Response};

pub use error::{Envelope, Error, FieldErrors};

/// Every operation this flavour answers; `openapi.json` documents exactly these.
pub const ROUTES: &[Route] = &[
    ("POST", "/auth/login"),
    ("GET", "/catalogs/states"),
    ("POST", "/clients"),
    ("GET", "/clients"),
    ("GET", "/clients/{id}"),
    OPENAPI_ROUTE,
];

pub fn handle(app: &App, req: &Request) -> Response {
    let segments = req.segments();
    // The login answers in its own envelope, errors included; everything else in the API's.
    let envelope = match segments.as_slice() {
        ["auth", "login"] => Envelope::Login,
        _ => Envelope::Api,
    };
    let result = match routing(ROUTES, &req.method, &req.path) {
        Routing::Listed { .. } => dispatch(app, req, &segments),
        Routing::OtherMethod { allow } => Err(Error::MethodNotAllowed(allow)),
        Routing::Unlisted => Err(Error::NotFound),
    };
    result.unwrap_or_else(|e| e.render(envelope))
}

/// Runs the handler of a route that `ROUTES` lists.
fn dispatch(app: &App, req: &Request, segments: &[&str]) -> Result<Response, Error> {
    match (req.method.as_str(), segments) {
        ("POST", ["auth", "login"]) => login::log_in(app, req),
        ("GET", ["catalogs", "states"]) => states::list_states(app, req),
        ("POST", ["clients"]) => clients::create_client(app, req),
        ("GET", ["clients"]) => clients::list_clients(app, req),
        ("GET", ["clients", id]) => clients::get_client(app, req, id),
        // A listed route without a handler here is a bug (the OpenAPI test finds it), as is
        // `GET /openapi.json` reaching this far: the server answers it.
        (method, _) => Err(Error::Internal(format!(
            "no handler for the listed route {method} {}",
            req.path
        ))),
    }
}

/// A success in the create envelope of seed 002: `{"success": true, "code": 0, "message":
/// "OK", "data": ...}`.
fn ok(data: Value) -> Response {
    Response::json(
        200,
        &json!({"success": true, "code": 0, "message": "OK", "data": data}),
    )
}
