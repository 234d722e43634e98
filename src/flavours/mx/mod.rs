//! MX Client Enablement API (seed 000): a processor creates a client, and MX e-mails the
//! client a one-time link to register on the Client Dashboard.
//!
//! Routes (below the `/mx` mount), as `ROUTES` lists them:
//!   POST /clients                        create (or re-invite) a client → 200, no body
//!   GET|POST /dashboard/register/{token} the registration form of the mailed one-time link
//!   GET|POST /dashboard/login            sign in
//!   POST /dashboard/logout               sign out
//!   GET /dashboard/                      the overview of the signed-in client
//!   GET /openapi.json                    this API's OpenAPI document (served by `server.rs`)
//!
//! Errors are `{"error": "..."}` with MX's platform status codes (VENDORS.md §1).

mod clients;
mod dashboard;
pub mod error;
mod invitation;
mod invitations;
mod pages;
pub mod reviews;
pub mod seed;

use super::{routing, Route, Routing, OPENAPI_ROUTE};
use crate::app::App;
use crate::http::{Request, Response};

pub use error::Error;

/// The purpose of the one-time links in invitation mails.
const REGISTER_LINK: &str = "mx.register";

/// Every operation this flavour answers; `openapi.json` documents exactly these.
pub const ROUTES: &[Route] = &[
    ("POST", "/clients"),
    ("GET", "/dashboard/"),
    ("GET", "/dashboard/register/{token}"),
    ("POST", "/dashboard/register/{token}"),
    ("GET", "/dashboard/login"),
    ("POST", "/dashboard/login"),
    ("POST", "/dashboard/logout"),
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
        ("POST", ["clients"]) => clients::create(app, req),
        ("GET", ["dashboard"]) if !req.path.ends_with('/') => {
            Ok(Response::redirect(&format!("{}/dashboard/", req.mount)))
        }
        ("GET", ["dashboard"]) => dashboard::show_overview(app, req),
        ("GET", ["dashboard", "register", token]) => dashboard::show_register(app, req, token),
        ("POST", ["dashboard", "register", token]) => dashboard::submit_register(app, req, token),
        ("GET", ["dashboard", "login"]) => Ok(dashboard::show_login(req)),
        ("POST", ["dashboard", "login"]) => dashboard::submit_login(app, req),
        ("POST", ["dashboard", "logout"]) => dashboard::submit_logout(app, req),
        // A listed route without a handler here is a bug (the OpenAPI test finds it), as is
        // `GET /openapi.json` reaching this far: the server answers it.
        (method, _) => Err(Error::Internal(format!(
            "no handler for the listed route {method} {}",
            req.path
        ))),
    }
}
