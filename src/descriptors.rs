//! The process's open files as a budget. Every connection holds one descriptor (its socket)
//! for as long as it is open; the database, the mail and the log hold the others. A process
//! that runs out cannot accept, open a SQLite reader or append to the mbox, so the cap on
//! connections is set at startup from the limit on open files, with room kept for the rest,
//! and the server sheds or refuses connections before it gets there (docs/deploy.md,
//! "Limits").

use nix::sys::resource::{getrlimit, setrlimit, Resource};

use crate::config::Config;

/// Connections allowed however low the limit: below it the server may still run out, and
/// says so at startup.
const FEWEST_CONNECTIONS: u64 = 8;

/// Descriptors kept whatever the configuration: standard streams, listeners, the database
/// lock, the mbox or the SMTP connection, the signal pipe, files read now and then.
const BASE_RESERVE: u64 = 32;

/// The open-files limit and what it leaves for connections.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// The soft limit on open files now.
    pub limit: u64,
    /// The soft limit before startup raised it, if it did.
    pub raised_from: Option<u64>,
    /// Descriptors kept for everything but connections.
    pub reserve: u64,
    /// Connections the server holds at most, on all listeners together.
    pub connections: usize,
    /// True when `--max-connections` set `connections`, not the limit.
    pub by_option: bool,
}

impl Budget {
    /// The startup line on stderr.
    pub fn summary(&self) -> String {
        let why = if self.by_option {
            "--max-connections"
        } else {
            "what the open-files limit leaves"
        };
        let raised = self
            .raised_from
            .map_or(String::new(), |from| format!(", raised from {from}"));
        let mut line = format!(
            "clientele: at most {} connections at once ({why}): one descriptor each, within \
             the limit of {} open files{raised}, of which {} are kept for the database, mail \
             and logs",
            self.connections, self.limit, self.reserve
        );
        if self.limit < self.reserve + FEWEST_CONNECTIONS {
            line.push_str(
                "; WARNING: that limit is too low to serve safely, raise it (ulimit -n, or \
                 LimitNOFILE= in a systemd unit)",
            );
        }
        line
    }
}

/// Raises the soft limit on open files to the hard one, as servers commonly do (the soft
/// limit is kept low for programs that use select(2), which this one never does), and works
/// out the connections the result allows when at most `requests` are handled at once.
pub fn budget(config: &Config, requests: usize) -> Budget {
    let (limit, raised_from) = raise_soft_limit();
    let reserve = reserve(config, requests as u64);
    let allowed = limit.saturating_sub(reserve).max(FEWEST_CONNECTIONS);
    let by_option = config.max_connections as u64 <= allowed;
    Budget {
        limit,
        raised_from,
        reserve,
        connections: if by_option {
            config.max_connections
        } else {
            usize::try_from(allowed).unwrap_or(usize::MAX)
        },
        by_option,
    }
}

/// The soft limit now, and before if it was raised. Where the limits cannot be read (not
/// Unix), the kernel's usual 1024 is assumed.
fn raise_soft_limit() -> (u64, Option<u64>) {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return (1024, None);
    };
    if soft >= hard || setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_err() {
        return (soft, None);
    }
    (hard, Some(soft))
}

/// Descriptors that are not connections: each request in flight may hold a SQLite reader
/// (the database file and its WAL, two descriptors) beside the writer; on PostgreSQL each
/// pooled connection is a socket and its client's event loop (three).
fn reserve(config: &Config, requests: u64) -> u64 {
    let database = if crate::store::is_postgres_url(&config.db) {
        3 * config.db_pool as u64
    } else {
        2 * (requests + 1)
    };
    BASE_RESERVE + database
}
