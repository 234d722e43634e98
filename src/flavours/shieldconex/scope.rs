//! The hierarchy System → Partner → Sub-Partner(s) → Client, and what a caller may see of it
//! (docs/shieldconex.md): partners see all their sub-partners and clients; sub-partners do not see
//! their parent or siblings; client-level users see only their client and cannot view
//! partners; a lower level cannot manage a higher one.
//!
//! Every record is, for a caller, one of three things:
//! - `Visible`: inside the caller's subtree;
//! - `Above`: an ancestor of the caller (its parent partner, or a user of it): known to the
//!   caller, so refusing it says nothing new, and the vendor answers 403 7403 "Permission
//!   denied." for a level above;
//! - `Hidden`: anything else, in another tree or a sibling branch, answered exactly like a
//!   record that does not exist (404, or "not found" in a 409) so that nothing leaks across
//!   tenants.
//!
//! Trees are walked with recursive queries; depth is capped at `MAX_DEPTH` so that even a bad
//! seed with a cycle cannot loop.

use crate::db::{Connection, OptionalExtension};

/// The deepest a partner tree may be (levels below its root). The recursive queries below
/// spell it as the literal 64; creates and moves refuse to go past it, so every walk sees
/// the whole tree.
pub const MAX_DEPTH: usize = 64;

use super::caller::{Caller, Home};
use super::error::{Error, Problems, INVALID, NOT_FOUND};
use super::input::Ref;
use super::roles::{self, Level};

/// How a record stands for a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Visible,
    Above,
    Hidden,
}

impl Access {
    /// A record the request names in its path: 404 when hidden, 403 when above.
    pub fn require(self) -> Result<(), Error> {
        match self {
            Access::Visible => Ok(()),
            Access::Above => Err(Error::Forbidden),
            Access::Hidden => Err(Error::NotFound),
        }
    }
}

/// A partner or client as responses show them: `{"id": 792, "name": "partnerName"}`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

/// The recursive query that walks a partner tree downwards from `?1` (the subtree, `?1`
/// included), as a macro so that statements can be `concat!`-ed into `&'static str`s for
/// `prepare_cached`. `sub` is empty in effect when `?1` is NULL.
macro_rules! subtree {
    () => {
        "WITH RECURSIVE sub(id, depth) AS (
             SELECT CAST(?1 AS BIGINT), 0
             UNION ALL
             SELECT p.id, sub.depth + 1 FROM sc_partners p JOIN sub ON p.parent_id = sub.id
             WHERE sub.depth < 64) "
    };
}
pub(crate) use subtree;

/// The levels below `partner_id` (0 for a partner without sub-partners).
pub fn height(conn: &Connection, partner_id: i64) -> crate::db::Result<usize> {
    conn.prepare_cached(concat!(subtree!(), "SELECT max(depth) FROM sub"))?
        .query_row([partner_id], |r| r.get::<_, Option<i64>>(0))
        .map(|h| h.unwrap_or(0).max(0) as usize)
}

/// The partner and its ancestors, nearest first (so the root is last); empty when absent.
/// At most 65 partners (the partner and 64 levels above it), as the subtree queries go down.
/// One primary-key lookup per level: every read of a client walks this, and a recursive
/// query (its queue and its sort) cost more than the two or three lookups of a real tree.
pub fn lineage(conn: &Connection, partner_id: i64) -> crate::db::Result<Vec<Named>> {
    lineage_above(conn, Vec::new(), Some(partner_id))
}

/// `lineage` continued from `known` (nearest first, already read) with `next` and those above.
fn lineage_above(
    conn: &Connection,
    known: Vec<Named>,
    mut next: Option<i64>,
) -> crate::db::Result<Vec<Named>> {
    let mut stmt = conn.prepare_cached("SELECT name, parent_id FROM sc_partners WHERE id = ?1")?;
    let mut lineage = known;
    while let Some(id) = next {
        if lineage.len() > 64 {
            break;
        }
        let Some((name, parent)) = stmt
            .query_row([id], |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?)))
            .optional()?
        else {
            break;
        };
        lineage.push(Named { id, name });
        next = parent;
    }
    Ok(lineage)
}

/// The root of the tree a partner belongs to: a client's `partner` (the vendor's documentation:
/// "the root partner" when sub-partner trees are expanded).
pub fn root(conn: &Connection, partner_id: i64) -> Result<Named, Error> {
    lineage(conn, partner_id)?
        .pop()
        .ok_or_else(|| Error::Internal(format!("partner {partner_id} has no lineage")))
}

