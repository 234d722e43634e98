//! The PostgreSQL store (`--db postgres://…`): a pool of connections shared by the request
//! threads, the schema migrated at startup under an advisory lock (two instances starting
//! together migrate once), and every write transaction serialised by a transaction-scoped
//! advisory lock, across all the instances on the database. That is SQLite's one-writer rule
//! made to hold between machines: a write sees every write committed before it, so a balance
//! is never spent twice and a one-time link is redeemed once, whichever instance answers.

use std::cell::RefCell;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{migration_steps, StoreError, StoreOptions, POSTGRES_SCHEMA};
use crate::db::pg_deadline::Deadline;
use crate::db::{self, postgres::PgConn};

/// The advisory lock of every write transaction ("Client" and 1).
const WRITE_LOCK: i64 = 0x436c_6965_6e74_0001;
/// The advisory lock held while the schema is migrated ("Client" and 2).
const MIGRATE_LOCK: i64 = 0x436c_6965_6e74_0002;

/// Every connection's session commits without waiting for the disk (`open_connection`), for
/// the counters of `Store::tally`; a transaction that must be durable begins with this, which gives
/// it the server's own setting back (`on`, or what the operator chose for replicas).
const DURABLE: &str = "SET LOCAL synchronous_commit TO DEFAULT";

pub struct PgStore {
    config: postgres::Config,
    tls: super::pg_tls::Tls,
    pool: Mutex<Pool>,
    freed: Condvar,
    size: usize,
    timeout: Duration,
    /// `/healthz`'s own connection, outside the pool: a health check never waits behind
    /// the requests that hold the pool's connections.
    health: Mutex<Option<PgConn>>,
}

/// The longest `/healthz` waits for the database's answer (or `--db-timeout`, if shorter):
/// long enough for a round trip on a loaded machine, short enough for a balancer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections not in use, and how many are open in all (in use or idle).
struct Pool {
    idle: Vec<PgConn>,
    open: usize,
}

