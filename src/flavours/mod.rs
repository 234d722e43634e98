//! The flavours: each vendor's API as one value that owns everything that makes that vendor
//! that vendor, behind the `Flavour` trait, and `ALL`, the one list of them.
//!
//! A flavour folder holds its routes (one `router::Table` of method, path template and
//! handler), validation, error format, SQL, seed section, tenant sets, options, per-process
//! state, housekeeping and OpenAPI document (`<flavour>/openapi.json`, which must list
//! exactly the table's operations: `tests/it/openapi.rs` checks both ways). The shared
//! modules (`server`, `cli`, `seed`, `tenants`, `housekeeping`, `admin`, `app`) loop over
//! `ALL` and name no vendor.
//!
//! Adding a fifth vendor is one new folder with a value that implements `Flavour`, and one
//! line in `ALL`: its prefix, `--listen-<name>` option, options, seed section, tenant sets,
//! faults and journal entries follow from there.

pub mod makeleaps;
pub mod mx;
pub mod nueve09;
pub mod shieldconex;

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::app::{App, FlavourState};
use crate::auth::Hasher;
use crate::config::Config;
use crate::http::{Request, Response};
use crate::ids::Ids;
use crate::router::OPENAPI_PATH;

/// Every flavour, in the order the main listener tries their prefixes and seeds apply.
pub static ALL: &[&dyn Flavour] = &[
    &mx::Mx,
    &shieldconex::ShieldConex,
    &nueve09::Nueve09,
    &makeleaps::MakeLeaps,
];

/// The flavour called `name` (`mx`, ...).
pub fn by_name(name: &str) -> Option<&'static dyn Flavour> {
    ALL.iter().copied().find(|f| f.name() == name)
}

/// One vendor's whole behaviour.
pub trait Flavour: Sync {
    /// The one lowercase word used for this flavour everywhere (prefix, options, seed
    /// section, logs, journal).
    fn name(&self) -> &'static str;

    /// How the vendor writes its own name (`MX`, `ShieldConex`), for help texts.
    fn title(&self) -> &'static str;

    /// Where the main listener mounts it (`/mx`); the vendor's paths follow unchanged.
    fn prefix(&self) -> &'static str;

    /// The OpenAPI 3.1 document as written: its `servers` name the main listener's mount.
    fn openapi(&self) -> &'static str;

    /// Every (method, path template) it answers, from its route table.
    fn operations(&self) -> Vec<(&'static str, &'static str)>;

    /// Answers a request whose `path` is relative to the mount point: the route table, then
    /// the handler, every error in the vendor's format.
    fn handle(&self, app: &App, req: &Request) -> Response;

    /// The tenant a request's credentials name, for the journal and the conformance counts,
    /// when the handler did not say (`conformance::tenant`): a request refused before its
    /// credentials were checked (a path or header mistake) or with wrong ones. It names,
    /// it does not authenticate: no secret is checked. By default the Basic user.
    fn caller_tenant(&self, _app: &App, req: &Request) -> Option<String> {
        crate::auth::parse_basic(req.header("Authorization")).map(|(user, _)| user)
    }

    /// The vendor's own error answer for `status`, with nothing more to say than the
    /// status: an injected fault without a body, and a handler that panicked (500).
    fn error_response(&self, app: &App, status: u16) -> Response;

