//! Black-box tests: each spawns the real `clientele` binary on a free port with its own
//! database file, and talks HTTP to it over a socket. One test binary, one module per area.

mod browser;
mod conformance;
mod console;
mod console_browser;
mod core;
mod crowds;
mod docs;
mod embedding;
mod fixture;
mod framing;
mod front;
mod instances;
mod mail_delivery;
mod makeleaps;
mod mx;
mod mx_dashboard;
mod mx_mail;
mod nueve09;
mod openapi;
mod postgres_tls;
mod robustness;
mod secrets;
mod shieldconex;
mod smtp_connections;
mod smtp_relay;
mod smtp_sink;
mod socket_limits;
mod startup;
mod structure;
mod support;
mod tls;
