//! The manual review queue the vendor documents ("requests for non-US IPs ... must be manually
//! investigated and approved"): with `--trusted-networks`, a create from elsewhere waits in
//! `pending_review` without mail until the admin API approves (sending the invitation) or
//! rejects it.

use crate::db::OptionalExtension;
use serde_json::{json, Value};

use crate::app::App;
use crate::flavours::{AdminError, AdminHandler};
use crate::router::Route;

#[derive(Debug)]
pub enum ReviewError {
    /// No client waits for review under that id.
    NotPending,
    Store(crate::db::Error),
}

impl From<crate::db::Error> for ReviewError {
    fn from(e: crate::db::Error) -> Self {
        ReviewError::Store(e)
    }
}

/// `{"reviews": [...]}`: the clients waiting, oldest first.
pub fn list(app: &App) -> crate::db::Result<Value> {
    app.store.read(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT id, processor_id, company_name, email, first_name, last_name, source_ip,
                    created_at, updated_at
             FROM mx_clients WHERE status = 'pending_review' ORDER BY updated_at, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(json!({
                "id": r.get::<_, String>(0)?,
                "flavour": "mx",
                "processor": r.get::<_, String>(1)?,
                "company_name": r.get::<_, String>(2)?,
                "email": r.get::<_, String>(3)?,
                "first_name": r.get::<_, String>(4)?,
                "last_name": r.get::<_, String>(5)?,
                "source_ip": r.get::<_, Option<String>>(6)?,
                "created": crate::clock::iso_millis(r.get(7)?),
                "updated": crate::clock::iso_millis(r.get(8)?),
            }))
        })?;
        Ok(json!({ "reviews": rows.collect::<crate::db::Result<Vec<_>>>()? }))
    })
}

/// Approves a waiting client: it becomes `invited` and its invitation mail is queued.
pub fn approve(app: &App, client_id: &str) -> Result<Value, ReviewError> {
    decide(app, client_id, "invited")
}

/// Rejects a waiting client: it becomes `rejected`; no mail is sent.
pub fn reject(app: &App, client_id: &str) -> Result<Value, ReviewError> {
    decide(app, client_id, "rejected")
}

fn decide(app: &App, client_id: &str, status: &str) -> Result<Value, ReviewError> {
    let now = app.clock.now_ms();
    app.store.write(|tx| {
        let changed: Option<String> = tx
            .prepare_cached(
                "UPDATE mx_clients SET status = ?2, updated_at = ?3
                 WHERE id = ?1 AND status = 'pending_review' RETURNING id",
            )?
            .query_row(crate::params![client_id, status, now], |r| r.get(0))
            .optional()?;
        if changed.is_none() {
            return Err(ReviewError::NotPending);
        }
        if status == "invited" {
            super::invitations::send(app, tx, client_id, now)?;
        } else {
            crate::links::revoke(tx, super::REGISTER_LINK, client_id, now)?;
        }
        Ok(())
    })?;
    app.wake_mailer();
    Ok(json!({"id": client_id, "status": status}))
}

/// The review queue's admin calls: `GET /_admin/reviews`, and `POST
/// /_admin/reviews/{id}/approve` or `.../reject`.
pub const ADMIN_ROUTES: &[Route<AdminHandler>] = &[
    Route {
        method: "GET",
        path: "/reviews",
        handler: |app, _| list(app).map_err(|e| failed("listing reviews", e)),
    },
    Route {
        method: "POST",
        path: "/reviews/{id}/approve",
        handler: |app, params| decided(approve(app, params.get("id"))),
    },
    Route {
        method: "POST",
        path: "/reviews/{id}/reject",
        handler: |app, params| decided(reject(app, params.get("id"))),
    },
];

fn decided(outcome: Result<Value, ReviewError>) -> Result<Value, AdminError> {
    outcome.map_err(|e| match e {
        ReviewError::NotPending => AdminError::NotFound("no client waits for review under that id"),
        ReviewError::Store(e) => failed("deciding a review", e),
    })
}

fn failed(what: &'static str, e: crate::db::Error) -> AdminError {
    AdminError::Failed {
        what,
        detail: e.to_string(),
    }
}
