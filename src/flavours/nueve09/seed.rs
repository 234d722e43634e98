//! The `nueve09` section of a seed document: top-level accounts with their balance.

use serde::Deserialize;

use crate::seed::Hasher;

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
    /// Pesos, e.g. 22814.55; kept as integer cents.
    #[serde(default)]
    pub available: f64,
    #[serde(skip)]
    api_key_hash: Vec<u8>,
    #[serde(skip)]
    password_hash: String,
}

/// Pesos as a JSON number → integer cents, rounding away float noise (22814.55 → 2281455).
pub fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

impl Section {
    pub fn validate(&self) -> Result<(), String> {
        for (i, a) in self.accounts.iter().enumerate() {
            if a.api_key.is_empty() || a.password.is_empty() {
                return Err(format!(
                    "nueve09.accounts[{i}]: api_key and password must not be empty"
                ));
            }
            if !(a.available.is_finite() && a.available >= 0.0 && a.available < 1e13) {
                return Err(format!(
                    "nueve09.accounts[{i}].available must be a non-negative amount"
                ));
            }
        }
        Ok(())
    }

    pub fn prepare(&mut self, hash: Hasher) {
        for a in &mut self.accounts {
            a.id.get_or_insert_with(crate::ids::uuid_v4);
            a.api_key_hash = crate::auth::sha256(a.api_key.as_bytes()).to_vec();
            a.password_hash = hash(&a.password);
            a.api_key.clear();
            a.password.clear();
        }
    }

    pub fn apply(&self, tx: &rusqlite::Transaction, now_ms: i64) -> rusqlite::Result<()> {
        let mut insert = tx.prepare_cached(
            "INSERT INTO n09_accounts (id, api_key_hash, password_hash, name, alias, code,
                 entity_code, email, available_cents, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) ON CONFLICT DO NOTHING",
        )?;
        for a in &self.accounts {
            let code = a
                .code
                .clone()
                .unwrap_or_else(|| a.alias.chars().take(3).collect::<String>().to_uppercase());
            insert.execute(rusqlite::params![
                a.id,
                a.api_key_hash,
                a.password_hash,
                a.name,
                a.alias,
                code,
                a.entity_code.as_deref().unwrap_or(""),
                a.email.as_deref().unwrap_or(""),
                cents(a.available),
                now_ms
            ])?;
        }
        Ok(())
    }
}
