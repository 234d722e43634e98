//! MakeLeaps Client API (seed 003): OAuth2 client credentials, partners, clients and their
//! contacts, as a Django REST Framework app answers them (VENDORS.md §4).
//!
//! Routes (below the `/makeleaps` mount, or at the root of `--listen-makeleaps`):
//!
//! | path                                              | methods                       |
//! |---------------------------------------------------|-------------------------------|
//! | `/user/oauth2/token/`                             | POST (Basic client_id:secret) |
//! | `/user/oauth2/revoke-token/`                      | POST (Basic client_id:secret) |
//! | `/api/partner/`                                   | GET                           |
//! | `/api/partner/{mid}/`                             | GET                           |
//! | `/api/partner/{mid}/client/`                      | GET (paged), POST             |
//! | `/api/partner/{mid}/client/{mid}/`                | GET, PUT, PATCH, DELETE       |
//! | `/api/partner/{mid}/client/{mid}/contact/`        | GET (paged)                   |
//! | `/api/partner/{mid}/contact/{mid}/`               | GET (where contact URLs point)|
//! | `/openapi.json`                                   | GET (served by `server.rs`)   |
//!
//! Every `/api/` path also answers HEAD and OPTIONS, needs `Authorization: Bearer TOKEN`,
//! and carries an `Allow` header, as DRF views do. `ROUTES` lists every method of every
//! path; the router asks it first. The order of checks is DRF's: an unknown path is 404
//! before anything else, then authentication (401), then the method (405), then the records
//! (404 for another partner's mid), then the body (415, 400).
//!
//! Successful bodies are enveloped: `{"meta": {...}, "response": ...}`; errors too (error.rs).
//! Links are full URLs built from the request's Host and mount (urls.rs), so following them
//! works on the main listener and on a dedicated one alike.

mod clients;
mod contacts;
pub mod error;
mod fields;
mod oauth;
mod paging;
mod partners;
pub mod seed;
mod urls;

use rusqlite::OptionalExtension;
use serde_json::{json, Value};

use super::Routing;
use crate::app::App;
use crate::http::{json_body, Body, Request, Response};

pub use error::Error;
use urls::Urls;

/// Every operation this flavour answers; `openapi.json` documents exactly these, and the
/// `Allow` header of a path is made from them.
pub const ROUTES: &[super::Route] = &[
    ("POST", "/user/oauth2/token/"),
    ("POST", "/user/oauth2/revoke-token/"),
    ("GET", "/api/partner/"),
    ("HEAD", "/api/partner/"),
    ("OPTIONS", "/api/partner/"),
    ("GET", "/api/partner/{partner_mid}/"),
    ("HEAD", "/api/partner/{partner_mid}/"),
    ("OPTIONS", "/api/partner/{partner_mid}/"),
    ("GET", "/api/partner/{partner_mid}/client/"),
    ("POST", "/api/partner/{partner_mid}/client/"),
    ("HEAD", "/api/partner/{partner_mid}/client/"),
    ("OPTIONS", "/api/partner/{partner_mid}/client/"),
    ("GET", "/api/partner/{partner_mid}/client/{client_mid}/"),
    ("PUT", "/api/partner/{partner_mid}/client/{client_mid}/"),
    ("PATCH", "/api/partner/{partner_mid}/client/{client_mid}/"),
    ("DELETE", "/api/partner/{partner_mid}/client/{client_mid}/"),
    ("HEAD", "/api/partner/{partner_mid}/client/{client_mid}/"),
    ("OPTIONS", "/api/partner/{partner_mid}/client/{client_mid}/"),
    (
        "GET",
        "/api/partner/{partner_mid}/client/{client_mid}/contact/",
    ),
    (
        "HEAD",
        "/api/partner/{partner_mid}/client/{client_mid}/contact/",
    ),
    (
        "OPTIONS",
        "/api/partner/{partner_mid}/client/{client_mid}/contact/",
    ),
    ("GET", "/api/partner/{partner_mid}/contact/{contact_mid}/"),
    ("HEAD", "/api/partner/{partner_mid}/contact/{contact_mid}/"),
    (
        "OPTIONS",
        "/api/partner/{partner_mid}/contact/{contact_mid}/",
    ),
    super::OPENAPI_ROUTE,
];