    /// The command-line options this flavour adds (`--nueve09-min-balance`).
    fn options(&self) -> &'static [FlavourOption] {
        &[]
    }

    /// Its per-process state, made at startup from its options (`config.flavour_options`).
    fn state(&self, _config: &Config) -> Result<Box<dyn FlavourState>, String> {
        Ok(Box::new(()))
    }

    /// Parses and checks its section of a seed document (its JSON text; `{}` when the
    /// document has none); the error names the offending field.
    fn parse_seed(&self, section: &str) -> Result<Box<dyn SeedSection>, SectionError>;

    /// Its section of the demo seed (the vendor's documentation examples), the argon2id
    /// hashes of the demo secrets (so `serve --demo` does not hash at every start), and the
    /// line `serve --demo` prints on how to call it.
    fn demo(&self) -> Demo;

    /// A fresh tenant with random ids and credentials, for `POST /_admin/tenants`.
    fn fresh_tenant(&self, ids: &Ids, tag: &str) -> Result<Box<dyn FreshTenant>, String>;

    /// Deletes the tenant `key` (what `FreshTenant::insert` returned) with all its data.
    fn delete_tenant(&self, tx: &crate::db::Transaction, key: &str) -> crate::db::Result<()>;

    /// Statements that delete its rows nobody can use any more, run every few minutes;
    /// `?1` is now (Unix ms).
    fn housekeeping(&self) -> &'static [&'static str] {
        &[]
    }

    /// The rules of the vendor's contract that it checks (`conformance`), each documented
    /// in `docs/<name>.md`.
    fn conformance_rules(&self) -> &'static [&'static crate::conformance::Rule] {
        &[]
    }

    /// Admin calls of its own under `/_admin` (path below `/_admin`).
    fn admin_routes(&self) -> &'static [crate::router::Route<AdminHandler>] {
        &[]
    }

    /// Its tenants and their records as plain tables, for the admin console: one page of
    /// each table (`page` rows from `offset`), read in `conn`.
    fn records(
        &self,
        _conn: &crate::db::Connection,
        _page: Page,
    ) -> crate::db::Result<Vec<Records>> {
        Ok(Vec::new())
    }
}

/// Which rows of each table `Flavour::records` shows.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Page {
    /// `LIMIT ?, OFFSET ?` values asking for one row more than the page, so that a table
    /// knows whether there is a next page (`Records::new` drops that row).
    pub fn sql(self) -> (i64, i64) {
        (
            i64::try_from(self.limit + 1).unwrap_or(i64::MAX),
            i64::try_from(self.offset).unwrap_or(i64::MAX),
        )
    }
}

/// One table of a flavour's tenants or records, every cell plain text (the console escapes).
#[derive(Debug)]
pub struct Records {
    pub title: &'static str,
    pub columns: &'static [&'static str],
    pub rows: Vec<RecordRow>,
    /// There are rows after this page.
    pub more: bool,
}

impl Records {
    /// A table from the rows a `Page::sql` query returned (one more than the page at most).
    pub fn new(
        title: &'static str,
        columns: &'static [&'static str],
        mut rows: Vec<RecordRow>,
        page: Page,
    ) -> Records {
        let more = rows.len() > page.limit;
        rows.truncate(page.limit);
        Records {
            title,
            columns,
            rows,
            more,
        }
    }
}

/// One row: its cells, and the flavour's admin calls that act on it.
#[derive(Debug, Default)]
pub struct RecordRow {
    pub cells: Vec<String>,
    pub actions: Vec<RecordAction>,
}

impl RecordRow {
    pub fn of(cells: Vec<String>) -> RecordRow {
        RecordRow {
            cells,
            actions: Vec::new(),
        }
    }
}

/// A button on a row: a `POST` to one of the flavour's `admin_routes` (path below `/_admin`).
#[derive(Debug)]
pub struct RecordAction {
    pub label: &'static str,
    pub path: String,
    pub kind: ActionKind,
}

/// What an action does, as far as its button's look goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Moves a record on (approve).
    Ordinary,
    /// Refuses or removes something for good (reject, delete): the button warns.
    Destructive,
}

/// An admin call a flavour adds, on the `{name}` segments of its path: its answer (200), or
/// why not. It knows no HTTP: the admin API and the console both reach it (`admin`).
pub type AdminHandler = fn(&App, &crate::router::Params) -> Result<Value, AdminError>;

