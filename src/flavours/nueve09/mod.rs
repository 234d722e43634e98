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
mod token;

use serde_json::{json, Value};

use crate::app::App;
use crate::http::{Request, Response};

pub use error::{Envelope, Error, FieldErrors};

pub fn handle(app: &App, req: &Request) -> Response {
    let segments = req.segments();
    let (envelope, result) = match (req.method.as_str(), segments.as_slice()) {
        ("POST", ["auth", "login"]) => (Envelope::Login, login::log_in(app, req)),
        (_, ["auth", "login"]) => (Envelope::Login, Err(Error::MethodNotAllowed("POST"))),
        ("GET", ["catalogs", "states"]) => (Envelope::Api, states::list_states(app, req)),
        (_, ["catalogs", "states"]) => (Envelope::Api, Err(Error::MethodNotAllowed("GET"))),
        ("POST", ["clients"]) => (Envelope::Api, clients::create_client(app, req)),
        ("GET", ["clients"]) => (Envelope::Api, clients::list_clients(app, req)),
        (_, ["clients"]) => (Envelope::Api, Err(Error::MethodNotAllowed("GET, POST"))),
        ("GET", ["clients", id]) => (Envelope::Api, clients::get_client(app, req, id)),
        (_, ["clients", _]) => (Envelope::Api, Err(Error::MethodNotAllowed("GET"))),
        _ => (Envelope::Api, Err(Error::NotFound)),
    };
    result.unwrap_or_else(|e| e.render(envelope))
}

/// A success in the create envelope of seed 002: `{"success": true, "code": 0, "message":
/// "OK", "data": ...}`.
fn ok(data: Value) -> Response {
    Response::json(
        200,
        &json!({"success": true, "code": 0, "message": "OK", "data": data}),
    )
}
