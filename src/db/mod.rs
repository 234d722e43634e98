//! The seam between Clientele's SQL and the engine that runs it.
//!
//! Every module that reads or writes records goes through these types instead of an engine's
//! own: a `Connection` to read, a `Transaction` to write (it derefs to a `Connection`), their
//! statements, rows, parameters and errors. The names and shapes follow rusqlite's, so the SQL
//! and the code around it read as they always have; what changes is that the engine behind them
//! is chosen when the store is opened. SQL is written once in the dialect both engines share;
//! where they differ, the two variants sit next to each other at the call site.
//!
//! SQLite and PostgreSQL run behind it. The SQLite engine costs one `match` per call over using
//! rusqlite directly, and statements stay prepared and cached by rusqlite. PostgreSQL values
//! are carried in SQLite's five kinds (`Value`), so a row reads the same on both.

pub mod pg_deadline;
pub mod postgres;
mod sqlite;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;

use self::postgres::{Cell, PgConn};

/// What a database call can fail with, whatever the engine.
#[derive(Debug)]
pub enum Error {
    /// `query_row` found no row (`OptionalExtension::optional` turns it into `None`).
    NoRows,
    /// A constraint (unique, foreign key, check) refused the write; the engine's words.
    Constraint(String),
    /// A value in a row could not be read as the Rust type asked for.
    Conversion(String),
    /// A parameter could not be written as a value.
    Param(String),
    /// The database could not be reached, or did not answer in time: worth a 503.
    Unavailable(String),
    /// The engine refused or failed, in its own words.
    Sqlite(rusqlite::Error),
    Postgres(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoRows => f.write_str("query returned no rows"),
            Error::Constraint(why) => write!(f, "constraint failed: {why}"),
            Error::Conversion(why) => write!(f, "reading a column: {why}"),
            Error::Param(why) => write!(f, "writing a parameter: {why}"),
            Error::Unavailable(why) => write!(f, "the database is unavailable: {why}"),
            Error::Sqlite(e) => e.fmt(f),
            Error::Postgres(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::NoRows,
            rusqlite::Error::FromSqlConversionFailure(column, kind, why) => {
                Error::Conversion(format!("column {column} ({kind}): {why}"))
            }
            rusqlite::Error::InvalidColumnType(column, name, kind) => {
                Error::Conversion(format!("column {column} ({name}) is {kind}"))
            }
            rusqlite::Error::IntegralValueOutOfRange(column, value) => {
                Error::Conversion(format!("column {column}: {value} is out of range"))
            }
            rusqlite::Error::ToSqlConversionFailure(why) => Error::Param(why.to_string()),
            rusqlite::Error::SqliteFailure(e, detail)
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Error::Constraint(detail.unwrap_or_else(|| e.to_string()))
            }
            other if is_storage_failure(&other) => Error::Unavailable(other.to_string()),
            other => Error::Sqlite(other),
        }
    }
}

impl From<::postgres::Error> for Error {
    fn from(e: ::postgres::Error) -> Self {
        use ::postgres::error::SqlState;
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if [
                SqlState::UNIQUE_VIOLATION,
                SqlState::FOREIGN_KEY_VIOLATION,
                SqlState::CHECK_VIOLATION,
                SqlState::NOT_NULL_VIOLATION,
            ]
            .contains(code)
            {
                return Error::Constraint(db.message().to_string());
            }
            if [
                SqlState::QUERY_CANCELED,
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
                // Transient by PostgreSQL's own account: the transaction was chosen to give
                // way, and the same request sent again goes through.
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::T_R_SERIALIZATION_FAILURE,
            ]
            .contains(code)
            {
                return Error::Unavailable(db.message().to_string());
            }
            return Error::Postgres(format!("{}: {}", code.code(), db.message()));
        }
        let cause = std::error::Error::source(&e);
        if e.is_closed() || cause.is_some_and(|s| s.is::<std::io::Error>()) {
            return Error::Unavailable(match cause {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            });
        }
        Error::Postgres(e.to_string())
    }
}

