//! MX Client Enablement API (seed 000): a processor creates a client, and MX e-mails the
//! client a one-time link to register on the Client Dashboard.
//!
//! Routes (below the `/mx` mount):
//!   POST /clients                        create (or re-invite) a client → 200, no body
//!
//! Errors are `{"error": "..."}` with MX's platform status codes (VENDORS.md §1).

mod clients;
pub mod error;
pub mod seed;

use crate::app::App;
use crate::http::{Request, Response};

pub use error::Error;

pub fn handle(app: &App, req: &Request) -> Response {
    let segments = req.segments();
    let result = match (req.method.as_str(), segments.as_slice()) {
        ("POST", ["clients"]) => clients::create(app, req),
        (_, ["clients"]) => Err(Error::MethodNotAllowed("POST")),
        _ => Err(Error::NotFound),
    };
    result.unwrap_or_else(|e| e.render())
}
