//! MakeLeaps client API (seed 003): OAuth2 client credentials, clients and contacts.

pub mod seed;

use serde_json::json;

use crate::app::App;
use crate::http::{Request, Response};

pub fn handle(_app: &App, _req: &Request) -> Response {
    Response::json(
        404,
        &json!({"meta": {"status": 404}, "response": {"detail": "Not found."}}),
    )
}