/// Why a flavour's admin call did not succeed.
#[derive(Debug)]
pub enum AdminError {
    /// 404 with this message.
    NotFound(&'static str),
    /// 500: `what` failed, for this logged reason.
    Failed { what: &'static str, detail: String },
}

/// A command-line option of one flavour; `cli` turns it into `--<long>` with its
/// environment variable, and `Config::flavour_options` carries the value given.
pub struct FlavourOption {
    /// `nueve09-min-balance`: the option is `--nueve09-min-balance`, the variable
    /// `CLIENTELE_NUEVE09_MIN_BALANCE`.
    pub long: &'static str,
    pub value_name: &'static str,
    pub help: &'static str,
    pub default: Option<&'static str>,
    /// A secret: `--help` does not show the environment variable's value.
    pub secret: bool,
    /// Another option of the flavour (its long name) that may not be given with this one.
    pub conflicts_with: Option<&'static str>,
    /// Refuses a value the flavour could not use (at parse time, with the option named).
    pub check: fn(&str) -> Result<(), String>,
}

/// The values of the flavours' options, by long name.
pub type OptionValues = BTreeMap<String, String>;

/// A flavour's part of the demo seed.
pub struct Demo {
    pub seed: &'static str,
    pub hashes: &'static [(&'static str, &'static str)],
    pub banner: &'static str,
}

/// A flavour's section of a seed document, parsed and checked.
pub trait SeedSection: Any + Send + Sync + std::fmt::Debug {
    /// Hashes every secret (dropping the plain text) and fixes generated ids, so that
    /// applying it again (a reset) gives the same tenants without hashing again.
    fn prepare(&mut self, hash: Hasher, ids: &Ids);

    /// Inserts what is not there yet (idempotent).
    fn apply(&self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<()>;

    /// How many tenants of each kind it names, for the admin API's answer.
    fn summary(&self) -> Value;
}

/// One flavour's tenant of a tenant set, from creation to the credentials a test gets.
pub trait FreshTenant {
    /// Stores its secrets as `hash` makes them (for a tenant set, digests of generated
    /// secrets); called outside the write lock.
    fn prepare(&mut self, hash: Hasher, ids: &Ids);

    /// Writes it inside the set's transaction (taking any ids that depend on the data);
    /// returns the key that `Flavour::delete_tenant` takes.
    fn insert(&mut self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<String>;

    /// What a test needs to call the flavour as this tenant.
    fn credentials(&self) -> Value;
}

/// The document for a request mounted at `mount`: as written under the flavour's prefix; on
/// a dedicated listener (no prefix) with the prefix taken out of `servers` and of OAuth2
/// token URLs, so that clients generated from it call the right paths. That variant is made
/// once per flavour (re-serialized, so its keys come out sorted).
pub fn openapi_for_mount(flavour: &dyn Flavour, mount: &str) -> &'static str {
    if mount == flavour.prefix() {
        return flavour.openapi();
    }
    static DEDICATED: OnceLock<Vec<String>> = OnceLock::new();
    let documents = DEDICATED.get_or_init(|| ALL.iter().map(|f| openapi_at_root(*f)).collect());
    ALL.iter()
        .position(|f| f.name() == flavour.name())
        .and_then(|i| documents.get(i))
        .map_or(flavour.openapi(), String::as_str)
}

fn openapi_at_root(flavour: &dyn Flavour) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(flavour.openapi()) else {
        // A unit test parses every document; this only keeps a broken build from panicking.
        return flavour.openapi().to_string();
    };
    let prefix = flavour.prefix();
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
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| flavour.openapi().to_string())
}

/// `GET /openapi.json`: the document, no authentication.
pub fn openapi_response(flavour: &dyn Flavour, req: &Request) -> Response {
    Response::empty(200)
        .with_header("Content-Type", "application/json")
        .with_body(openapi_for_mount(flavour, &req.mount).as_bytes().to_vec())
}

/// True for the request every flavour answers before its faults: `GET /openapi.json`.
pub fn is_document_request(req: &Request) -> bool {
    req.method == "GET" && req.path == OPENAPI_PATH
}

/// The reason phrase that vendors' generic error bodies carry for `status`.
pub fn reason(status: u16) -> &'static str {
    match status {
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
    }
}