/// Answers one request whose path is relative to the mount point.
pub fn handle(app: &App, req: &Request) -> Response {
    let (listed, allow) = match super::routing(ROUTES, &req.method, &req.path) {
        Routing::Listed { allow } => (true, allow),
        Routing::OtherMethod { allow } => (false, allow),
        Routing::Unlisted => return Error::NotFound.render(),
    };
    let segments = req.segments();
    match Route::parse(&segments) {
        Some(Route::Token | Route::RevokeToken) if !listed => Error::OAuthMethodNotAllowed
            .render()
            .with_header("Allow", &allow),
        Some(Route::Token) => oauth::issue_token(app, req).unwrap_or_else(|e| e.render()),
        Some(Route::RevokeToken) => oauth::revoke_token(app, req).unwrap_or_else(|e| e.render()),
        Some(route) => api(app, req, route, listed)
            .unwrap_or_else(|e| e.render())
            .with_header("Allow", &allow),
        // `/openapi.json` with another method than the GET that the server answers.
        None if !listed => Error::MethodNotAllowed(req.method.clone())
            .render()
            .with_header("Allow", &allow),
        None => Error::Internal(unhandled(req)).render(),
    }
}

/// A listed route without a handler is a bug (the OpenAPI test finds it), as is
/// `GET /openapi.json` reaching the router: the server answers it.
fn unhandled(req: &Request) -> String {
    format!(
        "no handler for the listed route {} {}",
        req.method, req.path
    )
}

