//! MakeLeaps Client API (docs/makeleaps.md): OAuth2 client credentials, partners, clients
//! and their contacts, as a Django REST Framework app answers them.
//!
//! What it answers is `ROUTES` below, one row per operation with its handler (below the
//! `/makeleaps` mount, or at the root of `--listen-makeleaps`); `openapi.json` documents the
//! same. The OAuth2 endpoints take the client's Basic credentials; every `/api/` view needs
//! `Authorization: Bearer TOKEN`, also answers HEAD and OPTIONS, and carries an `Allow`
//! header, as DRF views do. The order of checks is DRF's: an unknown path is 404 before
//! anything else, then authentication (401), then the method (405), then the records (404
//! for another partner's mid), then the body (415, 400).
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
mod records;
pub mod rules;
pub mod seed;
mod urls;

use crate::db::OptionalExtension;
use serde_json::{json, Value};

use super::{Demo, FreshTenant, SectionError, SeedSection};
use crate::app::App;
use crate::http::{json_body, Body, Request, Response};
use crate::ids::Ids;
use crate::router::{Params, Route, Routing, Table, Via};

pub use error::Error;
use urls::Urls;

/// What answers a MakeLeaps route.
enum Handler {
    /// An OAuth2 endpoint: client credentials in the request, no bearer token; another
    /// method is a bare 405.
    OAuth(fn(&App, &Request) -> Result<Response, Error>),
    /// An API view: bearer token first, `Allow` on every answer. `view` is the view's name,
    /// as DRF's OPTIONS answer gives it (the vendor's endpoint names).
    Api {
        view: &'static str,
        run: fn(&Ctx, &Params) -> Result<Response, Error>,
    },
}

const fn view(
    method: &'static str,
    path: &'static str,
    view: &'static str,
    run: fn(&Ctx, &Params) -> Result<Response, Error>,
) -> Route<Handler> {
    Route {
        method,
        path,
        handler: Handler::Api { view, run },
    }
}

/// Every operation this flavour answers, each with its handler; every path with a GET also
/// answers HEAD and OPTIONS, as DRF views do. `openapi.json` documents exactly these, and the
/// `Allow` header of a path is made from them.
static ROUTES: Table<Handler> = Table::<Handler>::with_head_and_options(&[
    Route {
        method: "POST",
        path: "/user/oauth2/token/",
        handler: Handler::OAuth(oauth::issue_token),
    },
    Route {
        method: "POST",
        path: "/user/oauth2/revoke-token/",
        handler: Handler::OAuth(oauth::revoke_token),
    },
    view("GET", "/api/", "Api Root", |ctx, _| partners::api_root(ctx)),
    view("GET", "/api/partner/", "Partner List", |ctx, _| {
        partners::list_partners(ctx)
    }),
    view(
        "GET",
        "/api/partner/{partner_mid}/",
        "Partner Instance",
        |ctx, p| partners::get_partner(ctx, p.get("partner_mid")),
    ),
    view(
        "GET",
        "/api/partner/{partner_mid}/client/",
        "Client List",
        |ctx, p| clients::list_clients(ctx, p.get("partner_mid")),
    ),
    view(
        "POST",
        "/api/partner/{partner_mid}/client/",
        "Client List",
        |ctx, p| clients::create_client(ctx, p.get("partner_mid")),
    ),
    view(
        "GET",
        "/api/partner/{partner_mid}/client/{client_mid}/",
        "Client Instance",
        |ctx, p| clients::get_client(ctx, p.get("partner_mid"), p.get("client_mid")),
    ),
    view(
        "PUT",
        "/api/partner/{partner_mid}/client/{client_mid}/",
        "Client Instance",
        |ctx, p| {
            let (partner, client) = (p.get("partner_mid"), p.get("client_mid"));
            clients::update_client(ctx, partner, client, Update::Full)
        },
    ),
    view(
        "PATCH",
        "/api/partner/{partner_mid}/client/{client_mid}/",
        "Client Instance",
        |ctx, p| {
            let (partner, client) = (p.get("partner_mid"), p.get("client_mid"));
            clients::update_client(ctx, partner, client, Update::Partial)
        },
    ),
    view(
        "DELETE",
        "/api/partner/{partner_mid}/client/{client_mid}/",
        "Client Instance",
        |ctx, p| clients::delete_client(ctx, p.get("partner_mid"), p.get("client_mid")),
    ),
    view(
        "GET",
        "/api/partner/{partner_mid}/client/{client_mid}/contact/",
        "Client Contact List",
        |ctx, p| contacts::list_client_contacts(ctx, p.get("partner_mid"), p.get("client_mid")),
    ),
    view(
        "GET",
        "/api/partner/{partner_mid}/contact/{contact_mid}/",
        "Contact Instance",
        |ctx, p| contacts::get_contact(ctx, p.get("partner_mid"), p.get("contact_mid")),
    ),
])
.with_path_rule(&rules::PATH);

