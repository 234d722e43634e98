//! `/api/v1/clients`, exactly as the vendor's example shows it: create → `{"id"}`, list by
//! partner → `{"total","data"}`, get with `created`/`modified` and the full contact, PATCH
//! with partial bodies → `{"id"}` and `version` + 1, DELETE → 200.
//!
//! DELETE is a soft delete (docs/shieldconex.md; our choice: the docs say both "Client has been
//! deleted successfully" and "it is not possible to delete Clients"): the row stays with
//! `deleted_at` set and disappears from every answer; its name may be used again.

use crate::db::{Connection, OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::{Map, Value};

use super::caller::{Caller, Home};
use super::error::{Error, Problems, DUPLICATE, INVALID, REQUIRED};
use super::input::{self, Paging, Reader, Ref};
use super::roles::{self, Level};
use super::scope::{self, subtree, Named};
use super::users::ContactInput;
use super::{id_response, json_response, welcome};
use crate::app::App;
use crate::clock::iso_millis;
use crate::http::{Request, Response};

/// `ClientListItem`, in the vendor's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientItem {
    id: i64,
    name: String,
    mid: Option<String>,
    is_active: bool,
    version: i64,
    partner: Named,
    direct_partner: Named,
    contact: Option<ContactId>,
    billing_id: Option<String>,
}

#[derive(Serialize)]
struct ContactId {
    id: i64,
}

/// `ClientDetails`, in the vendor's order, plus `location` (the vendor's parameter table).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientDetails {
    id: i64,
    name: String,
    mid: Option<String>,
    is_active: bool,
    created: String,
    modified: String,
    version: i64,
    partner: Named,
    direct_partner: Named,
    contact: Option<Contact>,
    billing_id: Option<String>,
    location: Option<i64>,
}

/// `UserDetailsReference`: who the contact is.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

impl Contact {
    /// The contact in columns `first..first + 4` (id, firstName, lastName, email) of a row
    /// that LEFT JOINs the user; `None` when there is none.
    pub fn from_columns(r: &crate::db::Row, first: usize) -> crate::db::Result<Option<Contact>> {
        let Some(id) = r.get::<_, Option<i64>>(first)? else {
            return Ok(None);
        };
        Ok(Some(Contact {
            id,
            first_name: r.get(first + 1)?,
            last_name: r.get(first + 2)?,
            email: r.get(first + 3)?,
        }))
    }
}

#[derive(Serialize)]
struct ClientList {
    total: i64,
    data: Vec<ClientItem>,
}

/// Longest name, and longest billing id and merchant id (OpenAPI `ClientCreate`).
const MAX_NAME: usize = 255;
const MAX_ID_FIELD: usize = 50;

/// Keys per bucket of `sc_client_buckets` (schema.sql, migration 4): `id >> BUCKET_BITS`.
const BUCKET_BITS: u32 = 10;

/// The ids of one page (`skip`, `take`) of the live clients of `partners`, in id order.
/// Each partner's clients come sorted from the `sc_clients_live_by_partner` index, so they
/// are merged here rather than sorting the whole subtree in SQL (a temporary B-tree over
/// every client made a page of one cost 47 ms at 100k clients; bench/). A page deep in the
/// list starts from the bucket of ids that holds its first client (`page_start`), so no
/// partner steps over more than one bucket's clients.
fn page_ids(
    conn: &Connection,
    partners: &[i64],
    skip: i64,
    take: i64,
) -> crate::db::Result<Vec<i64>> {
    let (from_id, skip) = if skip < 1 << BUCKET_BITS {
        (i64::MIN, skip)
    } else {
        match page_start(conn, partners, skip)? {
            Some(start) => start,
            None => return Ok(Vec::new()), // past the end
        }
    };
    let wanted = skip.saturating_add(take);
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM sc_clients WHERE direct_partner_id = ?1 AND deleted_at IS NULL
           AND id >= ?3
         ORDER BY id LIMIT ?2",
    )?;
    let mut ids = Vec::new();
    for partner in partners {
        let rows = stmt.query_map(crate::params![partner, wanted, from_id], |r| {
            r.get::<_, i64>(0)
        })?;
        for id in rows {
            ids.push(id?);
        }
    }
    ids.sort_unstable();
    let start = usize::try_from(skip).unwrap_or(usize::MAX).min(ids.len());
    let end = usize::try_from(wanted).unwrap_or(usize::MAX).min(ids.len());
    Ok(ids[start..end].to_vec())
}

