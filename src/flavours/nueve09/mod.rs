//! Nueve09 (docs/nueve09.md): an account logs in for a bearer token, reads the States
//! Catalog, and creates sub-clients funded from its own `available`; each sub-client is an
//! account with its own API key.
//!
//! What it answers is `ROUTES` below, one row per operation with its handler (below the
//! `/nueve09` mount, or at the root of `--listen-nueve09`); `openapi.json` documents the
//! same. The router asks the table first: 404 for an unknown path, 405 with `Allow` for
//! another method, before authentication.
//!
//! Login answers and fails in the login envelope `{"status": {...}, "data": ...}`; everything
//! else in the create envelope `{"success", "code", "message", "data"}` (see `error.rs`).

mod accounts;
mod clients;
pub mod error;
mod form;
mod login;
pub mod money;
mod records;
pub mod rules;
pub mod seed;
mod states;
pub mod token;

use serde_json::{json, Value};

use super::{Demo, FlavourOption, FreshTenant, SectionError, SeedSection};
use crate::app::{App, FlavourState};
use crate::config::Config;
use crate::http::{Request, Response};
use crate::ids::Ids;
use crate::router::{Params, Route, Routing, Table};

pub use error::{Envelope, Error, FieldErrors};

/// What answers a Nueve09 route: the request and the path's `{id}`, if any.
type Handler = fn(&App, &Request, &Params) -> Result<Response, Error>;

/// Every operation this flavour answers, each with its handler; `openapi.json` documents
/// exactly these (and `GET /openapi.json`, which every table answers).
static ROUTES: Table<Handler> = Table::<Handler>::new(&[
    Route {
        method: "POST",
        path: "/auth/login",
        handler: |app, req, _| login::log_in(app, req),
    },
    Route {
        method: "GET",
        path: "/catalogs/states",
        handler: |app, req, _| states::list_states(app, req),
    },
    Route {
        method: "POST",
        path: "/clients",
        handler: |app, req, _| clients::create_client(app, req),
    },
    Route {
        method: "GET",
        path: "/clients",
        handler: |app, req, _| clients::list_clients(app, req),
    },
    Route {
        method: "GET",
        path: "/clients/{id}",
        handler: |app, req, p| clients::get_client(app, req, p.get("id")),
    },
])
.with_path_rule(&rules::PATH);

/// Nueve09, as `flavours::ALL` lists it.
pub struct Nueve09;

/// Nueve09's per-process state: its options.
pub struct Nueve09State {
    /// Cents an account must keep after funding a sub-client (`--nueve09-min-balance`).
    pub min_balance_cents: i64,
    /// The token-signing key given at startup; `None`: one kept in the database.
    pub signing_key: Option<token::SigningKey>,
    /// Where the signing key comes from or is kept, said at startup.
    key_notice: String,
}

impl FlavourState for Nueve09State {
    fn notice(&self) -> Option<String> {
        Some(self.key_notice.clone())
    }
}

const MIN_BALANCE: &str = "nueve09-min-balance";

