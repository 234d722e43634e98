//! The `mx` section of a seed document: processors and their API keys.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Hasher;
use crate::flavours::{FreshTenant, SectionError, SeedSection};
use crate::ids::Ids;

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
pub fn delete_tenant(tx: &crate::db::Transaction, id: &str) -> crate::db::Result<()> {
    // By exact purpose, which the (purpose, subject_id) indexes search: a LIKE walked every
    // link of the database, so each deletion cost more than the one before.
    tx.execute(
        "DELETE FROM links WHERE purpose = ?2
           AND subject_id IN (SELECT id FROM mx_clients WHERE processor_id = ?1)",
        [id, super::REGISTER_LINK],
    )?;
    tx.execute(
        "DELETE FROM sessions WHERE purpose = ?2
           AND subject_id IN (SELECT id FROM mx_clients WHERE processor_id = ?1)",
        [id, super::dashboard::SESSION_PURPOSE],
    )?;
    // mx_clients go with their processor (ON DELETE CASCADE).
    tx.execute("DELETE FROM mx_processors WHERE id = ?1", [id])?;
    crate::conformance::forget(tx, id)?;
    Ok(())
}

impl Section {
    /// The section as the seed document has it, checked.
    pub fn parse(section: &str) -> Result<Section, SectionError> {
        crate::flavours::parse_section(section, Section::validate)
    }

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
}

impl SeedSection for Section {
    fn prepare(&mut self, hash: Hasher, _ids: &Ids) {
        for p in &mut self.processors {
            p.api_key_hash = hash(&p.api_key);
            p.api_key.clear();
        }
    }

    fn apply(&self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<()> {
        let mut insert = tx.prepare_cached(
            "INSERT INTO mx_processors (id, name, api_key_hash, created_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
        )?;
        for p in &self.processors {
            let name = p.name.as_deref().unwrap_or(&p.id);
            insert.execute(crate::params![p.id, name, p.api_key_hash, now_ms])?;
        }
        Ok(())
    }

    fn summary(&self) -> Value {
        json!({"processors": self.processors.len()})
    }
}

/// A tenant set's processor: `PROCESSOR-<tag>` with a random API key.
pub struct Fresh {
    section: Section,
    processor_id: String,
    api_key: String,
}

impl Fresh {
    pub fn new(ids: &Ids, tag: &str) -> Result<Fresh, String> {
        let processor_id = format!("PROCESSOR-{tag}");
        let api_key = ids.secret_token();
        let section = Section::parse(
            &json!({"processors": [{
            "id": processor_id, "api_key": api_key, "name": format!("Processor {tag}")}]})
            .to_string(),
        )
        .map_err(|e| e.to_string())?;
        Ok(Fresh {
            section,
            processor_id,
            api_key,
        })
    }
}

impl FreshTenant for Fresh {
    fn prepare(&mut self, hash: Hasher, ids: &Ids) {
        self.section.prepare(hash, ids);
    }

    fn insert(&mut self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<String> {
        self.section.apply(tx, now_ms)?;
        Ok(self.processor_id.clone())
    }

    fn credentials(&self) -> Value {
        json!({"processor_id": self.processor_id, "api_key": self.api_key,
               "authorization": crate::auth::basic_header(&self.processor_id, &self.api_key)})
    }
}
