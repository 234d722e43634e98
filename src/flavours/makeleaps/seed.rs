//! The `makeleaps` section of a seed document: partners and their OAuth2 client credentials.

use serde::Deserialize;

use crate::seed::Hasher;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    #[serde(default)]
    pub partners: Vec<Partner>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    /// 19 digits; generated when absent.
    #[serde(default)]
    pub mid: Option<String>,
    pub name: String,
    pub client_id: String,
    client_secret: String,
    #[serde(skip)]
    client_secret_hash: String,
}

impl Section {
    pub fn validate(&self) -> Result<(), String> {
        for (i, p) in self.partners.iter().enumerate() {
            if let Some(mid) = &p.mid {
                if mid.len() != 19 || !mid.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("makeleaps.partners[{i}].mid must be 19 digits"));
                }
            }
            if p.client_id.is_empty() || p.client_id.contains(':') {
                return Err(format!(
                    "makeleaps.partners[{i}].client_id must be non-empty, without ':'"
                ));
            }
            if p.client_secret.is_empty() {
                return Err(format!(
                    "makeleaps.partners[{i}].client_secret must not be empty"
                ));
            }
        }
        Ok(())
    }

    pub fn prepare(&mut self, hash: Hasher) {
        for p in &mut self.partners {
            p.mid.get_or_insert_with(|| crate::ids::digits(19));
            p.client_secret_hash = hash(&p.client_secret);
            p.client_secret.clear();
        }
    }

    pub fn apply(&self, tx: &rusqlite::Transaction, now_ms: i64) -> rusqlite::Result<()> {
        let mut insert = tx.prepare_cached(
            "INSERT INTO ml_partners (mid, name, client_id, client_secret_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )?;
        for p in &self.partners {
            insert.execute(rusqlite::params![
                p.mid,
                p.name,
                p.client_id,
                p.client_secret_hash,
                now_ms
            ])?;
        }
        Ok(())
    }
}
