//! The store: where every record lives, on SQLite (`--db FILE`, `:memory:`, the default) or on
//! PostgreSQL (`--db postgres://…`). Both run the same SQL through `crate::db`, and both give
//! the same operations: `read`, and writes, each one atomic transaction. SQLite has one
//! writer, so its writes take turns. On PostgreSQL, where several instances may share the
//! database, a write says what it relies on: `write` needs the database to itself (it waits
//! for every other write, across every instance), `write_rows` relies on the rows it touches
//! (rows locked with `Transaction::prepare_for_update`, conditional updates, unique indexes)
//! and runs beside the others.

mod pg_tls;
mod postgres;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use crate::db;

pub use self::sqlite::{Durability, SCHEMA};

/// The PostgreSQL schema, numbered as `SCHEMA`.
pub const POSTGRES_SCHEMA: &str = include_str!("../../schema.postgres.sql");

#[derive(Debug)]
pub enum StoreError {
    Sqlite(rusqlite::Error),
    /// PostgreSQL refused the connection or a step of opening it, in words for the operator.
    Postgres(String),
    /// The database was written by a newer Clientele.
    TooNew {
        file: i64,
        binary: i64,
    },
    /// Another process serves the file, or its lock file cannot be made (`dblock`).
    Locked(String),
    /// The SQLite file opened, but only for reading.
    NotWritable(rusqlite::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "database error: {e}"),
            StoreError::Postgres(why) => f.write_str(why),
            StoreError::TooNew { file, binary } => write!(
                f,
                "the database is at schema version {file}, newer than this binary's {binary}; \
                 use a newer clientele"
            ),
            StoreError::Locked(why) => f.write_str(why),
            StoreError::NotWritable(e) => write!(
                f,
                "it cannot be written ({e}): give the user that runs clientele write access \
                 to the file and its folder, where SQLite keeps the -wal and -shm files"
            ),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

/// How to open the store (`--db`, `--durable`, `--db-pool`, `--db-timeout`).
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub durability: Durability,
    /// PostgreSQL: the most connections this instance opens.
    pub pool_size: usize,
    /// PostgreSQL: how long connecting, waiting for a free connection and one statement may
    /// take before the request is answered 503.
    pub timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Process,
            pool_size: 16,
            timeout: Duration::from_secs(5),
        }
    }
}

/// How messages name the database of `--db`: a file by its path, PostgreSQL without its URL
/// (which may hold a password).
pub fn describe(db: &str) -> String {
    if is_postgres_url(db) {
        "PostgreSQL database of --db".to_string()
    } else {
        format!("database {db}")
    }
}

/// A client connected to a `postgres://` URL as the server connects, libpq's `sslmode` and
/// `sslrootcert` included: for tools and tests that look at the database beside it.
pub fn postgres_client(url: &str) -> Result<::postgres::Client, String> {
    let (config, tls) = pg_tls::config(url)?;
    config.connect(tls.connector).map_err(|e| e.to_string())
}

/// Whether `--db` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

pub struct Store {
    engine: Engine,
}

enum Engine {
    Sqlite(Box<sqlite::SqliteStore>),
    Postgres(Box<postgres::PgStore>),
}

impl Store {
    /// Opens (creating if need be) and migrates the database `db`: a SQLite file, ":memory:",
    /// or a `postgres://` URL.
    pub fn open(db: &str, durability: Durability) -> Result<Arc<Store>, StoreError> {
        Store::open_with(
            db,
            &StoreOptions {
                durability,
                ..StoreOptions::default()
            },
        )
    }

    pub fn open_with(db: &str, options: &StoreOptions) -> Result<Arc<Store>, StoreError> {
        let engine = if is_postgres_url(db) {
            Engine::Postgres(Box::new(postgres::PgStore::open(db, options)?))
        } else {
            Engine::Sqlite(Box::new(sqlite::SqliteStore::open(db, options.durability)?))
        };
        Ok(Arc::new(Store { engine }))
    }

