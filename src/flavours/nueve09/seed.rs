//! The `nueve09` section of a seed document: top-level accounts with their balance.
//! Amounts are read exactly to the cent, as in `POST /clients` (see `money.rs`).

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::money;
use crate::auth::Hasher;
use crate::flavours::{FreshTenant, SectionError, SeedSection};
use crate::ids::Ids;

/// A tenant set's starting balance, in pesos.
const FRESH_AVAILABLE: f64 = 100_000.0;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    #[serde(default)]
    pub accounts: Vec<Account>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// uuid; generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    api_key: String,
    password: String,
    pub name: String,
    pub alias: String,
    /// Three letters; the alias's first three when absent ("NUEVE09" → "NUE", as the docs).
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub entity_code: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Pesos, e.g. 22814.55, as written (`money::from_raw`); kept as integer cents.
    #[serde(default)]
    available: Option<Box<RawValue>>,
    /// Pesos; the login answer's `balance` (the docs show 1154.0). Default 0.
    #[serde(default)]
    balance: Option<Box<RawValue>>,
    #[serde(skip)]
    available_cents: i64,
    #[serde(skip)]
    balance_cents: i64,
    #[serde(skip)]
    api_key_hash: Vec<u8>,
    #[serde(skip)]
    password_hash: String,
}

/// An optional amount in pesos → cents (absent: 0).
fn cents(amount: &Option<Box<RawValue>>) -> Result<i64, money::AmountError> {
    amount.as_deref().map_or(Ok(0), money::from_raw)
}

/// Deletes top-level account `id` and every sub-client below it (ON DELETE CASCADE).
pub fn delete_tenant(tx: &crate::db::Transaction, id: &str) -> crate::db::Result<()> {
    // The account and its sub-clients, each a tenant of the conformance counts.
    let tenants: Vec<String> = tx
        .prepare(
            "WITH RECURSIVE tree(id) AS (
                 SELECT id FROM n09_accounts WHERE id = ?1
                 UNION SELECT a.id FROM n09_accounts a JOIN tree ON a.parent_id = tree.id)
             SELECT id FROM tree",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<crate::db::Result<_>>()?;
    for tenant in &tenants {
        crate::conformance::forget(tx, tenant)?;
    }
    tx.execute("DELETE FROM n09_accounts WHERE id = ?1", [id])?;
    Ok(())
}

impl Section {
    /// The section as the seed document has it, checked.
    pub fn parse(section: &str) -> Result<Section, SectionError> {
        crate::flavours::parse_section(section, Section::validate)
    }

    pub fn validate(&self) -> Result<(), String> {
        for (i, a) in self.accounts.iter().enumerate() {
            if a.api_key.is_empty() || a.password.is_empty() {
                return Err(format!(
                    "nueve09.accounts[{i}]: api_key and password must not be empty"
                ));
            }
            for (field, amount) in [("available", &a.available), ("balance", &a.balance)] {
                if let Err(e) = cents(amount) {
                    return Err(format!("nueve09.accounts[{i}].{field} {}", e.message()));
                }
            }
        }
        Ok(())
    }
}

impl SeedSection for Section {
    fn prepare(&mut self, hash: Hasher, ids: &Ids) {
        for a in &mut self.accounts {
            a.id.get_or_insert_with(|| ids.uuid_v4());
            // `validate` has refused bad amounts already.
            a.available_cents = cents(&a.available).unwrap_or(0);
            a.balance_cents = cents(&a.balance).unwrap_or(0);
            a.api_key_hash = crate::auth::sha256(a.api_key.as_bytes()).to_vec();
            a.password_hash = hash(&a.password);
            a.api_key.clear();
            a.password.clear();
        }
    }

    fn apply(&self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<()> {
        let mut insert = tx.prepare_cached(
            "INSERT INTO n09_accounts (id, api_key_hash, password_hash, name, alias, code,
                 entity_code, email, available_cents, balance_cents, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) ON CONFLICT DO NOTHING",
        )?;
        for a in &self.accounts {
            let code = a
                .code
                .clone()
                .unwrap_or_else(|| a.alias.chars().take(3).collect::<String>().to_uppercase());
            insert.execute(crate::params![
                a.id,
                a.api_key_hash,
                a.password_hash,
                a.name,
                a.alias,
                code,
                a.entity_code.as_deref().unwrap_or(""),
                a.email.as_deref().unwrap_or(""),
                a.available_cents,
                a.balance_cents,
                now_ms
            ])?;
        }
        Ok(())
    }

    fn summary(&self) -> Value {
        json!({"accounts": self.accounts.len()})
    }
}

/// A tenant set's top-level account, with a random API key and password.
pub struct Fresh {
    section: Section,
    api_key: String,
    password: String,
}

impl Fresh {
    pub fn new(ids: &Ids, tag: &str) -> Result<Fresh, String> {
        let (api_key, password) = (ids.secret_token(), ids.secret_token());
        let section = Section::parse(
            &json!({"accounts": [{
            "api_key": api_key, "password": password, "name": format!("Tenant {tag}"),
            "alias": format!("T{tag}"), "available": FRESH_AVAILABLE}]})
            .to_string(),
        )
        .map_err(|e| e.to_string())?;
        Ok(Fresh {
            section,
            api_key,
            password,
        })
    }

    fn account_id(&self) -> String {
        self.section.accounts[0].id.clone().unwrap_or_default()
    }
}

impl FreshTenant for Fresh {
    fn prepare(&mut self, hash: Hasher, ids: &Ids) {
        self.section.prepare(hash, ids);
    }

    fn insert(&mut self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<String> {
        self.section.apply(tx, now_ms)?;
        Ok(self.account_id())
    }

    fn credentials(&self) -> Value {
        json!({"account_id": self.section.accounts[0].id, "api_key": self.api_key,
               "password": self.password, "available": FRESH_AVAILABLE})
    }
}
