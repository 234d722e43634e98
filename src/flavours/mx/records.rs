//! MX's tenants and records for the admin console (`Flavour::records`): processors, the
//! clients waiting for review (with the review queue's approve and reject calls), and every
//! client.

use crate::clock::iso_seconds;
use crate::flavours::{ActionKind, Page, RecordAction, RecordRow, Records};

pub fn tables(c: &crate::db::Connection, page: Page) -> crate::db::Result<Vec<Records>> {
    let (limit, offset) = page.sql();
    let (processors, waiting, clients) = (
        processors(c, limit, offset)?,
        waiting(c, limit, offset)?,
        clients(c, limit, offset)?,
    );
    Ok(vec![
        Records::new(
            "Processors",
            &["ID", "Name", "Clients", "Created"],
            processors,
            page,
        ),
        Records::new(
            "Clients waiting for review",
            &["ID", "Processor", "Company", "E-mail", "Source IP", "Since"],
            waiting,
            page,
        ),
        Records::new(
            "Clients",
            &[
                "ID",
                "Processor",
                "Company",
                "E-mail",
                "Contact",
                "Status",
                "Created",
            ],
            clients,
            page,
        ),
    ])
}

fn processors(
    c: &crate::db::Connection,
    limit: i64,
    offset: i64,
) -> crate::db::Result<Vec<RecordRow>> {
    c.prepare_cached(
        "SELECT p.id, p.name, (SELECT count(*) FROM mx_clients WHERE processor_id = p.id),
                    p.created_at
             FROM mx_processors p ORDER BY p.created_at, p.id LIMIT ?1 OFFSET ?2",
    )?
    .query_map([limit, offset], |r| {
        Ok(RecordRow::of(vec![
            r.get(0)?,
            r.get(1)?,
            r.get::<_, i64>(2)?.to_string(),
            iso_seconds(r.get(3)?),
        ]))
    })?
    .collect()
}

/// The review queue, each row with its approve and reject calls.
fn waiting(
    c: &crate::db::Connection,
    limit: i64,
    offset: i64,
) -> crate::db::Result<Vec<RecordRow>> {
    c.prepare_cached(
        "SELECT id, processor_id, company_name, email, source_ip, updated_at
             FROM mx_clients WHERE status = 'pending_review'
             ORDER BY updated_at, id LIMIT ?1 OFFSET ?2",
    )?
    .query_map([limit, offset], |r| {
        let id: String = r.get(0)?;
        Ok(RecordRow {
            actions: vec![
                RecordAction {
                    label: "Approve",
                    path: format!("/reviews/{id}/approve"),
                    kind: ActionKind::Ordinary,
                },
                RecordAction {
                    label: "Reject",
                    path: format!("/reviews/{id}/reject"),
                    kind: ActionKind::Destructive,
                },
            ],
            cells: vec![
                id,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                iso_seconds(r.get(5)?),
            ],
        })
    })?
    .collect()
}

fn clients(
    c: &crate::db::Connection,
    limit: i64,
    offset: i64,
) -> crate::db::Result<Vec<RecordRow>> {
    c.prepare_cached(
        "SELECT id, processor_id, company_name, email, first_name || ' ' || last_name,
                    status, created_at
             FROM mx_clients ORDER BY created_at DESC, id LIMIT ?1 OFFSET ?2",
    )?
    .query_map([limit, offset], |r| {
        Ok(RecordRow::of(vec![
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            iso_seconds(r.get(6)?),
        ]))
    })?
    .collect()
}
