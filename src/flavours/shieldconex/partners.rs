//! `/api/v1/partners`: list, get, create, update (no DELETE: "it is not possible to delete a
//! Partner account, however their account can be set to inactive", OpenAPI).
//!
//! The API creates only sub-partners: `parent` is required (docs/shieldconex.md). Client-level
//! users cannot view partners at all (403). A partner user may change its own partner's attributes
//! but not where it hangs in the tree (its parent is a level above).

use crate::db::{Connection, OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::{Map, Value};

use super::caller::{Caller, Home};
use super::clients::Contact;
use super::error::{Error, Problems, DUPLICATE, INVALID};
use super::input::{self, Field, Paging, Reader, Ref};
use super::roles::{self, Level};
use super::scope::{self, subtree, Named};
use super::users::ContactInput;
use super::{id_response, json_response, welcome};
use crate::app::App;
use crate::clock::iso_millis;
use crate::http::{Request, Response};

/// `PartnerListItem` / `PartnerDetails`, in the OpenAPI's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartnerItem<C: Serialize> {
    id: i64,
    name: String,
    reference: Option<String>,
    billing_id: Option<String>,
    verification_phrase: Option<String>,
    is_active: bool,
    version: i64,
    parent: Option<Named>,
    contact: Option<C>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified: Option<String>,
}

#[derive(Serialize)]
struct ContactId {
    id: i64,
}

#[derive(Serialize)]
struct PartnerList {
    total: i64,
    data: Vec<PartnerItem<ContactId>>,
}

/// Longest name, reference and verification phrase; longest billing id (OpenAPI
/// `PartnerCreate`; the phrase has no published limit, 255 is ours).
const MAX_TEXT: usize = 255;
const MAX_BILLING_ID: usize = 50;

/// `GET /api/v1/partners?partner=&take=&skip=`: the filter's subtree, else the caller's.
pub fn list_partners(
    app: &App,
    req: &Request,
    caller: &Caller,
    _: &str,
) -> Result<Response, Error> {
    caller.must_see_partners()?;
    let mut problems = Problems::default();
    let paging = Paging::from_query(req, &mut problems);
    let partner_ref = input::query_ref(req, "partner", &mut problems);
    app.store.read(|conn| {
        let filter = match &partner_ref {
            Some(r) => scope::resolve_partner(conn, caller, r, "partner", &mut problems)?,
            None => None,
        };
        problems.check()?;
        let root = match (filter, caller.home) {
            (Some(p), _) => Some(p.id),
            (None, Home::Partner(home)) => Some(home),
            (None, _) => None,
        };
        let total: i64 = conn
            .prepare_cached(concat!(
                subtree!(),
                "SELECT count(*) FROM sc_partners p WHERE CAST(?1 AS BIGINT) IS NULL OR p.id IN (SELECT id FROM sub)"
            ))?
            .query_row([root], |r| r.get(0))?;
        let mut stmt = conn.prepare_cached(concat!(
            subtree!(),
            "SELECT p.id, p.name, p.reference, p.billing_id, p.verification_phrase, p.is_active,
                    p.version, parent.id, parent.name, p.contact_id
             FROM sc_partners p LEFT JOIN sc_partners parent ON parent.id = p.parent_id
             WHERE CAST(?1 AS BIGINT) IS NULL OR p.id IN (SELECT id FROM sub)
             ORDER BY p.id LIMIT ?2 OFFSET ?3"
        ))?;
        let data = stmt
            .query_map(crate::params![root, paging.take, paging.skip], |r| {
                Ok(PartnerItem {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    reference: r.get(2)?,
                    billing_id: r.get(3)?,
                    verification_phrase: r.get(4)?,
                    is_active: r.get(5)?,
                    version: r.get(6)?,
                    parent: named(r.get(7)?, r.get(8)?),
                    contact: r.get::<_, Option<i64>>(9)?.map(|id| ContactId { id }),
                    created: None,
                    modified: None,
                })
            })?
            .collect::<crate::db::Result<Vec<_>>>()?;
        Ok(json_response(200, &PartnerList { total, data }))
    })
}