/// The paths this flavour knows, with the mids they name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route<'a> {
    Token,
    RevokeToken,
    Partners,
    Partner(&'a str),
    Clients(&'a str),
    Client(&'a str, &'a str),
    ClientContacts(&'a str, &'a str),
    Contact(&'a str, &'a str),
}

impl<'a> Route<'a> {
    /// Trailing slashes are optional: DRF's routes end in `/`, and Django would redirect a
    /// GET without it; answering both directly serves the same clients with less fuss.
    fn parse(segments: &[&'a str]) -> Option<Route<'a>> {
        Some(match segments {
            ["user", "oauth2", "token"] => Route::Token,
            ["user", "oauth2", "revoke-token"] => Route::RevokeToken,
            ["api", "partner"] => Route::Partners,
            ["api", "partner", p] => Route::Partner(p),
            ["api", "partner", p, "client"] => Route::Clients(p),
            ["api", "partner", p, "client", c] => Route::Client(p, c),
            ["api", "partner", p, "client", c, "contact"] => Route::ClientContacts(p, c),
            ["api", "partner", p, "contact", c] => Route::Contact(p, c),
            _ => return None,
        })
    }

    /// The view's name, as DRF's OPTIONS answer gives it (client.md's endpoint names).
    fn name(self) -> &'static str {
        match self {
            Route::Token => "Token",
            Route::RevokeToken => "Revoke Token",
            Route::Partners => "Partner List",
            Route::Partner(_) => "Partner Instance",
            Route::Clients(_) => "Client List",
            Route::Client(..) => "Client Instance",
            Route::ClientContacts(..) => "Client Contact List",
            Route::Contact(..) => "Contact Instance",
        }
    }
}

/// What every API handler works with: the request, who is calling, and how to make links.
pub struct Ctx<'r> {
    pub app: &'r App,
    pub req: &'r Request,
    /// The mid of the partner the bearer token belongs to.
    pub partner: String,
    pub urls: Urls,
}

impl Ctx<'_> {
    /// Another partner's mid in the path is 404, as if it did not exist (VENDORS.md §4 [D]).
    pub fn own_partner(&self, mid: &str) -> Result<(), Error> {
        if mid == self.partner {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}

/// Partial (PATCH) or full (PUT) update: a full one requires every required field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    Full,
    Partial,
}

/// An `/api/` route: authentication, then the method (`listed`: the route table has it),
/// then the handler.
fn api(app: &App, req: &Request, route: Route, listed: bool) -> Result<Response, Error> {
    let partner = authenticate(app, req)?;
    if !listed {
        return Err(Error::MethodNotAllowed(req.method.clone()));
    }
    let ctx = Ctx {
        app,
        req,
        partner,
        urls: Urls::of(req),
    };
    // HEAD is a GET whose body tiny_http drops.
    let method = match req.method.as_str() {
        "HEAD" => "GET",
        m => m,
    };
    match (method, route) {
        ("OPTIONS", _) => Ok(options(route)),
        ("GET", Route::Partners) => partners::list_partners(&ctx),
        ("GET", Route::Partner(p)) => partners::get_partner(&ctx, p),
        ("GET", Route::Clients(p)) => clients::list_clients(&ctx, p),
        ("POST", Route::Clients(p)) => clients::create_client(&ctx, p),
        ("GET", Route::Client(p, c)) => clients::get_client(&ctx, p, c),
        ("PUT", Route::Client(p, c)) => clients::update_client(&ctx, p, c, Update::Full),
        ("PATCH", Route::Client(p, c)) => clients::update_client(&ctx, p, c, Update::Partial),
        ("DELETE", Route::Client(p, c)) => clients::delete_client(&ctx, p, c),
        ("GET", Route::ClientContacts(p, c)) => contacts::list_client_contacts(&ctx, p, c),
        ("GET", Route::Contact(p, c)) => contacts::get_contact(&ctx, p, c),
        _ => Err(Error::Internal(unhandled(req))),
    }
}

/// `Authorization: Bearer TOKEN` → the partner's mid. One indexed read of the token's
/// SHA-256: no argon2 on this path (DESIGN.md §6).
fn authenticate(app: &App, req: &Request) -> Result<String, Error> {
    let Some(token) = crate::auth::parse_bearer(req.header("Authorization")) else {
        return Err(Error::NotAuthenticated);
    };
    let hash = crate::auth::sha256(token.as_bytes());
    let row: Option<(String, i64, Option<i64>)> = app.store.read(|conn| {
        conn.prepare_cached(
            "SELECT partner_mid, expires_at, revoked_at FROM ml_tokens WHERE token_hash = ?1",
        )?
        .query_row([&hash[..]], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
    })?;
    match row {
        Some((partner, expires_at, None)) if app.clock.now_ms() < expires_at => Ok(partner),
        _ => Err(Error::InvalidToken),
    }
}

/// DRF's OPTIONS answer (SimpleMetadata), enveloped.
fn options(route: Route) -> Response {
    ok(
        200,
        json!({
            "name": route.name(),
            "description": "",
            "renders": ["application/json"],
            "parses": ["application/json"],
        }),
    )
}

/// A successful answer in MakeLeaps' envelope (single objects carry only `status` in meta).
pub fn ok(status: u16, response: Value) -> Response {
    Response::json(
        status,
        &json!({"meta": {"status": status}, "response": response}),
    )
}

/// The request body as DRF's JSON parser sees it: no body at all is no data (`{}`), a body
/// in another media type is 415, malformed JSON is 400.
pub fn request_data(req: &Request) -> Result<Value, Error> {
    match &req.body {
        Body::Complete(bytes) if bytes.is_empty() => return Ok(json!({})),
        Body::TooLarge => return Err(Error::PayloadTooLarge),
        _ => {}
    }
    if !req.content_type_is("application/json") {
        let media = req.header("Content-Type").unwrap_or("").to_string();
        return Err(Error::UnsupportedMediaType(media));
    }
    Ok(json_body(req)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_whole_paths_with_or_without_the_trailing_slash() {
        let parse = |path: &str| {
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            Route::parse(&segments).map(|r| format!("{r:?}"))
        };
        assert_eq!(parse("/user/oauth2/token/").as_deref(), Some("Token"));
        assert_eq!(
            parse("/api/partner/1/client/2/contact").as_deref(),
            Some("ClientContacts(\"1\", \"2\")")
        );
        assert_eq!(parse("/api/partner/1/client/2/settings/"), None);
        assert_eq!(parse("/user/oath2/token/"), None);
    }
}