/// The direct partner of a live client.
fn client_partner(conn: &Connection, client_id: i64) -> crate::db::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT direct_partner_id FROM sc_clients WHERE id = ?1 AND deleted_at IS NULL",
    )?
    .query_row([client_id], |r| r.get(0))
    .optional()
}

/// How an existing partner stands for the caller.
pub fn partner_access(
    conn: &Connection,
    caller: &Caller,
    partner_id: i64,
) -> crate::db::Result<Access> {
    let in_lineage = |of: i64, wanted: i64| -> crate::db::Result<bool> {
        Ok(lineage(conn, of)?.iter().any(|p| p.id == wanted))
    };
    Ok(match caller.home {
        Home::System => Access::Visible,
        Home::Partner(home) if in_lineage(partner_id, home)? => Access::Visible,
        Home::Partner(home) if in_lineage(home, partner_id)? => Access::Above,
        Home::Partner(_) => Access::Hidden,
        Home::Client(client) => match client_partner(conn, client)? {
            Some(direct) if in_lineage(direct, partner_id)? => Access::Above,
            _ => Access::Hidden,
        },
    })
}

/// How a live client, under `direct_partner_id`, stands for the caller (never above it).
pub fn client_access(
    conn: &Connection,
    caller: &Caller,
    client_id: i64,
    direct_partner_id: i64,
) -> crate::db::Result<Access> {
    Ok(match caller.home {
        Home::System => Access::Visible,
        Home::Partner(_) => match partner_access(conn, caller, direct_partner_id)? {
            Access::Visible => Access::Visible,
            _ => Access::Hidden,
        },
        Home::Client(own) if own == client_id => Access::Visible,
        Home::Client(_) => Access::Hidden,
    })
}

/// The root partner of a live client the caller may see (404 otherwise), walking the tree
/// once from the client's direct partner and its parent, which the caller has read with the
/// client: the hot path of `GET /clients/{id}`, where a root partner costs no more reads.
/// Same rule as `client_access`.
pub fn visible_client_root(
    conn: &Connection,
    caller: &Caller,
    client_id: i64,
    direct_partner: &Named,
    parent_id: Option<i64>,
) -> Result<Named, Error> {
    let lineage = lineage_above(conn, vec![direct_partner.clone()], parent_id)?;
    let visible = match caller.home {
        Home::System => true,
        Home::Partner(home) => lineage.iter().any(|p| p.id == home),
        Home::Client(own) => own == client_id,
    };
    if !visible {
        return Err(Error::NotFound);
    }
    lineage
        .into_iter()
        .last()
        .ok_or_else(|| Error::Internal(format!("partner {} has no lineage", direct_partner.id)))
}

/// What decides a user's place: its role, partner and (live) client.
pub struct UserPlace {
    pub role: String,
    pub partner_id: Option<i64>,
    pub client_id: Option<i64>,
    /// The client's direct partner, when the client is live.
    pub client_partner_id: Option<i64>,
}

pub fn user_place(conn: &Connection, user_id: i64) -> crate::db::Result<Option<UserPlace>> {
    conn.prepare_cached(
        "SELECT u.user_role, u.partner_id, u.client_id, c.direct_partner_id
         FROM sc_users u LEFT JOIN sc_clients c ON c.id = u.client_id AND c.deleted_at IS NULL
         WHERE u.id = ?1",
    )?
    .query_row([user_id], |r| {
        Ok(UserPlace {
            role: r.get(0)?,
            partner_id: r.get(1)?,
            client_id: r.get(2)?,
            client_partner_id: r.get(3)?,
        })
    })
    .optional()
}

/// How a user stands for the caller. Client-level users of a deleted client are gone with
/// it; system-level users are hidden from everyone below the system level.
pub fn user_access(
    conn: &Connection,
    caller: &Caller,
    place: &UserPlace,
) -> crate::db::Result<Access> {
    let role = roles::canonical(&place.role).unwrap_or("Client User");
    Ok(match roles::level(role) {
        Level::Client => match (place.client_id, place.client_partner_id) {
            (Some(client), Some(direct)) => client_access(conn, caller, client, direct)?,
            _ => Access::Hidden,
        },
        Level::Partner => match (caller.home, place.partner_id) {
            (Home::System, _) => Access::Visible,
            (_, Some(partner)) => partner_access(conn, caller, partner)?,
            (_, None) => Access::Hidden,
        },
        Level::System => match caller.home {
            Home::System => Access::Visible,
            _ => Access::Hidden,
        },
    })
}

