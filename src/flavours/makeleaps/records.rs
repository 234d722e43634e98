//! MakeLeaps's tenants and records for the admin console (`Flavour::records`): partners,
//! their clients and the clients' contacts.

use crate::clock::iso_seconds;
use crate::flavours::{Page, RecordRow, Records};

pub fn tables(c: &crate::db::Connection, page: Page) -> crate::db::Result<Vec<Records>> {
    let (limit, offset) = page.sql();
    let partners = c
        .prepare_cached(
            "SELECT mid, name, client_id, client_count, created_at
             FROM ml_partners ORDER BY created_at, mid LIMIT ?1 OFFSET ?2",
        )?
        .query_map([limit, offset], |r| {
            Ok(RecordRow::of(vec![
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, i64>(3)?.to_string(),
                iso_seconds(r.get(4)?),
            ]))
        })?
        .collect::<crate::db::Result<Vec<_>>>()?;
    let clients = c
        .prepare_cached(
            "SELECT mid, partner_mid, display_name, client_external_id, is_organization,
                    created_at
             FROM ml_clients ORDER BY seq DESC LIMIT ?1 OFFSET ?2",
        )?
        .query_map([limit, offset], |r| {
            Ok(RecordRow::of(vec![
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                if r.get::<_, bool>(4)? {
                    "organization"
                } else {
                    "person"
                }
                .to_string(),
                iso_seconds(r.get(5)?),
            ]))
        })?
        .collect::<crate::db::Result<Vec<_>>>()?;
    let contacts = c
        .prepare_cached(
            "SELECT mid, client_mid, contact_type,
                    CASE contact_type WHEN 'organization' THEN name
                         ELSE trim(family_name || ' ' || given_name) END,
                    coalesce(email, ''), phone_number
             FROM ml_contacts ORDER BY created_at DESC, mid LIMIT ?1 OFFSET ?2",
        )?
        .query_map([limit, offset], |r| {
            Ok(RecordRow::of(vec![
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ]))
        })?
        .collect::<crate::db::Result<Vec<_>>>()?;
    Ok(vec![
        Records::new(
            "Partners",
            &["MID", "Name", "Client ID", "Clients", "Created"],
            partners,
            page,
        ),
        Records::new(
            "Clients",
            &["MID", "Partner", "Name", "External ID", "Kind", "Created"],
            clients,
            page,
        ),
        Records::new(
            "Contacts",
            &["MID", "Client", "Kind", "Name", "E-mail", "Phone"],
            contacts,
            page,
        ),
    ])
}
