//! Bluefin ShieldConex management API (docs/shieldconex.md): partners, users and clients,
//! with the vendor's hierarchy of who sees what.
//!
//! What it answers is `ROUTES` below, one row per operation with its handler (below the
//! `/shieldconex` mount, or at the root of `--listen-shieldconex`); `openapi.json`
//! documents the same, with the query parameters and bodies. The router asks the table
//! first, so unknown paths are 404 and other methods 405 (with `Allow`), both before
//! authentication.
//!
//! Every API call authenticates with Basic `userName:password` (`caller`); what it may see
//! and change is decided in `scope`; errors are the vendor's bodies (`error`); 2xx answers
//! carry the rate-limit headers (`ratelimit`).

mod caller;
mod clients;
pub mod error;
mod input;
mod partners;
pub mod ratelimit;
mod records;
pub mod roles;
pub mod rules;
mod scope;
pub mod seed;
mod users;
mod welcome;

use serde::Serialize;

use super::{Demo, FreshTenant, SectionError, SeedSection};
use crate::app::{App, FlavourState};
use crate::config::Config;
use crate::http::{Request, Response};
use crate::ids::Ids;
use crate::router::{Route, Routing, Table};

pub use error::Error;

/// What answers a ShieldConex route.
enum Handler {
    /// An API call: authenticated with Basic first, counted for the rate-limit headers;
    /// gets who is calling and the path's `{id}` ("" when the path has none).
    Api(fn(&App, &Request, &caller::Caller, &str) -> Result<Response, Error>),
    /// A page of the welcome mail's link: gets the path's `{token}`.
    Page(fn(&App, &Request, &str) -> Result<Response, Error>),
}

/// Every operation this flavour answers, each with its handler; `openapi.json` documents
/// exactly these (and `GET /openapi.json`, which every table answers).
static ROUTES: Table<Handler> = Table::<Handler>::new(&[
    api("GET", "/api/v1/clients", clients::list_clients),
    api("POST", "/api/v1/clients", clients::create_client),
    api("GET", "/api/v1/clients/{id}", clients::get_client),
    api("PATCH", "/api/v1/clients/{id}", clients::update_client),
    api("DELETE", "/api/v1/clients/{id}", clients::delete_client),
    api("GET", "/api/v1/users", users::list_users),
    api("POST", "/api/v1/users", users::create_user),
    api("GET", "/api/v1/users/{id}", users::get_user),
    api("PATCH", "/api/v1/users/{id}", users::update_user),
    api("GET", "/api/v1/partners", partners::list_partners),
    api("POST", "/api/v1/partners", partners::create_partner),
    api("GET", "/api/v1/partners/{id}", partners::get_partner),
    api("PATCH", "/api/v1/partners/{id}", partners::update_partner),
    page("GET", "/welcome/{token}", welcome::show_form),
    page("POST", "/welcome/{token}", welcome::set_password),
])
.with_path_rule(&rules::PATH);

const fn api(
    method: &'static str,
    path: &'static str,
    handler: fn(&App, &Request, &caller::Caller, &str) -> Result<Response, Error>,
) -> Route<Handler> {
    Route {
        method,
        path,
        handler: Handler::Api(handler),
    }
}

const fn page(
    method: &'static str,
    path: &'static str,
    handler: fn(&App, &Request, &str) -> Result<Response, Error>,
) -> Route<Handler> {
    Route {
        method,
        path,
        handler: Handler::Page(handler),
    }
}

/// ShieldConex, as `flavours::ALL` lists it.
pub struct ShieldConex;

/// What ShieldConex keeps in memory for one server.
#[derive(Default)]
pub struct ShieldConexState {
    pub rate_windows: ratelimit::RateWindows,
    pub callers: crate::auth::CallerMemo<caller::Caller>,
}

impl FlavourState for ShieldConexState {
    fn reset(&self) {
        self.rate_windows.clear();
        self.callers.clear();
    }
}