/// Finds the partner a body or query reference names, and checks the caller may use it:
/// unknown or hidden partners are recorded as "not found" under `attr`; a partner above the
/// caller is 403.
pub fn resolve_partner(
    conn: &Connection,
    caller: &Caller,
    reference: &Ref,
    attr: &str,
    problems: &mut Problems,
) -> Result<Option<Named>, Error> {
    let by_id = |id: i64| -> crate::db::Result<Option<Named>> {
        conn.prepare_cached("SELECT id, name FROM sc_partners WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(Named {
                    id: r.get(0)?,
                    name: r.get(1)?,
                })
            })
            .optional()
    };
    let by_name = |name: &str| -> crate::db::Result<Option<Named>> {
        conn.prepare_cached("SELECT id, name FROM sc_partners WHERE name = ?1")?
            .query_row([name], |r| {
                Ok(Named {
                    id: r.get(0)?,
                    name: r.get(1)?,
                })
            })
            .optional()
    };
    let found = find(reference, attr, by_id, by_name)?;
    let partner = match found {
        Found::Yes(p) => p,
        Found::No => {
            problems.add(attr, NOT_FOUND, "Partner not found.");
            return Ok(None);
        }
        Found::Mismatch => {
            problems.add(
                attr,
                INVALID,
                format!("{attr}.id and {attr}.name name different partners."),
            );
            return Ok(None);
        }
    };
    match partner_access(conn, caller, partner.id)? {
        Access::Visible => Ok(Some(partner)),
        Access::Above => Err(Error::Forbidden),
        Access::Hidden => {
            problems.add(attr, NOT_FOUND, "Partner not found.");
            Ok(None)
        }
    }
}

/// A live client named by a reference, resolved like `resolve_partner`, with its direct
/// partner.
pub fn resolve_client(
    conn: &Connection,
    caller: &Caller,
    reference: &Ref,
    attr: &str,
    problems: &mut Problems,
) -> Result<Option<(Named, i64)>, Error> {
    let row = |sql: &str, key: &dyn crate::db::ToSql| -> crate::db::Result<Option<(Named, i64)>> {
        conn.prepare_cached(sql)?
            .query_row([key], |r| {
                Ok((
                    Named {
                        id: r.get(0)?,
                        name: r.get(1)?,
                    },
                    r.get(2)?,
                ))
            })
            .optional()
    };
    let by_id = |id: i64| {
        row(
            "SELECT id, name, direct_partner_id FROM sc_clients WHERE id = ?1 AND deleted_at IS NULL",
            &id,
        )
    };
    let by_name = |name: &str| {
        row(
            "SELECT id, name, direct_partner_id FROM sc_clients WHERE name = ?1 AND deleted_at IS NULL",
            &name,
        )
    };
    let client = match find(reference, attr, by_id, by_name)? {
        Found::Yes(c) => c,
        Found::No => {
            problems.add(attr, NOT_FOUND, "Client not found.");
            return Ok(None);
        }
        Found::Mismatch => {
            problems.add(
                attr,
                INVALID,
                format!("{attr}.id and {attr}.name name different clients."),
            );
            return Ok(None);
        }
    };
    match client_access(conn, caller, client.0.id, client.1)? {
        Access::Visible => Ok(Some(client)),
        _ => {
            problems.add(attr, NOT_FOUND, "Client not found.");
            Ok(None)
        }
    }
}

/// An existing user given by id (a client's or partner's `contact`), which the caller must
/// be able to see.
pub fn resolve_user(
    conn: &Connection,
    caller: &Caller,
    user_id: i64,
    attr: &str,
    problems: &mut Problems,
) -> Result<Option<i64>, Error> {
    let access = match user_place(conn, user_id)? {
        Some(place) => user_access(conn, caller, &place)?,
        None => Access::Hidden,
    };
    match access {
        Access::Visible => Ok(Some(user_id)),
        Access::Above => Err(Error::Forbidden),
        Access::Hidden => {
            problems.add(attr, NOT_FOUND, "User not found.");
            Ok(None)
        }
    }
}