/// MakeLeaps, as `flavours::ALL` lists it.
pub struct MakeLeaps;

impl super::Flavour for MakeLeaps {
    fn name(&self) -> &'static str {
        "makeleaps"
    }

    fn title(&self) -> &'static str {
        "MakeLeaps"
    }

    fn prefix(&self) -> &'static str {
        "/makeleaps"
    }

    fn openapi(&self) -> &'static str {
        include_str!("openapi.json")
    }

    fn conformance_rules(&self) -> &'static [&'static crate::conformance::Rule] {
        rules::ALL
    }

    fn operations(&self) -> Vec<(&'static str, &'static str)> {
        ROUTES.operations()
    }

    /// The partner of a bearer token, or of the client id at the token endpoint.
    fn caller_tenant(&self, app: &App, req: &Request) -> Option<String> {
        oauth::partner_named(app, req)
    }

    /// The order of checks is DRF's: an unknown path is 404 before anything else, then
    /// authentication (401), then the method (405), then the records, then the body.
    fn handle(&self, app: &App, req: &Request) -> Response {
        match ROUTES.lookup(&req.method, &req.path) {
            Routing::Unlisted => Error::NotFound.render(),
            Routing::Document => super::openapi_response(self, req),
            Routing::Found {
                handler: Handler::OAuth(run),
                ..
            } => run(app, req).unwrap_or_else(|e| e.render()),
            Routing::Found {
                handler: Handler::Api { view, run },
                params,
                via,
                allow,
            } => api(app, req, via, view, *run, &params)
                .unwrap_or_else(|e| e.render())
                .with_header("Allow", &allow),
            Routing::OtherMethod {
                allow,
                some_handler: Some(Handler::OAuth(_)),
            } => Error::OAuthMethodNotAllowed
                .render()
                .with_header("Allow", &allow),
            Routing::OtherMethod {
                allow,
                some_handler: Some(Handler::Api { .. }),
            } => authenticate(app, req)
                .and_then(|_| Err(Error::MethodNotAllowed(req.method.clone())))
                .unwrap_or_else(|e: Error| e.render())
                .with_header("Allow", &allow),
            // `/openapi.json` with another method than GET.
            Routing::OtherMethod {
                allow,
                some_handler: None,
            } => Error::MethodNotAllowed(req.method.clone())
                .render()
                .with_header("Allow", &allow),
        }
    }

    fn error_response(&self, _app: &App, status: u16) -> Response {
        error::for_status(status)
    }

    fn parse_seed(&self, section: &str) -> Result<Box<dyn SeedSection>, SectionError> {
        Ok(Box::new(seed::Section::parse(section)?))
    }

    fn demo(&self) -> Demo {
        Demo {
            seed: include_str!("demo.json"),
            hashes: &[("demo-client-secret", "$argon2id$v=19$m=19456,t=2,p=1$3I2nlNvOs6S3gdzmSI8czA$m4g0AYeHe/EVi8GUg4WyT56rPzM7Xyx8tmvfAIk9FTw")],
            banner: "client_id demo-client-id, client_secret demo-client-secret, partner 0000000000000000000",
        }
    }

    fn fresh_tenant(&self, ids: &Ids, tag: &str) -> Result<Box<dyn FreshTenant>, String> {
        Ok(Box::new(seed::Fresh::new(ids, tag)?))
    }

    fn delete_tenant(&self, tx: &crate::db::Transaction, key: &str) -> crate::db::Result<()> {
        seed::delete_tenant(tx, key)
    }

    fn housekeeping(&self) -> &'static [&'static str] {
        &["DELETE FROM ml_tokens WHERE expires_at <= ?1 OR revoked_at IS NOT NULL"]
    }

    fn records(
        &self,
        conn: &crate::db::Connection,
        page: super::Page,
    ) -> crate::db::Result<Vec<super::Records>> {
        records::tables(conn, page)
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
    /// Another partner's mid in the path is 404, as if it did not exist (docs/makeleaps.md; our
    /// choice).
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

/// An API view: authentication, then the view (an OPTIONS answers DRF's metadata).
fn api(
    app: &App,
    req: &Request,
    via: Via,
    view: &'static str,
    run: fn(&Ctx, &Params) -> Result<Response, Error>,
    params: &Params,
) -> Result<Response, Error> {
    let partner = authenticate(app, req)?;
    if via == Via::Options {
        return Ok(options(view));
    }
    let ctx = Ctx {
        app,
        req,
        partner,
        urls: Urls::of(req, &app.settings.trusted_proxies),
    };
    run(&ctx, params)
}

/// `Authorization: Bearer TOKEN` → the partner's mid. One indexed read of the token's
/// SHA-256: no argon2 on this path (a generated token needs no slow hash).
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
    // The token's partner, expired or revoked too: the request is theirs either way.
    if let Some((partner, ..)) = &row {
        crate::conformance::tenant(partner);
    }
    match row {
        Some((partner, expires_at, None)) if app.clock.now_ms() < expires_at => Ok(partner),
        _ => Err(Error::InvalidToken),
    }
}