fn named(id: Option<i64>, name: Option<String>) -> Option<Named> {
    id.zip(name).map(|(id, name)| Named { id, name })
}

/// `GET /api/v1/partners/{id}`: `PartnerDetails`.
pub fn get_partner(app: &App, _: &Request, caller: &Caller, id: &str) -> Result<Response, Error> {
    caller.must_see_partners()?;
    let id = input::path_id(id)?;
    app.store.read(|conn| {
        let item = conn
            .prepare_cached(
                "SELECT p.id, p.name, p.reference, p.billing_id, p.verification_phrase,
                        p.is_active, p.version, parent.id, parent.name, u.id, u.first_name,
                        u.last_name, u.email, p.created_at, p.modified_at
                 FROM sc_partners p
                 LEFT JOIN sc_partners parent ON parent.id = p.parent_id
                 LEFT JOIN sc_users u ON u.id = p.contact_id
                 WHERE p.id = ?1",
            )?
            .query_row([id], |r| {
                let contact = Contact::from_columns(r, 9)?;
                Ok(PartnerItem {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    reference: r.get(2)?,
                    billing_id: r.get(3)?,
                    verification_phrase: r.get(4)?,
                    is_active: r.get(5)?,
                    version: r.get(6)?,
                    parent: named(r.get(7)?, r.get(8)?),
                    contact,
                    created: Some(iso_millis(r.get(13)?)),
                    modified: Some(iso_millis(r.get(14)?)),
                })
            })
            .optional()?
            .ok_or(Error::NotFound)?;
        scope::partner_access(conn, caller, id)?.require()?;
        Ok(json_response(200, &item))
    })
}

/// Records a duplicate when another partner (not `except`) has this name: partners are
/// looked up by name (`?partner=partnerName`), so names are unique, ignoring ASCII case.
fn check_unique_name(
    conn: &Connection,
    name: &str,
    except: Option<i64>,
    problems: &mut Problems,
) -> crate::db::Result<()> {
    let taken: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sc_partners WHERE name = ?1 AND id IS DISTINCT FROM ?2)",
        )?
        .query_row(crate::params![name, except], |r| r.get(0))?;
    if taken {
        problems.add(
            "name",
            DUPLICATE,
            "A partner with this name already exists.",
        );
    }
    Ok(())
}

/// The attributes both create and update read; update leaves absent ones as they are.
struct Attributes {
    name: Field<String>,
    reference: Field<String>,
    billing_id: Field<String>,
    verification_phrase: Field<String>,
    is_active: Field<bool>,
    parent: Field<Ref>,
}

impl Attributes {
    fn read(reader: &Reader, problems: &mut Problems) -> Attributes {
        Attributes {
            name: reader.name("name", MAX_TEXT, problems),
            reference: reader.text("reference", MAX_TEXT, problems),
            billing_id: reader.text("billingId", MAX_BILLING_ID, problems),
            verification_phrase: reader.text("verificationPhrase", MAX_TEXT, problems),
            is_active: reader.boolean("isActive", problems),
            parent: reader.reference("parent", problems),
        }
    }
}

