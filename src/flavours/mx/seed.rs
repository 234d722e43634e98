//! The `mx` section of a seed document: processors and their API keys.

use serde::Deserialize;

use crate::seed::Hasher;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    #[serde(default)]
    pub processors: Vec<Processor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Processor {
    pub id: String,
    api_key: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(skip)]
    api_key_hash: String,
}

/// Deletes processor `id` with its clients (and their links and sessions).
pub fn delete_tenant(tx: &rusqlite::Transaction, id: &str) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM links WHERE purpose LIKE 'mx.%'
           AND subject_id IN (SELECT id FROM mx_clients WHERE processor_id = ?1)",
        [id],
    )?;
    tx.execute(
        "DELETE FROM sessions WHERE purpose LIKE 'mx.%'
           AND subject_id IN (SELECT id FROM mx_clients WHERE processor_id = ?1)",
        [id],
    )?;
    // mx_clients go with their processor (ON DELETE CASCADE).
    tx.execute("DELETE FROM mx_processors WHERE id = ?1", [id])?;
    Ok(())
}

impl Section {
    pub fn validate(&self) -> Result<(), String> {
        for (i, p) in self.processors.iter().enumerate() {
            if p.id.trim().is_empty() || p.id.contains(':') {
                return Err(format!(
                    "mx.processors[{i}].id must be non-empty, without ':'"
                ));
            }
            if p.api_key.is_empty() {
                return Err(format!("mx.processors[{i}].api_key must not be empty"));
            }
        }
        Ok(())
    }

    pub fn prepare(&mut self, hash: Hasher) {
        for p in &mut self.processors {
            p.api_key_hash = hash(&p.api_key);
            p.api_key.clear();
        }
    }

    pub fn apply(&self, tx: &rusqlite::Transaction, now_ms: i64) -> rusqlite::Result<()> {
        let mut insert = tx.prepare_cached(
            "INSERT INTO mx_processors (id, name, api_key_hash, created_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
        )?;
        for p in &self.processors {
            let name = p.name.as_deref().unwrap_or(&p.id);
            insert.execute(rusqlite::params![p.id, name, p.api_key_hash, now_ms])?;
        }
        Ok(())
    }
}
