//! The SQLite store: open, migrate, per-thread read connections, one writer.
//!
//! Writes go through one connection behind a mutex (STACK.md: per-thread writers with a busy
//! timeout have far worse tails), each as one `BEGIN IMMEDIATE` transaction that commits only
//! when the closure succeeds, so an error response never leaves half a record. Reads use a
//! connection per worker thread (WAL lets them run beside the writer). The WAL checkpoint runs
//! on a background thread, off the request path.

use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

/// The schema, one `-- migration: N` section per step.
pub const SCHEMA: &str = include_str!("../schema.sql");

#[derive(Debug)]
pub enum StoreError {
    Sqlite(rusqlite::Error),
    /// The file was written by a newer Clientele.
    TooNew {
        file: i64,
        binary: i64,
    },
    /// Another process serves the file, or its lock file cannot be made (`dblock`).
    Locked(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "database error: {e}"),
            StoreError::TooNew { file, binary } => write!(
                f,
                "the database is at schema version {file}, newer than this binary's {binary}; \
                 use a newer clientele"
            ),
            StoreError::Locked(why) => f.write_str(why),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

/// How hard a commit waits for the disk (`--durable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// WAL + synchronous=NORMAL: survives a crash of the process (SIGKILL included); a power
    /// loss can drop the last commits.
    Process,
    /// WAL + synchronous=FULL: also survives a power loss, at about a fifth of the write rate.
    PowerLoss,
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

pub struct Store {
    /// Distinguishes stores in one process (tests run several), for the per-thread readers.
    id: u64,
    /// `None` for ":memory:", where every connection would be a different database.
    path: Option<String>,
    writer: Mutex<Connection>,
    stop_checkpointer: Arc<AtomicBool>,
    /// Held while the store is open: no second process on the same file.
    _lock: Option<crate::dblock::DbLock>,
}

thread_local! {
    /// This thread's read connection, and the store it belongs to.
    static READER: RefCell<Option<(u64, Connection)>> = const { RefCell::new(None) };
}

impl Store {
    /// Opens (creating if need be) and migrates the database at `path`, or a private
    /// in-memory one for ":memory:".
    pub fn open(path: &str, durability: Durability) -> Result<Arc<Store>, StoreError> {
        let lock = crate::dblock::acquire(path).map_err(StoreError::Locked)?;
        let (conn, path) = if path == ":memory:" {
            (Connection::open_in_memory()?, None)
        } else {
            (Connection::open(Path::new(path))?, Some(path.to_string()))
        };
        let sync = match durability {
            Durability::Process => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = {sync};
             PRAGMA foreign_keys = ON;
             PRAGMA secure_delete = ON;
             PRAGMA busy_timeout = 5000;
             PRAGMA wal_autocheckpoint = 0;
             PRAGMA journal_size_limit = {WAL_LIMIT_BYTES};"
        ))?;
        keep_plans(&conn)?;
        migrate(&conn)?;
        let store = Arc::new(Store {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            path,
            writer: Mutex::new(conn),
            stop_checkpointer: Arc::new(AtomicBool::new(false)),
            _lock: lock,
        });
        if let Some(path) = &store.path {
            spawn_checkpointer(path.clone(), store.stop_checkpointer.clone());
        }
        Ok(store)
    }

