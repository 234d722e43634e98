//! The `shieldconex` section of a seed document: partner trees, users and clients.
//!
//! Partner-level users name their `partner`, client-level users their `client` (and may name
//! its partner too); system-level users need neither. References are checked by the
//! database when the seed is applied: a dangling one fails the whole seed.

use serde::Deserialize;
use serde_json::{json, Value};

use super::roles;
use crate::auth::Hasher;
use crate::flavours::{FreshTenant, SectionError, SeedSection};
use crate::ids::Ids;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    #[serde(default)]
    pub partners: Vec<Partner>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub clients: Vec<Client>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Partner {
    #[serde(default)]
    pub id: Option<i64>,
    pub name: String,
    #[serde(default)]
    pub parent: Option<i64>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub billing_id: Option<String>,
    #[serde(default)]
    pub verification_phrase: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
    /// A user id.
    #[serde(default)]
    pub contact: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub id: Option<i64>,
    pub user_name: String,
    /// Absent: the user exists but cannot sign in until a welcome link sets a password.
    #[serde(default)]
    password: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub user_role: String,
    #[serde(default)]
    pub partner: Option<i64>,
    #[serde(default)]
    pub client: Option<i64>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(skip)]
    password_hash: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Client {
    #[serde(default)]
    pub id: Option<i64>,
    pub name: String,
    pub direct_partner: i64,
    #[serde(default)]
    pub contact: Option<i64>,
    #[serde(default)]
    pub billing_id: Option<String>,
    #[serde(default)]
    pub mid: Option<String>,
    #[serde(default)]
    pub location: Option<i64>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// Deletes root partner `id` with its whole subtree: sub-partners, their clients (deleted
/// or not) and users, and the users' welcome links.
pub fn delete_tenant(tx: &crate::db::Transaction, id: i64) -> crate::db::Result<()> {
    // Partners, users and clients refer to each other; check the references at commit.
    tx.defer_foreign_keys()?;
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS doomed_partners (id BIGINT PRIMARY KEY);
         DELETE FROM doomed_partners;",
    )?;
    tx.execute(
        "INSERT INTO doomed_partners
         WITH RECURSIVE tree(id) AS (
             SELECT id FROM sc_partners WHERE id = ?1
             UNION SELECT p.id FROM sc_partners p JOIN tree ON p.parent_id = tree.id)
         SELECT id FROM tree",
        [id],
    )?;
    // Its users sign in by name, which is the tenant of their conformance counts.
    let names: Vec<String> = tx
        .prepare(
            "SELECT user_name FROM sc_users
             WHERE partner_id IN (SELECT id FROM doomed_partners)
                OR client_id IN (SELECT id FROM sc_clients
                                 WHERE direct_partner_id IN (SELECT id FROM doomed_partners))",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<crate::db::Result<_>>()?;
    for name in &names {
        crate::conformance::forget(tx, name)?;
    }
    // By exact purpose, which the (purpose, subject_id) index searches (a LIKE walked every
    // link of the database).
    tx.execute(
        "DELETE FROM links WHERE purpose = ?1 AND subject_id IN (
             SELECT CAST(id AS TEXT) FROM sc_users
             WHERE partner_id IN (SELECT id FROM doomed_partners)
                OR client_id IN (SELECT id FROM sc_clients
                                 WHERE direct_partner_id IN (SELECT id FROM doomed_partners)))",
        [super::welcome::WELCOME_LINK],
    )?;
    tx.execute_batch(
        "DELETE FROM sc_users
             WHERE partner_id IN (SELECT id FROM doomed_partners)
                OR client_id IN (SELECT id FROM sc_clients
                                 WHERE direct_partner_id IN (SELECT id FROM doomed_partners));
         DELETE FROM sc_clients WHERE direct_partner_id IN (SELECT id FROM doomed_partners);
         DELETE FROM sc_partners WHERE id IN (SELECT id FROM doomed_partners);
         DELETE FROM doomed_partners;",
    )?;
    Ok(())
}

impl Section {
    /// The section as the seed document has it, checked.
    pub fn parse(section: &str) -> Result<Section, SectionError> {
        crate::flavours::parse_section(section, Section::validate)
    }

    pub fn validate(&self) -> Result<(), String> {
        for (i, u) in self.users.iter().enumerate() {
            if u.user_name.trim().is_empty() || u.user_name.contains(':') {
                return Err(format!(
                    "shieldconex.users[{i}].userName must be non-empty, without ':'"
                ));
            }
            let Some(role) = roles::canonical(&u.user_role) else {
                return Err(format!(
                    "shieldconex.users[{i}].userRole must be one of {}",
                    roles::ROLES.join(", ")
                ));
            };
            match roles::level(role) {
                roles::Level::Partner if u.partner.is_none() => {
                    return Err(format!(
                        "shieldconex.users[{i}].partner is required for the role {role}"
                    ))
                }
                roles::Level::Client if u.client.is_none() => {
                    return Err(format!(
                        "shieldconex.users[{i}].client is required for the role {role}"
                    ))
                }
                _ => {}
            }
        }
        for (i, p) in self.partners.iter().enumerate() {
            if p.name.trim().is_empty() {
                return Err(format!("shieldconex.partners[{i}].name must not be empty"));
            }
            if p.id.is_some() && p.parent == p.id {
                return Err(format!(
                    "shieldconex.partners[{i}].parent must not be the partner itself"
                ));
            }
        }
        for (i, c) in self.clients.iter().enumerate() {
            if c.name.trim().is_empty() {
                return Err(format!("shieldconex.clients[{i}].name must not be empty"));
            }
        }
        Ok(())
    }
}

