//! Clients: `/api/partner/{mid}/client/` and `/api/partner/{mid}/client/{mid}/`.
//!
//! The vendor's create sends `client_external_id` and nested `contacts`; the answer is 201 with
//! the enveloped client (our choice: DRF's create status; the tutorial code reads
//! `resp.json()['response']['url']`). On update, `contacts` are the URLs of the client's
//! contacts (client.md): a contact left out is deleted. We also take a nested contact object
//! there, as a new contact. Unknown fields are ignored, as DRF does: the vendor's PATCH sends
//! `default_client`, which is no field, and gets 200 with the client unchanged.
//!
//! Client fields follow the object recorded from the real API (docs/makeleaps.md); where MakeLeaps
//! is silent (our choice): `display_name` is the organization contact's name, else the first
//! person's; the first contact is the `default_contact`; `client_external_id` is optional ("" when
//! absent) and unique per partner when given.

use crate::db::{Connection, OptionalExtension, Row};
use serde_json::{json, Value};

use super::contacts::NewContact;
use super::fields::{self, text, Errors, Text};
use super::paging::Page;
use super::{ok, request_data_checked, Ctx, Error, Update};
use crate::http::Response;

/// Django's message for a unique field, naming the model and the field's label.
const DUPLICATE_EXTERNAL_ID: &str = "client with this client external id already exists.";
const NO_SUCH_OBJECT: &str = "Invalid hyperlink - Object does not exist.";

/// A stored client with its contacts' mids, in order.
#[derive(Debug)]
pub struct Client {
    pub mid: String,
    pub partner: String,
    pub client_external_id: String,
    pub display_name: String,
    pub is_organization: bool,
    pub default_contact: String,
    pub contacts: Vec<String>,
}

const SELECT_CLIENT: &str = "SELECT mid, partner_mid, client_external_id, display_name,
        is_organization, default_contact_mid FROM ml_clients";

impl Client {
    fn from_row(r: &Row) -> crate::db::Result<Client> {
        Ok(Client {
            mid: r.get(0)?,
            partner: r.get(1)?,
            client_external_id: r.get(2)?,
            display_name: r.get(3)?,
            is_organization: r.get(4)?,
            default_contact: r.get(5)?,
            contacts: Vec::new(),
        })
    }

    /// The partner's client by mid, with its contacts; `None` if it is not the partner's.
    pub fn find(conn: &Connection, partner: &str, mid: &str) -> crate::db::Result<Option<Client>> {
        let client = conn
            .prepare_cached(&format!(
                "{SELECT_CLIENT} WHERE mid = ?1 AND partner_mid = ?2"
            ))?
            .query_row([mid, partner], Client::from_row)
            .optional()?;
        match client {
            Some(mut client) => {
                client.contacts = contact_mids(conn, &client.mid)?;
                Ok(Some(client))
            }
            None => Ok(None),
        }
    }

    /// The client object of the real API, links included.
    pub fn render(&self, ctx: &Ctx) -> Value {
        let urls = &ctx.urls;
        let contacts: Vec<String> = self
            .contacts
            .iter()
            .map(|c| urls.contact(&self.partner, c))
            .collect();
        json!({
            "url": urls.client(&self.partner, &self.mid),
            "mid": self.mid,
            "display_name": self.display_name,
            "organization_type": "client",
            "is_organization": self.is_organization,
            "date_archived": null,
            "client_external_id": self.client_external_id,
            "contacts": contacts,
            "default_contact": urls.contact(&self.partner, &self.default_contact),
            "managing_teams": [],
            "default_presets": [],
        })
    }
}

fn contact_mids(conn: &Connection, client: &str) -> crate::db::Result<Vec<String>> {
    conn.prepare_cached("SELECT mid FROM ml_contacts WHERE client_mid = ?1 ORDER BY position")?
        .query_map([client], |r| r.get(0))?
        .collect()
}

/// A create's body, validated.
#[derive(Debug)]
pub struct NewClient {
    pub client_external_id: String,
    pub contacts: Vec<NewContact>,
}

