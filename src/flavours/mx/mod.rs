//! MX Client Enablement API (seed 000): a processor creates a client, and MX e-mails the
//! client a one-time link to register on the Client Dashboard.
//!
//! Routes (below the `/mx` mount):
//!   POST /clients                        create (or re-invite) a client → 200, no body
//!   GET|POST /dashboard/register/{token} the registration form of the mailed one-time link
//!   GET|POST /dashboard/login            sign in
//!   POST /dashboard/logout               sign out
//!   GET /dashboard/                      the overview of the signed-in client
//!
//! Errors are `{"error": "..."}` with MX's platform status codes (VENDORS.md §1).

mod clients;
mod dashboard;
pub mod error;
mod invitation;
mod pages;
pub mod seed;

use crate::app::App;
use crate::http::{Request, Response};

pub use error::Error;

/// The purpose of the one-time links in invitation mails.
const REGISTER_LINK: &str = "mx.register";

pub fn handle(app: &App, req: &Request) -> Response {
    let segments = req.segments();
    let result = match (req.method.as_str(), segments.as_slice()) {
        ("POST", ["clients"]) => clients::create(app, req),
        (_, ["clients"]) => Err(Error::MethodNotAllowed("POST")),
        ("GET", ["dashboard"]) if !req.path.ends_with('/') => {
            Ok(Response::redirect(&format!("{}/dashboard/", req.mount)))
        }
        ("GET", ["dashboard"]) => dashboard::show_overview(app, req),
        ("GET", ["dashboard", "register", token]) => dashboard::show_register(app, req, token),
        ("POST", ["dashboard", "register", token]) => dashboard::submit_register(app, req, token),
        (_, ["dashboard", "register", _]) => Err(Error::MethodNotAllowed("GET, POST")),
        ("GET", ["dashboard", "login"]) => Ok(dashboard::show_login(req)),
        ("POST", ["dashboard", "login"]) => dashboard::submit_login(app, req),
        (_, ["dashboard", "login"]) => Err(Error::MethodNotAllowed("GET, POST")),
        ("POST", ["dashboard", "logout"]) => dashboard::submit_logout(app, req),
        (_, ["dashboard", "logout"]) => Err(Error::MethodNotAllowed("POST")),
        _ => Err(Error::NotFound),
    };
    result.unwrap_or_else(|e| e.render())
}