    /// Runs `f` in one write transaction: committed when `f` returns `Ok`, rolled back
    /// otherwise. The caller answers 2xx only after this returns `Ok`.
    pub fn write<T, E>(&self, f: impl FnOnce(&Transaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut conn = self.lock_writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f` on this thread's read connection (the writer's, for ":memory:").
    pub fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let Some(path) = &self.path else {
            return f(&self.lock_writer());
        };
        READER.with(|cell| {
            let mut slot = cell.borrow_mut();
            if !matches!(&*slot, Some((id, _)) if *id == self.id) {
                *slot = Some((self.id, open_reader(path)?));
            }
            let (_, conn) = slot.as_ref().expect("the reader was just opened");
            f(conn)
        })
    }

    /// Checkpoints the whole WAL into the database file and truncates the WAL to nothing, so
    /// that no older version of a page (a mail before its links were scrubbed) stays in it.
    /// Holds the writer meanwhile; returns false if a reader kept it from finishing.
    pub fn truncate_wal(&self) -> rusqlite::Result<bool> {
        if self.path.is_none() {
            return Ok(true);
        }
        let conn = self.lock_writer();
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(busy == 0)
    }

    fn lock_writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while writing rolled its transaction back when the guard dropped, so the
        // connection is still sound: carry on rather than fail every later request.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Deletes every row of every table (for `POST /_admin/reset`), in one transaction.
    pub fn delete_all(tx: &Transaction) -> rusqlite::Result<()> {
        let tables: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        for table in tables {
            tx.execute(&format!("DELETE FROM \"{table}\""), [])?;
        }
        Ok(())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop_checkpointer.store(true, Ordering::Relaxed);
    }
}

fn open_reader(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A smaller page cache per reader: each thread has its own (STACK.md: RSS grows per reader).
    conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA cache_size = -1024;")?;
    keep_plans(&conn)?;
    Ok(conn)
}

/// Lets cached statements keep their query plan when rebound. Without it this SQLite marks
/// statements with `col = ?N` to be prepared again whenever their parameters change, and
/// rusqlite's statement cache clears the bindings on every return: each "cached" query was
/// parsed and planned anew (55 % of a GET by id; bench/results/throughput-notes.md). Our
/// queries are simple lookups whose best plan does not depend on the values bound.
fn keep_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Past this size the WAL is checkpointed with RESTART (so writers start again at its
/// beginning) and truncated back to it; under sustained writes PASSIVE checkpoints alone never
/// catch up and the `-wal` file grew without bound (bench/results/throughput-notes.md).
const WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Checkpoints the WAL every 200 ms on its own connection, so no request pays for it.
fn spawn_checkpointer(path: String, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("checkpoint".into())
        .spawn(move || {
            let Ok(conn) = Connection::open(&path) else {
                return;
            };
            let _ = conn.execute_batch("PRAGMA busy_timeout = 5000");
            let wal = format!("{path}-wal");
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let oversized = std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LIMIT_BYTES);
                let mode = if oversized { "RESTART" } else { "PASSIVE" };
                let _ = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()));
            }
        })
        .expect("spawning the checkpoint thread");
}

/// The migration steps in `SCHEMA`: (version, SQL).
fn migrations() -> Vec<(i64, &'static str)> {
    let mut steps = Vec::new();
    // Only at the start of a line: the header comment mentions the marker too.
    let marker = "\n-- migration: ";
    let mut rest = SCHEMA;
    while let Some(start) = rest.find(marker) {
        let after = &rest[start + marker.len()..];
        let line_end = after.find('\n').unwrap_or(after.len());
        let version: i64 = after[..line_end]
            .trim()
            .parse()
            .expect("schema.sql: a migration marker is followed by its number");
        let body = &after[line_end..];
        let end = body.find(marker).unwrap_or(body.len());
        steps.push((version, &body[..end]));
        rest = &body[end..];
    }
    steps
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let steps = migrations();
    let latest = steps.last().map_or(0, |(v, _)| *v);
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > latest {
        return Err(StoreError::TooNew {
            file: current,
            binary: latest,
        });
    }
    for (version, sql) in steps.into_iter().filter(|(v, _)| *v > current) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {version}; COMMIT;"
        ))
        .inspect_err(|_| {
            let _ = conn.execute_batch("ROLLBACK");
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order() {
        let steps = migrations();
        assert!(!steps.is_empty());
        for (i, (v, _)) in steps.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
        }
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let store = Store::open(":memory:", Durability::Process).unwrap();
        let result: Result<(), rusqlite::Error> = store.write(|tx| {
            tx.execute(
                "INSERT INTO mx_processors (id, name, api_key_hash, created_at) VALUES ('p', 'n', 'h', 0)",
                [],
            )?;
            Err(rusqlite::Error::QueryReturnedNoRows)
        });
        assert!(result.is_err());
        let count: i64 = store
            .read(|c| c.query_row("SELECT count(*) FROM mx_processors", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(count, 0);
    }

    #[test]
    fn refuses_a_newer_file() {
        let dir = std::env::temp_dir().join(format!("clientele-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("new.db");
        let path = path.to_str().unwrap();
        drop(Store::open(path, Durability::Process).unwrap());
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA user_version = 999").unwrap();
        drop(conn);
        let err = Store::open(path, Durability::Process).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { file: 999, .. }));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