impl NewClient {
    /// Validates a create body; on failure, DRF's per-field errors.
    pub fn from_json(body: &Value) -> Result<NewClient, Value> {
        let object = top_level_object(body)?;
        let mut errors = Errors::default();
        let client_external_id =
            text(object, "client_external_id", Text::OPTIONAL, &mut errors).unwrap_or_default();
        let contacts = match object.get("contacts") {
            None => {
                errors.add("contacts", fields::REQUIRED);
                Vec::new()
            }
            Some(value) => read_new_contacts(value, &mut errors),
        };
        errors.finish(NewClient {
            client_external_id,
            contacts,
        })
    }
}

/// The body must be an object; DRF words the other cases as below.
fn top_level_object(body: &Value) -> Result<&serde_json::Map<String, Value>, Value> {
    match body {
        Value::Object(object) => Ok(object),
        Value::Null => Err(json!({"non_field_errors": [fields::not_null("body")]})),
        other => Err(fields::not_a_dict("body", other)),
    }
}

/// A create's `contacts`: a non-empty list of nested contact objects.
fn read_new_contacts(value: &Value, errors: &mut Errors) -> Vec<NewContact> {
    let list = match value {
        Value::Array(list) if list.is_empty() => {
            errors.add("contacts", fields::NOT_EMPTY_LIST);
            return Vec::new();
        }
        Value::Array(list) => list,
        Value::Null => {
            errors.add("contacts", fields::not_null("contacts"));
            return Vec::new();
        }
        other => {
            errors.add("contacts", fields::not_a_list("contacts", other));
            return Vec::new();
        }
    };
    let results: Vec<Result<NewContact, Value>> = list.iter().map(NewContact::from_json).collect();
    if results.iter().any(Result::is_err) {
        let per_item = results
            .into_iter()
            .map(|r| r.err().unwrap_or_else(|| json!({})))
            .collect();
        errors.nest("contacts", Value::Array(per_item));
        return Vec::new();
    }
    results.into_iter().flatten().collect()
}

