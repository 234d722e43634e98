//! Nueve09 (seed 002): token login, the states catalog, funded sub-clients.

pub mod money;
pub mod seed;

use serde_json::json;

use crate::app::App;
use crate::http::{Request, Response};

pub fn handle(_app: &App, _req: &Request) -> Response {
    Response::json(
        404,
        &json!({"success": false, "code": 404, "message": "Not found", "data": null}),
    )
}
