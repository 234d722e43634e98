//! Bluefin ShieldConex management API (seed 001): partners, users and clients.

pub mod roles;
pub mod seed;

use serde_json::json;

use crate::app::App;
use crate::http::{Request, Response};

pub fn handle(_app: &App, _req: &Request) -> Response {
    // The vendor's 404 body (seed 001); the routes arrive with the ShieldConex issue.
    Response::json(
        404,
        &json!({"uuid": crate::ids::uuid_v4(), "errorCode": 7404,
                "message": "Requested resource cannot be found."}),
    )
}