/// True when SQLite failed for want of its storage, not because of the statement: a file
/// it may not write, a full disk, an I/O error, a lock another process holds too long, a
/// damaged file. The request is answered 503, as an unreachable PostgreSQL is; `/healthz`
/// reports it.
pub fn is_storage_failure(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e,
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                ReadOnly
                    | DiskFull
                    | SystemIoFailure
                    | CannotOpen
                    | DatabaseBusy
                    | DatabaseLocked
                    | DatabaseCorrupt
                    | NotADatabase
                    | FileLockingProtocolFailed
            )
    )
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `query_row(...).optional()`: no row is `Ok(None)`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A value a statement can take as a parameter.
pub trait ToSql: rusqlite::ToSql {}
impl<T: rusqlite::ToSql + ?Sized> ToSql for T {}

/// A Rust type a column can be read as.
pub trait FromSql: rusqlite::types::FromSql {}
impl<T: rusqlite::types::FromSql> FromSql for T {}

/// Any one value of a column, for code that shows whatever is there (the console's tables,
/// dynamic inserts).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl rusqlite::types::FromSql for Value {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        use rusqlite::types::ValueRef;
        Ok(match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::Integer(n),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        })
    }
}

impl Value {
    fn from_sqlite(value: rusqlite::types::ToSqlOutput<'_>) -> Result<Value> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        let owned;
        let value = match value {
            ToSqlOutput::Borrowed(v) => v,
            ToSqlOutput::Owned(v) => {
                owned = v;
                ValueRef::from(&owned)
            }
            _ => return Err(Error::Param("an unsupported parameter kind".into())),
        };
        Ok(match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::Integer(n),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => {
                Value::Text(String::from_utf8(t.to_vec()).map_err(|e| Error::Param(e.to_string()))?)
            }
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        })
    }

    fn as_sqlite(&self) -> rusqlite::types::ValueRef<'_> {
        use rusqlite::types::ValueRef;
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(n) => ValueRef::Integer(*n),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }
}

/// One parameter as a `Value`, through its SQLite conversion.
fn value_of(param: &dyn rusqlite::ToSql) -> Result<Value> {
    Value::from_sqlite(param.to_sql()?)
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Integer(n)
    }
}

impl From<String> for Value {
    fn from(t: String) -> Self {
        Value::Text(t)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Blob(b)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(self.as_sqlite()))
    }
}

/// The parameters of one statement: `()`, an array of values of one type (`[id, name]`), a
/// slice of mixed values (`params![id, 3]`) or `params_from_iter(values)`.
pub trait Params {
    /// The same parameters as rusqlite takes them.
    fn for_sqlite(self) -> impl rusqlite::Params;
    /// The same parameters as values, for PostgreSQL.
    fn values(self) -> Result<Vec<Value>>;
}

impl Params for () {
    fn for_sqlite(self) -> impl rusqlite::Params {}
    fn values(self) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }
}

/// `[]`: no parameters (its element type is fixed so that it needs no annotation).
impl Params for [&dyn ToSql; 0] {
    fn for_sqlite(self) -> impl rusqlite::Params {}
    fn values(self) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }
}

macro_rules! array_params {
    ($($n:literal)+) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn for_sqlite(self) -> impl rusqlite::Params {
                rusqlite::params_from_iter(self)
            }
            fn values(self) -> Result<Vec<Value>> {
                self.iter().map(|p| value_of(p)).collect()
            }
        }
    )+};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

impl<'a> Params for &'a [&'a dyn ToSql] {
    fn for_sqlite(self) -> impl rusqlite::Params {
        rusqlite::params_from_iter(self.iter().map(|p| *p as &dyn rusqlite::ToSql))
    }
    fn values(self) -> Result<Vec<Value>> {
        self.iter().map(|p| value_of(*p)).collect()
    }
}

/// Parameters from an iterator, for statements built at run time.
pub struct ParamsFromIter<I>(I);

pub fn params_from_iter<I>(values: I) -> ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToSql,
{
    ParamsFromIter(values)
}

impl<I> Params for ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToSql,
{
    fn for_sqlite(self) -> impl rusqlite::Params {
        rusqlite::params_from_iter(self.0)
    }
    fn values(self) -> Result<Vec<Value>> {
        self.0.into_iter().map(|p| value_of(&p)).collect()
    }
}

/// Mixed parameters: `params![id, 3, name]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[&dyn $crate::db::ToSql] };
    ($($value:expr),+ $(,)?) => {
        &[$(&$value as &dyn $crate::db::ToSql),+] as &[&dyn $crate::db::ToSql]
    };
}
pub use crate::params;

