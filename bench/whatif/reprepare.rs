//! Evidence for bench/results/throughput-notes.md: with the bundled SQLite 3.54.1 of
//! libsqlite3-sys 0.39, every `prepare_cached` statement whose WHERE has `col = ?N` is
//! re-prepared (parsed and planned again) at every use, because the planner marks ?N
//! "re-prepare on rebind" (whereLoopOutputAdjust -> sqlite3ExprIsInteger(.., bRSI=1)) and
//! rusqlite's statement cache calls sqlite3_clear_bindings, which expires any statement with
//! such a mark. SQLITE_DBCONFIG_ENABLE_QPSG turns the marking off.
//!
//! Run it from a throwaway crate (not part of the build):
//!   cargo new /tmp/repro && cp bench/whatif/reprepare.rs /tmp/repro/src/main.rs
//!   cp Cargo.lock /tmp/repro/     # the same rusqlite and SQLite as the server
//!   # in /tmp/repro/Cargo.toml: rusqlite = { version = "0.41", features = ["bundled"] }
//!   cd /tmp/repro && cargo run --release --offline -- DB
//! where DB is a database that `clientele serve --demo` created. Measured here:
//!   as clientele reads (default): auth 10.93 us/query (19999 re-prepares in 20000),
//!                                 get 19.74 us/query (19999 re-prepares in 20000)
//!   with SQLITE_DBCONFIG_ENABLE_QPSG: auth 1.21 us/query (0 re-prepares in 20000),
//!                                     get 1.26 us/query (0 re-prepares in 20000)

use rusqlite::{config::DbConfig, Connection, OpenFlags, StatementStatus};
use std::time::Instant;

const AUTH: &str = "SELECT u.id, u.password_hash, u.user_role, u.partner_id, u.client_id, u.is_active,
                    c.id IS NOT NULL AND c.deleted_at IS NULL
             FROM sc_users u LEFT JOIN sc_clients c ON c.id = u.client_id
             WHERE u.user_name = ?1";
const GET: &str = "SELECT c.id, c.name, c.mid, c.is_active, c.created_at, c.modified_at, c.version,
                        dp.id, dp.name, u.id, u.first_name, u.last_name, u.email, c.billing_id,
                        c.location
                 FROM sc_clients c
                 JOIN sc_partners dp ON dp.id = c.direct_partner_id
                 LEFT JOIN sc_users u ON u.id = c.contact_id
                 WHERE c.id = ?1 AND c.deleted_at IS NULL";

fn run(conn: &Connection, label: &str) {
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        let mut s = conn.prepare_cached(AUTH).unwrap();
        let _: i64 = s.query_row(["waterford@example.com"], |r| r.get(0)).unwrap();
    }
    let auth_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let t = Instant::now();
    for _ in 0..n {
        let mut s = conn.prepare_cached(GET).unwrap();
        let _: i64 = s.query_row([744i64], |r| r.get(0)).unwrap();
    }
    let get_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let a = conn.prepare_cached(AUTH).unwrap().get_status(StatementStatus::RePrepare);
    let g = conn.prepare_cached(GET).unwrap().get_status(StatementStatus::RePrepare);
    println!("{label}: auth {auth_us:.2} us/query ({a} re-prepares in {n}), get {get_us:.2} us/query ({g} re-prepares in {n})");
}

fn main() {
    let path = std::env::args().nth(1).expect("db path");
    println!("sqlite {}", rusqlite::version());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&path, flags).unwrap();
    run(&conn, "as clientele reads (default)");
    let conn = Connection::open_with_flags(&path, flags).unwrap();
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).unwrap();
    run(&conn, "with SQLITE_DBCONFIG_ENABLE_QPSG");
}
