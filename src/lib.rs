//! Clientele: four vendors' client-onboarding APIs (MX, ShieldConex, Nueve09, MakeLeaps) in
//! one synchronous binary with SQLite inside.
//!
//! The binary is a thin wrapper over this library so that Rust tests can run the same server
//! in-process. Reading order: `cli` (options) → `server` (listeners, workers, dispatch) →
//! `flavours` (one folder per vendor) → the shared plumbing they call (`http`, `store`,
//! `auth`, `links`, `mail`, `seed`, `clock`, `ids`) → the test-fixture side (`admin` with
//! `journal`, `faults`, `tenants`; `testing` for in-process servers).

pub mod admin;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod dblock;
pub mod faults;
pub mod flavours;
pub mod housekeeping;
pub mod http;
pub mod ids;
pub mod journal;
pub mod links;
pub mod log;
pub mod mail;
pub mod seed;
pub mod server;
pub mod store;
pub mod tenants;
pub mod testing;