/// `POST /api/v1/partners` → `200 {"id": N}`: a sub-partner of `parent`. The `contact` is
/// optional here, unlike the OpenAPI's `PartnerCreate`, because the partners guide's own
/// example body has none.
pub fn create_partner(
    app: &App,
    req: &Request,
    caller: &Caller,
    _: &str,
) -> Result<Response, Error> {
    caller.must_manage()?;
    caller.must_see_partners()?;
    let body = input::object(req)?;
    let reader = Reader::new(&body, "");
    let mut problems = Problems::default();
    let a = Attributes::read(&reader, &mut problems);
    let name = a.name.required("name", &mut problems);
    let is_active = a
        .is_active
        .not_null("isActive", &mut problems)
        .unwrap_or(true);
    let parent = a.parent.required("parent", &mut problems);
    let (reference, billing_id, verification_phrase) = (
        a.reference.nullable().flatten(),
        a.billing_id.nullable().flatten(),
        a.verification_phrase.nullable().flatten(),
    );
    let contact = ContactInput::read(&reader, "contact", "Partner Supervisor", &mut problems);
    if let Field::Set(ContactInput::New(user)) = &contact {
        if roles::level(user.role) != Level::Partner {
            problems.add(
                "contact.userRole",
                INVALID,
                "contact.userRole must be a partner-level role.",
            );
        }
    }
    let sends_mail = matches!(&contact, Field::Set(c) if c.sends_welcome());
    let now = app.clock.now_ms();
    let id = app.store.write(|tx| {
        let parent = match &parent {
            Some(r) => resolve_parent(tx, caller, r, &mut problems)?,
            None => None,
        };
        if let Some(name) = &name {
            check_unique_name(tx, name, None, &mut problems)?;
        }
        if let Field::Set(contact) = &contact {
            contact.check(tx, caller, "contact", &mut problems)?;
        }
        problems.check()?;
        let (Some(name), Some(parent)) = (name, parent) else {
            return Err(Error::Internal(
                "a checked partner attribute went missing".into(),
            ));
        };
        let row = PartnerRow {
            name: &name,
            reference: reference.as_deref(),
            billing_id: billing_id.as_deref(),
            verification_phrase: verification_phrase.as_deref(),
            is_active,
            parent_id: parent.id,
        };
        let id = insert_partner(tx, &row, now)?;
        let contact_id = match contact {
            Field::Set(ContactInput::Existing(user_id)) => Some(user_id),
            Field::Set(ContactInput::New(user)) => {
                Some(user.insert(app, tx, Some(id), None, now)?)
            }
            _ => None,
        };
        tx.prepare_cached("UPDATE sc_partners SET contact_id = ?2 WHERE id = ?1")?
            .execute(crate::params![id, contact_id])?;
        Ok::<_, Error>(id)
    })?;
    welcome::after_commit(app, sends_mail);
    Ok(id_response(id))
}

/// The new partner's parent: in the caller's scope, and not at the deepest level a tree
/// may have.
fn resolve_parent(
    tx: &Transaction,
    caller: &Caller,
    reference: &Ref,
    problems: &mut Problems,
) -> Result<Option<scope::Named>, Error> {
    Ok(
        match scope::resolve_partner(tx, caller, reference, "parent", problems)? {
            Some(p) if scope::lineage(tx, p.id)?.len() >= scope::MAX_DEPTH => {
                problems.add(
                    "parent",
                    INVALID,
                    "a partner tree is at most 64 levels deep.",
                );
                None
            }
            found => found,
        },
    )
}

/// A checked new partner, as its row takes it.
struct PartnerRow<'a> {
    name: &'a str,
    reference: Option<&'a str>,
    billing_id: Option<&'a str>,
    verification_phrase: Option<&'a str>,
    is_active: bool,
    parent_id: i64,
}

/// Writes a checked new partner; its id.
fn insert_partner(tx: &Transaction, row: &PartnerRow, now: i64) -> Result<i64, Error> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO sc_partners (name, reference, billing_id, verification_phrase,
                 is_active, parent_id, created_at, modified_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             RETURNING id",
        )?
        .query_row(
            crate::params![
                row.name,
                row.reference,
                row.billing_id,
                row.verification_phrase,
                row.is_active,
                row.parent_id,
                now
            ],
            |r| r.get(0),
        )?)
}