/// Why a seed section was refused.
#[derive(Debug)]
pub enum SectionError {
    /// Not the section's shape (serde's words, with a position in the section's text).
    Json(serde_json::Error),
    /// The shape, but a value the flavour cannot use.
    Invalid(String),
}

impl std::fmt::Display for SectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SectionError::Json(e) => e.fmt(f),
            SectionError::Invalid(message) => f.write_str(message),
        }
    }
}

/// Parses a seed section's text with serde and checks it with `validate`.
pub fn parse_section<T>(
    section: &str,
    validate: impl FnOnce(&T) -> Result<(), String>,
) -> Result<T, SectionError>
where
    T: serde::de::DeserializeOwned,
{
    let parsed: T = serde_json::from_str(section).map_err(SectionError::Json)?;
    validate(&parsed).map_err(SectionError::Invalid)?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::METHOD_ORDER;

    #[test]
    fn conformance_rules_are_named_after_their_flavour_once() {
        let mut codes = Vec::new();
        for flavour in ALL {
            assert!(
                !flavour.conformance_rules().is_empty(),
                "{}",
                flavour.name()
            );
            for rule in flavour.conformance_rules() {
                let prefix = format!("{}.", flavour.name());
                assert!(rule.code.starts_with(&prefix), "{}", rule.code);
                assert!(!codes.contains(&rule.code), "{} twice", rule.code);
                assert!(rule.rule.ends_with('.'), "{}", rule.code);
                let doc = format!("docs/{}.md", flavour.name());
                assert!(
                    rule.source.starts_with("http") || rule.source.starts_with(&doc),
                    "{}",
                    rule.code
                );
                codes.push(rule.code);
            }
        }
    }

    #[test]
    fn names_and_prefixes_are_unique() {
        for (i, flavour) in ALL.iter().enumerate() {
            assert_eq!(flavour.prefix(), format!("/{}", flavour.name()));
            assert!(by_name(flavour.name()).is_some());
            assert!(ALL[..i].iter().all(|f| f.name() != flavour.name()));
        }
    }

    #[test]
    fn every_route_table_is_well_formed() {
        for flavour in ALL {
            let operations = flavour.operations();
            assert!(
                operations.contains(&("GET", OPENAPI_PATH)),
                "{}",
                flavour.name()
            );
            for (i, (method, template)) in operations.iter().enumerate() {
                assert!(METHOD_ORDER.contains(method), "{} {method}", flavour.name());
                assert!(template.starts_with('/'), "{} {template}", flavour.name());
                assert!(
                    !operations[..i].contains(&(method, template)),
                    "{method} {template} twice"
                );
            }
        }
    }

    #[test]
    fn documents_parse_and_move_to_the_root_on_a_dedicated_listener() {
        for flavour in ALL {
            let doc: Value = serde_json::from_str(flavour.openapi()).expect("valid JSON");
            assert_eq!(doc["servers"][0]["url"], flavour.prefix());
            let at_root: Value =
                serde_json::from_str(openapi_for_mount(*flavour, "")).expect("valid JSON");
            assert_eq!(at_root["servers"][0]["url"], "/");
            assert_eq!(at_root["paths"], doc["paths"]);
        }
        let makeleaps = by_name("makeleaps").unwrap();
        let at_root: Value = serde_json::from_str(openapi_for_mount(makeleaps, "")).unwrap();
        let flow = &at_root["components"]["securitySchemes"]["partnerToken"]["flows"];
        assert_eq!(flow["clientCredentials"]["tokenUrl"], "/user/oauth2/token/");
    }
}
