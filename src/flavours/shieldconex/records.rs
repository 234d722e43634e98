//! ShieldConex's tenants and records for the admin console (`Flavour::records`): partners
//! with their place in the tree, users, and clients.

use crate::clock::iso_seconds;
use crate::flavours::{Page, RecordRow, Records};

pub fn tables(c: &crate::db::Connection, page: Page) -> crate::db::Result<Vec<Records>> {
    let (limit, offset) = page.sql();
    // The tree in depth-first order, each name indented by its depth.
    let partners = c
        .prepare_cached(c.pick(
            "WITH RECURSIVE tree (id, depth, path) AS (
                 SELECT id, 0, printf('%010d', id) FROM sc_partners WHERE parent_id IS NULL
                 UNION ALL
                 SELECT p.id, t.depth + 1, t.path || '/' || printf('%010d', p.id)
                 FROM sc_partners p JOIN tree t ON p.parent_id = t.id)
             SELECT p.id, t.depth, p.name, coalesce(CAST(p.parent_id AS TEXT), ''), p.is_active,
                    (SELECT live FROM sc_partner_live_clients WHERE partner_id = p.id)
             FROM tree t JOIN sc_partners p ON p.id = t.id
             ORDER BY t.path LIMIT ?1 OFFSET ?2",
            "WITH RECURSIVE tree (id, depth, path) AS (
                 SELECT id, 0, lpad(id::text, 10, '0') FROM sc_partners WHERE parent_id IS NULL
                 UNION ALL
                 SELECT p.id, t.depth + 1, t.path || '/' || lpad(p.id::text, 10, '0')
                 FROM sc_partners p JOIN tree t ON p.parent_id = t.id)
             SELECT p.id, t.depth, p.name, coalesce(CAST(p.parent_id AS TEXT), ''), p.is_active,
                    (SELECT live FROM sc_partner_live_clients WHERE partner_id = p.id)
             FROM tree t JOIN sc_partners p ON p.id = t.id
             ORDER BY t.path COLLATE \"C\" LIMIT ?1 OFFSET ?2",
        ))?
        .query_map([limit, offset], |r| {
            let depth: i64 = r.get(1)?;
            let name: String = r.get(2)?;
            Ok(RecordRow::of(vec![
                r.get::<_, i64>(0)?.to_string(),
                format!("{}{name}", "· ".repeat(usize::try_from(depth).unwrap_or(0))),
                r.get::<_, crate::db::Value>(3).map(cell)?,
                yes_no(r.get(4)?),
                r.get::<_, Option<i64>>(5)?.unwrap_or(0).to_string(),
            ]))
        })?
        .collect::<crate::db::Result<Vec<_>>>()?;
    let users = c
        .prepare_cached(
            "SELECT id, user_name, first_name || ' ' || last_name, email, user_role,
                    coalesce(CAST(partner_id AS TEXT), ''), coalesce(CAST(client_id AS TEXT), ''),
                    password_hash IS NOT NULL, is_active
             FROM sc_users ORDER BY id LIMIT ?1 OFFSET ?2",
        )?
        .query_map([limit, offset], |r| {
            Ok(RecordRow::of(vec![
                r.get::<_, i64>(0)?.to_string(),
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get::<_, crate::db::Value>(5).map(cell)?,
                r.get::<_, crate::db::Value>(6).map(cell)?,
                yes_no(r.get(7)?),
                yes_no(r.get(8)?),
            ]))
        })?
        .collect::<crate::db::Result<Vec<_>>>()?;
    let clients = c
        .prepare_cached(
            "SELECT id, name, direct_partner_id, coalesce(mid, ''), is_active, created_at,
                    deleted_at IS NOT NULL
             FROM sc_clients ORDER BY id DESC LIMIT ?1 OFFSET ?2",
        )?
        .query_map([limit, offset], |r| {
            Ok(RecordRow::of(vec![
                r.get::<_, i64>(0)?.to_string(),
                r.get(1)?,
                r.get::<_, i64>(2)?.to_string(),
                r.get(3)?,
                yes_no(r.get(4)?),
                iso_seconds(r.get(5)?),
                yes_no(r.get(6)?),
            ]))
        })?
        .collect::<crate::db::Result<Vec<_>>>()?;
    Ok(vec![
        Records::new(
            "Partners",
            &["ID", "Name (tree)", "Parent", "Active", "Live clients"],
            partners,
            page,
        ),
        Records::new(
            "Users",
            &[
                "ID",
                "User name",
                "Name",
                "E-mail",
                "Role",
                "Partner",
                "Client",
                "Password set",
                "Active",
            ],
            users,
            page,
        ),
        Records::new(
            "Clients",
            &[
                "ID", "Name", "Partner", "MID", "Active", "Created", "Deleted",
            ],
            clients,
            page,
        ),
    ])
}

fn yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_string()
}

fn cell(value: crate::db::Value) -> String {
    match value {
        crate::db::Value::Integer(n) => n.to_string(),
        crate::db::Value::Text(t) => t,
        crate::db::Value::Real(f) => f.to_string(),
        _ => String::new(),
    }
}