/// `PATCH /api/v1/partners/{id}` → `200 {"id": N}`; `version` + 1.
pub fn update_partner(
    app: &App,
    req: &Request,
    caller: &Caller,
    id: &str,
) -> Result<Response, Error> {
    caller.must_manage()?;
    caller.must_see_partners()?;
    let id = input::path_id(id)?;
    let body = input::object(req)?;
    let now = app.clock.now_ms();
    app.store
        .write(|tx| apply_update(tx, caller, id, &body, now))?;
    Ok(id_response(id))
}

fn apply_update(
    tx: &Transaction,
    caller: &Caller,
    id: i64,
    body: &Map<String, Value>,
    now: i64,
) -> Result<(), Error> {
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM sc_partners WHERE id = ?1)")?
        .query_row([id], |r| r.get(0))?;
    if !exists {
        return Err(Error::NotFound);
    }
    scope::partner_access(tx, caller, id)?.require()?;
    let reader = Reader::new(body, "");
    let mut problems = Problems::default();
    let a = Attributes::read(&reader, &mut problems);
    let name = a.name.not_null("name", &mut problems);
    let is_active = a.is_active.not_null("isActive", &mut problems);
    let parent = a.parent.not_null("parent", &mut problems);
    let _ = reader.integer("version", &mut problems);
    let contact = reader.user_reference("contact", &mut problems);
    if let Some(name) = &name {
        check_unique_name(tx, name, Some(id), &mut problems)?;
    }
    let parent_id = match &parent {
        // Where the caller's own partner hangs is decided a level above it.
        Some(_) if caller.home == Home::Partner(id) => return Err(Error::Forbidden),
        Some(r) => resolve_new_parent(tx, caller, id, r, &mut problems)?,
        None => None,
    };
    if let Some(user_id) = contact {
        scope::resolve_user(tx, caller, user_id, "contact.id", &mut problems)?;
    }
    problems.check()?;
    let (reference, billing_id, phrase) = (
        a.reference.nullable(),
        a.billing_id.nullable(),
        a.verification_phrase.nullable(),
    );
    tx.prepare_cached(
        "UPDATE sc_partners SET
             name = coalesce(?2, name),
             reference = CASE WHEN ?3 THEN ?4 ELSE reference END,
             billing_id = CASE WHEN ?5 THEN ?6 ELSE billing_id END,
             verification_phrase = CASE WHEN ?7 THEN ?8 ELSE verification_phrase END,
             is_active = coalesce(?9, is_active),
             parent_id = coalesce(?10, parent_id),
             contact_id = coalesce(?11, contact_id),
             version = version + 1,
             modified_at = ?12
         WHERE id = ?1",
    )?
    .execute(crate::params![
        id,
        name,
        reference.is_some(),
        reference.flatten(),
        billing_id.is_some(),
        billing_id.flatten(),
        phrase.is_some(),
        phrase.flatten(),
        is_active,
        parent_id,
        contact,
        now
    ])?;
    Ok(())
}

/// A partner's new parent: in the caller's scope, not the partner itself or below it, and
/// not so deep that the moved subtree would pass the deepest level a tree may have.
fn resolve_new_parent(
    tx: &Transaction,
    caller: &Caller,
    id: i64,
    reference: &Ref,
    problems: &mut Problems,
) -> Result<Option<i64>, Error> {
    Ok(
        match scope::resolve_partner(tx, caller, reference, "parent", problems)? {
            Some(p) if scope::lineage(tx, p.id)?.iter().any(|a| a.id == id) => {
                problems.add(
                    "parent",
                    INVALID,
                    "parent cannot be the partner itself or one of its sub-partners.",
                );
                None
            }
            Some(p)
                if scope::lineage(tx, p.id)?.len() + scope::height(tx, id)? >= scope::MAX_DEPTH =>
            {
                problems.add(
                    "parent",
                    INVALID,
                    "a partner tree is at most 64 levels deep.",
                );
                None
            }
            found => found.map(|p| p.id),
        },
    )
}
