//! The SQLite store (`--db FILE`, `:memory:`): open, migrate, per-thread read connections, one writer.
//!
//! Writes go through one connection behind a mutex (per-thread writers with a busy timeout were
//! measured with far worse tail latencies). Each write runs in its own savepoint, which is
//! released only when the closure succeeds, so an error response never leaves half a record.
//! Writes are committed in groups: a write that finds other writers queued behind it leaves the
//! transaction open for them and waits, and the last of the group commits once for all (one
//! fsync with `--durable`, one WAL append otherwise); every writer returns only after the commit
//! that holds its write, and a failed commit fails every write of its group. Reads take a
//! connection from a bounded pool of readers (WAL lets them run beside the writer), for one read
//! or for a whole request up to its first write; requests run on their connections' threads, so
//! a reader per thread would mean one per client connection. The WAL checkpoint runs on a
//! background thread, off the request path.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use super::StoreError;
use crate::db;

/// The schema, one `-- migration: N` section per step.
pub const SCHEMA: &str = include_str!("../../schema.sql");

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

pub struct SqliteStore {
    /// Distinguishes stores in one process (tests run several), for the reader a thread holds.
    id: u64,
    /// Read connections not in use.
    readers: Arc<Readers>,
    /// `None` for ":memory:", where every connection would be a different database.
    path: Option<String>,
    writer: Mutex<Writer>,
    /// Threads that want the writer and have not got it yet: a write that sees one leaves its
    /// group's transaction open for it instead of committing.
    queued: AtomicUsize,
    /// Groups committed or failed so far, and how the failed ones failed.
    settled: Mutex<Settled>,
    settled_changed: Condvar,
    checkpoints: Arc<CheckpointSignal>,
    /// Transactions this process committed (`version`, for ":memory:").
    commits: AtomicU64,
    /// The `-shm` file that the WAL index lives in (`version`).
    wal_index: Option<std::fs::File>,
    /// Held while the store is open: no second process on the same file.
    _lock: Option<crate::dblock::DbLock>,
    /// Why the last write failed for want of storage (`db::is_storage_failure`), until a
    /// commit succeeds again: what `/healthz` reports.
    storage_failure: Mutex<Option<String>>,
    /// `storage_failure` is set: a commit checks this, not the mutex.
    failing: std::sync::atomic::AtomicBool,
    /// When the writer was last taken (ms on `clock_ms`): a writer held far longer than any
    /// write takes is one waiting for a lock another process holds.
    writer_taken_ms: AtomicU64,
    /// The last `writable` probe: when, and what it found (a health check polled in a
    /// loop probes at most once per `PROBE_EVERY`, not once per request).
    last_probe: Mutex<Option<(Instant, Result<(), String>)>>,
}

/// How long a `writable` probe's finding stands.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// A writer held this long is stuck, not busy (`writable`).
const STUCK_WRITER: Duration = Duration::from_secs(2);

/// Milliseconds on a monotonic clock, for `writer_taken_ms`.
fn clock_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// The read connections of one store, lent to one thread at a time. Each costs about 300 KiB
/// (its page cache, schema and statements), so no more than `most_readers()` are kept: a
/// thread that finds them all lent waits for one, and after `READER_WAIT` opens one more
/// rather than wait longer (a thread holding one reader never waits forever for a second),
/// which is closed again when it comes back.
struct Readers {
    pool: Mutex<ReaderPool>,
    returned: Condvar,
    most: usize,
}

#[derive(Default)]
struct ReaderPool {
    idle: Vec<Connection>,
    /// Open readers, idle or lent.
    open: usize,
}

/// How long a thread waits for a reader before it opens one past `most_readers()`. Long
/// enough that a busy machine does not reach it: at 50 ms, GETs at 64 connections on two
/// cores reached it, and readers were opened and closed again under load (24 to 36 open
/// instead of 16 to 20; bench/results/round-five-notes.md).
const READER_WAIT: Duration = Duration::from_millis(250);

/// Readers kept: eight per core, at least 16 (what `--workers` allowed at once before
/// writes gave theirs back; bench/results/round-five-notes.md).
fn most_readers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 8).clamp(16, 64)
}

impl Default for Readers {
    fn default() -> Self {
        Readers {
            pool: Mutex::default(),
            returned: Condvar::new(),
            most: most_readers(),
        }
    }
}

impl Readers {
    fn take(&self, path: &str) -> Result<Connection, db::Error> {
        let deadline = Instant::now() + READER_WAIT;
        let mut pool = self.lock();
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(conn);
            }
            let now = Instant::now();
            if pool.open < self.most || now >= deadline {
                break;
            }
            pool = self
                .returned
                .wait_timeout(pool, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        pool.open += 1;
        drop(pool);
        open_reader(path).map_err(|e| {
            self.forget();
            sqlite_error(e)
        })
    }

    fn put(&self, conn: Connection) {
        let mut pool = self.lock();
        if pool.open > self.most {
            // One opened past the limit: closed (when `conn` drops, after the lock).
            pool.open -= 1;
        } else {
            pool.idle.push(conn);
        }
        drop(pool);
        self.returned.notify_one();
    }