/// A column position in a row (by index: every query names its columns in order).
pub trait RowIndex: Copy {
    fn index(self) -> usize;
}

impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// Which SQL dialect a connection speaks, for the few statements written once per engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection to read with; inside `Store::write` it is the write transaction's.
pub struct Connection<'c> {
    engine: Engine<'c>,
}

#[derive(Clone, Copy)]
enum Engine<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(&'c RefCell<PgConn>),
}

/// The transaction of one write (`Store::write`): everything done through it is committed
/// together or not at all. It reads like a `Connection`.
pub struct Transaction<'c> {
    conn: Connection<'c>,
}

impl<'c> std::ops::Deref for Transaction<'c> {
    type Target = Connection<'c>;
    fn deref(&self) -> &Connection<'c> {
        &self.conn
    }
}

impl<'c> Connection<'c> {
    /// A SQLite connection behind the seam (the store's readers and writer).
    pub fn sqlite(conn: &'c rusqlite::Connection) -> Connection<'c> {
        Connection {
            engine: Engine::Sqlite(conn),
        }
    }

    /// A PostgreSQL connection behind the seam (one of the store's pool).
    pub fn postgres(conn: &'c RefCell<PgConn>) -> Connection<'c> {
        Connection {
            engine: Engine::Postgres(conn),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.engine {
            Engine::Sqlite(_) => Dialect::Sqlite,
            Engine::Postgres(_) => Dialect::Postgres,
        }
    }

    /// `sqlite` or `postgres`, whichever this connection speaks: for the statements whose
    /// dialects differ, written side by side at the call site.
    pub fn pick<'s>(&self, sqlite: &'s str, postgres: &'s str) -> &'s str {
        match self.dialect() {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        }
    }

    /// A statement prepared once per connection and kept for the next call.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'c>> {
        match self.engine {
            Engine::Sqlite(conn) => Ok(Statement::Sqlite(sqlite::Statement::Cached(
                conn.prepare_cached(sql)?,
            ))),
            Engine::Postgres(conn) => Ok(Statement::Postgres {
                statement: conn.borrow_mut().statement(sql)?,
                conn,
            }),
        }
    }

    /// A statement prepared for this use only (SQL built at run time).
    pub fn prepare(&self, sql: &str) -> Result<Statement<'c>> {
        match self.engine {
            Engine::Sqlite(conn) => Ok(Statement::Sqlite(sqlite::Statement::Once(
                conn.prepare(sql)?,
            ))),
            Engine::Postgres(_) => self.prepare_cached(sql),
        }
    }

    /// Runs one statement and returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// The first row of a query, mapped by `f`; `Error::NoRows` when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// Checks foreign keys at commit instead of after each statement, for the rest of this
    /// transaction (rows that refer to each other, written in any order).
    pub fn defer_foreign_keys(&self) -> Result<()> {
        self.execute_batch(self.pick(
            "PRAGMA defer_foreign_keys = ON",
            "SET CONSTRAINTS ALL DEFERRED",
        ))
    }

    /// Runs several statements without parameters (seeding, resets).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self.engine {
            Engine::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Engine::Postgres(conn) => conn
                .borrow_mut()
                .run(|client| client.batch_execute(&postgres::translate(sql))),
        }
    }
}

impl<'c> Transaction<'c> {
    /// A SQLite transaction behind the seam (the store's writer).
    pub fn sqlite(tx: &'c rusqlite::Connection) -> Transaction<'c> {
        Transaction {
            conn: Connection::sqlite(tx),
        }
    }

    /// A PostgreSQL transaction behind the seam: `conn` has begun it.
    pub fn postgres(conn: &'c RefCell<PgConn>) -> Transaction<'c> {
        Transaction {
            conn: Connection::postgres(conn),
        }
    }

    /// `sql`, a SELECT, prepared so that the rows it reads stay locked against other writers
    /// until this transaction ends: what a check-then-write on those rows (a balance read
    /// before it is spent) needs when writes run side by side (`Store::write_rows`). On
    /// PostgreSQL that is `FOR UPDATE`; SQLite's writes take turns, so it is the plain query.
    pub fn prepare_for_update(&self, sql: &str) -> Result<Statement<'c>> {
        match self.engine {
            Engine::Sqlite(_) => self.prepare_cached(sql),
            Engine::Postgres(_) => self.prepare_cached(&format!("{sql} FOR UPDATE")),
        }
    }
}

/// A prepared statement.
pub enum Statement<'c> {
    Sqlite(sqlite::Statement<'c>),
    Postgres {
        conn: &'c RefCell<PgConn>,
        statement: ::postgres::Statement,
    },
}

/// Parameters as PostgreSQL takes them.
fn pg_params(values: &[Value]) -> Vec<&(dyn ::postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn ::postgres::types::ToSql + Sync))
        .collect()
}