impl PgStore {
    /// Connects, migrates, and keeps the first connection in the pool.
    pub fn open(url: &str, options: &StoreOptions) -> Result<PgStore, StoreError> {
        // The URL may hold a password: no message repeats it.
        let (mut config, tls) =
            super::pg_tls::config(url).map_err(|e| StoreError::Postgres(format!("--db: {e}")))?;
        config.connect_timeout(options.timeout);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        config.application_name("clientele");
        let store = PgStore {
            config,
            tls,
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                open: 1,
            }),
            freed: Condvar::new(),
            size: options.pool_size.max(1),
            timeout: options.timeout,
            health: Mutex::new(None),
        };
        let mut first = store.connect().map_err(|e| {
            let how = store.tls.describe();
            StoreError::Postgres(match e {
                db::Error::Unavailable(why)
                    if why.contains("TLS") || why.contains("certificate") =>
                {
                    format!("TLS to the database failed ({how}): {why}")
                }
                other => other.to_string(),
            })
        })?;
        migrate(&mut first)?;
        store.lock().idle.push(first);
        // Made now, while descriptors and the database are to be had: a health check that
        // first has to connect (under a crowd that holds every descriptor, say) fails for
        // its own reasons, not the database's. A failure here leaves it to the first check.
        let health = store.connect_within(store.health_timeout()).ok();
        *store.health.lock().unwrap_or_else(|e| e.into_inner()) = health;
        Ok(store)
    }

    /// The longest `/healthz` waits for the database: `HEALTH_TIMEOUT`, or `--db-timeout`
    /// if that is shorter.
    fn health_timeout(&self) -> Duration {
        self.timeout.min(HEALTH_TIMEOUT)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connect(&self) -> Result<PgConn, db::Error> {
        self.connect_within(self.timeout)
    }

    /// A new connection, watched with `timeout` per round trip. Connecting itself is bounded
    /// too: a server that accepts the TCP connection but never answers (frozen, or behind a
    /// partition) would hold the startup exchange as long as TCP does, so it runs on a thread
    /// of its own, left to finish (and its connection dropped) if it is too late.
    fn connect_within(&self, timeout: Duration) -> Result<PgConn, db::Error> {
        let (config, tls) = (self.config.clone(), self.tls.connector.clone());
        let (sent, received) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("db-connect".into())
            .spawn(move || {
                let _ = sent.send(open_connection(&config, tls, timeout));
            })
            .map_err(|e| db::Error::Unavailable(format!("cannot start a connection: {e}")))?;
        let (client, port) = received.recv_timeout(timeout).map_err(|_| {
            db::Error::Unavailable(format!(
                "the database did not finish connecting within {timeout:?} (--db-timeout)"
            ))
        })??;
        let server_port = self.config.get_ports().first().copied().unwrap_or(5432);
        let deadline = port
            .and_then(|p| u16::try_from(p).ok())
            .and_then(|local| Deadline::watch(local, server_port, timeout));
        Ok(PgConn::new(client).watched(deadline))
    }

    /// A connection of the pool, or a new one; waits at most the timeout for one to come free.
    /// A connection found closed (the server restarted, the network dropped it) is replaced.
    fn checkout(&self) -> Result<Lease<'_>, db::Error> {
        let deadline = Instant::now() + self.timeout;
        let mut pool = self.lock();
        loop {
            while let Some(conn) = pool.idle.pop() {
                if !conn.is_closed() {
                    return Ok(Lease::new(self, conn));
                }
                pool.open -= 1;
            }
            if pool.open < self.size {
                pool.open += 1;
                drop(pool);
                return match self.connect() {
                    Ok(conn) => Ok(Lease::new(self, conn)),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(db::Error::Unavailable(format!(
                    "all {} database connections stayed busy for {:?} (--db-pool, --db-timeout)",
                    self.size, self.timeout
                )));
            }
            pool = self
                .freed
                .wait_timeout(pool, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn give_back(&self, conn: Option<PgConn>) {
        if let Some(conn) = &conn {
            conn.idle();
        }
        let mut pool = self.lock();
        match conn {
            Some(conn) if !conn.is_closed() => pool.idle.push(conn),
            _ => pool.open -= 1,
        }
        drop(pool);
        self.freed.notify_one();
    }

    pub fn read<T, E>(&self, f: impl FnOnce(&db::Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        let lease = self.checkout()?;
        f(&db::Connection::postgres(lease.cell()))
    }

    /// A write that needs the database to itself: it waits for every other write to end, and
    /// they wait for it (the exclusive side of `WRITE_LOCK`).
    pub fn write<T, E>(&self, f: impl FnOnce(&db::Transaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        let mut lease = self.checkout()?;
        lease.transaction(
            &format!("BEGIN; {DURABLE}; SELECT pg_advisory_xact_lock({WRITE_LOCK})"),
            f,
        )
    }

    /// A write that runs beside the others of its kind (`Store::write_rows`): the shared side
    /// of `WRITE_LOCK`, so it still waits for (and holds off) a write that needs the database
    /// to itself. Run again, up to `ATTEMPTS` times in all, when a concurrent transaction won
    /// a race (`PgConn::take_lost_race`): the next attempt sees what the winner committed
    /// and answers as its checks say (a duplicate, an empty balance) instead of with the
    /// engine's error.
    pub fn write_rows<T, E>(
        &self,
        mut f: impl FnMut(&db::Transaction) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        const ATTEMPTS: usize = 3;
        let begin = format!("BEGIN; {DURABLE}; SELECT pg_advisory_xact_lock_shared({WRITE_LOCK})");
        let mut lease = self.checkout()?;
        lease.cell().borrow_mut().take_lost_race();
        let mut attempt = 1;
        loop {
            let outcome = lease.transaction(&begin, &mut f);
            let lost_race = lease.cell().borrow_mut().take_lost_race();
            if outcome.is_ok() || !lost_race || attempt == ATTEMPTS {
                return outcome;
            }
            attempt += 1;
        }
    }

    /// One round trip to the database (`/healthz`), on the health check's own connection,
    /// answered within two seconds (or `--db-timeout`) whatever the database does.
    pub fn ping(&self) -> Result<(), db::Error> {
        let timeout = self.health_timeout();
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if health.as_ref().is_none_or(PgConn::is_closed) {
            *health = None;
            *health = Some(self.connect_within(timeout)?);
        }
        let conn = health.as_mut().expect("connected just above");
        let pinged = conn.client().batch_execute("SELECT 1");
        conn.idle();
        Ok(pinged?)
    }

    /// Empties every table of this schema but the schema version and the shared fixture
    /// controls (a reset keeps the clock and the faults, as each server's memory does), in the caller's
    /// transaction. Identity columns go on from where they were (outbox ids are never reused).
    ///
    /// TRUNCATE locks its tables in the order given. A reset runs in a `write`, which the
    /// mail sender's writes wait for; they lock `mail_outbox`, then, through its trigger,
    /// `mail_attempts`, so `mail_outbox` still comes first here, should a write ever reach
    /// them without the lock.
    pub fn delete_all(tx: &db::Transaction) -> db::Result<()> {
        let tables: Vec<String> = tx
            .prepare_cached(
                "SELECT tablename FROM pg_tables
                 WHERE schemaname = current_schema()
                   AND tablename NOT IN ('clientele_schema', 'clientele_state')
                 ORDER BY tablename <> 'mail_outbox', tablename",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<db::Result<_>>()?;
        if tables.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = tables.iter().map(|t| format!("\"{t}\"")).collect();
        tx.execute_batch(&format!("TRUNCATE {}", names.join(", ")))
    }
}

/// Connects, sets the statement timeout (a statement that waits longer, for a lock or a slow
/// disk, ends with a 503 rather than holding the request) and commits that do not wait for
/// the disk (`DURABLE` undoes it per transaction), and asks the server which port this
/// connection comes from, for its deadline (`None` over a Unix socket).
fn open_connection(
    config: &postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    timeout: Duration,
) -> Result<(postgres::Client, Option<i32>), postgres::Error> {
    let mut client = config.connect(tls)?;
    client.batch_execute(&format!(
        "SET statement_timeout = {}; SET synchronous_commit = off",
        timeout.as_millis()
    ))?;
    let port = client.query_one("SELECT inet_client_port()", &[])?.get(0);
    Ok((client, port))
}

/// A connection taken from the pool, given back when dropped; a transaction left open (a
/// panic in a write) is rolled back first, and a connection that cannot be is let go.
struct Lease<'s> {
    store: &'s PgStore,
    conn: Option<RefCell<PgConn>>,
    in_transaction: bool,
}

impl<'s> Lease<'s> {
    fn new(store: &'s PgStore, conn: PgConn) -> Lease<'s> {
        Lease {
            store,
            conn: Some(RefCell::new(conn)),
            in_transaction: false,
        }
    }

    fn cell(&self) -> &RefCell<PgConn> {
        self.conn
            .as_ref()
            .expect("a lease holds its connection until dropped")
    }

    fn batch(&self, sql: &str) -> Result<(), db::Error> {
        self.cell()
            .borrow_mut()
            .run(|client| client.batch_execute(sql))
    }

    /// Runs `f` in a transaction begun with `begin`: committed when it returns `Ok`, rolled
    /// back otherwise.
    fn transaction<T, E>(
        &mut self,
        begin: &str,
        f: impl FnOnce(&db::Transaction) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<db::Error>,
    {
        // Marked first: a `begin` that fails half way (its lock wait cut by the statement
        // timeout) leaves the session in an aborted transaction, which must be rolled back
        // before the connection serves anything else.
        self.in_transaction = true;
        if let Err(e) = self.batch(begin) {
            if self.batch("ROLLBACK").is_ok() {
                self.in_transaction = false;
            }
            return Err(e.into());
        }
        let outcome = f(&db::Transaction::postgres(self.cell()));
        let end = if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        let ended = self.batch(end);
        self.in_transaction = false;
        let value = outcome?;
        ended?;
        Ok(value)
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.in_transaction && self.batch("ROLLBACK").is_err() {
            self.conn = None;
        }
        let conn = self.conn.take().map(RefCell::into_inner);
        self.store.give_back(conn);
    }
}

/// Applies the steps of `POSTGRES_SCHEMA` the database has not had yet, each in its own
/// transaction with the version it reaches.
fn migrate(conn: &mut PgConn) -> Result<(), StoreError> {
    let client = conn.client();
    let failed = |e: postgres::Error| StoreError::Postgres(format!("migrating the schema: {e}"));
    client
        .batch_execute(&format!(
            "SELECT pg_advisory_lock({MIGRATE_LOCK});
             CREATE TABLE IF NOT EXISTS clientele_schema (version BIGINT NOT NULL)"
        ))
        .map_err(failed)?;
    let result = (|| {
        let current: i64 = client
            .query_one(
                "SELECT coalesce(max(version), 0)::bigint FROM clientele_schema",
                &[],
            )
            .map_err(failed)?
            .get(0);
        let steps = migration_steps(POSTGRES_SCHEMA);
        let latest = steps.last().map_or(0, |(v, _)| *v);
        if current > latest {
            return Err(StoreError::TooNew {
                file: current,
                binary: latest,
            });
        }
        for (version, sql) in steps.into_iter().filter(|(v, _)| *v > current) {
            let step = format!(
                "BEGIN; {DURABLE}; {sql};
                 DELETE FROM clientele_schema; INSERT INTO clientele_schema VALUES ({version});
                 COMMIT;"
            );
            if let Err(e) = client.batch_execute(&step) {
                let _ = client.batch_execute("ROLLBACK");
                return Err(failed(e));
            }
        }
        Ok(())
    })();
    let _ = client.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATE_LOCK})"));
    result
}