    /// Counts out a reader that was lent and is closed instead of given back.
    fn forget(&self) {
        let mut pool = self.lock();
        pool.open = pool.open.saturating_sub(1);
        drop(pool);
        self.returned.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, ReaderPool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A reader lent for one read outside `Store::one_snapshot`; given back when dropped, also
/// when the read panics.
struct Lent<'a> {
    conn: Option<Connection>,
    readers: &'a Readers,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.readers.put(conn);
        }
    }
}

/// The reader a thread keeps for the rest of its request (`Store::one_snapshot`).
struct Held {
    store: u64,
    conn: Connection,
    /// A read transaction is open on it.
    in_snapshot: bool,
    readers: Arc<Readers>,
}

thread_local! {
    /// The reader this thread holds through its request, if any.
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
    /// True while this thread runs inside `Store::one_snapshot`.
    static ONE_SNAPSHOT: Cell<bool> = const { Cell::new(false) };
}

impl SqliteStore {
    /// Opens (creating if need be) and migrates the database at `path`, or a private
    /// in-memory one for ":memory:".
    pub fn open(path: &str, durability: Durability) -> Result<SqliteStore, StoreError> {
        let lock = crate::dblock::acquire(path).map_err(StoreError::Locked)?;
        let (mut conn, path) = if path == ":memory:" {
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
             PRAGMA temp_store = MEMORY;
             PRAGMA wal_autocheckpoint = 0;
             PRAGMA journal_size_limit = {WAL_LIMIT_BYTES};"
        ))?;
        conn.busy_handler(Some(wait_briefly))?;
        // Room for every write statement of every flavour and a reset's DELETEs: with
        // rusqlite's 16, a suite's mix of calls kept compiling statements again.
        conn.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
        keep_plans(&conn)?;
        migrate(&conn)?;
        // A file SQLite could only open for reading starts anyway, and fails every write:
        // found here, before the server says it is ready.
        write_and_roll_back(&conn).map_err(StoreError::NotWritable)?;
        // The writer has the WAL open by now, so its index file exists.
        let wal_index = path
            .as_ref()
            .and_then(|path| std::fs::File::open(format!("{path}-shm")).ok());
        let store = SqliteStore {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            readers: Default::default(),
            path,
            writer: Mutex::new(Writer::new(conn)),
            queued: AtomicUsize::new(0),
            settled: Mutex::new(Settled::default()),
            settled_changed: Condvar::new(),
            checkpoints: Default::default(),
            commits: AtomicU64::new(0),
            wal_index,
            _lock: lock,
            storage_failure: Mutex::new(None),
            failing: Default::default(),
            writer_taken_ms: AtomicU64::new(0),
            last_probe: Mutex::new(None),
        };
        if let Some(path) = &store.path {
            spawn_checkpointer(path.clone(), store.checkpoints.clone());
        }
        Ok(store)
    }

    /// Runs `f` as one atomic write: its changes are committed when `f` returns `Ok` (in the
    /// same commit as the writes queued beside it), and none of them is kept otherwise. Returns
    /// only once that commit is done; the caller answers 2xx only after this returns `Ok`.
    pub fn write<T, E>(&self, f: impl FnOnce(&db::Transaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        // A read snapshot begun before the write would not show it to the reads after it; and
        // the reader goes back to the pool while this write waits for its group's commit.
        give_back_reader();
        let result = self.write_in_group(f);
        give_back_reader();
        result
    }

    fn write_in_group<T, E>(&self, f: impl FnOnce(&db::Transaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.writer_taken_ms.store(clock_ms(), Ordering::Relaxed);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if writer.tx.is_none() {
            writer.begin().map_err(|e| self.failed(e))?;
        }
        let group = writer.group;
        let tx = writer.tx.as_ref().expect("a group is open");
        // A panic in `f` is carried through once the group is left in a sound state.
        let outcome = catch_unwind(AssertUnwindSafe(|| in_savepoint(tx, f)));
        if tx.is_autocommit() {
            // An error ended the whole transaction (SQLite rolls back on some I/O errors):
            // the writes already in the group are lost with it.
            // Those waiting, plus this writer (which `settle` does not count).
            let members = writer.members + 1;
            writer.forget();
            self.settle(group, members, Err(lost_group()));
            return match outcome {
                Ok(Ok(_)) => Err(sqlite_error(lost_group())),
                Ok(Err(e)) => Err(e),
                Err(panic) => resume_unwind(panic),
            };
        }
        let value = match outcome {
            Ok(Ok(value)) => value,
            Ok(Err(e)) => {
                self.finish_group(writer, group);
                return Err(e);
            }
            Err(panic) => {
                self.finish_group(writer, group);
                resume_unwind(panic);
            }
        };
        writer.members += 1;
        if self.queued.load(Ordering::SeqCst) > 0 && writer.members < MAX_GROUP {
            // Someone is about to take the writer: they join this group and commit it, or
            // leave it to the next one in the queue.
            drop(writer);
            return self.wait_for(group).map(|()| value).map_err(sqlite_error);
        }
        let members = writer.members;
        let committed = writer.commit();
        // Settled before the writer is let go: a later group cannot settle first.
        self.settle(
            group,
            members,
            committed.as_ref().map(|_| ()).map_err(copy_error),
        );
        drop(writer);
        committed.map(|()| value).map_err(|e| self.failed(e))
    }

    /// A write's error, noted for `/healthz` when the storage caused it in a way that
    /// `writable`'s probe, which commits nothing, cannot see again (a full disk, an I/O
    /// error, a damaged file). A lock held elsewhere, or a file that became read-only, the
    /// probe finds by itself, and stops reporting once it is over.
    fn failed<E: From<db::Error>>(&self, e: rusqlite::Error) -> E {
        use rusqlite::ErrorCode::*;
        let unseen_by_probe = matches!(
            &e,
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(f.code, DiskFull | SystemIoFailure | DatabaseCorrupt | NotADatabase | CannotOpen)
        );
        if unseen_by_probe {
            *self
                .storage_failure
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
            self.failing.store(true, Ordering::Relaxed);
        }
        sqlite_error(e)
    }

    /// Ok while the database can be written: no write has failed for want of storage since
    /// the last commit, and a write transaction can begin now (not while a group is open:
    /// then the writes under way tell).
    pub fn writable(&self) -> Result<(), db::Error> {
        self.probed().map_err(db::Error::Unavailable)?;
        match &*self
            .storage_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            Some(why) => Err(db::Error::Unavailable(why.clone())),
            None => Ok(()),
        }
    }

    /// The finding of the last probe while it stands, else of a new one.
    fn probed(&self) -> Result<(), String> {
        let mut last = self.last_probe.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, found)) = &*last {
            if at.elapsed() < PROBE_EVERY {
                return found.clone();
            }
        }
        let found = self.probe_now();
        *last = Some((Instant::now(), found.clone()));
        found
    }

    /// Tries a write that is rolled back, unless the writer is busy: then only a writer held
    /// far longer than any write takes counts against the database.
    fn probe_now(&self) -> Result<(), String> {
        match self.writer.try_lock() {
            Ok(mut writer) => {
                self.writer_taken_ms.store(clock_ms(), Ordering::Relaxed);
                if writer.tx.is_none() {
                    writer.probe().map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            Err(_) => {
                let taken = self.writer_taken_ms.load(Ordering::Relaxed);
                let held_ms = clock_ms().saturating_sub(taken);
                if held_ms > STUCK_WRITER.as_millis() as u64 {
                    return Err(format!(
                        "a write has waited {held_ms} ms: the database is locked or not answering"
                    ));
                }
                Ok(())
            }
        }
    }

    /// Commits the open group unless a queued thread will: called by a write that added
    /// nothing to it.
    fn finish_group(&self, mut writer: MutexGuard<'_, Writer>, group: u64) {
        if writer.tx.is_none() || self.queued.load(Ordering::SeqCst) > 0 {
            return;
        }
        // This writer added nothing and does not wait: all the members wait.
        let members = writer.members + 1;
        let committed = writer.commit();
        self.settle(group, members, committed.map_err(|e| copy_error(&e)));
    }

    /// Records how `group` ended, for its writers waiting in `wait_for`: `members` counts
    /// them and the one thread that settles it, which does not wait.
    fn settle(&self, group: u64, members: usize, outcome: Result<(), rusqlite::Error>) {
        // After the commit, so that whoever reads the new count sees what it committed; after
        // a failed one too, which costs a cache a lookup and is never wrong.
        self.commits.fetch_add(1, Ordering::Release);
        if outcome.is_ok() {
            self.checkpoints.committed();
            if self.failing.swap(false, Ordering::Relaxed) {
                *self
                    .storage_failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = None;
            }
        }
        let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        settled.up_to = settled.up_to.max(group);
        if let Err(e) = outcome {
            // The member that settles it does not wait for it.
            if members > 1 {
                settled.failed.insert(group, (members - 1, e));
            }
        }
        drop(settled);
        self.settled_changed.notify_all();
    }

    /// Waits until `group` is committed (or failed).
    fn wait_for(&self, group: u64) -> Result<(), rusqlite::Error> {
        let mut settled = self.settled.lock().unwrap_or_else(|e| e.into_inner());
        while settled.up_to < group {
            settled = self
                .settled_changed
                .wait(settled)
                .unwrap_or_else(|e| e.into_inner());
        }
        let Some((left, error)) = settled.failed.get_mut(&group) else {
            return Ok(());
        };
        *left -= 1;
        let error = copy_error(error);
        if *left == 0 {
            settled.failed.remove(&group);
        }
        Err(error)
    }

    /// Changes with every transaction committed to the database (`Store::version`). For a
    /// file, that is the WAL index's change counter, which every connection of every process
    /// increments when it commits (`iChange`, at byte 8 of the `-shm` file's header:
    /// <https://www.sqlite.org/walformat.html#the_wal_index_header>); this process's own count
    /// of commits would miss another process writing to the file. For ":memory:", which no
    /// one else can open, that count. `None` when the counter cannot be read.
    pub fn version(&self) -> Option<u64> {
        let Some(wal_index) = &self.wal_index else {
            return self
                .path
                .is_none()
                .then(|| self.commits.load(Ordering::Acquire));
        };
        let mut counter = [0u8; 4];
        wal_index.read_exact_at(&mut counter, 8).ok()?;
        Some(u64::from(u32::from_ne_bytes(counter)))
    }

    /// Runs `f` on a read connection (the writer's, for ":memory:"): the one this thread
    /// holds for its request, or one from the pool, given back when `f` returns.
    pub fn read<T, E>(&self, f: impl FnOnce(&db::Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        let Some(path) = &self.path else {
            let writer = self.lock_writer();
            return f(&db::Connection::sqlite(writer.conn()));
        };
        HELD.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_some_and(|held| held.store != self.id) {
                release(slot.take());
            }
            if slot.is_none() {
                let conn = self.readers.take(path)?;
                if !ONE_SNAPSHOT.get() {
                    let lent = Lent {
                        conn: Some(conn),
                        readers: &self.readers,
                    };
                    let conn = lent.conn.as_ref().expect("lent until dropped");
                    return f(&db::Connection::sqlite(conn));
                }
                *slot = Some(Held {
                    store: self.id,
                    conn,
                    in_snapshot: false,
                    readers: self.readers.clone(),
                });
            }
            let held = slot.as_mut().expect("a reader is held");
            if ONE_SNAPSHOT.get() && !held.in_snapshot {
                held.conn
                    .prepare_cached("BEGIN")
                    .and_then(|mut s| s.execute([]))
                    .map_err(sqlite_error)?;
                held.in_snapshot = true;
            }
            f(&db::Connection::sqlite(&held.conn))
        })
    }

    /// Runs `f` (one request) with all its reads on one reader, in one read transaction, so
    /// they share one WAL snapshot instead of taking one per statement. A write on this thread
    /// ends the snapshot and gives the reader back (before and after it), so reads that follow
    /// it see it, from a reader taken anew. The reader goes back to the pool when `f` returns.
    pub fn one_snapshot<T>(f: impl FnOnce() -> T) -> T {
        struct End;
        impl Drop for End {
            fn drop(&mut self) {
                ONE_SNAPSHOT.set(false);
                give_back_reader();
            }
        }
        ONE_SNAPSHOT.set(true);
        let _end = End;
        f()
    }

    /// Checkpoints the whole WAL into the database file and truncates the WAL to nothing, so
    /// that no older version of a page (a mail before its links were scrubbed) stays in it.
    /// Holds the writer meanwhile; returns false if a reader kept it from finishing.
    pub fn truncate_wal(&self) -> rusqlite::Result<bool> {
        let Some(path) = &self.path else {
            return Ok(true);
        };
        // Most of the copying and syncing first, without holding up writers; the TRUNCATE
        // that follows under the writer has only what came since.
        if let Ok(mut conn) = Connection::open(path) {
            if conn.busy_handler(Some(wait_briefly)).is_ok() {
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        }
        // A checkpoint already running (the checkpointer's, after the commit that came just
        // before) makes TRUNCATE give up at once rather than wait: at startup it nearly always
        // did. So a few tries, the writer let go between them.
        for _ in 0..TRUNCATE_TRIES {
            let busy: i64 = self.lock_writer().conn().query_row(
                "PRAGMA wal_checkpoint(TRUNCATE)",
                [],
                |r| r.get(0),
            )?;
            if busy == 0 {
                return Ok(true);
            }
            std::thread::sleep(CHECKPOINT_GAP * 4);
        }
        Ok(false)
    }

    /// The writer with no group open (an open one is committed first), for work other than
    /// a write.
    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        // A panic while writing rolled its savepoint back before the guard dropped, so the
        // connection is still sound: carry on rather than fail every later request.
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.writer_taken_ms.store(clock_ms(), Ordering::Relaxed);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if writer.tx.is_some() {
            let (group, members) = (writer.group, writer.members);
            let committed = writer.commit().map_err(|e| copy_error(&e));
            self.settle(group, members + 1, committed);
        }
        writer
    }

    /// Deletes every row of every table (for `POST /_admin/reset`), in one transaction.
    pub fn delete_all(tx: &db::Transaction) -> db::Result<()> {
        let tables: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<db::Result<_>>()?
        };
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        // Only tables with rows: deleting from an empty one still rewrites its pages, and a
        // reset (between every two tests of a suite) mostly finds empty tables.
        for table in tables {
            let has_rows: bool = tx
                .prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM \"{table}\")"))?
                .query_row([], |r| r.get(0))?;
            if has_rows {
                tx.prepare_cached(&format!("DELETE FROM \"{table}\""))?
                    .execute([])?;
            }
        }
        Ok(())
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpoints.stop();
    }
}