/// Where the live client at position `skip` of `partners`' list is: the first id of its
/// bucket, and how many live clients of the list come before it from that id on. `None`
/// when the list has `skip` clients or fewer.
fn page_start(
    conn: &Connection,
    partners: &[i64],
    skip: i64,
) -> crate::db::Result<Option<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT bucket, live FROM sc_client_buckets WHERE partner_id = ?1 AND live > 0
         ORDER BY bucket",
    )?;
    let mut buckets: Vec<(i64, i64)> = Vec::new();
    for partner in partners {
        let rows = stmt.query_map([partner], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for row in rows {
            buckets.push(row?);
        }
    }
    if partners.len() > 1 {
        buckets.sort_unstable();
    }
    let mut before = 0i64;
    let mut i = 0;
    while i < buckets.len() {
        let bucket = buckets[i].0;
        let mut live = 0;
        while i < buckets.len() && buckets[i].0 == bucket {
            live += buckets[i].1;
            i += 1;
        }
        if before + live > skip {
            return Ok(Some((bucket << BUCKET_BITS, skip - before)));
        }
        before += live;
    }
    Ok(None)
}

/// `GET /api/v1/clients?partner=<id|name>&take=&skip=`: the live clients of that partner's
/// subtree. `partner` is required (docs/shieldconex.md), so client-level users, who cannot name
/// partners, may not list.
pub fn list_clients(app: &App, req: &Request, caller: &Caller, _: &str) -> Result<Response, Error> {
    caller.must_see_partners()?;
    let mut problems = Problems::default();
    let paging = Paging::from_query(req, &mut problems);
    let partner_ref = input::query_ref(req, "partner", &mut problems);
    if partner_ref.is_none() && !problems.has("partner") {
        problems.add("partner", REQUIRED, "partner is required.");
    }
    app.store.read(|conn| {
        let partner = match &partner_ref {
            Some(r) => scope::resolve_partner(conn, caller, r, "partner", &mut problems)?,
            None => None,
        };
        problems.check()?;
        let Some(partner) = partner else {
            return Err(Error::Internal("a resolved partner went missing".into()));
        };
        // Every client of one subtree has the same root: the subtree's.
        let root = scope::root(conn, partner.id)?;
        let partners: Vec<i64> = conn
            .prepare_cached(concat!(subtree!(), "SELECT id FROM sub"))?
            .query_map([partner.id], |r| r.get(0))?
            .collect::<crate::db::Result<_>>()?;
        let total: i64 = {
            let mut live = conn
                .prepare_cached("SELECT live FROM sc_partner_live_clients WHERE partner_id = ?1")?;
            let mut total = 0;
            for id in &partners {
                total += live
                    .query_row([id], |r| r.get::<_, i64>(0))
                    .optional()?
                    .unwrap_or(0);
            }
            total
        };
        let page = page_ids(conn, &partners, paging.skip, paging.take)?;
        let mut stmt = conn.prepare_cached(
            "SELECT c.id, c.name, c.mid, c.is_active, c.version, dp.id, dp.name, c.contact_id,
                    c.billing_id
             FROM sc_clients c JOIN sc_partners dp ON dp.id = c.direct_partner_id
             WHERE c.id = ?1",
        )?;
        let data = page
            .iter()
            .map(|id| {
                stmt.query_row([id], |r| {
                    Ok(ClientItem {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        mid: r.get(2)?,
                        is_active: r.get(3)?,
                        version: r.get(4)?,
                        partner: root.clone(),
                        direct_partner: Named {
                            id: r.get(5)?,
                            name: r.get(6)?,
                        },
                        contact: r.get::<_, Option<i64>>(7)?.map(|id| ContactId { id }),
                        billing_id: r.get(8)?,
                    })
                })
            })
            .collect::<crate::db::Result<Vec<_>>>()?;
        Ok(json_response(200, &ClientList { total, data }))
    })
}