/// Stores a new client and its contacts (each with its pre-drawn mid), the first contact as
/// the default. Shared by the API's create and the seed.
pub fn insert_client(
    conn: &Connection,
    partner: &str,
    mid: &str,
    client_external_id: &str,
    contacts: &[(String, NewContact)],
    now_ms: i64,
) -> crate::db::Result<()> {
    let summary: Vec<(&str, String)> = contacts
        .iter()
        .map(|(_, c)| (c.contact_type.as_str(), c.display_name()))
        .collect();
    let (display_name, is_organization) = summarize(&summary);
    let default_contact = contacts.first().map_or("", |(mid, _)| mid.as_str());
    conn.prepare_cached(
        "INSERT INTO ml_clients (mid, partner_mid, client_external_id, display_name,
             is_organization, default_contact_mid, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(crate::params![
        mid,
        partner,
        client_external_id,
        display_name,
        is_organization,
        default_contact,
        now_ms
    ])?;
    for (position, (contact_mid, contact)) in contacts.iter().enumerate() {
        contact.insert(conn, contact_mid, mid, partner, position, now_ms)?;
    }
    Ok(())
}

/// (display name, is organization) of a client from its contacts' (type, display name).
fn summarize<T: AsRef<str>>(contacts: &[(T, String)]) -> (String, bool) {
    let organization = contacts.iter().find(|(t, _)| t.as_ref() == "organization");
    let display = organization
        .or_else(|| contacts.first())
        .map(|(_, name)| name.clone())
        .unwrap_or_default();
    (display, organization.is_some())
}

/// True when another client of the partner already uses this external id.
fn external_id_taken(
    conn: &Connection,
    partner: &str,
    external_id: &str,
    except_mid: &str,
) -> crate::db::Result<bool> {
    if external_id.is_empty() {
        return Ok(false);
    }
    conn.prepare_cached(
        // `<> ''` repeats the partial index's condition, so SQLite uses that index.
        "SELECT 1 FROM ml_clients
         WHERE partner_mid = ?1 AND client_external_id = ?2 AND client_external_id <> ''
           AND mid <> ?3",
    )?
    .exists([partner, external_id, except_mid])
}

/// `POST /api/partner/{mid}/client/` → 201 with the client and `Location` (DRF's create).
pub fn create_client(ctx: &Ctx, partner: &str) -> Result<Response, Error> {
    ctx.own_partner(partner)?;
    let data = request_data_checked(ctx.req, |body| {
        let _ = NewClient::from_json(body);
    });
    let new = NewClient::from_json(&data?).map_err(Error::Invalid)?;
    let mid = ctx.app.ids.digits(19);
    let contacts: Vec<(String, NewContact)> = new
        .contacts
        .into_iter()
        .map(|c| (ctx.app.ids.digits(19), c))
        .collect();
    let now = ctx.app.clock.now_ms();
    // Row by row: the external id's unique index settles a race (the loser runs again and
    // finds it taken), and the trigger that numbers clients takes them one at a time.
    let client = ctx.app.store.write_rows(|tx| {
        if external_id_taken(tx, partner, &new.client_external_id, "")? {
            return Err(Error::field("client_external_id", DUPLICATE_EXTERNAL_ID));
        }
        insert_client(tx, partner, &mid, &new.client_external_id, &contacts, now)?;
        Client::find(tx, partner, &mid)?
            .ok_or(Error::Internal("a client just inserted is missing".into()))
    })?;
    let url = ctx.urls.client(partner, &client.mid);
    Ok(ok(201, client.render(ctx)).with_header("Location", &url))
}

/// Keys per bucket of `ml_client_buckets` (schema.sql, migration 4): `seq >> BUCKET_BITS`.
const BUCKET_BITS: u32 = 10;

/// Where the client at position `offset` of `partner`'s list is: the first `seq` of its
/// bucket, and how many of the partner's clients come before it from that `seq` on. A page
/// deep in the list then steps over fewer than one bucket of rows instead of `offset`.
/// Past the end, the last bucket's end (the page comes out empty, as with OFFSET).
fn page_start(conn: &Connection, partner: &str, offset: i64) -> crate::db::Result<(i64, i64)> {
    if offset < 1 << BUCKET_BITS {
        return Ok((i64::MIN, offset));
    }
    let mut stmt = conn.prepare_cached(
        "SELECT bucket, clients FROM ml_client_buckets WHERE partner_mid = ?1 AND clients > 0
         ORDER BY bucket",
    )?;
    let mut rows = stmt.query([partner])?;
    let mut before = 0i64;
    while let Some(row) = rows.next()? {
        let (bucket, clients): (i64, i64) = (row.get(0)?, row.get(1)?);
        if before + clients > offset {
            return Ok((bucket << BUCKET_BITS, offset - before));
        }
        before += clients;
    }
    Ok((i64::MAX, 0))
}

/// `GET /api/partner/{mid}/client/`: the partner's clients in creation order, paged.
pub fn list_clients(ctx: &Ctx, partner: &str) -> Result<Response, Error> {
    ctx.own_partner(partner)?;
    ctx.app.store.read(|conn| {
        // Counted by triggers (schema.sql), so the total costs one row, not a scan.
        let count: i64 = conn
            .prepare_cached("SELECT client_count FROM ml_partners WHERE mid = ?1")?
            .query_row([partner], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let page = Page::of(ctx, count.max(0) as u64)?;
        let (from_seq, offset) = page_start(conn, partner, page.offset())?;
        let mut clients = conn
            .prepare_cached(&format!(
                "{SELECT_CLIENT} WHERE partner_mid = ?1 AND seq >= ?4
                 ORDER BY seq LIMIT ?2 OFFSET ?3"
            ))?
            .query_map(
                crate::params![partner, page.limit(), offset, from_seq],
                Client::from_row,
            )?
            .collect::<crate::db::Result<Vec<Client>>>()?;
        let mut items = Vec::with_capacity(clients.len());
        for client in &mut clients {
            client.contacts = contact_mids(conn, &client.mid)?;
            items.push(client.render(ctx));
        }
        Ok(page.respond(ctx, items))
    })
}

/// `GET /api/partner/{mid}/client/{mid}/`.
pub fn get_client(ctx: &Ctx, partner: &str, mid: &str) -> Result<Response, Error> {
    ctx.own_partner(partner)?;
    let client = ctx
        .app
        .store
        .read(|conn| Client::find(conn, partner, mid))?
        .ok_or(Error::NotFound)?;
    Ok(ok(200, client.render(ctx)))
}

/// `DELETE /api/partner/{mid}/client/{mid}/` → 204; its contacts go with it. (MakeLeaps
/// refuses when a document refers to the client; there are no documents here.)
pub fn delete_client(ctx: &Ctx, partner: &str, mid: &str) -> Result<Response, Error> {
    ctx.own_partner(partner)?;
    let deleted = ctx.app.store.write(|tx| {
        tx.prepare_cached("DELETE FROM ml_clients WHERE mid = ?1 AND partner_mid = ?2")?
            .execute([mid, partner])
    })?;
    if deleted == 0 {
        return Err(Error::NotFound);
    }
    Ok(Response::empty(204))
}

/// One entry of an update's `contacts`: a link to a contact the client has, or a new one.
#[derive(Debug)]
enum ContactRef {
    Link(String),
    New(NewContact),
}

/// An update's body, checked for shape; links are checked against the client later.
#[derive(Debug)]
struct ClientUpdate {
    client_external_id: Option<String>,
    contacts: Option<Vec<ContactRef>>,
    default_contact: Option<String>,
}

impl ClientUpdate {
    fn from_json(body: &Value, mode: Update) -> Result<ClientUpdate, Value> {
        let object = top_level_object(body)?;
        let mut errors = Errors::default();
        let client_external_id = text(object, "client_external_id", Text::OPTIONAL, &mut errors);
        let contacts = match object.get("contacts") {
            None if mode == Update::Full => {
                errors.add("contacts", fields::REQUIRED);
                None
            }
            None => None,
            Some(value) => read_contact_refs(value, &mut errors),
        };
        let default_contact = match object.get("default_contact") {
            None => None,
            Some(Value::String(link)) => Some(link.clone()),
            Some(Value::Null) => {
                errors.add("default_contact", fields::not_null("default_contact"));
                None
            }
            Some(other) => {
                errors.add("default_contact", wrong_link_type("default_contact", other));
                None
            }
        };
        errors.finish(ClientUpdate {
            client_external_id,
            contacts,
            default_contact,
        })
    }
}

/// The message for a link of another type; the wrong type is noted on `field`.
fn wrong_link_type(field: &str, value: &Value) -> String {
    let _ = crate::conformance::refuse_at(&super::rules::TYPE, field);
    format!(
        "Incorrect type. Expected URL string, received {}.",
        fields::py_type(value)
    )
}

/// An update's `contacts`: a non-empty list of contact URLs (client.md) or new contacts.
fn read_contact_refs(value: &Value, errors: &mut Errors) -> Option<Vec<ContactRef>> {
    let list = match value {
        Value::Array(list) if list.is_empty() => {
            errors.add("contacts", fields::NOT_EMPTY_LIST);
            return None;
        }
        Value::Array(list) => list,
        Value::Null => {
            errors.add("contacts", fields::not_null("contacts"));
            return None;
        }
        other => {
            errors.add("contacts", fields::not_a_list("contacts", other));
            return None;
        }
    };
    let mut refs = Vec::with_capacity(list.len());
    let mut per_item = Vec::with_capacity(list.len());
    let mut failed = false;
    for item in list {
        match item {
            Value::String(link) => {
                refs.push(ContactRef::Link(link.clone()));
                per_item.push(json!({}));
            }
            Value::Object(_) => match NewContact::from_json(item) {
                Ok(contact) => {
                    refs.push(ContactRef::New(contact));
                    per_item.push(json!({}));
                }
                Err(e) => {
                    failed = true;
                    per_item.push(e);
                }
            },
            other => {
                failed = true;
                per_item.push(json!([wrong_link_type("contacts", other)]));
            }
        }
    }
    if failed {
        errors.nest("contacts", Value::Array(per_item));
        return None;
    }
    Some(refs)
}

/// `PUT`/`PATCH /api/partner/{mid}/client/{mid}/` → 200 with the client as it now is.
pub fn update_client(ctx: &Ctx, partner: &str, mid: &str, mode: Update) -> Result<Response, Error> {
    ctx.own_partner(partner)?;
    // Parsed before taking the write lock, reported after the 404 check (DRF's order).
    let parsed = request_data_checked(ctx.req, |body| {
        let _ = ClientUpdate::from_json(body, mode);
    })
    .and_then(|body| ClientUpdate::from_json(&body, mode).map_err(Error::Invalid));
    let now = ctx.app.clock.now_ms();
    let client = ctx.app.store.write(|tx| {
        let current = Client::find(tx, partner, mid)?.ok_or(Error::NotFound)?;
        let update = parsed?;
        apply_update(ctx, tx, current, update, now)?;
        Client::find(tx, partner, mid)?
            .ok_or(Error::Internal("a client just updated is missing".into()))
    })?;
    Ok(ok(200, client.render(ctx)))
}

/// Checks an update against the stored client and applies it, or changes nothing.
fn apply_update(
    ctx: &Ctx,
    conn: &Connection,
    current: Client,
    update: ClientUpdate,
    now_ms: i64,
) -> Result<(), Error> {
    let checked = check_update(ctx, conn, &current, update)?;
    write_update(conn, &current, &checked, now_ms)
}

/// An update whose references are checked: what the client's row and contacts become.
struct CheckedUpdate {
    external_id: String,
    /// The new list of contacts: (mid, Some(contact) when it is to be inserted).
    entries: Vec<(String, Option<NewContact>)>,
    default_contact: String,
}

/// The checks that need the database: the external id is free, every contact link names
/// one of this client's contacts, and the default is one the client keeps.
fn check_update(
    ctx: &Ctx,
    conn: &Connection,
    current: &Client,
    update: ClientUpdate,
) -> Result<CheckedUpdate, Error> {
    let partner = current.partner.as_str();
    let mut errors = Errors::default();
    let external_id = update
        .client_external_id
        .unwrap_or_else(|| current.client_external_id.clone());
    if external_id_taken(conn, partner, &external_id, &current.mid)? {
        errors.add("client_external_id", DUPLICATE_EXTERNAL_ID);
    }
    // A link names one of this client's contacts, or it is an error.
    let own_contact = |link: &str| -> Result<String, &'static str> {
        match ctx.urls.parse_contact(link)? {
            (p, c) if p == partner && current.contacts.iter().any(|m| m == c) => Ok(c.to_string()),
            _ => Err(NO_SUCH_OBJECT),
        }
    };
    // The new list: (mid, Some(contact) when it is to be inserted).
    let mut entries: Vec<(String, Option<NewContact>)> = Vec::new();
    match update.contacts {
        None => entries.extend(current.contacts.iter().map(|m| (m.clone(), None))),
        Some(refs) => {
            for r in refs {
                match r {
                    ContactRef::Link(link) => match own_contact(&link) {
                        Ok(m) if entries.iter().any(|(e, _)| *e == m) => {}
                        Ok(m) => entries.push((m, None)),
                        Err(message) => {
                            // DRF reports a bad link of a many-field as one flat message.
                            errors.add("contacts", message);
                            break;
                        }
                    },
                    ContactRef::New(c) => entries.push((ctx.app.ids.digits(19), Some(c))),
                }
            }
        }
    }
    // The default must be one of the contacts the client keeps.
    let default_contact = match &update.default_contact {
        None => None,
        Some(link) => match own_contact(link) {
            Ok(m) if entries.iter().any(|(e, _)| *e == m) => Some(m),
            Ok(_) => {
                errors.add("default_contact", NO_SUCH_OBJECT);
                None
            }
            Err(message) => {
                errors.add("default_contact", message);
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(Error::Invalid(errors.into_value()));
    }
    let default_contact = default_contact
        .or_else(|| {
            entries
                .iter()
                .any(|(e, _)| *e == current.default_contact)
                .then(|| current.default_contact.clone())
        })
        .or_else(|| entries.first().map(|(e, _)| e.clone()))
        .ok_or(Error::Internal(
            "a client would be left without contacts".into(),
        ))?;
    Ok(CheckedUpdate {
        external_id,
        entries,
        default_contact,
    })
}

/// Writes a checked update: contacts left out are deleted (client.md), the rest take their
/// new places, and the client's summary fields follow its contacts.
fn write_update(
    conn: &Connection,
    current: &Client,
    update: &CheckedUpdate,
    now_ms: i64,
) -> Result<(), Error> {
    let partner = current.partner.as_str();
    let CheckedUpdate {
        external_id,
        entries,
        default_contact,
    } = update;
    for old in &current.contacts {
        if !entries.iter().any(|(e, _)| e == old) {
            conn.prepare_cached("DELETE FROM ml_contacts WHERE mid = ?1")?
                .execute([old])?;
        }
    }
    for (position, (contact_mid, new)) in entries.iter().enumerate() {
        match new {
            Some(contact) => {
                contact.insert(conn, contact_mid, &current.mid, partner, position, now_ms)?
            }
            None => {
                conn.prepare_cached("UPDATE ml_contacts SET position = ?1 WHERE mid = ?2")?
                    .execute(crate::params![position as i64, contact_mid])?;
            }
        }
    }
    let summary: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT contact_type, name, family_name, given_name FROM ml_contacts
             WHERE client_mid = ?1 ORDER BY position",
        )?
        .query_map([&current.mid], |r| {
            let contact_type: String = r.get(0)?;
            let display = super::contacts::display_name(
                &contact_type,
                &r.get::<_, String>(1)?,
                &r.get::<_, String>(2)?,
                &r.get::<_, String>(3)?,
            );
            Ok((contact_type, display))
        })?
        .collect::<crate::db::Result<_>>()?;
    let (display_name, is_organization) = summarize(&summary);
    conn.prepare_cached(
        "UPDATE ml_clients SET client_external_id = ?1, display_name = ?2, is_organization = ?3,
             default_contact_mid = ?4, updated_at = ?5
         WHERE mid = ?6",
    )?
    .execute(crate::params![
        external_id,
        display_name,
        is_organization,
        default_contact,
        now_ms,
        current.mid
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_create_body_is_valid() {
        let body = json!({"client_external_id": "CLIENT-12345", "contacts": [
            {"contact_type": "organization", "name": "Example Co", "addresses": [], "email": null},
            {"contact_type": "person", "family_name": "Sato", "addresses": [], "email": {"address": ""}}]});
        let new = NewClient::from_json(&body).unwrap();
        assert_eq!(new.client_external_id, "CLIENT-12345");
        assert_eq!(new.contacts.len(), 2);
    }

    #[test]
    fn create_errors_are_drf_shaped() {
        assert_eq!(
            NewClient::from_json(&json!({})).unwrap_err(),
            json!({"contacts": ["This field is required."]})
        );
        assert_eq!(
            NewClient::from_json(&json!([])).unwrap_err(),
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        );
        assert_eq!(
            NewClient::from_json(&json!({"contacts": "x", "client_external_id": {}})).unwrap_err(),
            json!({"contacts": ["Expected a list of items but got type \"str\"."],
                   "client_external_id": ["Not a valid string."]})
        );
        assert_eq!(
            NewClient::from_json(&json!({"contacts": [
                {"contact_type": "organization", "name": "A"}, {"contact_type": "person"}]}))
            .unwrap_err(),
            json!({"contacts": [{}, {"family_name": ["This field is required."]}]})
        );
    }

    #[test]
    fn the_seed_patch_body_changes_nothing() {
        let body = json!({"default_client": "{ mid }/client/{ client_mid }/"});
        let update = ClientUpdate::from_json(&body, Update::Partial).unwrap();
        assert!(update.client_external_id.is_none());
        assert!(update.contacts.is_none());
        assert!(update.default_contact.is_none());
        assert_eq!(
            ClientUpdate::from_json(&body, Update::Full).unwrap_err(),
            json!({"contacts": ["This field is required."]})
        );
    }

    #[test]
    fn display_name_prefers_the_organization() {
        let people = [("person", "Sato".to_string())];
        assert_eq!(summarize(&people), ("Sato".to_string(), false));
        let both = [
            ("person", "Sato".to_string()),
            ("organization", "Example Co".to_string()),
        ];
        assert_eq!(summarize(&both), ("Example Co".to_string(), true));
    }
}