/// DRF's OPTIONS answer (SimpleMetadata), enveloped.
fn options(view: &str) -> Response {
    ok(
        200,
        json!({
            "name": view,
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
fn request_data(req: &Request) -> Result<Value, Error> {
    match &req.body {
        Body::Complete(bytes) if bytes.is_empty() => return Ok(json!({})),
        Body::TooLarge => return Err(Error::PayloadTooLarge),
        _ => {}
    }
    if !req.content_type_is("application/json") && crate::conformance::refuse(&rules::CONTENT_TYPE)
    {
        let media = req.header("Content-Type").unwrap_or("").to_string();
        return Err(Error::UnsupportedMediaType(media));
    }
    Ok(json_body(req)?)
}

/// `request_data`; a JSON body refused for its media type is still given to `check`, whose
/// deviations are noted (its answer is not), so that one round trip lists every mistake.
pub fn request_data_checked(req: &Request, check: impl FnOnce(&Value)) -> Result<Value, Error> {
    let data = request_data(req);
    if let (Err(Error::UnsupportedMediaType(_)), Ok(body)) = (&data, json_body(req)) {
        check(&body);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_whole_exact_paths() {
        let found = |method: &str, path: &str| match ROUTES.lookup(method, path) {
            Routing::Found {
                handler: Handler::Api { view, .. },
                params,
                ..
            } => Some(format!("{view} {}", params.get("client_mid"))),
            Routing::Found {
                handler: Handler::OAuth(_),
                ..
            } => Some("OAuth".into()),
            _ => None,
        };
        assert_eq!(
            found("POST", "/user/oauth2/token/").as_deref(),
            Some("OAuth")
        );
        assert_eq!(
            found("GET", "/api/partner/1/client/2/contact/").as_deref(),
            Some("Client Contact List 2")
        );
        // Not exact: refused (the server is not lenient).
        crate::conformance::begin(false);
        assert_eq!(found("POST", "/user/oauth2/token"), None);
        assert_eq!(found("GET", "/api/partner/1/client/2/contact"), None);
        assert_eq!(crate::conformance::take().0.len(), 2);
        assert_eq!(found("GET", "/api/partner/1/client/2/settings/"), None);
        assert_eq!(found("POST", "/user/oath2/token/"), None);
    }
}