impl Statement<'_> {
    pub fn execute(&mut self, params: impl Params) -> Result<usize> {
        match self {
            Statement::Sqlite(s) => Ok(s.get().execute(params.for_sqlite())?),
            Statement::Postgres { conn, statement } => {
                let values = params.values()?;
                let changed = conn
                    .borrow_mut()
                    .run(|client| client.execute(&*statement, &pg_params(&values)))?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// Whether the query finds at least one row.
    pub fn exists(&mut self, params: impl Params) -> Result<bool> {
        match self {
            Statement::Sqlite(s) => Ok(s.get().exists(params.for_sqlite())?),
            Statement::Postgres { .. } => Ok(self.query(params)?.next()?.is_some()),
        }
    }

    /// The first row, mapped by `f`; `Error::NoRows` when there is none.
    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(row) => f(&row),
            None => Err(Error::NoRows),
        }
    }

    /// The rows, one at a time (`while let Some(row) = rows.next()?`).
    pub fn query(&mut self, params: impl Params) -> Result<Rows<'_>> {
        match self {
            Statement::Sqlite(s) => Ok(Rows::Sqlite(s.get().query(params.for_sqlite())?)),
            Statement::Postgres { conn, statement } => {
                let values = params.values()?;
                let rows = conn
                    .borrow_mut()
                    .run(|client| client.query(&*statement, &pg_params(&values)))?;
                Ok(Rows::Postgres {
                    rows: rows.into(),
                    current: None,
                })
            }
        }
    }

    /// Every row, each mapped by `f`, as an iterator of results.
    pub fn query_map<T, F>(&mut self, params: impl Params, f: F) -> Result<MappedRows<'_, F>>
    where
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        Ok(MappedRows {
            rows: self.query(params)?,
            f,
        })
    }
}

/// The rows of `Statement::query`.
pub enum Rows<'s> {
    Sqlite(rusqlite::Rows<'s>),
    Postgres {
        rows: VecDeque<::postgres::Row>,
        current: Option<::postgres::Row>,
    },
}

impl Rows<'_> {
    /// The next row, or `None` after the last.
    #[allow(clippy::should_implement_trait)] // a row borrows from `self`: not an Iterator
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match self {
            Rows::Sqlite(rows) => Ok(rows.next()?.map(Row::sqlite)),
            Rows::Postgres { rows, current } => {
                *current = rows.pop_front();
                Ok(current.as_ref().map(|row| Row {
                    engine: RowEngine::Postgres(row),
                }))
            }
        }
    }
}

/// The rows of `Statement::query_map`.
pub struct MappedRows<'s, F> {
    rows: Rows<'s>,
    f: F,
}

impl<T, F> Iterator for MappedRows<'_, F>
where
    F: FnMut(&Row<'_>) -> Result<T>,
{
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        match self.rows.next() {
            Ok(Some(row)) => Some((self.f)(&row)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// One row of a query's answer.
pub struct Row<'r> {
    engine: RowEngine<'r>,
}

enum RowEngine<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r ::postgres::Row),
}

impl<'r> Row<'r> {
    fn sqlite(row: &'r rusqlite::Row<'r>) -> Row<'r> {
        Row {
            engine: RowEngine::Sqlite(row),
        }
    }

    /// The value of column `index` as a `T`.
    pub fn get<I: RowIndex, T: FromSql>(&self, index: I) -> Result<T> {
        match self.engine {
            RowEngine::Sqlite(row) => Ok(row.get(index.index())?),
            RowEngine::Postgres(row) => {
                let index = index.index();
                let Cell(value) = row.try_get(index)?;
                T::column_result(value.as_sqlite()).map_err(|e| {
                    Error::Conversion(format!(
                        "column {index} ({}): {e}",
                        row.columns()[index].type_()
                    ))
                })
            }
        }
    }
}