impl super::Flavour for ShieldConex {
    fn name(&self) -> &'static str {
        "shieldconex"
    }

    fn title(&self) -> &'static str {
        "ShieldConex"
    }

    fn prefix(&self) -> &'static str {
        "/shieldconex"
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

    fn handle(&self, app: &App, req: &Request) -> Response {
        let result = match ROUTES.lookup(&req.method, &req.path) {
            Routing::Found {
                handler: Handler::Api(handler),
                params,
                ..
            } => api_call(app, req, *handler, params.get("id")),
            Routing::Found {
                handler: Handler::Page(handler),
                params,
                ..
            } => handler(app, req, params.get("token")),
            Routing::Document => Ok(super::openapi_response(self, req)),
            Routing::OtherMethod { allow, .. } => Err(Error::MethodNotAllowed(allow)),
            Routing::Unlisted => Err(Error::NotFound),
        };
        result.unwrap_or_else(|e| e.render(&app.ids))
    }

    fn error_response(&self, app: &App, status: u16) -> Response {
        error::for_status(&app.ids, status)
    }

    fn state(&self, _config: &Config) -> Result<Box<dyn FlavourState>, String> {
        Ok(Box::new(ShieldConexState::default()))
    }

    fn parse_seed(&self, section: &str) -> Result<Box<dyn SeedSection>, SectionError> {
        Ok(Box::new(seed::Section::parse(section)?))
    }

    fn demo(&self) -> Demo {
        Demo {
            seed: include_str!("demo.json"),
            hashes: &[("waterford123", "$argon2id$v=19$m=19456,t=2,p=1$IvSUpiWVHokfODPXv45tWQ$pDJFkEgUvrDhR/M2A8DH0hXQj86v4LgVtV/fzzm7/Po")],
            banner: "Basic waterford@example.com:waterford123 (partner 792, sub-partner 793, client 744)",
        }
    }

    fn fresh_tenant(&self, ids: &Ids, tag: &str) -> Result<Box<dyn FreshTenant>, String> {
        Ok(Box::new(seed::Fresh::new(ids, tag)?))
    }

    fn delete_tenant(&self, tx: &crate::db::Transaction, key: &str) -> crate::db::Result<()> {
        match key.parse() {
            Ok(id) => seed::delete_tenant(tx, id),
            Err(_) => Ok(()),
        }
    }

    fn records(
        &self,
        conn: &crate::db::Connection,
        page: super::Page,
    ) -> crate::db::Result<Vec<super::Records>> {
        records::tables(conn, page)
    }
}

/// An API call: authenticates, counts the request, runs the handler, and adds the
/// rate-limit headers to a success.
fn api_call(
    app: &App,
    req: &Request,
    handler: fn(&App, &Request, &caller::Caller, &str) -> Result<Response, Error>,
    id: &str,
) -> Result<Response, Error> {
    let caller = caller::authenticate(app, req)?;
    let quota = ratelimit::hit(app, caller.user_id, app.clock.now_ms());
    let response = handler(app, req, &caller, id)?;
    Ok(quota.apply(response))
}

/// A JSON response whose keys keep the order of the struct's fields (the vendor's order;
/// a `serde_json::Value` would sort them).
/// Serializing these structs cannot fail; if it ever did, the answer is a bare 500.
pub(crate) fn json_response(status: u16, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::empty(status)
            .with_header("Content-Type", "application/json")
            .with_body(bytes),
        Err(e) => {
            crate::log::line(format!(
                "shieldconex: internal error: serializing a response: {e}"
            ));
            Response::empty(500)
        }
    }
}

/// The `CreateResult` / `UpdateResult` of every POST and PATCH: `200 {"id": N}`.
fn id_response(id: i64) -> Response {
    #[derive(Serialize)]
    struct IdOnly {
        id: i64,
    }
    json_response(200, &IdOnly { id })
}
