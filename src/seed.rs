//! Tenants: the seed document of DESIGN.md §4, shared by `--seed FILE`, `POST /_admin/seed`
//! and `--demo`. Each flavour owns its section (`flavours/*/seed.rs`); this module composes
//! them, hashes secrets once (`prepare`), and applies them in one transaction.
//!
//! Applying is idempotent: a tenant whose id (or unique key) exists already is left alone.

use serde::Deserialize;

use crate::flavours::{makeleaps, mx, nueve09, shieldconex};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[serde(default)]
    pub mx: mx::seed::Section,
    #[serde(default)]
    pub shieldconex: shieldconex::seed::Section,
    #[serde(default)]
    pub nueve09: nueve09::seed::Section,
    #[serde(default)]
    pub makeleaps: makeleaps::seed::Section,
}

/// Turns a secret into what the store keeps (an argon2id PHC string).
pub type Hasher<'a> = &'a dyn Fn(&str) -> String;

impl Document {
    /// Parses and checks a seed document; the message names the offending field.
    pub fn parse(bytes: &[u8]) -> Result<Document, String> {
        let doc: Document = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        doc.mx.validate()?;
        doc.shieldconex.validate()?;
        doc.nueve09.validate()?;
        doc.makeleaps.validate()?;
        Ok(doc)
    }

    /// Hashes every secret (dropping the plain text) and fixes generated ids, so that
    /// applying the document again (a reset) gives the same tenants without hashing again.
    pub fn prepare(&mut self, hash: Hasher) {
        self.mx.prepare(hash);
        self.shieldconex.prepare(hash);
        self.nueve09.prepare(hash);
        self.makeleaps.prepare(hash);
    }

    pub fn apply(&self, tx: &rusqlite::Transaction, now_ms: i64) -> rusqlite::Result<()> {
        self.mx.apply(tx, now_ms)?;
        self.shieldconex.apply(tx, now_ms)?;
        self.nueve09.apply(tx, now_ms)?;
        self.makeleaps.apply(tx, now_ms)
    }

    /// How many tenants of each kind the document names, for the admin API's answer.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "mx": {"processors": self.mx.processors.len()},
            "shieldconex": {
                "partners": self.shieldconex.partners.len(),
                "users": self.shieldconex.users.len(),
                "clients": self.shieldconex.clients.len(),
            },
            "nueve09": {"accounts": self.nueve09.accounts.len()},
            "makeleaps": {"partners": self.makeleaps.partners.len()},
        })
    }
}

/// The demo tenants of DESIGN.md §4: the credentials and ids of the vendors' own examples.
pub const DEMO_JSON: &str = include_str!("demo.json");

/// argon2id hashes of the demo secrets, computed once (the test `demo_hashes_match` checks
/// them), so that `serve --demo` starts in milliseconds instead of hashing at every start.
const DEMO_HASHES: &[(&str, &str)] = &[
    ("API-KEY-4567", "$argon2id$v=19$m=19456,t=2,p=1$rQt7tbIw0eNuTimcHT1UFg$zuJnAHrQ4VD5bwfxzw2z/Rp/RNWHHLdFuvuHhUlvau4"),
    ("waterford123", "$argon2id$v=19$m=19456,t=2,p=1$IvSUpiWVHokfODPXv45tWQ$pDJFkEgUvrDhR/M2A8DH0hXQj86v4LgVtV/fzzm7/Po"),
    ("password", "$argon2id$v=19$m=19456,t=2,p=1$r2PCZeUlxY55VtketQ11Dw$RyFj+hnEEyQFZXOaNhIEb8o40M7Zzd7TtDhHDR1ZAco"),
    ("demo-client-secret", "$argon2id$v=19$m=19456,t=2,p=1$3I2nlNvOs6S3gdzmSI8czA$m4g0AYeHe/EVi8GUg4WyT56rPzM7Xyx8tmvfAIk9FTw"),
];

/// The demo document, prepared with the precomputed hashes.
pub fn demo() -> Document {
    let mut doc = Document::parse(DEMO_JSON.as_bytes()).expect("demo.json is a valid seed");
    doc.prepare(&|secret| {
        DEMO_HASHES
            .iter()
            .find(|(plain, _)| *plain == secret)
            .map(|(_, hash)| hash.to_string())
            .unwrap_or_else(|| crate::auth::hash_secret(secret))
    });
    doc
}

/// What `serve --demo` prints to stderr: how to call each flavour as the vendor docs do.
pub const DEMO_BANNER: &str = "\
demo tenants (the vendors' documentation examples):
  mx           Basic PROCESSOR-1234:API-KEY-4567 (Authorization: Basic UFJPQ0VTU09SLTEyMzQ6QVBJLUtFWS00NTY3)
  shieldconex  Basic waterford@example.com:waterford123 (partner 792, sub-partner 793, client 744)
  nueve09      POST /nueve09/auth/login {\"api_client\":{\"api_key\":\"api_key\",\"password\":\"password\"}}
  makeleaps    client_id demo-client-id, client_secret demo-client-secret, partner 0000000000000000000";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_hashes_match() {
        for (plain, hash) in DEMO_HASHES {
            assert!(crate::auth::verify_secret(plain, hash), "{plain}");
        }
    }

    #[test]
    fn demo_parses_and_names_every_flavour() {
        let doc = demo();
        assert_eq!(doc.mx.processors.len(), 1);
        assert_eq!(doc.shieldconex.users.len(), 2);
        assert_eq!(doc.nueve09.accounts.len(), 1);
        assert_eq!(doc.makeleaps.partners.len(), 1);
    }

    #[test]
    fn rejects_unknown_sections_and_fields() {
        assert!(Document::parse(br#"{"stripe": {}}"#).is_err());
        let err = Document::parse(br#"{"mx": {"processors": [{"id": "P"}]}}"#).unwrap_err();
        assert!(err.contains("api_key"), "{err}");
    }
}
