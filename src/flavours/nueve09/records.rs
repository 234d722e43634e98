//! Nueve09's tenants and records for the admin console (`Flavour::records`): the top-level
//! accounts with their balances, and their sub-clients.

use super::money;
use crate::clock::iso_seconds;
use crate::flavours::{Page, RecordRow, Records};

pub fn tables(c: &crate::db::Connection, page: Page) -> crate::db::Result<Vec<Records>> {
    let (limit, offset) = page.sql();
    let accounts = c
        .prepare_cached(
            "SELECT id, name, alias, available_cents, balance_cents, subclient_count, status
             FROM n09_accounts WHERE parent_id IS NULL
             ORDER BY created_at, id LIMIT ?1 OFFSET ?2",
        )?
        .query_map([limit, offset], |r| {
            Ok(RecordRow::of(vec![
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                money::display(r.get(3)?),
                money::display(r.get(4)?),
                r.get::<_, i64>(5)?.to_string(),
                r.get(6)?,
            ]))
        })?
        .collect::<crate::db::Result<Vec<_>>>()?;
    let subclients = c
        .prepare_cached(
            "SELECT id, parent_id, name, alias, coalesce(rfc, ''), email, available_cents,
                    status, created_at
             FROM n09_accounts WHERE parent_id IS NOT NULL
             ORDER BY created_at DESC, id LIMIT ?1 OFFSET ?2",
        )?
        .query_map([limit, offset], |r| {
            Ok(RecordRow::of(vec![
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                money::display(r.get(6)?),
                r.get(7)?,
                iso_seconds(r.get(8)?),
            ]))
        })?
        .collect::<crate::db::Result<Vec<_>>>()?;
    Ok(vec![
        Records::new(
            "Accounts",
            &[
                "ID",
                "Name",
                "Alias",
                "Available",
                "Balance",
                "Sub-clients",
                "Status",
            ],
            accounts,
            page,
        ),
        Records::new(
            "Sub-clients",
            &[
                "ID",
                "Account",
                "Name",
                "Alias",
                "RFC",
                "E-mail",
                "Available",
                "Status",
                "Created",
            ],
            subclients,
            page,
        ),
    ])
}
