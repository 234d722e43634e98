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
//! ```
//!
//! Every API call authenticates with Basic `userName:password` (`caller`); what it may see
//! and change is decided in `scope`; errors are the vendor's bodies (`error`); 2xx answers
//! carry the rate-limit headers (`ratelimit`).

mod caller;
mod clients;
pub mod error;
mod input;
mod partners;
mod ratelimit;
pub mod roles;
mod scope;
pub mod seed;
mod users;
mod welcome;

use std::sync::Arc;

use serde::Serialize;

use crate::app::App;
use crate::http::{Request, Response};

pub use error::Error;

pub fn handle(app: &App, req: &Request) -> Response {
    let segments = req.segments();
    let result = match segments.as_slice() {
        ["api", "v1", rest @ ..] => api(app, req, rest),
        ["welcome", token] => welcome::page(app, req, token),
        _ => Err(Error::NotFound),
    };
    result.unwrap_or_else(|e| e.render())
}

/// A handler of the API: the request, who is calling, and the `{id}` of the path ("" when
/// the path has none).
type Handler = fn(&App, &Request, &caller::Caller, &str) -> Result<Response, Error>;

/// The route table: finds the handler, authenticates, runs it, and adds the rate-limit
/// headers to a success. Unknown paths are 404 before authentication, as are known paths
/// with another method 405 (with `Allow`).
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
        (_, ["clients" | "users" | "partners"]) => {
            return Err(Error::MethodNotAllowed("GET, POST"))
        }
        (_, ["clients", _]) => return Err(Error::MethodNotAllowed("GET, PATCH, DELETE")),
        (_, ["users" | "partners", _]) => return Err(Error::MethodNotAllowed("GET, PATCH")),
        _ => return Err(Error::NotFound),
    };
    let caller = caller::authenticate(app, req)?;
    let instance = Arc::as_ptr(&app.store) as usize;
    let quota = ratelimit::hit(instance, caller.user_id, app.clock.now_ms());
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
