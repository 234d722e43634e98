//! The PostgreSQL engine behind the seam: one `postgres::Client` per pooled connection, its
//! statements prepared once and kept, and values carried in SQLite's five kinds (null,
//! integer, real, text, blob) so that the rest of the code reads and binds them the same way
//! on both engines.
//!
//! The SQL is the shared dialect with SQLite's `?N` parameters; `translate` turns it into
//! PostgreSQL's `$N` and drops `COLLATE NOCASE` (the PostgreSQL schema declares those columns
//! `citext`, which compares the same way).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Arc;

use bytes::BytesMut;
use postgres::types::{FromSql, IsNull, ToSql, Type};

use super::pg_deadline::Deadline;
use super::Value;

/// Prepared statements kept per connection; past this many (SQL built at run time), the
/// cache starts again.
const MAX_STATEMENTS: usize = 512;

/// One connection, its prepared statements, and its deadline (`pg_deadline`), moved on at
/// each round trip: every use of the client goes through `client` or `statement`.
pub struct PgConn {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
    deadline: Option<Arc<Deadline>>,
    /// Set when a statement failed because a concurrent transaction got there first
    /// (`lost_race`): the store then runs the whole transaction again.
    lost_race: bool,
}

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client,
            statements: HashMap::new(),
            deadline: None,
            lost_race: false,
        }
    }

    /// Watched from now on: a round trip that outlasts the deadline's timeout is cut.
    pub fn watched(mut self, deadline: Option<Arc<Deadline>>) -> PgConn {
        self.deadline = deadline;
        self
    }

    /// The client, for one round trip (or a few): the deadline starts now.
    pub fn client(&mut self) -> &mut postgres::Client {
        if let Some(deadline) = &self.deadline {
            deadline.arm();
        }
        &mut self.client
    }

    /// One round trip (or a few) with the client; a failure that says another transaction
    /// won a race is remembered (`take_lost_race`).
    pub fn run<T>(
        &mut self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T, super::Error> {
        f(self.client()).map_err(|e| {
            self.lost_race |= lost_race(&e);
            super::Error::from(e)
        })
    }

    /// Whether a statement failed since the last call because a concurrent transaction got
    /// there first; clears it.
    pub fn take_lost_race(&mut self) -> bool {
        std::mem::take(&mut self.lost_race)
    }

    /// Back in the pool: no deadline while nobody uses it.
    pub fn idle(&self) {
        if let Some(deadline) = &self.deadline {
            deadline.disarm();
        }
    }

    /// True when the deadline cut the connection (the server did not answer in time).
    pub fn timed_out(&self) -> bool {
        self.deadline.as_ref().is_some_and(|d| d.tripped())
    }

    /// Whether the connection was lost (the pool then makes a new one).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// `sql` prepared on this connection, from the cache when it was prepared before.
    pub fn statement(&mut self, sql: &str) -> Result<postgres::Statement, super::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.run(|client| client.prepare(&translate(sql)))?;
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

/// True for the failures that mean a concurrent transaction got there first, so that the same
/// transaction run again (seeing what the other committed) answers as if they had taken turns:
/// a unique or foreign key refused because of the other's row, a deadlock victim, a
/// serialization failure.
fn lost_race(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code().is_some_and(|code| {
        [
            SqlState::UNIQUE_VIOLATION,
            SqlState::FOREIGN_KEY_VIOLATION,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::T_R_SERIALIZATION_FAILURE,
        ]
        .contains(code)
    })
}

/// The shared dialect in PostgreSQL's: `?N` → `$N` (a bare `?` takes the next number),
/// `COLLATE NOCASE` dropped, `group_concat(x, sep)` → `string_agg(x, sep)`, `INSERT OR IGNORE` →
/// `INSERT ... ON CONFLICT DO NOTHING`, `ORDER BY rowid` (creation order) → `ORDER BY seq`
/// (PostgreSQL has no rowid: the tables listed in creation order carry a `seq` identity
/// column). Parameters in string literals and quoted names are left alone.
pub fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next_bare = 1;
    let mut chars = sql.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '?' => {
                let digits: String = sql[i + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next_bare.to_string());
                    next_bare += 1;
                } else {
                    out.push_str(&digits);
                    for _ in 0..digits.len() {
                        chars.next();
                    }
                }
            }
            _ => out.push(c),
        }
    }
    let mut out = out
        .replace(" COLLATE NOCASE", "")
        .replace("group_concat(", "string_agg(")
        .replace("ORDER BY rowid", "ORDER BY seq");
    if out.contains("INSERT OR IGNORE INTO") {
        out = out.replace("INSERT OR IGNORE INTO", "INSERT INTO");
        let end = out.trim_end().trim_end_matches(';').len();
        out.truncate(end);
        out.push_str(" ON CONFLICT DO NOTHING");
    }
    out
}

