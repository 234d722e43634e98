//! Isolated tenant sets (`POST /_admin/tenants`): one fresh tenant per flavour, with random
//! ids and credentials, so that each test of a parallel suite owns its tenants on a shared
//! server; `DELETE /_admin/tenants/{id}` removes them and everything they created, leaving
//! other tests' data alone. A set is built as a seed document, so it follows the same rules
//! (and hashing) as `--seed`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rusqlite::OptionalExtension;
use serde_json::{json, Value};

use crate::app::App;
use crate::flavours::{makeleaps, mx, nueve09, shieldconex};
use crate::seed::Document;

/// A new set's starting Nueve09 balance, in pesos.
const NUEVE09_AVAILABLE: f64 = 100_000.0;

/// Creates a set and answers what a test needs to call each flavour as its tenant.
pub fn create(app: &App) -> rusqlite::Result<Value> {
    let set_id = format!("set-{}", crate::ids::digits(12));
    let tag = crate::ids::digits(8);
    let secret = crate::ids::secret_token;
    let (mx_key, sc_password, n09_key, n09_password, ml_secret) =
        (secret(), secret(), secret(), secret(), secret());
    let processor_id = format!("PROCESSOR-{tag}");
    let sc_user = format!("tenant-{tag}@example.com");
    let ml_client_id = format!("client-{tag}");
    let mut doc = Document::parse(
        json!({
            "mx": {"processors": [{"id": processor_id, "api_key": mx_key, "name": format!("Processor {tag}")}]},
            "shieldconex": {
                "partners": [{"id": 0, "name": format!("Partner {tag}")}],
                "users": [{"id": 0, "userName": sc_user, "password": sc_password, "firstName": "Test",
                           "lastName": tag, "email": sc_user, "phone": "+14155550100",
                           "userRole": "Partner Supervisor", "partner": 0}]
            },
            "nueve09": {"accounts": [{"api_key": n09_key, "password": n09_password,
                                      "name": format!("Tenant {tag}"), "alias": format!("T{tag}"),
                                      "available": NUEVE09_AVAILABLE}]},
            "makeleaps": {"partners": [{"name": format!("Partner {tag}"), "client_id": ml_client_id,
                                        "client_secret": ml_secret}]}
        })
        .to_string()
        .as_bytes(),
    )
    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    // Hash outside the write lock: argon2 takes tens of milliseconds per secret.
    doc.prepare(&crate::auth::hash_secret);
    let now = app.clock.now_ms();
    let (partner_id, user_id) = app.store.write(|tx| {
        // ShieldConex ids are integers the vendor assigns: take the next free ones.
        let next = |table: &str| -> rusqlite::Result<i64> {
            tx.query_row(
                &format!("SELECT coalesce(max(id), 0) + 1 FROM {table}"),
                [],
                |r| r.get(0),
            )
        };
        let (partner_id, user_id) = (next("sc_partners")?, next("sc_users")?);
        doc.shieldconex.partners[0].id = Some(partner_id);
        doc.shieldconex.users[0].id = Some(user_id);
        doc.shieldconex.users[0].partner = Some(partner_id);
        doc.apply(tx, now)?;
        tx.execute(
            "INSERT INTO tenant_sets (id, created_at) VALUES (?1, ?2)",
            rusqlite::params![set_id, now],
        )?;
        let members = [
            ("mx", processor_id.clone()),
            ("shieldconex", partner_id.to_string()),
            (
                "nueve09",
                doc.nueve09.accounts[0].id.clone().unwrap_or_default(),
            ),
            (
                "makeleaps",
                doc.makeleaps.partners[0].mid.clone().unwrap_or_default(),
            ),
        ];
        for (flavour, key) in members {
            tx.execute(
                "INSERT INTO tenant_set_members (set_id, flavour, tenant_key) VALUES (?1, ?2, ?3)",
                rusqlite::params![set_id, flavour, key],
            )?;
        }
        Ok::<_, rusqlite::Error>((partner_id, user_id))
    })?;
    let basic =
        |user: &str, secret: &str| format!("Basic {}", STANDARD.encode(format!("{user}:{secret}")));
    Ok(json!({
        "id": set_id,
        "mx": {"processor_id": processor_id, "api_key": mx_key,
               "authorization": basic(&processor_id, &mx_key)},
        "shieldconex": {"partner": {"id": partner_id, "name": format!("Partner {tag}")},
                        "user": {"id": user_id, "userName": sc_user, "password": sc_password},
                        "authorization": basic(&sc_user, &sc_password)},
        "nueve09": {"account_id": doc.nueve09.accounts[0].id, "api_key": n09_key,
                    "password": n09_password, "available": NUEVE09_AVAILABLE},
        "makeleaps": {"partner_mid": doc.makeleaps.partners[0].mid, "client_id": ml_client_id,
                      "client_secret": ml_secret,
                      "authorization": basic(&ml_client_id, &ml_secret)},
    }))
}

/// Deletes a set's tenants and all their data; false when there is no such set.
pub fn delete(app: &App, set_id: &str) -> rusqlite::Result<bool> {
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
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (flavour, key) in members {
            match flavour.as_str() {
                "mx" => mx::seed::delete_tenant(tx, &key)?,
                "shieldconex" => {
                    if let Ok(id) = key.parse() {
                        shieldconex::seed::delete_tenant(tx, id)?;
                    }
                }
                "nueve09" => nueve09::seed::delete_tenant(tx, &key)?,
                "makeleaps" => makeleaps::seed::delete_tenant(tx, &key)?,
                _ => {}
            }
        }
        tx.execute("DELETE FROM tenant_sets WHERE id = ?1", [set_id])?;
        Ok::<_, rusqlite::Error>(true)
    })?;
    if deleted {
        app.credentials.clear();
    }
    Ok(deleted)
}
