//! Tenants: the seed document (docs/fixture.md), shared by `--seed FILE`, `POST /_admin/seed`
//! and `--demo`. It is a JSON object with one section per flavour, keyed by the flavour's
//! name; each flavour parses, checks, prepares and applies its own (`Flavour::parse_seed`),
//! and this module composes them: every section hashed once (`prepare`), all applied in one
//! transaction.
//!
//! Applying is idempotent: a tenant whose id (or unique key) exists already is left alone.

use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::auth::{Hasher, PasswordHashing};
use crate::flavours::{self, Flavour, SectionError, SeedSection};
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
    /// Parses and checks a seed document; the message names the offending field and, for
    /// one that is not the right shape, where it is in the document.
    pub fn parse(bytes: &[u8]) -> Result<Document, String> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let given = deserializer
            .deserialize_map(SectionsVisitor)
            .and_then(|given| deserializer.end().map(|()| given))
            .map_err(|e| e.to_string())?;
        let sections = flavours::ALL
            .iter()
            .map(|flavour| {
                let raw = given
                    .iter()
                    .find(|(f, _)| f.name() == flavour.name())
                    .map(|(_, raw)| *raw);
                let text = raw.map_or("{}", RawValue::get);
                let section = flavour.parse_seed(text).map_err(|e| match (e, raw) {
                    (SectionError::Json(e), Some(raw)) => in_document(&e, bytes, raw.get()),
                    (e, _) => e.to_string(),
                })?;
                Ok((*flavour, section))
            })
            .collect::<Result<_, String>>()?;
        Ok(Document { sections })
    }

    /// A document from its sections as values, by flavour name (the demo's).
    pub fn from_sections(sections: Map<String, Value>) -> Result<Document, String> {
        Document::parse(Value::Object(sections).to_string().as_bytes())
    }

    /// Hashes every secret (dropping the plain text) and fixes generated ids, so that
    /// applying the document again (a reset) gives the same tenants without hashing again.
    pub fn prepare(&mut self, hash: Hasher, ids: &Ids) {
        for (_, section) in &mut self.sections {
            section.prepare(hash, ids);
        }
    }

    pub fn apply(&self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<()> {
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

/// The sections a document gives, by flavour, as their JSON text (positions in the document
/// are kept for error messages). Unknown and repeated keys are refused as serde refuses them
/// for a struct, with the position where they are.
struct SectionsVisitor;

type Given<'de> = Vec<(&'static dyn Flavour, &'de RawValue)>;

impl<'de> Visitor<'de> for SectionsVisitor {
    type Value = Given<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("struct Document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Given<'de>, A::Error> {
        use serde::de::Error;
        let mut given: Given<'de> = Vec::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let Some(flavour) = flavours::by_name(&key) else {
                return Err(A::Error::unknown_field(&key, flavour_names()));
            };
            if given.iter().any(|(f, _)| f.name() == flavour.name()) {
                return Err(A::Error::duplicate_field(flavour.name()));
            }
            given.push((flavour, map.next_value()?));
        }
        Ok(given)
    }
}

/// Every flavour's name, as serde's "expected one of" wants them.
fn flavour_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| flavours::ALL.iter().map(|f| f.name()).collect())
}

/// A section's serde error with its position moved from the section's text to the whole
/// document's (`section` is a slice of `document`).
fn in_document(error: &serde_json::Error, document: &[u8], section: &str) -> String {
    let message = error.to_string();
    if error.line() == 0 {
        return message;
    }
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let bare = message.strip_suffix(&suffix).unwrap_or(&message);
    let offset = (section.as_ptr() as usize).saturating_sub(document.as_ptr() as usize);
    let before = &document[..offset.min(document.len())];
    let start_line = 1 + before.iter().filter(|b| **b == b'\n').count();
    let start_column = before.len()
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
    let (line, column) = if error.line() == 1 {
        (start_line, start_column + error.column())
    } else {
        (start_line + error.line() - 1, error.column())
    };
    format!("{bare} at line {line} column {column}")
}

/// The demo document: each flavour's documentation examples, prepared with the precomputed
/// hashes of their secrets, or at the fast cost with hashes of that cost.
pub fn demo(ids: &Ids, hashing: PasswordHashing) -> Document {
    let sections = flavours::ALL
        .iter()
        .map(|f| {
            let section = serde_json::from_str(f.demo().seed).expect("a flavour's demo is JSON");
            (f.name().to_string(), section)
        })
        .collect();
    let mut doc = Document::from_sections(sections).expect("the demo is a valid seed");
    // At the standard cost, hashing the demo's secrets would take a tenth of a second at
    // every start: the precomputed ones serve. At the fast cost, hashing is cheaper than a
    // first verify against a precomputed hash.
    let precomputed = |secret: &str| {
        flavours::ALL
            .iter()
            .flat_map(|f| f.demo().hashes)
            .find(|(plain, _)| *plain == secret)
            .map(|(_, hash)| hash.to_string())
    };
    doc.prepare(
        &|secret| match hashing {
            PasswordHashing::Standard => precomputed(secret)
                .unwrap_or_else(|| crate::auth::hash_chosen(secret, ids, hashing)),
            PasswordHashing::Fast => crate::auth::hash_chosen(secret, ids, hashing),
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
        let summary = demo(&Ids::new(None), PasswordHashing::Standard).summary();
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
    fn the_demo_seeds_each_vendor_s_examples() {
        let summary = demo(&Ids::new(None), Default::default()).summary();
        assert_eq!(summary["mx"]["processors"], 1);
        assert_eq!(summary["shieldconex"]["users"], 2);
        assert_eq!(summary["nueve09"]["accounts"], 1);
        assert_eq!(summary["makeleaps"]["partners"], 1);
        let err = Document::parse(br#"{"mx": {"processors": [{"id": "P"}]}}"#).unwrap_err();
        assert!(err.contains("api_key"), "{err}");
    }

    /// What `Document::parse` says about a document that is not the right shape is
    /// what serde says about the whole document as one struct, position included.
    #[test]
    fn seed_errors_name_the_place_in_the_whole_document() {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Document {
            #[serde(default)]
            mx: flavours::mx::seed::Section,
            #[serde(default)]
            shieldconex: flavours::shieldconex::seed::Section,
            #[serde(default)]
            nueve09: flavours::nueve09::seed::Section,
            #[serde(default)]
            makeleaps: flavours::makeleaps::seed::Section,
        }
        let documents: [&str; 8] = [
            r#"{"stripe": {}}"#,
            r#"{"mx": {"processors": [{"id": "P"}]}}"#,
            "{\n  \"shieldconex\": {\n    \"users\": [{\"id\": 1}]\n  }\n}",
            r#"{"mx": {}, "nueve09": {"accounts": [{"api_key": 5}]}}"#,
            r#"{"makeleaps": 7}"#,
            r#"{"mx": {}, "mx": {}}"#,
            r#"{"mx": {}} x"#,
            r#"{"mx": {"processors": [{"id": "P", "api_key": "k", "colour": 1}]}}"#,
        ];
        for text in documents {
            let whole = serde_json::from_str::<Document>(text)
                .err()
                .map(|e| e.to_string());
            let ours = super::Document::parse(text.as_bytes()).err();
            assert!(whole.is_some(), "{text}");
            assert_eq!(ours, whole, "{text}");
        }
    }

    #[test]
    fn rejects_unknown_sections_and_fields() {
        let err = Document::parse(br#"{"stripe": {}}"#).unwrap_err();
        assert!(err.contains("stripe"), "{err}");
    }
}