enum Found<T> {
    Yes(T),
    No,
    /// Both an id and a name were given, and they name different records.
    Mismatch,
}

/// Looks a reference up: by id and/or name (both must then agree), or, for a query
/// parameter's single value, by id first and then by name. Names match in any case; a
/// name spelt otherwise than the record's is recorded (`shieldconex.name_case`, on `attr`).
fn find<T: HasName>(
    reference: &Ref,
    attr: &str,
    by_id: impl Fn(i64) -> crate::db::Result<Option<T>>,
    by_name: impl Fn(&str) -> crate::db::Result<Option<T>>,
) -> crate::db::Result<Found<T>> {
    let found = find_any_case(reference, by_id, by_name)?;
    if let (Found::Yes(found), Some(name)) = (&found, &reference.name) {
        // A query's id-or-name found by its id was not a name at all.
        let by_its_id = reference.id_or_name && reference.id == Some(found.id());
        if !by_its_id && found.name() != name {
            crate::conformance::warn_at(&super::rules::NAME_CASE, attr);
        }
    }
    Ok(found)
}

fn find_any_case<T: HasName>(
    reference: &Ref,
    by_id: impl Fn(i64) -> crate::db::Result<Option<T>>,
    by_name: impl Fn(&str) -> crate::db::Result<Option<T>>,
) -> crate::db::Result<Found<T>> {
    let found_by_id = match reference.id {
        Some(id) => by_id(id)?,
        None => None,
    };
    if reference.id_or_name {
        return Ok(match found_by_id {
            Some(found) => Found::Yes(found),
            None => match &reference.name {
                Some(name) => by_name(name)?.map_or(Found::No, Found::Yes),
                None => Found::No,
            },
        });
    }
    Ok(match (reference.id, found_by_id, &reference.name) {
        (Some(_), None, _) => Found::No,
        (Some(_), Some(found), Some(name)) if !found.name().eq_ignore_ascii_case(name) => {
            Found::Mismatch
        }
        (Some(_), Some(found), _) => Found::Yes(found),
        (None, _, Some(name)) => by_name(name)?.map_or(Found::No, Found::Yes),
        (None, _, None) => Found::No,
    })
}

trait HasName {
    fn id(&self) -> i64;
    fn name(&self) -> &str;
}

impl HasName for Named {
    fn id(&self) -> i64 {
        self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl HasName for (Named, i64) {
    fn id(&self) -> i64 {
        self.0.id
    }
    fn name(&self) -> &str {
        &self.0.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(reference: &Ref) -> &'static str {
        let records = [(792, "partnerName"), (793, "newPartnerName"), (7, "12345")];
        let named = |(id, name): &(i64, &str)| Named {
            id: *id,
            name: name.to_string(),
        };
        let by_id = |id: i64| Ok(records.iter().find(|r| r.0 == id).map(named));
        let by_name = |n: &str| {
            Ok(records
                .iter()
                .find(|r| r.1.eq_ignore_ascii_case(n))
                .map(named))
        };
        match find(reference, "partner", by_id, by_name).unwrap() {
            Found::Yes(p) if p.id == 792 => "792",
            Found::Yes(p) if p.id == 793 => "793",
            Found::Yes(_) => "7",
            Found::No => "no",
            Found::Mismatch => "mismatch",
        }
    }

    fn body(id: Option<i64>, name: Option<&str>) -> Ref {
        Ref {
            id,
            name: name.map(str::to_string),
            id_or_name: false,
        }
    }

    fn query(value: &str) -> Ref {
        Ref {
            id: value.parse().ok(),
            name: Some(value.to_string()),
            id_or_name: true,
        }
    }

    #[test]
    fn references_by_id_name_or_both() {
        assert_eq!(lookup(&body(Some(792), Some("PARTNERNAME"))), "792");
        assert_eq!(lookup(&body(Some(792), Some("newPartnerName"))), "mismatch");
        assert_eq!(lookup(&body(Some(999), Some("partnerName"))), "no");
        assert_eq!(lookup(&body(None, Some("newPartnerName"))), "793");
        assert_eq!(lookup(&query("0792")), "792");
        assert_eq!(lookup(&query("793")), "793");
        assert_eq!(lookup(&query("partnerName")), "792");
        assert_eq!(lookup(&query("nothing")), "no");
        assert_eq!(
            lookup(&query("12345")),
            "7",
            "a name of digits, when no id matches"
        );
    }
}