/// Statements the writer keeps compiled.
const WRITER_STATEMENTS: usize = 128;

/// The most writes one commit takes; more queued writers start the next group.
const MAX_GROUP: usize = 256;

/// The writer connection and the group of writes open on it.
struct Writer {
    /// The open group's transaction. Declared before `conn`, which it borrows, and always
    /// ended (`commit`, `forget`, `drop`) before `conn` is freed.
    tx: Option<Transaction<'static>>,
    /// The number of the open group (or of the last one).
    group: u64,
    /// Writes done in the open group.
    members: usize,
    /// Owned: made by `Box::into_raw` in `new`, freed in `drop`.
    conn: NonNull<Connection>,
}

// SAFETY: a `Connection` may move between threads (it is `Send`); `Writer` only ever lives
// inside the store's mutex, so one thread at a time uses the connection and the transaction
// that borrows it.
unsafe impl Send for Writer {}

impl Writer {
    fn new(conn: Connection) -> Writer {
        Writer {
            tx: None,
            group: 0,
            members: 0,
            conn: NonNull::from(Box::leak(Box::new(conn))),
        }
    }

    fn conn(&self) -> &Connection {
        // SAFETY: `conn` is valid until `drop`, and only shared references are made from it.
        unsafe { self.conn.as_ref() }
    }