/// `GET /api/v1/clients/{id}`: `ClientDetails`.
pub fn get_client(app: &App, _: &Request, caller: &Caller, id: &str) -> Result<Response, Error> {
    let id = input::path_id(id)?;
    app.store.read(|conn| {
        let details = conn
            .prepare_cached(
                "SELECT c.id, c.name, c.mid, c.is_active, c.created_at, c.modified_at, c.version,
                        dp.id, dp.name, u.id, u.first_name, u.last_name, u.email, c.billing_id,
                        c.location, dp.parent_id
                 FROM sc_clients c
                 JOIN sc_partners dp ON dp.id = c.direct_partner_id
                 LEFT JOIN sc_users u ON u.id = c.contact_id
                 WHERE c.id = ?1 AND c.deleted_at IS NULL",
            )?
            .query_row([id], |r| {
                let contact = Contact::from_columns(r, 9)?;
                let details = ClientDetails {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    mid: r.get(2)?,
                    is_active: r.get(3)?,
                    created: iso_millis(r.get(4)?),
                    modified: iso_millis(r.get(5)?),
                    version: r.get(6)?,
                    partner: Named {
                        id: 0,
                        name: String::new(),
                    },
                    direct_partner: Named {
                        id: r.get(7)?,
                        name: r.get(8)?,
                    },
                    contact,
                    billing_id: r.get(13)?,
                    location: r.get(14)?,
                };
                Ok((details, r.get::<_, Option<i64>>(15)?))
            })
            .optional()?;
        let Some((mut details, parent_id)) = details else {
            return Err(Error::NotFound);
        };
        details.partner =
            scope::visible_client_root(conn, caller, id, &details.direct_partner, parent_id)?;
        Ok(json_response(200, &details))
    })
}

/// Records a duplicate when another live client (not `except`) has this name: client names
/// are unique (docs/shieldconex.md), compared without regard to ASCII case.
fn check_unique_name(
    conn: &Connection,
    name: &str,
    except: Option<i64>,
    problems: &mut Problems,
) -> crate::db::Result<()> {
    let taken: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sc_clients
                            WHERE name = ?1 AND deleted_at IS NULL AND id IS DISTINCT FROM ?2)",
        )?
        .query_row(crate::params![name, except], |r| r.get(0))?;
    if taken {
        problems.add("name", DUPLICATE, "A client with this name already exists.");
    }
    Ok(())
}

/// `POST /api/v1/clients` → `200 {"id": N}`.
pub fn create_client(
    app: &App,
    req: &Request,
    caller: &Caller,
    _: &str,
) -> Result<Response, Error> {
    caller.must_manage()?;
    caller.must_see_partners()?;
    let body = input::object(req)?;
    let mut problems = Problems::default();
    let new = NewClient::read(&Reader::new(&body, ""), &mut problems);
    let sends_mail = new
        .contact
        .as_ref()
        .is_some_and(ContactInput::sends_welcome);
    let now = app.clock.now_ms();
    // Row by row: the live names' unique index settles a race for a name (the loser runs
    // again and finds it taken), and the trigger that numbers clients takes them in turn.
    let noted = crate::conformance::noted();
    let id = app.store.write_rows(|tx| {
        crate::conformance::forget_since(noted);
        new.check_and_insert(app, tx, caller, problems.clone(), now)
    })?;
    welcome::after_commit(app, sends_mail);
    Ok(id_response(id))
}

/// A client to create, as the body gives it: an attribute that is missing or wrong is `None`
/// here and recorded in the problems.
struct NewClient {
    name: Option<String>,
    billing_id: Option<String>,
    mid: Option<String>,
    is_active: Option<bool>,
    location: Option<i64>,
    direct_partner: Option<input::Ref>,
    contact: Option<ContactInput>,
}

