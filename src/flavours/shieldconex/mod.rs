//! Bluefin ShieldConex management API (seed 001): partners, users and clients, with the
//! vendor's hierarchy of who sees what (VENDORS.md §2).
//!
//! Routes (below the `/shieldconex` mount, or at the root of `--listen-shieldconex`):
//!
//! ```text
//!   GET   /api/v1/clients?partner=&take=&skip=   list_clients     {"total","data"}
//!   POST  /api/v1/clients                        create_client    {"id"}
//!   GET   /api/v1/clients/{id}                   get_client       ClientDetails
//!   PATCH /api/v1/clients/{id}                   update_client    {"id"}
//!   DELETE /api/v1/clients/{id}                  delete_client    200, empty (soft delete)
//!   GET   /api/v1/users?partner=&client=&take=&skip=  list_users
//!   POST  /api/v1/users                          create_user
//!   GET   /api/v1/users/{id}                     get_user
//!   PATCH /api/v1/users/{id}                     update_user
//!   GET   /api/v1/partners?partner=&take=&skip=  list_partners
//!   POST  /api/v1/partners                       create_partner   (sub-partners only)
//!   GET   /api/v1/partners/{id}                  get_partner
//!   PATCH /api/v1/partners/{id}                  update_partner
//!   GET/POST /welcome/{token}                    the set-password page of the welcome mail
//!   GET   /openapi.json                          this API's OpenAPI document (server.rs)
//! ```
//!
//! `ROUTES` lists the same; the router asks it first, so unknown paths are 404 and other
//! methods 405 (with `Allow`), both before authentication.
//!
//! Every API call authenticates with Basic `userName:password` (`caller`); what it may see
//! and change is decided in `scope`; errors are the vendor's bodies (`error`); 2xx answers
//! carry the rate-limit headers (`ratelimit`).

mod caller;
mod clients;
pub mod error;
mod input;
mod partners;
pub mod ratelimit;
pub mod roles;
mod scope;
pub mod seed;
mod users;
mod welcome;

use serde::Serialize;

use super::{routing, Route, Routing, OPENAPI_ROUTE};
use crate::app::App;
use crate::http::{Request, Response};

pub use error::Error;

/// Every operation this flavour answers; `openapi.json` documents exactly these.
pub const ROUTES: &[Route] = &[
    ("GET", "/api/v1/clients"),
    ("POST", "/api/v1/clients"),
    ("GET", "/api/v1/clients/{id}"),
    ("PATCH", "/api/v1/clients/{id}"),
    ("DELETE", "/api/v1/clients/{id}"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users/{id}"),
    ("PATCH", "/api/v1/users/{id}"),
    ("GET", "/api/v1/partners"),
    ("POST", "/api/v1/partners"),
    ("GET", "/api/v1/partners/{id}"),
    ("PATCH", "/api/v1/partners/{id}"),
    ("GET", "/welcome/{token}"),
    ("POST", "/welcome/{token}"),
    OPENAPI_ROUTE,
];

pub fn handle(app: &App, req: &Request) -> Response {
    let result = match routing(ROUTES, &req.method, &req.path) {
        Routing::Listed { .. } => dispatch(app, req),
        Routing::OtherMethod { allow } => Err(Error::MethodNotAllowed(allow)),
        Routing::Unlisted => Err(Error::NotFound),
    };
    result.unwrap_or_else(|e| e.render())
}

/// Runs the handler of a route that `ROUTES` lists.
fn dispatch(app: &App, req: &Request) -> Result<Response, Error> {
    let segments = req.segments();
    match (req.method.as_str(), segments.as_slice()) {
        (_, ["api", "v1", rest @ ..]) => api(app, req, rest),
        ("GET", ["welcome", token]) => welcome::show_form(app, req, token),
        ("POST", ["welcome", token]) => welcome::set_password(app, req, token),
        (method, _) => Err(unhandled(method, &req.path)),
    }
}

/// A listed route without a handler is a bug (the OpenAPI test finds it), as is
/// `GET /openapi.json` reaching the router: the server answers it.
fn unhandled(method: &str, path: &str) -> Error {
    Error::Internal(format!("no handler for the listed route {method} {path}"))
}

/// A handler of the API: the request, who is calling, and the `{id}` of the path ("" when
/// the path has none).
type Handler = fn(&App, &Request, &caller::Caller, &str) -> Result<Response, Error>;

/// The API's handlers: finds the handler, authenticates, runs it, and adds the rate-limit
/// headers to a success.
fn api(app: &App, req: &Request, rest: &[&str]) -> Result<Response, Error> {
    let (handler, id): (Handler, &str) = match (req.method.as_str(), rest) {
        ("GET", ["clients"]) => (clients::list_clients, ""),
        ("POST", ["clients"]) => (clients::create_client, ""),
        ("GET", ["clients", id]) => (clients::get_client, id),
        ("PATCH", ["clients", id]) => (clients::update_client, id),
        ("DELETE", ["clients", id]) => (clients::delete_client, id),
        ("GET", ["users"]) => (users::list_users, ""),
        ("POST", ["users"]) => (users::create_user, ""),
        ("GET", ["users", id]) => (users::get_user, id),
        ("PATCH", ["users", id]) => (users::update_user, id),
        ("GET", ["partners"]) => (partners::list_partners, ""),
        ("POST", ["partners"]) => (partners::create_partner, ""),
        ("GET", ["partners", id]) => (partners::get_partner, id),
        ("PATCH", ["partners", id]) => (partners::update_partner, id),
        (method, _) => return Err(unhandled(method, &req.path)),
    };
    let caller = caller::authenticate(app, req)?;
    let quota = app.shieldconex_rate.hit(caller.user_id, app.clock.now_ms());
    let response = handler(app, req, &caller, id)?;
    Ok(quota.apply(response))
}

/// A JSON response whose keys keep the order of the struct's fields (the vendor's order;
/// a `serde_json::Value` would sort them).
pub(crate) fn json_response(status: u16, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::empty(status)
            .with_header("Content-Type", "application/json")
            .with_body(bytes),
        Err(e) => Error::Internal(format!("serializing a response: {e}")).render(),
    }
}

/// The `CreateResult` / `UpdateResult` of every POST and PATCH: `200 {"id": N}`.
fn id_response(id: i64) -> Response {
    #[derive(Serialize)]
    struct IdOnly {
        id: i64,
    }
    json_response(200, &IdOnly { id })
}