impl SeedSection for Section {
    fn prepare(&mut self, hash: Hasher, _ids: &Ids) {
        for u in &mut self.users {
            u.password_hash = u.password.take().map(|p| hash(&p));
        }
    }

    fn apply(&self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<()> {
        use crate::db::params;
        // Partners, users and clients refer to each other; check the references at commit.
        tx.defer_foreign_keys()?;
        let mut partner = tx.prepare_cached(
            "INSERT INTO sc_partners (id, name, parent_id, reference, billing_id,
                 verification_phrase, is_active, contact_id, created_at, modified_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) ON CONFLICT DO NOTHING",
        )?;
        for p in &self.partners {
            partner.execute(params![
                p.id,
                p.name,
                p.parent,
                p.reference,
                p.billing_id,
                p.verification_phrase,
                p.is_active.unwrap_or(true),
                p.contact,
                now_ms
            ])?;
        }
        let mut user = tx.prepare_cached(
            "INSERT INTO sc_users (id, user_name, password_hash, first_name, last_name, email,
                 phone, user_role, partner_id, client_id, is_active, created_at, modified_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12) ON CONFLICT DO NOTHING",
        )?;
        for u in &self.users {
            let role = roles::canonical(&u.user_role).unwrap_or("Client User");
            user.execute(params![
                u.id,
                u.user_name,
                u.password_hash,
                u.first_name,
                u.last_name,
                u.email,
                u.phone,
                role,
                u.partner,
                u.client,
                u.is_active.unwrap_or(true),
                now_ms
            ])?;
        }
        let mut client = tx.prepare_cached(
            "INSERT INTO sc_clients (id, name, billing_id, mid, location, is_active,
                 direct_partner_id, contact_id, created_at, modified_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) ON CONFLICT DO NOTHING",
        )?;
        for c in &self.clients {
            client.execute(params![
                c.id,
                c.name,
                c.billing_id,
                c.mid,
                c.location,
                c.is_active.unwrap_or(true),
                c.direct_partner,
                c.contact,
                now_ms
            ])?;
        }
        Ok(())
    }

    fn summary(&self) -> Value {
        json!({
            "partners": self.partners.len(),
            "users": self.users.len(),
            "clients": self.clients.len(),
        })
    }
}

/// A tenant set's root partner with one Partner Supervisor, both numbered by the database
/// (ShieldConex ids are integers the vendor assigns).
pub struct Fresh {
    section: Section,
    tag: String,
    user_name: String,
    password: String,
}

impl Fresh {
    pub fn new(ids: &Ids, tag: &str) -> Result<Fresh, String> {
        let user_name = format!("tenant-{tag}@example.com");
        let password = ids.secret_token();
        let section =
            Section::parse(&json!({
            "partners": [{"id": 0, "name": format!("Partner {tag}")}],
            "users": [{"id": 0, "userName": user_name, "password": password, "firstName": "Test",
                       "lastName": tag, "email": user_name, "phone": "+14155550100",
                       "userRole": "Partner Supervisor", "partner": 0}]
        }).to_string()).map_err(|e| e.to_string())?;
        Ok(Fresh {
            section,
            tag: tag.to_string(),
            user_name,
            password,
        })
    }
}

impl FreshTenant for Fresh {
    fn prepare(&mut self, hash: Hasher, ids: &Ids) {
        self.section.prepare(hash, ids);
    }

    fn insert(&mut self, tx: &crate::db::Transaction, now_ms: i64) -> crate::db::Result<String> {
        // The next free ids, taken inside the transaction that uses them.
        let next = |table: &str| -> crate::db::Result<i64> {
            tx.query_row(
                &format!("SELECT coalesce(max(id), 0) + 1 FROM {table}"),
                [],
                |r| r.get(0),
            )
        };
        let (partner_id, user_id) = (next("sc_partners")?, next("sc_users")?);
        self.section.partners[0].id = Some(partner_id);
        self.section.users[0].id = Some(user_id);
        self.section.users[0].partner = Some(partner_id);
        self.section.apply(tx, now_ms)?;
        Ok(partner_id.to_string())
    }

    fn credentials(&self) -> Value {
        let partner_id = self.section.partners[0].id;
        json!({"partner": {"id": partner_id, "name": format!("Partner {}", self.tag)},
               "user": {"id": self.section.users[0].id, "userName": self.user_name,
                        "password": self.password},
               "authorization": crate::auth::basic_header(&self.user_name, &self.password)})
    }
}