impl NewClient {
    fn read(reader: &Reader, problems: &mut Problems) -> NewClient {
        let name = reader
            .name("name", MAX_NAME, problems)
            .required("name", problems);
        let billing_id = reader
            .text("billingId", MAX_ID_FIELD, problems)
            .nullable()
            .flatten();
        let mid = reader
            .text("mid", MAX_ID_FIELD, problems)
            .nullable()
            .flatten();
        let is_active = reader
            .boolean("isActive", problems)
            .not_null("isActive", problems);
        let location = reader.integer("location", problems).nullable().flatten();
        let direct_partner = reader
            .reference("directPartner", problems)
            .required("directPartner", problems);
        let contact = ContactInput::read(reader, "contact", "Client Admin", problems)
            .required("contact", problems);
        if let Some(ContactInput::New(user)) = &contact {
            if roles::level(user.role) == Level::System {
                problems.add(
                    "contact.userRole",
                    INVALID,
                    "contact.userRole must be a partner or client role.",
                );
            }
        }
        NewClient {
            name,
            billing_id,
            mid,
            is_active,
            location,
            direct_partner,
            contact,
        }
    }

    /// Inside the write: the checks that need the database (the partner in the caller's
    /// scope, a unique name, the contact), then the client and its contact.
    fn check_and_insert(
        &self,
        app: &App,
        tx: &Transaction,
        caller: &Caller,
        mut problems: Problems,
        now: i64,
    ) -> Result<i64, Error> {
        let direct_partner = match &self.direct_partner {
            Some(r) => scope::resolve_partner(tx, caller, r, "directPartner", &mut problems)?,
            None => None,
        };
        if let Some(name) = &self.name {
            check_unique_name(tx, name, None, &mut problems)?;
        }
        if let Some(contact) = &self.contact {
            contact.check(tx, caller, "contact", &mut problems)?;
        }
        problems.check()?;
        let (Some(name), Some(direct_partner), Some(contact)) =
            (&self.name, direct_partner, &self.contact)
        else {
            return Err(Error::Internal(
                "a checked client attribute went missing".into(),
            ));
        };
        let id: i64 = tx
            .prepare_cached(
                "INSERT INTO sc_clients (name, billing_id, mid, location, is_active,
                     direct_partner_id, created_at, modified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 RETURNING id",
            )?
            .query_row(
                crate::params![
                    name,
                    self.billing_id,
                    self.mid,
                    self.location,
                    self.is_active.unwrap_or(true),
                    direct_partner.id,
                    now
                ],
                |r| r.get(0),
            )?;
        let contact_id = match contact {
            ContactInput::Existing(user_id) => *user_id,
            // A client-level contact is a user of the new client; a partner-level one, of
            // its direct partner.
            ContactInput::New(user) => match roles::level(user.role) {
                Level::Client => user.insert(app, tx, None, Some(id), now)?,
                _ => user.insert(app, tx, Some(direct_partner.id), None, now)?,
            },
        };
        tx.prepare_cached("UPDATE sc_clients SET contact_id = ?2 WHERE id = ?1")?
            .execute([id, contact_id])?;
        Ok(id)
    }
}

/// What a PATCH changes; absent attributes stay as they are.
struct ClientChanges {
    problems: Problems,
    name: Option<String>,
    billing_id: Option<Option<String>>,
    mid: Option<Option<String>>,
    is_active: Option<bool>,
    location: Option<Option<i64>>,
    direct_partner: Option<Ref>,
    contact: Option<i64>,
}

impl ClientChanges {
    fn read(body: &Map<String, Value>) -> ClientChanges {
        let reader = Reader::new(body, "");
        let mut problems = Problems::default();
        let name = reader
            .name("name", MAX_NAME, &mut problems)
            .not_null("name", &mut problems);
        let billing_id = reader
            .text("billingId", MAX_ID_FIELD, &mut problems)
            .nullable();
        let mid = reader.text("mid", MAX_ID_FIELD, &mut problems).nullable();
        let is_active = reader
            .boolean("isActive", &mut problems)
            .not_null("isActive", &mut problems);
        // `version` is informational (docs/shieldconex.md; our choice): checked for type, never
        // compared.
        let _ = reader.integer("version", &mut problems);
        let location = reader.integer("location", &mut problems).nullable();
        let direct_partner = reader
            .reference("directPartner", &mut problems)
            .not_null("directPartner", &mut problems);
        // `ClientUpdate.contact` is a `UserReference`: only its id counts.
        let contact = reader.user_reference("contact", &mut problems);
        ClientChanges {
            problems,
            name,
            billing_id,
            mid,
            is_active,
            location,
            direct_partner,
            contact,
        }
    }

