//! Tenants: the seed document (docs/fixture.md), shared by `--seed FILE`, `POST /_admin/seed`
//! and `--demo`. It is a JSON object with one section per flavour, keyed by the flavour's
//! name; each flavour parses, checks, prepares and applies its own (`Flavour::parse_seed`),
//! and this module composes them: every section hashed once (`prepare`), all applied in one
//! transaction.
//!
//! Applying is idempotent: a tenant whose id (or unique key) exists already is left alone.

use serde_json::{Map, Value};

use crate::auth::Hasher;
use crate::flavours::{self, Flavour, SeedSection};
use crate::ids::Ids;

/// A parsed seed document: every flavour's section, in the order of `flavours::ALL` (an
/// absent section is an empty one).
pub struct Document {
    sections: Vec<(&'static dyn Flavour, Box<dyn SeedSection>)>,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.sections.iter().map(|(flavour, s)| (flavour.name(), s)))
            .finish()
    }
}

impl Document {
    /// Parses and checks a seed document; the message names the offending field.
    pub fn parse(bytes: &[u8]) -> Result<Document, String> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let Value::Object(map) = value else {
            return Err("a seed document is a JSON object with one key per flavour".into());
        };
        Document::from_sections(map)
    }

    /// A document from its sections, by flavour name.
    pub fn from_sections(mut map: Map<String, Value>) -> Result<Document, String> {
        if let Some(unknown) = map.keys().find(|k| flavours::by_name(k).is_none()) {
            let known: Vec<String> = flavours::ALL
                .iter()
                .map(|f| format!("`{}`", f.name()))
                .collect();
            return Err(format!(
                "unknown field `{unknown}`, expected one of {}",
                known.join(", ")
            ));
        }
        let sections = flavours::ALL
            .iter()
            .map(|flavour| {
                let section = map
                    .remove(flavour.name())
                    .unwrap_or_else(|| Value::Object(Map::new()));
                Ok((*flavour, flavour.parse_seed(section)?))
            })
            .collect::<Result<_, String>>()?;
        Ok(Document { sections })
    }

    /// Hashes every secret (dropping the plain text) and fixes generated ids, so that
    /// applying the document again (a reset) gives the same tenants without hashing again.
    pub fn prepare(&mut self, hash: Hasher, ids: &Ids) {
        for (_, section) in &mut self.sections {
            section.prepare(hash, ids);
        }
    }

    pub fn apply(&self, tx: &rusqlite::Transaction, now_ms: i64) -> rusqlite::Result<()> {
        self.sections
            .iter()
            .try_for_each(|(_, section)| section.apply(tx, now_ms))
    }

    /// How many tenants of each kind the document names, for the admin API's answer.
    pub fn summary(&self) -> Value {
        let by_flavour = self
            .sections
            .iter()
            .map(|(flavour, section)| (flavour.name().to_string(), section.summary()))
            .collect();
        Value::Object(by_flavour)
    }
}

/// The demo document: each flavour's documentation examples, prepared with the precomputed
/// hashes of their secrets.
pub fn demo(ids: &Ids) -> Document {
    let sections = flavours::ALL
        .iter()
        .map(|f| {
            let section = serde_json::from_str(f.demo().seed).expect("a flavour's demo is JSON");
            (f.name().to_string(), section)
        })
        .collect();
    let mut doc = Document::from_sections(sections).expect("the demo is a valid seed");
    doc.prepare(
        &|secret| {
            flavours::ALL
                .iter()
                .flat_map(|f| f.demo().hashes)
                .find(|(plain, _)| *plain == secret)
                .map(|(_, hash)| hash.to_string())
                .unwrap_or_else(|| crate::auth::hash_secret(secret, ids))
        },
        ids,
    );
    doc
}

/// What `serve --demo` prints to stderr: how to call each flavour as the vendor docs do.
pub fn demo_banner() -> String {
    let mut banner = String::from("demo tenants (the vendors' documentation examples):");
    for flavour in flavours::ALL {
        banner.push_str(&format!(
            "\n  {:<12} {}",
            flavour.name(),
            flavour.demo().banner
        ));
    }
    banner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_hashes_match() {
        for flavour in flavours::ALL {
            for (plain, hash) in flavour.demo().hashes {
                assert!(crate::auth::verify_secret(plain, hash), "{plain}");
            }
        }
    }

    #[test]
    fn demo_parses_and_names_every_flavour() {
        let summary = demo(&Ids::new(None)).summary();
        for flavour in flavours::ALL {
            let counts = summary[flavour.name()]
                .as_object()
                .expect("a section summary");
            assert!(
                counts.values().any(|n| n.as_u64() > Some(0)),
                "{}: {counts:?}",
                flavour.name()
            );
        }
        let banner = demo_banner();
        for flavour in flavours::ALL {
            assert!(
                banner.contains(&format!("  {} ", flavour.name())),
                "{banner}"
            );
        }
    }

    #[test]
    fn rejects_unknown_sections_and_fields() {
        let err = Document::parse(br#"{"stripe": {}}"#).unwrap_err();
        assert!(err.contains("stripe"), "{err}");
        assert!(Document::parse(b"[]").is_err());
    }
}
