//! Clientele: vendors' client-onboarding APIs in one synchronous binary with SQLite inside;
//! `flavours::ALL` lists them.
//!
//! The binary is a thin wrapper over this library so that Rust tests can run the same server
//! in-process. Module map, in reading order:
//!
//! - `cli` turns options and the environment into a plain `config::Config`; `server::start`
//!   takes one (so does `testing::Server`) and wires the program: store, `app::App`,
//!   listeners, the mail sender and the housekeeping thread.
//! - `flavours`: one folder per vendor, each a value behind the `Flavour` trait that owns
//!   the vendor's routes, errors, SQL, seed section, tenant sets, options, per-process state,
//!   housekeeping and OpenAPI document; `flavours::ALL` is the one list of them. A new vendor
//!   is a new folder and one line there.
//! - `router`: the route tables the flavours write (method, path template, handler), from
//!   which dispatch, 404, 405 with `Allow`, HEAD/OPTIONS and the documented operations come.
//! - `app`: what handlers reach (store, clock, the server's own `ids::Ids`, settings, each
//!   flavour's state); nothing in it names a flavour.
//! - Shared plumbing the flavours call: `http`, `store`, `auth`, `links`, `mail`, `clock`,
//!   `ids`.
//! - The test-fixture side, composed from the flavours: `seed` (seed documents and the
//!   demo), `tenants` (tenant sets), `admin` with `journal` and `faults` (and `console`, its
//!   HTML pages for people), `housekeeping`, and
//!   `testing` for in-process servers.

pub mod admin;
pub mod admin_api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conformance;
pub mod console;
pub mod db;
pub mod dblock;
pub mod descriptors;
pub mod faults;
pub mod fixture_state;
pub mod flavours;
pub mod guesses;
pub mod housekeeping;
pub mod http;
pub mod ids;
pub mod journal;
pub mod links;
pub mod log;
pub mod mail;
pub mod markup;
pub mod pages;
pub mod record;
pub mod redact;
pub mod router;
pub mod seed;
pub mod server;
pub mod sessions;
pub mod startup;
pub mod store;
pub mod tenants;
pub mod testing;
pub mod tls;