    fn apply(mut self, tx: &Transaction, caller: &Caller, id: i64, now: i64) -> Result<(), Error> {
        let current: i64 = tx
            .prepare_cached(
                "SELECT direct_partner_id FROM sc_clients WHERE id = ?1 AND deleted_at IS NULL",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?
            .ok_or(Error::NotFound)?;
        scope::client_access(tx, caller, id, current)?.require()?;
        let problems = &mut self.problems;
        let direct_partner = match &self.direct_partner {
            // Moving a client names partners, which client-level users cannot.
            Some(_) if matches!(caller.home, Home::Client(_)) => return Err(Error::Forbidden),
            Some(r) => {
                scope::resolve_partner(tx, caller, r, "directPartner", problems)?.map(|p| p.id)
            }
            None => None,
        };
        if let Some(name) = &self.name {
            check_unique_name(tx, name, Some(id), problems)?;
        }
        if let Some(user_id) = self.contact {
            scope::resolve_user(tx, caller, user_id, "contact.id", problems)?;
        }
        self.problems.check()?;
        // One statement, `version = version + 1` in SQL: concurrent PATCHes each count.
        tx.prepare_cached(
            "UPDATE sc_clients SET
                 name = coalesce(?2, name),
                 billing_id = CASE WHEN ?3 THEN ?4 ELSE billing_id END,
                 mid = CASE WHEN ?5 THEN ?6 ELSE mid END,
                 is_active = coalesce(?7, is_active),
                 location = CASE WHEN ?8 THEN ?9 ELSE location END,
                 direct_partner_id = coalesce(?10, direct_partner_id),
                 contact_id = coalesce(?11, contact_id),
                 version = version + 1,
                 modified_at = ?12
             WHERE id = ?1",
        )?
        .execute(crate::params![
            id,
            self.name,
            self.billing_id.is_some(),
            self.billing_id.flatten(),
            self.mid.is_some(),
            self.mid.flatten(),
            self.is_active,
            self.location.is_some(),
            self.location.flatten(),
            direct_partner,
            self.contact,
            now
        ])?;
        Ok(())
    }
}

/// `PATCH /api/v1/clients/{id}` → `200 {"id": N}`. Client admins may change their own
/// client, but not move it to another partner.
pub fn update_client(
    app: &App,
    req: &Request,
    caller: &Caller,
    id: &str,
) -> Result<Response, Error> {
    caller.must_manage()?;
    let id = input::path_id(id)?;
    let body = input::object(req)?;
    let changes = ClientChanges::read(&body);
    let now = app.clock.now_ms();
    app.store.write(|tx| changes.apply(tx, caller, id, now))?;
    Ok(id_response(id))
}

/// `DELETE /api/v1/clients/{id}` → 200 with an empty body (OpenAPI: "Client has been deleted
/// successfully"). A partner-level decision: client-level users may not delete.
pub fn delete_client(app: &App, _: &Request, caller: &Caller, id: &str) -> Result<Response, Error> {
    caller.must_manage()?;
    caller.must_see_partners()?;
    let id = input::path_id(id)?;
    let now = app.clock.now_ms();
    app.store.write(|tx| {
        let direct: i64 = tx
            .prepare_cached(
                "SELECT direct_partner_id FROM sc_clients WHERE id = ?1 AND deleted_at IS NULL",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?
            .ok_or(Error::NotFound)?;
        scope::client_access(tx, caller, id, direct)?.require()?;
        tx.prepare_cached("UPDATE sc_clients SET deleted_at = ?2 WHERE id = ?1")?
            .execute([id, now])?;
        Ok::<_, Error>(())
    })?;
    Ok(Response::empty(200))
}