impl super::Flavour for Nueve09 {
    fn name(&self) -> &'static str {
        "nueve09"
    }

    fn title(&self) -> &'static str {
        "Nueve09"
    }

    fn prefix(&self) -> &'static str {
        "/nueve09"
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

    /// The account a bearer token names, or on the login path the one its `api_key` names.
    fn caller_tenant(&self, app: &App, req: &Request) -> Option<String> {
        if req.header("Authorization").is_some() {
            return token::account_named(app, req);
        }
        if req.path.trim_end_matches('/') != "/auth/login" {
            return None;
        }
        let body = crate::http::json_body(req).ok()?;
        let api_key = body.pointer("/api_client/api_key")?.as_str()?;
        let found = app
            .store
            .read(|conn| accounts::Account::by_api_key(conn, api_key));
        found.ok()?.map(|(account, _)| account.id)
    }

    fn handle(&self, app: &App, req: &Request) -> Response {
        // The login answers in its own envelope, errors included; everything else in the API's.
        let envelope = match req.segments().as_slice() {
            ["auth", "login"] => Envelope::Login,
            _ => Envelope::Api,
        };
        let result = match ROUTES.lookup(&req.method, &req.path) {
            Routing::Found {
                handler, params, ..
            } => handler(app, req, &params),
            Routing::Document => Ok(super::openapi_response(self, req)),
            Routing::OtherMethod { allow, .. } => Err(Error::MethodNotAllowed(allow)),
            Routing::Unlisted => Err(Error::NotFound),
        };
        result.unwrap_or_else(|e| e.render(envelope))
    }

    fn error_response(&self, _app: &App, status: u16) -> Response {
        error::for_status(status)
    }

    fn options(&self) -> &'static [FlavourOption] {
        &[
            FlavourOption {
                long: MIN_BALANCE,
                value_name: "AMOUNT",
                help: "Nueve09: the least `available` (pesos) an account keeps after funding \
                       a sub-client",
                default: Some("0"),
                secret: false,
                conflicts_with: None,
                check: |text| money::parse_min_balance(text).map(|_| ()),
            },
            FlavourOption {
                long: token::KEY_FILE,
                value_name: "PATH",
                help: "Nueve09: sign login tokens with the key in this file (at least 32 \
                       bytes; surrounding whitespace is ignored) instead of one made and kept \
                       in the database",
                default: None,
                secret: false,
                conflicts_with: Some(token::KEY),
                check: |_| Ok(()),
            },
            FlavourOption {
                long: token::KEY,
                value_name: "KEY",
                help: "Nueve09: the token-signing key itself (at least 32 bytes); prefer the \
                       environment variable or --nueve09-signing-key-file, as a command line \
                       is visible to other users",
                default: None,
                secret: true,
                conflicts_with: None,
                check: |_| Ok(()),
            },
        ]
    }

    fn state(&self, config: &Config) -> Result<Box<dyn FlavourState>, String> {
        let options = &config.flavour_options;
        let min_balance_cents = match options.get(MIN_BALANCE) {
            Some(text) => {
                money::parse_min_balance(text).map_err(|e| format!("--{MIN_BALANCE}: {e}"))?
            }
            None => 0,
        };
        Ok(Box::new(Nueve09State {
            min_balance_cents,
            signing_key: token::configured_key(options)?,
            key_notice: token::key_notice(options, &config.db),
        }))
    }

    fn parse_seed(&self, section: &str) -> Result<Box<dyn SeedSection>, SectionError> {
        Ok(Box::new(seed::Section::parse(section)?))
    }

    fn demo(&self) -> Demo {
        Demo {
            seed: include_str!("demo.json"),
            hashes: &[("password", "$argon2id$v=19$m=19456,t=2,p=1$r2PCZeUlxY55VtketQ11Dw$RyFj+hnEEyQFZXOaNhIEb8o40M7Zzd7TtDhHDR1ZAco")],
            banner: "POST /nueve09/auth/login {\"api_client\":{\"api_key\":\"api_key\",\"password\":\"password\"}}",
        }
    }

    fn fresh_tenant(&self, ids: &Ids, tag: &str) -> Result<Box<dyn FreshTenant>, String> {
        Ok(Box::new(seed::Fresh::new(ids, tag)?))
    }

    fn delete_tenant(&self, tx: &crate::db::Transaction, key: &str) -> crate::db::Result<()> {
        seed::delete_tenant(tx, key)
    }

    fn records(
        &self,
        conn: &crate::db::Connection,
        page: super::Page,
    ) -> crate::db::Result<Vec<super::Records>> {
        records::tables(conn, page)
    }
}

/// A success in the create envelope of the vendor's create-client example: `{"success":
/// true, "code": 0, "message": "OK", "data": ...}`.
fn ok(data: Value) -> Response {
    Response::json(
        200,
        &json!({"success": true, "code": 0, "message": "OK", "data": data}),
    )
}

/// Nueve09 marks `Content-Type: application/json` required on the calls with a body: 400
/// without it (unless lenient).
fn require_json(req: &Request) -> Result<(), Error> {
    if !req.content_type_is("application/json") && crate::conformance::refuse(&rules::CONTENT_TYPE)
    {
        return Err(Error::BadRequest(
            "Content-Type: application/json is required".into(),
        ));
    }
    Ok(())
}
