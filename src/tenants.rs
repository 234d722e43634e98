//! Isolated tenant sets (`POST /_admin/tenants`): one fresh tenant per flavour, with random
//! ids and credentials, so that each test of a parallel suite owns its tenants on a shared
//! server; `DELETE /_admin/tenants/{id}` removes them and everything they created, leaving
//! other tests' data alone. Each flavour makes its own tenant (`Flavour::fresh_tenant`) as a
//! seed section, so it follows the same rules as `--seed`; its secrets are generated, so they are
//! stored as digests, not argon2id (`auth::digest_generated`).

use crate::db::OptionalExtension;
use serde_json::{json, Value};

use crate::app::App;
use crate::flavours::{self, FreshTenant};

/// Creates a set and answers what a test needs to call each flavour as its tenant.
pub fn create(app: &App) -> crate::db::Result<Value> {
    // Parse: every flavour's tenant. Its secrets are generated, so a digest stores them
    // (no argon2: a tenant set costs about what a create does).
    let set_id = format!("set-{}", app.ids.digits(12));
    let tag = app.ids.digits(8);
    let mut tenants = flavours::ALL
        .iter()
        .map(|f| Ok((f.name(), f.fresh_tenant(&app.ids, &tag)?)))
        .collect::<Result<Vec<(&str, Box<dyn FreshTenant>)>, String>>()
        .map_err(crate::db::Error::Param)?;
    for (_, tenant) in &mut tenants {
        tenant.prepare(&|secret| crate::auth::digest_generated(secret), &app.ids);
    }
    // Write: the tenants, then the set that remembers them.
    let now = app.clock.now_ms();
    app.store.write(|tx| {
        let mut members = Vec::new();
        for (flavour, tenant) in &mut tenants {
            members.push((*flavour, tenant.insert(tx, now)?));
        }
        tx.execute(
            "INSERT INTO tenant_sets (id, created_at) VALUES (?1, ?2)",
            crate::params![set_id, now],
        )?;
        for (flavour, key) in members {
            tx.execute(
                "INSERT INTO tenant_set_members (set_id, flavour, tenant_key) VALUES (?1, ?2, ?3)",
                crate::params![set_id, flavour, key],
            )?;
        }
        Ok::<_, crate::db::Error>(())
    })?;
    let mut answer = serde_json::Map::new();
    answer.insert("id".into(), json!(set_id));
    for (flavour, tenant) in &tenants {
        answer.insert(flavour.to_string(), tenant.credentials());
    }
    Ok(Value::Object(answer))
}

/// Deletes a set's tenants and all their data; false when there is no such set.
pub fn delete(app: &App, set_id: &str) -> crate::db::Result<bool> {
    let deleted = app.store.write(|tx| {
        let exists: Option<String> = tx
            .query_row("SELECT id FROM tenant_sets WHERE id = ?1", [set_id], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_none() {
            return Ok(false);
        }
        let members: Vec<(String, String)> = {
            let mut stmt =
                tx.prepare("SELECT flavour, tenant_key FROM tenant_set_members WHERE set_id = ?1")?;
            let rows = stmt.query_map([set_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<crate::db::Result<_>>()?
        };
        for (name, key) in members {
            if let Some(flavour) = flavours::by_name(&name) {
                flavour.delete_tenant(tx, &key)?;
            }
        }
        tx.execute("DELETE FROM tenant_sets WHERE id = ?1", [set_id])?;
        Ok::<_, crate::db::Error>(true)
    })?;
    if deleted {
        app.credentials.clear();
    }
    Ok(deleted)
}

/// A tenant set as the console lists it.
#[derive(Debug)]
pub struct Summary {
    pub id: String,
    pub created_at: i64,
    /// `flavour tenant-key` of each member, comma-separated.
    pub members: String,
}

/// The newest hundred tenant sets.
pub fn list(c: &crate::db::Connection) -> crate::db::Result<Vec<Summary>> {
    c.prepare_cached(
        "SELECT s.id, s.created_at, group_concat(m.flavour || ' ' || m.tenant_key, ', ')
         FROM tenant_sets s LEFT JOIN tenant_set_members m ON m.set_id = s.id
         GROUP BY s.id ORDER BY s.created_at DESC, s.id LIMIT 100",
    )?
    .query_map([], |r| {
        Ok(Summary {
            id: r.get(0)?,
            created_at: r.get(1)?,
            members: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        })
    })?
    .collect()
}
