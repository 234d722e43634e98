//! Accounts: the callers of this API. A top-level account comes from a seed; a sub-client
//! created with `POST /clients` is an account too, with its parent set. Both log in the same
//! way and see themselves as the login example's `client` object (docs/nueve09.md).

use crate::db::{Connection, OptionalExtension, Row};
use serde_json::{json, Value};

use super::money;

/// An account as the login answer shows it.
pub struct Account {
    pub id: String,
    pub name: String,
    pub alias: String,
    pub code: String,
    pub entity_code: String,
    pub email: String,
    pub available_cents: i64,
    pub balance_cents: i64,
    pub timezone: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const BY_ID: &str = "SELECT id, name, alias, code, entity_code, email, available_cents,
        balance_cents, timezone, status, created_at, updated_at
    FROM n09_accounts WHERE id = ?1";

/// The same columns, then the password hash (column 12), found by the api_key's SHA-256.
const BY_API_KEY: &str = "SELECT id, name, alias, code, entity_code, email, available_cents,
        balance_cents, timezone, status, created_at, updated_at, password_hash
    FROM n09_accounts WHERE api_key_hash = ?1";

impl Account {
    pub fn by_id(conn: &Connection, id: &str) -> crate::db::Result<Option<Account>> {
        conn.prepare_cached(BY_ID)?
            .query_row([id], Account::from_row)
            .optional()
    }

    /// The account an api_key names, with its password's argon2id hash. The key itself is
    /// kept only as SHA-256, so it is looked up by that.
    pub fn by_api_key(
        conn: &Connection,
        api_key: &str,
    ) -> crate::db::Result<Option<(Account, String)>> {
        let hash = crate::auth::sha256(api_key.as_bytes());
        conn.prepare_cached(BY_API_KEY)?
            .query_row([&hash[..]], |r| Ok((Account::from_row(r)?, r.get(12)?)))
            .optional()
    }

    fn from_row(r: &Row) -> crate::db::Result<Account> {
        Ok(Account {
            id: r.get(0)?,
            name: r.get(1)?,
            alias: r.get(2)?,
            code: r.get(3)?,
            entity_code: r.get(4)?,
            email: r.get(5)?,
            available_cents: r.get(6)?,
            balance_cents: r.get(7)?,
            timezone: r.get(8)?,
            status: r.get(9)?,
            created_at: r.get(10)?,
            updated_at: r.get(11)?,
        })
    }

    /// `data.client` of the login answer, field for field as the vendor's example.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "alias": self.alias,
            "code": self.code,
            "entity_code": self.entity_code,
            "email": self.email,
            "available": money::to_json(self.available_cents),
            "balance": money::to_json(self.balance_cents),
            "timezone": self.timezone,
            "status": self.status,
            "created_at": mexico_city_time(self.created_at),
            "updated_at": mexico_city_time(self.updated_at),
        })
    }
}

/// `2020-11-04T19:36:04.399-06:00`: the vendor's timestamps are Mexico City local time with
/// milliseconds. Mexico City has kept UTC−6 all year since daylight saving ended in 2022.
pub fn mexico_city_time(ms: i64) -> String {
    const OFFSET_MS: i64 = 6 * 60 * 60 * 1000;
    let utc = crate::clock::iso_millis(ms - OFFSET_MS);
    format!("{}-06:00", utc.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_mexico_city_local() {
        // 2020-11-05T01:36:04.399Z is the login example's created_at.
        assert_eq!(
            mexico_city_time(1_604_540_164_399),
            "2020-11-04T19:36:04.399-06:00"
        );
    }
}
