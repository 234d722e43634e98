//! The table of flavours: each vendor's API, its mount point, and its request handler.
//! A flavour folder owns everything that makes that vendor that vendor (routes, validation,
//! error format, SQL, seed section, OpenAPI document); the shared plumbing lives outside
//! `flavours/`.
//!
//! Each flavour lists what it answers in a route table, `ROUTES`: (method, path template)
//! pairs in the vendor's spelling. The router asks `routing` about every request before it
//! dispatches, so the table decides 404 (no such path), 405 with `Allow` (the path, another
//! method) and what is dispatched at all; the flavour's OpenAPI document
//! (`<flavour>/openapi.json`) must list exactly the same operations, which
//! `tests/it/openapi.rs` checks both ways.

pub mod makeleaps;
pub mod mx;
pub mod nueve09;
pub mod shieldconex;

use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::app::App;
use crate::http::{Request, Response};

/// One operation of a flavour: an HTTP method and a path template below the mount, as the
/// vendor writes it (`/api/v1/clients/{id}`, `/api/partner/{partner_mid}/client/`). A `{name}`
/// segment stands for any one path segment. Paths match segment by segment with empty
/// segments dropped, as the routers always matched them: a trailing slash is optional.
pub type Route = (&'static str, &'static str);

/// Where every flavour serves its OpenAPI document; `server.rs` answers the GET itself, before
/// the flavour's router (and its injected faults), and each flavour lists it in `ROUTES` so
/// that other methods get the vendor's 405.
pub const OPENAPI_PATH: &str = "/openapi.json";
pub const OPENAPI_ROUTE: Route = ("GET", OPENAPI_PATH);

/// The order of methods in an `Allow` header, whatever the order of the route table.
pub const METHOD_ORDER: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// What a route table says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// Listed: dispatch it. `allow` is every method listed for the path (MakeLeaps sends it
    /// on every answer, as DRF does).
    Listed { allow: String },
    /// The path is listed, with other methods only: 405 with this `Allow`.
    OtherMethod { allow: String },
    /// No listed path matches: 404.
    Unlisted,
}

/// Looks a request up in a route table: one pass over the table, per request.
pub fn routing(routes: &[Route], method: &str, path: &str) -> Routing {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut path_methods = [false; METHOD_ORDER.len()];
    let mut listed = false;
    for (route_method, template) in routes {
        if template_matches(template, &segments) {
            listed |= *route_method == method;
            if let Some(i) = METHOD_ORDER.iter().position(|m| m == route_method) {
                path_methods[i] = true;
            }
        }
    }
    let allow: Vec<&str> = METHOD_ORDER
        .into_iter()
        .zip(path_methods)
        .filter_map(|(m, on)| on.then_some(m))
        .collect();
    if allow.is_empty() {
        return Routing::Unlisted;
    }
    let allow = allow.join(", ");
    if listed {
        Routing::Listed { allow }
    } else {
        Routing::OtherMethod { allow }
    }
}