    fn begin(&mut self) -> rusqlite::Result<()> {
        // SAFETY: the transaction never outlives the connection: `Drop` ends it first.
        let conn: &'static Connection = unsafe { self.conn.as_ref() };
        self.tx = Some(Transaction::new_unchecked(
            conn,
            TransactionBehavior::Immediate,
        )?);
        self.group += 1;
        self.members = 0;
        Ok(())
    }

    /// Commits the open group; on failure it is rolled back (the transaction's drop).
    fn commit(&mut self) -> rusqlite::Result<()> {
        self.members = 0;
        self.tx.take().map_or(Ok(()), Transaction::commit)
    }

    /// Begins and rolls back a write transaction, waiting at most a moment for another
    /// process's lock: whether the database can be written now.
    fn probe(&mut self) -> rusqlite::Result<()> {
        // SAFETY: no transaction borrows the connection (`tx` is `None`: the caller checked).
        let conn = unsafe { self.conn.as_mut() };
        conn.busy_handler(Some(wait_a_moment))?;
        let probed = write_and_roll_back(conn);
        conn.busy_handler(Some(wait_briefly))?;
        probed
    }

    /// Drops the open group's transaction that SQLite already ended.
    fn forget(&mut self) {
        self.members = 0;
        if let Some(mut tx) = self.tx.take() {
            tx.set_drop_behavior(rusqlite::DropBehavior::Ignore);
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Nobody waits for an open group any more (its writers hold a reference to the store).
        let _ = self.commit();
        // SAFETY: made by `Box::into_raw` (`Box::leak`) in `new`; no borrow of it is left.
        drop(unsafe { Box::from_raw(self.conn.as_ptr()) });
    }
}

/// Groups settled so far, and the failed ones with how many of their writers still have to
/// hear of it.
#[derive(Default)]
struct Settled {
    up_to: u64,
    failed: BTreeMap<u64, (usize, rusqlite::Error)>,
}

/// Runs `f` in a savepoint of the open group: released when `f` succeeds, rolled back when
/// it fails or panics.
fn in_savepoint<T, E>(
    tx: &Transaction,
    f: impl FnOnce(&db::Transaction) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<db::Error>,
{
    tx.prepare_cached("SAVEPOINT write")
        .and_then(|mut s| s.execute([]))
        .map_err(sqlite_error)?;
    struct Undo<'a>(Option<&'a Transaction<'a>>);
    impl Drop for Undo<'_> {
        fn drop(&mut self) {
            if let Some(tx) = self.0 {
                let _ = tx.execute_batch("ROLLBACK TO write; RELEASE write");
            }
        }
    }
    let mut undo = Undo(Some(tx));
    let value = f(&db::Transaction::sqlite(tx))?;
    tx.prepare_cached("RELEASE write")
        .and_then(|mut s| s.execute([]))
        .map_err(sqlite_error)?;
    undo.0 = None;
    Ok(value)
}

/// A SQLite error as the caller's error type, through the seam's.
fn sqlite_error<E: From<db::Error>>(e: rusqlite::Error) -> E {
    E::from(db::Error::from(e))
}

/// The error of a group whose transaction SQLite rolled back under it.
fn lost_group() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("the transaction was rolled back by an error in the same commit group".into()),
    )
}

