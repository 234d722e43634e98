//! The `makeleaps` section of a seed document: partners with their OAuth2 client credentials,
//! and optionally clients of theirs.
//!
//! Clients are seeded so that the vendor's PATCH and DELETE transcripts, which name client
//! `0000000000000000000`, work verbatim against `--demo`. A seeded client's `contacts` take
//! the API's create shape (checked by the same code), plus an optional `mid` each.

use serde::Deserialize;
use serde_json::{json, Value};

use super::clients::insert_client;
use super::contacts::NewContact;
use crate::auth::Hasher;
use crate::flavours::{FreshTenant, SectionError, SeedSection};
use crate::ids::Ids;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    #[serde(default)]
    pub partners: Vec<Partner>,
    #[serde(default)]
    pub clients: Vec<Client>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// 19 digits; generated when absent.
    #[serde(default)]
    pub mid: Option<String>,
    /// The owning partner's mid (in this document or already stored).
    pub partner: String,
    #[serde(default)]
    pub client_external_id: String,
    /// Contact objects as the API's create takes them, each with an optional `mid`.
    pub contacts: Vec<Value>,
}

fn is_mid(text: &str) -> bool {
    text.len() == 19 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Deletes partner `mid` with its tokens, clients and contacts (ON DELETE CASCADE).
pub fn delete_tenant(tx: &crate::db::Transaction, mid: &str) -> crate::db::Result<()> {
    tx.execute("DELETE FROM ml_partners WHERE mid = ?1", [mid])?;
    crate::conformance::forget(tx, mid)?;
    Ok(())
}

impl Section {
    /// The section as the seed document has it, checked.
    pub fn parse(section: &str) -> Result<Section, SectionError> {
        crate::flavours::parse_section(section, Section::validate)
    }

    pub fn validate(&self) -> Result<(), String> {
        for (i, p) in self.partners.iter().enumerate() {
            if let Some(mid) = &p.mid {
                if !is_mid(mid) {
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
        for (i, c) in self.clients.iter().enumerate() {
            if c.mid.as_deref().is_some_and(|m| !is_mid(m)) {
                return Err(format!("makeleaps.clients[{i}].mid must be 19 digits"));
            }
            if !is_mid(&c.partner) {
                return Err(format!("makeleaps.clients[{i}].partner must be 19 digits"));
            }
            if c.contacts.is_empty() {
                return Err(format!("makeleaps.clients[{i}].contacts must not be empty"));
            }
            for (j, contact) in c.contacts.iter().enumerate() {
                let at = format!("makeleaps.clients[{i}].contacts[{j}]");
                NewContact::from_json(contact).map_err(|e| format!("{at}: {e}"))?;
                match contact.get("mid") {
                    None => {}
                    Some(Value::String(m)) if is_mid(m) => {}
                    Some(_) => return Err(format!("{at}.mid must be 19 digits")),
                }
            }
        }
        Ok(())
    }
}

impl SeedSection for Section {
    fn prepare(&mut self, hash: Hasher, ids: &Ids) {
        for p in &mut self.partners {
            p.mid.get_or_insert_with(|| ids.digits(19));
            p.client_secret_hash = hash(&p.client_secret);
            p.client_secret.clear();
        }
        // Fix generated mids now, so that a reset seeds the very same records again.
        for c in &mut self.clients {
            c.mid.get_or_insert_with(|| ids.digits(19));
            for contact in &mut c.contacts {
                if let Some(object) = contact.as_object_mut() {
                    object
                        .entry("mid")
                        .or_insert_with(|| Value::String(ids.digits(19)));
                }
            }
        }
    }

    fn apply(&self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<()> {
        let mut insert = tx.prepare_cached(
            "INSERT INTO ml_partners (mid, name, client_id, client_secret_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )?;
        for p in &self.partners {
            insert.execute(crate::params![
                p.mid,
                p.name,
                p.client_id,
                p.client_secret_hash,
                now_ms
            ])?;
        }
        for c in &self.clients {
            // Idempotent: a client whose mid exists is left as it is.
            let mid = c.mid.clone().unwrap_or_default();
            let exists = tx
                .prepare_cached("SELECT 1 FROM ml_clients WHERE mid = ?1")?
                .exists([&mid])?;
            if exists {
                continue;
            }
            let contacts: Vec<(String, NewContact)> = c
                .contacts
                .iter()
                .filter_map(|v| {
                    let mid = v.get("mid")?.as_str()?.to_string();
                    Some((mid, NewContact::from_json(v).ok()?))
                })
                .collect();
            insert_client(
                tx,
                &c.partner,
                &mid,
                &c.client_external_id,
                &contacts,
                now_ms,
            )?;
        }
        Ok(())
    }

    fn summary(&self) -> Value {
        json!({"partners": self.partners.len()})
    }
}

/// A tenant set's partner, with random OAuth2 client credentials.
pub struct Fresh {
    section: Section,
    client_id: String,
    client_secret: String,
}

impl Fresh {
    pub fn new(ids: &Ids, tag: &str) -> Result<Fresh, String> {
        let client_id = format!("client-{tag}");
        let client_secret = ids.secret_token();
        let section = Section::parse(
            &json!({"partners": [{
            "name": format!("Partner {tag}"), "client_id": client_id,
            "client_secret": client_secret}]})
            .to_string(),
        )
        .map_err(|e| e.to_string())?;
        Ok(Fresh {
            section,
            client_id,
            client_secret,
        })
    }
}

impl FreshTenant for Fresh {
    fn prepare(&mut self, hash: Hasher, ids: &Ids) {
        self.section.prepare(hash, ids);
    }

    fn insert(&mut self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<String> {
        self.section.apply(tx, now_ms)?;
        Ok(self.section.partners[0].mid.clone().unwrap_or_default())
    }

    fn credentials(&self) -> Value {
        json!({"partner_mid": self.section.partners[0].mid, "client_id": self.client_id,
               "client_secret": self.client_secret,
               "authorization": crate::auth::basic_header(&self.client_id, &self.client_secret)})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_checked_like_the_api_checks_them() {
        let doc = |contacts: &str| {
            let text = format!(
                r#"{{"clients": [{{"partner": "0000000000000000000", "contacts": {contacts}}}]}}"#
            );
            serde_json::from_str::<Section>(&text).unwrap().validate()
        };
        assert!(doc(r#"[{"contact_type": "person", "family_name": "Taro"}]"#).is_ok());
        let err = doc(r#"[{"contact_type": "person"}]"#).unwrap_err();
        assert!(
            err.contains("contacts[0]") && err.contains("family_name"),
            "{err}"
        );
        let err =
            doc(r#"[{"contact_type": "person", "family_name": "T", "mid": "1"}]"#).unwrap_err();
        assert!(err.contains("mid must be 19 digits"), "{err}");
        assert!(doc("[]").is_err());
    }
}