    /// Runs `f` as one atomic write: its changes are committed when `f` returns `Ok`, and none
    /// of them is kept otherwise. Returns only once the commit is done; the caller answers 2xx
    /// only after this returns `Ok`. It has the database to itself: no other write runs
    /// beside it, on any instance (see `write_rows` for the writes that can).
    pub fn write<T, E>(&self, f: impl FnOnce(&db::Transaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        match &self.engine {
            Engine::Sqlite(store) => store.write(f),
            Engine::Postgres(store) => store.write(f),
        }
    }

    /// Runs `f`'s statements one by one, each atomic by itself and none ordered with the
    /// other writes: counters (a single upsert each). SQLite runs them as any write; PostgreSQL
    /// outside any transaction, so each is one round trip that holds its row only while it
    /// runs, and without waiting for the disk (a crash may forget the last counts).
    pub fn tally<T, E>(&self, f: impl FnOnce(&db::Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        match &self.engine {
            Engine::Sqlite(store) => store.write(|tx| f(tx)),
            // A pooled connection outside any transaction, as a read takes: its session
            // commits without waiting for the disk (`postgres::open_connection`).
            Engine::Postgres(store) => store.read(f),
        }
    }

    /// Runs `f` as one atomic, durable write whose correctness rests on the rows it touches,
    /// so that on PostgreSQL it runs beside other such writes (requests on every instance)
    /// instead of after them. What `f` relies on must hold row by row:
    /// - a value read and then changed (a balance) is read with
    ///   `Transaction::prepare_for_update`, which locks its row until the commit;
    /// - a change that must happen once (a one-time link used, a mail leased) is one
    ///   conditional UPDATE, or rows taken with `FOR UPDATE SKIP LOCKED`;
    /// - a check that a name is free is backed by a unique index. When two writes race for
    ///   the same name, the loser's insert is refused; the store then runs `f` again (up to
    ///   three times in all, as for a deadlock), and its check now sees the winner and
    ///   answers as the vendor does. So `f` may run more than once: it must do nothing
    ///   outside the transaction.
    ///
    /// It still waits for a `write`, which needs the database to itself. SQLite runs it as
    /// any write.
    pub fn write_rows<T, E>(&self, f: impl FnMut(&db::Transaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        match &self.engine {
            Engine::Sqlite(store) => store.write(f),
            Engine::Postgres(store) => store.write_rows(f),
        }
    }

    /// Runs `f` with a connection to read with.
    pub fn read<T, E>(&self, f: impl FnOnce(&db::Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        match &self.engine {
            Engine::Sqlite(store) => store.read(f),
            Engine::Postgres(store) => store.read(f),
        }
    }

    /// Runs `f` (one request) with all its SQLite reads in one read transaction (one WAL
    /// snapshot instead of one per statement). PostgreSQL reads are not grouped.
    pub fn one_snapshot<T>(f: impl FnOnce() -> T) -> T {
        sqlite::SqliteStore::one_snapshot(f)
    }

    /// SQLite: checkpoints the whole WAL and truncates it, so that no older version of a page
    /// (a mail before its links were scrubbed) stays in it; false if a reader kept it from
    /// finishing. PostgreSQL keeps no such copy of ours: nothing to do.
    pub fn truncate_wal(&self) -> db::Result<bool> {
        match &self.engine {
            Engine::Sqlite(store) => Ok(store.truncate_wal()?),
            Engine::Postgres(_) => Ok(true),
        }
    }

    /// A number that changes whenever a transaction is committed to the database, by this
    /// process or by any other (someone editing the SQLite file with `sqlite3`), for caches
    /// of what was read from it; `None` when it cannot be known cheaply (PostgreSQL).
    pub fn version(&self) -> Option<u64> {
        match &self.engine {
            Engine::Sqlite(store) => store.version(),
            Engine::Postgres(_) => None,
        }
    }

    /// Whether the database answers now (`/healthz`).
    pub fn reachable(&self) -> Result<(), db::Error> {
        match &self.engine {
            Engine::Sqlite(store) => store.writable(),
            Engine::Postgres(store) => store.ping(),
        }
    }

    /// True when other processes may serve this database at the same time (instances on one
    /// PostgreSQL database): state they must all see goes into the database, not memory.
    /// A SQLite file has one server (`dblock`).
    pub fn shared_by_instances(&self) -> bool {
        matches!(self.engine, Engine::Postgres(_))
    }

    /// Which engine runs the store.
    pub fn dialect(&self) -> db::Dialect {
        match &self.engine {
            Engine::Sqlite(_) => db::Dialect::Sqlite,
            Engine::Postgres(_) => db::Dialect::Postgres,
        }
    }

    /// Deletes every row of every table (for `POST /_admin/reset`), in one transaction.
    pub fn delete_all(tx: &db::Transaction) -> db::Result<()> {
        match tx.dialect() {
            db::Dialect::Sqlite => sqlite::SqliteStore::delete_all(tx),
            db::Dialect::Postgres => postgres::PgStore::delete_all(tx),
        }
    }
}

/// The migration steps of a schema file: (version, SQL).
fn migration_steps(schema: &'static str) -> Vec<(i64, &'static str)> {
    let mut steps = Vec::new();
    // Only at the start of a line: the header comment mentions the marker too.
    let marker = "\n-- migration: ";
    let mut rest = schema;
    while let Some(start) = rest.find(marker) {
        let after = &rest[start + marker.len()..];
        let line_end = after.find('\n').unwrap_or(after.len());
        let version: i64 = after[..line_end]
            .trim()
            .parse()
            .expect("a migration marker is followed by its number");
        let body = &after[line_end..];
        let end = body.find(marker).unwrap_or(body.len());
        steps.push((version, &body[..end]));
        rest = &body[end..];
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_engines_have_the_same_migration_steps() {
        let numbers =
            |schema| -> Vec<i64> { migration_steps(schema).iter().map(|(v, _)| *v).collect() };
        assert_eq!(numbers(SCHEMA), numbers(POSTGRES_SCHEMA));
    }
}