/// A copy of a commit's error for each writer of its group (`rusqlite::Error` is not Clone).
fn copy_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

fn end_read(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached("COMMIT")
        .and_then(|mut stmt| stmt.execute([]).map(drop))
}

/// Gives a held reader back to its pool, its read transaction ended.
fn release(held: Option<Held>) {
    if let Some(held) = held {
        if !held.in_snapshot || end_read(&held.conn).is_ok() {
            held.readers.put(held.conn);
        } else {
            held.readers.forget();
        }
    }
}

/// Ends this thread's read transaction and gives its reader back, inside `one_snapshot` too.
fn give_back_reader() {
    HELD.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            release(slot.take());
        }
    });
}

fn open_reader(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A smaller page cache per reader: each thread has its own (memory grows with
    // every reader).
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

/// Writes the database header (its `user_version`, unchanged) in a transaction that is
/// rolled back: SQLite begins a write transaction even on a file it could only open for
/// reading, and says so only at the first page written. No schema changes, so the
/// connection's prepared statements stay valid.
fn write_and_roll_back(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let written = conn.execute_batch(&format!("PRAGMA user_version = {version}"));
    let rolled_back = conn.execute_batch("ROLLBACK");
    written.and(rolled_back)
}

/// The busy handler of `/healthz`'s probe: up to 100 ms, so that a health check answers
/// promptly while another process holds the database.
fn wait_a_moment(attempt: i32) -> bool {
    wait_until(attempt, Duration::from_millis(100))
}

/// The busy handler of the writer and the checkpointer: polls every 50 µs, for up to 5 s in
/// all. SQLite's own (`busy_timeout`) sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then
/// 100 ms between tries: a checkpoint that waited a few milliseconds for readers slept up to
/// 78 ms while holding the write lock, and a writer that found it held slept past its release
/// (the 90 ms tail of creates; bench/README.md).
fn wait_briefly(attempt: i32) -> bool {
    wait_until(attempt, Duration::from_secs(5))
}

thread_local! {
    /// When this thread's current wait for a lock began (its attempt 0).
    static WAITING_SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Polls every 50 µs until `limit` has passed since the first attempt. Measured, not
/// counted: a 50 µs sleep lasts longer on a loaded machine, and counting 100,000 of them
/// made a 5 s wait last 17 s.
fn wait_until(attempt: i32, limit: Duration) -> bool {
    const POLL: Duration = Duration::from_micros(50);
    let since = WAITING_SINCE.with(|since| {
        if attempt == 0 || since.get().is_none() {
            since.set(Some(Instant::now()));
        }
        since.get().unwrap_or_else(Instant::now)
    });
    if since.elapsed() >= limit {
        return false;
    }
    std::thread::sleep(POLL);
    true
}

/// Past this size the WAL is checkpointed with RESTART (so writers start again at its
/// beginning) and truncated back to it; under sustained writes PASSIVE checkpoints alone never
/// catch up and the `-wal` file grew without bound (bench/results/throughput-notes.md).
const WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// The least time between two checkpoints while writes go on. A checkpoint stalls the next
/// write for a time that grows with what it copied: at 5,000 creates/s, one every 200 ms
/// made p99 33 ms, every 2 s 86 to 95 ms, every 5 ms 17.5 to 19 ms (bench/README.md).
const CHECKPOINT_GAP: Duration = Duration::from_millis(5);

/// How many times `truncate_wal` tries before it leaves the WAL to the next housekeeping.
const TRUNCATE_TRIES: usize = 5;

/// Tells the checkpoint thread that a commit happened, or that the store is gone.
#[derive(Default)]
struct CheckpointSignal {
    /// (committed since the last checkpoint, stop)
    state: Mutex<(bool, bool)>,
    wake: Condvar,
}

impl CheckpointSignal {
    fn committed(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.0 {
            state.0 = true;
            self.wake.notify_one();
        }
    }

    fn stop(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.wake.notify_one();
    }

    /// Waits (at most a second) for a commit; false once the store is gone.
    fn wait_for_commit(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.0 && !state.1 {
            state = self
                .wake
                .wait_timeout(state, Duration::from_secs(1))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        state.0 = false;
        !state.1
    }
}

/// Checkpoints the WAL on its own connection, so no request pays for the copying: after
/// commits, at most every `CHECKPOINT_GAP`; when idle, once a second.
fn spawn_checkpointer(path: String, signal: Arc<CheckpointSignal>) {
    std::thread::Builder::new()
        .name("checkpoint".into())
        .spawn(move || {
            let Ok(mut conn) = Connection::open(&path) else {
                return;
            };
            let _ = conn.busy_handler(Some(wait_briefly));
            let wal = format!("{path}-wal");
            while signal.wait_for_commit() {
                let oversized = std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LIMIT_BYTES);
                // PASSIVE copies and syncs without stopping writers; a RESTART holds the write
                // lock while it copies what is left and syncs the database file, so it comes
                // right after a PASSIVE one, with little left to copy or sync.
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if oversized {
                    let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
                }
                std::thread::sleep(CHECKPOINT_GAP);
            }
        })
        .expect("spawning the checkpoint thread");
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let steps = super::migration_steps(SCHEMA);
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
    use crate::store::Store;

    /// A fresh directory for one test's database, and the database file's path in it.
    fn scratch_db(test: &str) -> (std::path::PathBuf, String) {
        let dir = std::env::temp_dir().join(format!("clientele-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("test.db").to_str().unwrap().to_string();
        (dir, path)
    }

    #[test]
    fn migrations_are_numbered_in_order() {
        let steps = crate::store::migration_steps(SCHEMA);
        assert!(!steps.is_empty());
        for (i, (v, _)) in steps.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
        }
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let store = Store::open(":memory:", Durability::Process).unwrap();
        let result: Result<(), db::Error> = store.write(|tx| {
            tx.execute(
                "INSERT INTO tenant_sets (id, created_at) VALUES ('set-1', 0)",
                [],
            )?;
            Err(db::Error::NoRows)
        });
        assert!(result.is_err());
        let count: i64 = store
            .read(|c| c.query_row("SELECT count(*) FROM tenant_sets", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(count, 0);
    }

    #[test]
    fn concurrent_writes_commit_before_returning_and_failed_ones_leave_nothing() {
        let (dir, path) = scratch_db("group");
        let path = path.as_str();
        let store = Store::open(path, Durability::Process).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut kept = 0;
                    for i in 0..100 {
                        let id = format!("set-{t}-{i}");
                        let fail = i % 7 == 3;
                        let result: Result<(), db::Error> = store.write(|tx| {
                            tx.execute(
                                "INSERT INTO tenant_sets (id, created_at) VALUES (?1, 0)",
                                [&id],
                            )?;
                            if fail {
                                return Err(db::Error::NoRows);
                            }
                            Ok(())
                        });
                        assert_eq!(result.is_err(), fail);
                        // Committed when `write` returned: another connection sees it.
                        let seen: i64 = store
                            .read(|c| {
                                c.query_row(
                                    "SELECT count(*) FROM tenant_sets WHERE id = ?1",
                                    [&id],
                                    |r| r.get(0),
                                )
                            })
                            .unwrap();
                        assert_eq!(seen, i64::from(!fail), "{id}");
                        kept += usize::from(!fail);
                    }
                    kept
                })
            })
            .collect();
        let kept: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let count: i64 = store
            .read(|c| c.query_row("SELECT count(*) FROM tenant_sets", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(count as usize, kept);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_panicking_write_leaves_nothing_and_the_store_carries_on() {
        let store = Store::open(":memory:", Durability::Process).unwrap();
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _: Result<(), db::Error> = store.write(|tx| {
                tx.execute(
                    "INSERT INTO tenant_sets (id, created_at) VALUES ('set-1', 0)",
                    [],
                )?;
                panic!("on purpose");
            });
        }));
        assert!(panicked.is_err());
        store
            .write(|tx| {
                tx.execute(
                    "INSERT INTO tenant_sets (id, created_at) VALUES ('set-2', 0)",
                    [],
                )
            })
            .unwrap();
        let ids: Vec<String> = store
            .read(|c| {
                let mut stmt = c.prepare("SELECT id FROM tenant_sets")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                rows.collect()
            })
            .unwrap();
        assert_eq!(ids, ["set-2"]);
    }

    /// A file made by the previous release (user_version 3) gains the list buckets of step
    /// 4, counted from the rows it already holds, and the triggers keep them from then on.
    #[test]
    fn step_4_counts_the_buckets_of_an_existing_file() {
        let dir = std::env::temp_dir().join(format!("clientele-step4-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        for (version, sql) in crate::store::migration_steps(SCHEMA)
            .into_iter()
            .filter(|(v, _)| *v <= 3)
        {
            conn.execute_batch(&format!("{sql}; PRAGMA user_version = {version};"))
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO sc_partners (id, name, created_at, modified_at) VALUES (1, 'p', 0, 0);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO sc_clients (id, name, direct_partner_id, created_at, modified_at,
                                     deleted_at)
             SELECT i, 'c' || i, 1, 0, 0, CASE WHEN i % 5 = 0 THEN 1 END FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2100)
             INSERT INTO ml_clients (seq, mid, partner_mid, display_name, is_organization,
                                     default_contact_mid, created_at, updated_at)
             SELECT i, 'm' || i, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, '', 0, 'x', 0, 0
             FROM n;",
        )
        .unwrap();
        drop(conn);
        drop(Store::open(path.to_str().unwrap(), Durability::Process).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            version,
            crate::store::migration_steps(SCHEMA).last().unwrap().0
        );
        let buckets = |sql: &str| -> Vec<(String, i64, i64)> {
            let mut stmt = conn.prepare(sql).unwrap();
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
            rows.unwrap().collect::<rusqlite::Result<_>>().unwrap()
        };
        let sc = "SELECT CAST(partner_id AS TEXT), bucket, live FROM sc_client_buckets
                  WHERE live > 0 ORDER BY 1, 2";
        let sc_expected = "SELECT CAST(direct_partner_id AS TEXT), id >> 10, count(*)
                           FROM sc_clients WHERE deleted_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2";
        let ml = "SELECT partner_mid, bucket, clients FROM ml_client_buckets
                  WHERE clients > 0 ORDER BY 1, 2";
        let ml_expected = "SELECT partner_mid, seq >> 10, count(*) FROM ml_clients
                           GROUP BY 1, 2 ORDER BY 1, 2";
        assert_eq!(buckets(sc), buckets(sc_expected));
        assert_eq!(buckets(sc).len(), 3);
        assert_eq!(buckets(ml), buckets(ml_expected));
        assert_eq!(buckets(ml).len(), 6);
        // The triggers: soft delete, undelete, a move, a hard delete, an insert.
        conn.execute_batch(
            "INSERT INTO sc_partners (id, name, created_at, modified_at) VALUES (2, 'q', 0, 0);
             UPDATE sc_clients SET deleted_at = 1 WHERE id BETWEEN 1000 AND 1100;
             UPDATE sc_clients SET deleted_at = NULL WHERE id = 1005;
             UPDATE sc_clients SET direct_partner_id = 2 WHERE id % 7 = 0;
             DELETE FROM sc_clients WHERE id % 11 = 0;
             INSERT INTO sc_clients (name, direct_partner_id, created_at, modified_at)
                 VALUES ('new', 2, 0, 0);
             DELETE FROM ml_clients WHERE seq % 3 = 0;
             INSERT INTO ml_clients (mid, partner_mid, display_name, is_organization,
                                     default_contact_mid, created_at, updated_at)
                 VALUES ('new', 'a', '', 0, 'x', 0, 0);",
        )
        .unwrap();
        assert_eq!(buckets(sc), buckets(sc_expected));
        assert_eq!(buckets(ml), buckets(ml_expected));
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_version_changes_with_every_commit_whoever_makes_it() {
        let (dir, path) = scratch_db("version");
        let path = path.as_str();
        let store = Store::open(path, Durability::Process).unwrap();
        let insert = |tx: &db::Transaction, id: &str| {
            tx.execute(
                "INSERT INTO tenant_sets (id, created_at) VALUES (?1, 0)",
                [id],
            )
        };
        let first = store.version().expect("a file's version can be read");
        assert_eq!(store.version(), Some(first), "reading changes nothing");
        store.write(|tx| insert(tx, "set-1")).unwrap();
        let second = store.version().unwrap();
        assert_ne!(second, first, "this process's commit");
        // Another connection (another process, as far as SQLite is concerned) commits.
        let other = Connection::open(path).unwrap();
        other
            .execute(
                "INSERT INTO tenant_sets (id, created_at) VALUES ('set-2', 0)",
                [],
            )
            .unwrap();
        assert_ne!(store.version(), Some(second), "another connection's commit");
        drop(other);
        drop(store);

        let memory = Store::open(":memory:", Durability::Process).unwrap();
        let before = memory.version().expect("in memory, its own count");
        memory.write(|tx| insert(tx, "set-1")).unwrap();
        assert_ne!(memory.version(), Some(before));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn readers_are_bounded_and_a_thread_that_waits_too_long_gets_one_more() {
        let (dir, path) = scratch_db("readers");
        let path = path.as_str();
        let store = SqliteStore::open(path, Durability::Process).unwrap();
        let readers = &store.readers;
        let lent: Vec<Connection> = (0..readers.most)
            .map(|_| readers.take(path).unwrap())
            .collect();
        assert_eq!(readers.lock().open, readers.most);
        // All lent: the next one comes only once one is given back...
        let started = Instant::now();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| readers.take(path).unwrap());
            std::thread::sleep(Duration::from_millis(10));
            let mut lent = lent;
            readers.put(lent.pop().unwrap());
            let got = waiter.join().unwrap();
            assert_eq!(readers.lock().open, readers.most, "the one given back");
            lent.push(got);
            // ...or, when none is, after READER_WAIT, one past the bound,
            let waited = Instant::now();
            let extra = readers.take(path).unwrap();
            assert!(waited.elapsed() >= READER_WAIT);
            assert_eq!(readers.lock().open, readers.most + 1);
            // which is closed when it comes back.
            readers.put(extra);
            assert_eq!(readers.lock().open, readers.most);
            assert!(readers.lock().idle.is_empty());
            for conn in lent {
                readers.put(conn);
            }
        });
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(readers.lock().idle.len(), readers.most);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_write_gives_the_requests_reader_back_and_later_reads_see_it() {
        let (dir, path) = scratch_db("giveback");
        let path = path.as_str();
        let store = SqliteStore::open(path, Durability::Process).unwrap();
        let count = || -> Result<i64, db::Error> {
            store.read(|c| c.query_row("SELECT count(*) FROM tenant_sets", [], |r| r.get(0)))
        };
        let idle = || store.readers.lock().idle.len();
        SqliteStore::one_snapshot(|| {
            assert_eq!(count().unwrap(), 0);
            let held_idle = idle();
            store
                .write(|tx| {
                    tx.execute(
                        "INSERT INTO tenant_sets (id, created_at) VALUES ('set-1', 0)",
                        [],
                    )
                })
                .unwrap();
            assert_eq!(idle(), held_idle + 1, "given back for the write");
            assert_eq!(count().unwrap(), 1, "a read after the write sees it");
            assert_eq!(idle(), held_idle, "and holds a reader again");
        });
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_a_newer_file() {
        let (dir, path) = scratch_db("store");
        let path = path.as_str();
        drop(Store::open(path, Durability::Process).unwrap());
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA user_version = 999").unwrap();
        drop(conn);
        let err = Store::open(path, Durability::Process).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { file: 999, .. }));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
