//! MX Client Enablement API (docs/mx.md): a processor creates a client, and MX e-mails the
//! client a one-time link to register on the Client Dashboard.
//!
//! What it answers is `ROUTES` below, one row per operation with its handler (below the
//! `/mx` mount, or at the root of `--listen-mx`); `openapi.json` documents the same.
//!
//! Errors are `{"error": "..."}` with MX's platform status codes (docs/mx.md).

mod clients;
mod dashboard;
pub mod error;
mod invitation;
mod invitations;
mod pages;
mod records;
pub mod reviews;
pub mod rules;
pub mod seed;

use super::{Demo, FlavourOption, FreshTenant, SectionError, SeedSection};
use crate::app::{App, FlavourState};
use crate::config::Config;
use crate::http::{Request, Response};
use crate::ids::Ids;
use crate::router::{Params, Route, Routing, Table};

pub use error::Error;

/// The purpose of the one-time links in invitation mails.
const REGISTER_LINK: &str = "mx.register";

/// What answers an MX route: the request and the path's `{token}`, if any.
type Handler = fn(&App, &Request, &Params) -> Result<Response, Error>;

/// Every operation this flavour answers, each with its handler; `openapi.json` documents
/// exactly these (and `GET /openapi.json`, which every table answers).
static ROUTES: Table<Handler> = Table::<Handler>::new(&[
    Route {
        method: "POST",
        path: "/clients",
        handler: |app, req, _| clients::create(app, req),
    },
    Route {
        method: "GET",
        path: "/dashboard/",
        handler: |app, req, _| dashboard::show_overview(app, req),
    },
    Route {
        method: "GET",
        path: "/dashboard/register/{token}",
        handler: |app, req, p| dashboard::show_register(app, req, p.get("token")),
    },
    Route {
        method: "POST",
        path: "/dashboard/register/{token}",
        handler: |app, req, p| dashboard::submit_register(app, req, p.get("token")),
    },
    Route {
        method: "GET",
        path: "/dashboard/login",
        handler: |app, req, _| Ok(dashboard::show_login(app, req)),
    },
    Route {
        method: "POST",
        path: "/dashboard/login",
        handler: |app, req, _| dashboard::submit_login(app, req),
    },
    Route {
        method: "POST",
        path: "/dashboard/logout",
        handler: |app, req, _| dashboard::submit_logout(app, req),
    },
])
.with_path_rule(&rules::PATH);

/// MX, as `flavours::ALL` lists it.
pub struct Mx;

/// MX's per-process state: its option.
pub struct MxState {
    /// Creates from outside these networks wait for manual review; `None` trusts all.
    pub trusted_networks: Option<Vec<ipnet::IpNet>>,
}

impl FlavourState for MxState {}

const TRUSTED_NETWORKS: &str = "trusted-networks";

impl super::Flavour for Mx {
    fn name(&self) -> &'static str {
        "mx"
    }

    fn title(&self) -> &'static str {
        "MX"
    }

    fn prefix(&self) -> &'static str {
        "/mx"
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
                handler, params, ..
            } => handler(app, req, &params),
            Routing::Document => Ok(super::openapi_response(self, req)),
            Routing::OtherMethod { allow, .. } => Err(Error::MethodNotAllowed(allow)),
            Routing::Unlisted => Err(Error::NotFound),
        };
        result.unwrap_or_else(|e| e.render())
    }

    fn error_response(&self, _app: &App, status: u16) -> Response {
        error::for_status(status)
    }

    fn options(&self) -> &'static [FlavourOption] {
        &[FlavourOption {
            long: TRUSTED_NETWORKS,
            value_name: "CIDRS",
            help: "MX: creates from other addresses wait for manual review (comma-separated \
                   CIDRs, e.g. 127.0.0.0/8,10.0.0.0/8); default: all trusted",
            default: None,
            secret: false,
            conflicts_with: None,
            check: |text| crate::config::parse_cidrs(text).map(|_| ()),
        }]
    }

    fn state(&self, config: &Config) -> Result<Box<dyn FlavourState>, String> {
        let trusted_networks = config
            .flavour_options
            .get(TRUSTED_NETWORKS)
            .map(|text| crate::config::parse_cidrs(text))
            .transpose()
            .map_err(|e| format!("--{TRUSTED_NETWORKS}: {e}"))?;
        Ok(Box::new(MxState { trusted_networks }))
    }

    fn parse_seed(&self, section: &str) -> Result<Box<dyn SeedSection>, SectionError> {
        Ok(Box::new(seed::Section::parse(section)?))
    }

    fn demo(&self) -> Demo {
        Demo {
            seed: include_str!("demo.json"),
            hashes: &[("API-KEY-4567", "$argon2id$v=19$m=19456,t=2,p=1$rQt7tbIw0eNuTimcHT1UFg$zuJnAHrQ4VD5bwfxzw2z/Rp/RNWHHLdFuvuHhUlvau4")],
            banner: "Basic PROCESSOR-1234:API-KEY-4567 (Authorization: Basic UFJPQ0VTU09SLTEyMzQ6QVBJLUtFWS00NTY3)",
        }
    }

    fn fresh_tenant(&self, ids: &Ids, tag: &str) -> Result<Box<dyn FreshTenant>, String> {
        Ok(Box::new(seed::Fresh::new(ids, tag)?))
    }

    fn delete_tenant(&self, tx: &crate::db::Transaction, key: &str) -> crate::db::Result<()> {
        seed::delete_tenant(tx, key)
    }

    fn admin_routes(&self) -> &'static [Route<super::AdminHandler>] {
        reviews::ADMIN_ROUTES
    }

    fn records(
        &self,
        conn: &crate::db::Connection,
        page: super::Page,
    ) -> crate::db::Result<Vec<super::Records>> {
        records::tables(conn, page)
    }
}