fn template_matches(template: &str, segments: &[&str]) -> bool {
    let mut parts = template.split('/').filter(|s| !s.is_empty());
    segments.iter().all(|segment| match parts.next() {
        Some(part) if part.starts_with('{') && part.ends_with('}') => true,
        Some(part) => part == *segment,
        None => false,
    }) && parts.next().is_none()
}

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

    /// The flavour's route table (see `Route`).
    pub fn routes(self) -> &'static [Route] {
        match self {
            Flavour::Mx => mx::ROUTES,
            Flavour::ShieldConex => shieldconex::ROUTES,
            Flavour::Nueve09 => nueve09::ROUTES,
            Flavour::MakeLeaps => makeleaps::ROUTES,
        }
    }

    /// The flavour's OpenAPI 3.1 document as written: its `servers` name the main listener's
    /// mount (`/mx`).
    pub fn openapi(self) -> &'static str {
        match self {
            Flavour::Mx => include_str!("mx/openapi.json"),
            Flavour::ShieldConex => include_str!("shieldconex/openapi.json"),
            Flavour::Nueve09 => include_str!("nueve09/openapi.json"),
            Flavour::MakeLeaps => include_str!("makeleaps/openapi.json"),
        }
    }

    /// The document for a request mounted at `mount`: as written under the flavour's prefix;
    /// on a dedicated listener (no prefix) with the prefix taken out of `servers` and of
    /// OAuth2 token URLs, so that clients generated from it call the right paths. That variant
    /// is made once (re-serialized, so its keys come out sorted).
    pub fn openapi_for_mount(self, mount: &str) -> &'static str {
        if mount == self.prefix() {
            return self.openapi();
        }
        static DEDICATED: [OnceLock<String>; 4] = [const { OnceLock::new() }; 4];
        let index = Flavour::ALL.iter().position(|f| *f == self).unwrap_or(0);
        DEDICATED[index].get_or_init(|| self.openapi_at_root())
    }

    fn openapi_at_root(self) -> String {
        let Ok(mut doc) = serde_json::from_str::<Value>(self.openapi()) else {
            // A unit test parses every document; this only keeps a broken build from panicking.
            return self.openapi().to_string();
        };
        let prefix = self.prefix();
        let unprefixed = |url: &str| match url.strip_prefix(prefix) {
            Some("") => Some("/".to_string()),
            Some(rest) if rest.starts_with('/') => Some(rest.to_string()),
            _ => None,
        };
        if let Some(servers) = doc.get_mut("servers").and_then(Value::as_array_mut) {
            for server in servers {
                if let Some(url) = server["url"].as_str().and_then(unprefixed) {
                    server["url"] = Value::String(url);
                }
            }
        }
        if let Some(schemes) = doc
            .pointer_mut("/components/securitySchemes")
            .and_then(Value::as_object_mut)
        {
            let flows = schemes
                .values_mut()
                .filter_map(|s| s.get_mut("flows").and_then(Value::as_object_mut));
            for flow in flows.flat_map(|f| f.values_mut()) {
                for key in ["tokenUrl", "authorizationUrl", "refreshUrl"] {
                    if let Some(url) = flow.get(key).and_then(Value::as_str).and_then(unprefixed) {
                        flow[key] = Value::String(url);
                    }
                }
            }
        }
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| self.openapi().to_string())
    }

    /// `GET /openapi.json`: the document, no authentication.
    pub fn openapi_response(self, req: &Request) -> Response {
        Response::empty(200)
            .with_header("Content-Type", "application/json")
            .with_body(self.openapi_for_mount(&req.mount).as_bytes().to_vec())
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

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Route] = &[
        ("GET", "/api/v1/clients"),
        ("POST", "/api/v1/clients"),
        ("PATCH", "/api/v1/clients/{id}"),
        ("GET", "/api/v1/clients/{id}"),
    ];

    #[test]
    fn routing_matches_segments_and_orders_allow() {
        let listed = |allow: &str| Routing::Listed {
            allow: allow.into(),
        };
        assert_eq!(
            routing(TABLE, "GET", "/api/v1/clients"),
            listed("GET, POST")
        );
        assert_eq!(
            routing(TABLE, "POST", "/api/v1/clients/"),
            listed("GET, POST")
        );
        assert_eq!(
            routing(TABLE, "DELETE", "/api/v1/clients/744"),
            Routing::OtherMethod {
                allow: "GET, PATCH".into()
            }
        );
        assert_eq!(
            routing(TABLE, "GET", "/api/v1//clients/744/"),
            listed("GET, PATCH")
        );
        for unlisted in ["/api/v1", "/api/v1/clients/744/x", "/api/v2/clients", "/"] {
            assert_eq!(
                routing(TABLE, "GET", unlisted),
                Routing::Unlisted,
                "{unlisted}"
            );
        }
    }

    #[test]
    fn every_route_table_is_well_formed() {
        for flavour in Flavour::ALL {
            let routes = flavour.routes();
            assert!(routes.contains(&OPENAPI_ROUTE), "{flavour:?}");
            for (i, (method, template)) in routes.iter().enumerate() {
                assert!(METHOD_ORDER.contains(method), "{flavour:?} {method}");
                assert!(template.starts_with('/'), "{flavour:?} {template}");
                assert!(
                    !routes[..i].contains(&(method, template)),
                    "{method} {template} twice"
                );
            }
        }
    }

    #[test]
    fn documents_parse_and_move_to_the_root_on_a_dedicated_listener() {
        for flavour in Flavour::ALL {
            let doc: Value = serde_json::from_str(flavour.openapi()).expect("valid JSON");
            assert_eq!(doc["servers"][0]["url"], flavour.prefix());
            let at_root: Value =
                serde_json::from_str(flavour.openapi_for_mount("")).expect("valid JSON");
            assert_eq!(at_root["servers"][0]["url"], "/");
            assert_eq!(at_root["paths"], doc["paths"]);
        }
        let at_root: Value =
            serde_json::from_str(Flavour::MakeLeaps.openapi_for_mount("")).unwrap();
        let flow = &at_root["components"]["securitySchemes"]["partnerToken"]["flows"];
        assert_eq!(flow["clientCredentials"]["tokenUrl"], "/user/oauth2/token/");
    }
}