/// A parameter as PostgreSQL takes it: converted to the type the statement expects, as SQLite
/// would convert it to a column's affinity.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                Type::FLOAT4 => (*n as f32).to_sql(ty, out),
                _ if is_text(ty) => n.to_string().as_str().to_sql(&Type::TEXT, out),
                _ => Err(format!("an integer cannot be a {ty}").into()),
            },
            Value::Real(r) => match *ty {
                Type::FLOAT8 => r.to_sql(ty, out),
                Type::FLOAT4 => (*r as f32).to_sql(ty, out),
                _ if is_text(ty) => r.to_string().as_str().to_sql(&Type::TEXT, out),
                _ => Err(format!("a real number cannot be a {ty}").into()),
            },
            Value::Text(t) => match *ty {
                Type::BYTEA => t.as_bytes().to_sql(ty, out),
                Type::INT8 => t.parse::<i64>()?.to_sql(ty, out),
                _ if is_text(ty) => t.as_str().to_sql(&Type::TEXT, out),
                _ => Err(format!("text cannot be a {ty}").into()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(format!("a blob cannot be a {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    ) || ty.name() == "citext"
}

/// A column as one of SQLite's five kinds, whatever its PostgreSQL type.
pub struct Cell(pub Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, Box<dyn StdError + Sync + Send>> {
        Ok(Cell(match *ty {
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
            Type::OID => Value::Integer(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Integer(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            // sum() of a BIGINT column is NUMERIC.
            Type::NUMERIC => numeric(raw)?,
            _ if is_text(ty) => Value::Text(String::from_utf8(raw.to_vec())?),
            _ => return Err(format!("a {ty} column: cast it to a text or integer type").into()),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Cell, Box<dyn StdError + Sync + Send>> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A NUMERIC in PostgreSQL's binary form (sign, weight and base-10000 digits): an integer
/// when it has no fraction and fits, a real number otherwise.
fn numeric(raw: &[u8]) -> Result<Value, Box<dyn StdError + Sync + Send>> {
    let word = |i: usize| -> Result<u16, Box<dyn StdError + Sync + Send>> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a truncated NUMERIC".into())
    };
    let (count, weight, sign) = (usize::from(word(0)?), word(2)? as i16, word(4)?);
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let digits = (0..count)
        .map(|i| word(8 + 2 * i))
        .collect::<Result<Vec<u16>, _>>()?;
    let negative = sign == 0x4000;
    let integral = i32::from(weight) >= count as i32 - 1;
    if integral {
        let mut n: i128 = 0;
        for (i, d) in digits.iter().enumerate() {
            let power = i32::from(weight) - i as i32;
            n += i128::from(*d) * 10_000i128.pow(power as u32);
        }
        if let Ok(n) = i64::try_from(if negative { -n } else { n }) {
            return Ok(Value::Integer(n));
        }
    }
    let mut r = 0f64;
    for (i, d) in digits.iter().enumerate() {
        r += f64::from(*d) * 10_000f64.powi(i32::from(weight) - i as i32);
    }
    Ok(Value::Real(if negative { -r } else { r }))
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn parameters_become_dollar_numbers_outside_quotes() {
        assert_eq!(
            translate("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $12"
        );
        assert_eq!(translate("VALUES (?, ?)"), "VALUES ($1, $2)");
    }

    #[test]
    fn nocase_and_insert_or_ignore_are_rewritten() {
        assert_eq!(
            translate("SELECT 1 FROM t WHERE name = ?1 COLLATE NOCASE"),
            "SELECT 1 FROM t WHERE name = $1"
        );
        assert_eq!(
            translate("INSERT OR IGNORE INTO t (a) VALUES (?1);"),
            "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING"
        );
    }
}
