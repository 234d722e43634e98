//! The table of flavours: each vendor's API, its mount point, and its request handler.
//! A flavour folder owns everything that makes that vendor that vendor (routes, validation,
//! error format, SQL, seed section); the shared plumbing lives outside `flavours/`.

pub mod makeleaps;
pub mod mx;
pub mod nueve09;
pub mod shieldconex;

use serde_json::{json, Value};

use crate::app::App;
use crate::http::{Request, Response};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Mx,
    ShieldConex,
    Nueve09,
    MakeLeaps,
}

impl Flavour {
    pub const ALL: [Flavour; 4] = [
        Flavour::Mx,
        Flavour::ShieldConex,
        Flavour::Nueve09,
        Flavour::MakeLeaps,
    ];

    /// The one lowercase word used for this flavour everywhere (prefix, option, logs).
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Mx => "mx",
            Flavour::ShieldConex => "shieldconex",
            Flavour::Nueve09 => "nueve09",
            Flavour::MakeLeaps => "makeleaps",
        }
    }

    /// Where the main listener mounts it; the vendor's paths follow unchanged.
    pub fn prefix(self) -> &'static str {
        match self {
            Flavour::Mx => "/mx",
            Flavour::ShieldConex => "/shieldconex",
            Flavour::Nueve09 => "/nueve09",
            Flavour::MakeLeaps => "/makeleaps",
        }
    }

    /// An injected fault's answer: `body`, or this vendor's own error body for `status`.
    pub fn fault_response(self, status: u16, body: Option<Value>) -> Response {
        let reason = match status {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            422 => "Unprocessable Entity",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Injected fault",
        };
        let body = body.unwrap_or_else(|| match self {
            Flavour::Mx => json!({"error": reason}),
            Flavour::ShieldConex => json!({"uuid": crate::ids::uuid_v4(),
                "errorCode": 7000 + u32::from(status), "message": format!("{reason}.")}),
            Flavour::Nueve09 => json!({"success": false, "code": status, "message": reason,
                "data": null}),
            Flavour::MakeLeaps => json!({"meta": {"status": status},
                "response": {"detail": format!("{reason}.")}}),
        });
        Response::json(status, &body)
    }

    /// Answers a request whose `path` is already relative to the mount point.
    pub fn handle(self, app: &App, req: &Request) -> Response {
        match self {
            Flavour::Mx => mx::handle(app, req),
            Flavour::ShieldConex => shieldconex::handle(app, req),
            Flavour::Nueve09 => nueve09::handle(app, req),
            Flavour::MakeLeaps => makeleaps::handle(app, req),
        }
    }
}
