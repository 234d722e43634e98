//! Contacts: the organization and people of a client. Created nested in a client's body (the
//! vendor's documentation: an organization contact by `name`, a person by `family_name`), listed
//! under `/client/{mid}/contact/`, and each readable at the URL the client's `contacts` give.
//!
//! Fields and rendering follow the contact object recorded from the real API (docs/makeleaps.md):
//! `email` is `{"address": ...}` or null, and an empty address means "no e-mail" (our choice, so
//! the seed's `{"address": ""}` is accepted). E-mails are checked only for the shape of an address
//! (something@something, no spaces): MakeLeaps publishes no stricter rule.

use crate::db::{Connection, OptionalExtension, Row};
use serde_json::{json, Map, Value};

use super::fields::{self, text, Errors, Text};
use super::paging::Page;
use super::{ok, Ctx, Error};
use crate::http::Response;

/// The two kinds of contact (DRF ChoiceField).
const CONTACT_TYPES: [&str; 2] = ["organization", "person"];

/// The address fields of the recorded contact object; all optional text.
const ADDRESS_FIELDS: [&str; 7] = [
    "format",
    "country_name",
    "postal_code",
    "region",
    "locality",
    "street_address",
    "extended_address",
];

/// A contact as sent in a create (or as a new entry of an update's `contacts`), validated.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub contact_type: String,
    pub name: String,
    pub family_name: String,
    pub given_name: String,
    pub title: String,
    pub department: String,
    pub phone_number: String,
    /// `None`: no e-mail.
    pub email: Option<String>,
    /// Rendered address objects (defaults filled in, `display` computed).
    pub addresses: Vec<Value>,
}

impl NewContact {
    /// Validates one contact object; on failure, DRF's errors for that object.
    pub fn from_json(value: &Value) -> Result<NewContact, Value> {
        let Some(object) = value.as_object() else {
            return Err(fields::not_a_dict("contacts", value));
        };
        let mut errors = Errors::default();
        let contact_type = match object.get("contact_type") {
            None => {
                errors.add("contact_type", fields::REQUIRED);
                String::new()
            }
            Some(Value::String(t)) if CONTACT_TYPES.contains(&t.as_str()) => t.clone(),
            Some(other) => {
                // A choice of another type (or null) is also a type (or null) deviation;
                // DRF's answer is the same "not a valid choice".
                match other {
                    Value::String(_) => {}
                    Value::Null => {
                        let _ = fields::not_null("contact_type");
                    }
                    _ => {
                        let _ = crate::conformance::refuse_at(&super::rules::TYPE, "contact_type");
                    }
                }
                let shown = other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_string);
                errors.add(
                    "contact_type",
                    format!("\"{shown}\" is not a valid choice."),
                );
                String::new()
            }
        };
        // An organization is known by its name, a person by the family name (docs/makeleaps.md).
        let name_rule = |field: &str| match (contact_type.as_str(), field) {
            ("organization", "name") | ("person", "family_name") => Text::REQUIRED,
            _ => Text::OPTIONAL,
        };
        let mut read =
            |field: &str| text(object, field, name_rule(field), &mut errors).unwrap_or_default();
        let name = read("name");
        let family_name = read("family_name");
        let given_name = read("given_name");
        let title = read("title");
        let department = read("department");
        let phone_number = read("phone_number");
        let email = read_email(object.get("email"), &mut errors);
        let addresses = read_addresses(object.get("addresses"), &mut errors);
        errors.finish(NewContact {
            contact_type,
            name,
            family_name,
            given_name,
            title,
            department,
            phone_number,
            email,
            addresses,
        })
    }

    pub fn display_name(&self) -> String {
        display_name(
            &self.contact_type,
            &self.name,
            &self.family_name,
            &self.given_name,
        )
    }

    /// Stores the contact as the `position`-th of a client.
    pub fn insert(
        &self,
        conn: &Connection,
        mid: &str,
        client: &str,
        partner: &str,
        position: usize,
        now_ms: i64,
    ) -> crate::db::Result<()> {
        conn.prepare_cached(
            "INSERT INTO ml_contacts (mid, client_mid, partner_mid, position, contact_type, name,
                 family_name, given_name, title, department, phone_number, email, addresses,
                 created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?
        .execute(crate::params![
            mid,
            client,
            partner,
            position as i64,
            self.contact_type,
            self.name,
            self.family_name,
            self.given_name,
            self.title,
            self.department,
            self.phone_number,
            self.email,
            Value::Array(self.addresses.clone()).to_string(),
            now_ms
        ])?;
        Ok(())
    }
}

/// Our choice: an organization shows its name; a person "family given" (Japanese order, as the
/// seed's person has only a family name).
pub fn display_name(contact_type: &str, name: &str, family: &str, given: &str) -> String {
    if contact_type == "organization" {
        return name.to_string();
    }
    [family, given]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `email`: absent, null or `{"address": ""}` is no e-mail; else an address-shaped string.
fn read_email(value: Option<&Value>, errors: &mut Errors) -> Option<String> {
    let object = match value {
        None | Some(Value::Null) => return None,
        Some(Value::Object(object)) => object,
        Some(other) => {
            errors.nest("email", fields::not_a_dict("email", other));
            return None;
        }
    };
    let mut inner = Errors::default();
    let rule = Text {
        max: 254,
        ..Text::OPTIONAL
    };
    let address = text(object, "address", rule, &mut inner).filter(|a| !a.is_empty());
    if let Some(a) = &address {
        if !looks_like_an_address(a) {
            inner.add("address", "Enter a valid email address.");
        }
    }
    if !inner.is_empty() {
        errors.nest("email", inner.into_value());
        return None;
    }
    address
}

fn looks_like_an_address(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// `addresses`: a list of address objects (absent or null: none).
fn read_addresses(value: Option<&Value>, errors: &mut Errors) -> Vec<Value> {
    let list = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(other) => {
            errors.add("addresses", fields::not_a_list("addresses", other));
            return Vec::new();
        }
    };
    let results: Vec<Result<Value, Value>> = list.iter().map(read_address).collect();
    if results.iter().any(Result::is_err) {
        // DRF's shape for a list of nested objects: one entry per item, `{}` for good ones.
        let per_item = results
            .into_iter()
            .map(|r| r.err().unwrap_or_else(|| json!({})))
            .collect();
        errors.nest("addresses", Value::Array(per_item));
        return Vec::new();
    }
    results.into_iter().flatten().collect()
}

/// One address, rendered: the recorded fields with their defaults (our choice: `jp_default`, `JP`,
/// MakeLeaps being a Japanese service) and a one-line `display`.
fn read_address(value: &Value) -> Result<Value, Value> {
    let Some(object) = value.as_object() else {
        return Err(fields::not_a_dict("addresses", value));
    };
    let mut errors = Errors::default();
    let mut address = Map::new();
    for field in ADDRESS_FIELDS {
        let given = text(object, field, Text::OPTIONAL, &mut errors).unwrap_or_default();
        let value = match (field, given.is_empty()) {
            ("format", true) => "jp_default".to_string(),
            ("country_name", true) => "JP".to_string(),
            _ => given,
        };
        address.insert(field.to_string(), Value::String(value));
    }
    // Our choice: Japanese order, as a Japanese envelope reads: postal code first.
    let display: Vec<&str> = ADDRESS_FIELDS[2..]
        .iter()
        .filter_map(|f| address.get(*f).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .collect();
    let display = display.join(" ");
    address.insert("display".into(), Value::String(display));
    errors.finish(Value::Object(address))
}

/// A stored contact, with whether it is its client's default.
#[derive(Debug)]
pub struct Contact {
    pub mid: String,
    pub client: String,
    pub partner: String,
    pub contact_type: String,
    pub name: String,
    pub family_name: String,
    pub given_name: String,
    pub title: String,
    pub department: String,
    pub phone_number: String,
    pub email: Option<String>,
    pub addresses: String,
    pub is_default: bool,
}

/// The columns `Contact::from_row` reads; `k` is the contact's client.
macro_rules! select_contact {
    () => {
        "SELECT c.mid, c.client_mid, c.partner_mid, c.contact_type, c.name, c.family_name,
                c.given_name, c.title, c.department, c.phone_number, c.email, c.addresses,
                k.default_contact_mid = c.mid
         FROM ml_contacts c JOIN ml_clients k ON k.mid = c.client_mid "
    };
}

impl Contact {
    fn from_row(r: &Row) -> crate::db::Result<Contact> {
        Ok(Contact {
            mid: r.get(0)?,
            client: r.get(1)?,
            partner: r.get(2)?,
            contact_type: r.get(3)?,
            name: r.get(4)?,
            family_name: r.get(5)?,
            given_name: r.get(6)?,
            title: r.get(7)?,
            department: r.get(8)?,
            phone_number: r.get(9)?,
            email: r.get(10)?,
            addresses: r.get(11)?,
            is_default: r.get(12)?,
        })
    }

    /// The contact object of the real API (docs/makeleaps.md).
    pub fn render(&self, ctx: &Ctx) -> Value {
        let addresses: Value = serde_json::from_str(&self.addresses).unwrap_or_else(|_| json!([]));
        let default_address = addresses.get(0).cloned().unwrap_or(Value::Null);
        json!({
            "url": ctx.urls.contact(&self.partner, &self.mid),
            "mid": self.mid,
            "owner": ctx.urls.client(&self.partner, &self.client),
            "owner_type": "client",
            "contact_type": self.contact_type,
            "name": self.name,
            "family_name": self.family_name,
            "given_name": self.given_name,
            "display_name": display_name(&self.contact_type, &self.name, &self.family_name, &self.given_name),
            "title": self.title,
            "department": self.department,
            "format": "default",
            "phone_number": self.phone_number,
            "is_default": self.is_default,
            "email": self.email.as_ref().map(|a| json!({"address": a})),
            "addresses": addresses,
            "default_address": default_address,
        })
    }
}

/// A partner's contact by mid (any of its clients'), or `None`.
pub fn find(conn: &Connection, partner: &str, mid: &str) -> crate::db::Result<Option<Contact>> {
    conn.prepare_cached(concat!(
        select_contact!(),
        "WHERE c.mid = ?1 AND c.partner_mid = ?2"
    ))?
    .query_row([mid, partner], Contact::from_row)
    .optional()
}

/// `GET /api/partner/{mid}/contact/{mid}/`: where a client's contact URLs lead.
pub fn get_contact(ctx: &Ctx, partner: &str, mid: &str) -> Result<Response, Error> {
    ctx.own_partner(partner)?;
    let contact = ctx
        .app
        .store
        .read(|conn| find(conn, partner, mid))?
        .ok_or(Error::NotFound)?;
    Ok(ok(200, contact.render(ctx)))
}

/// `GET /api/partner/{mid}/client/{mid}/contact/`: the client's contacts, paged, in order.
pub fn list_client_contacts(ctx: &Ctx, partner: &str, client: &str) -> Result<Response, Error> {
    ctx.own_partner(partner)?;
    ctx.app.store.read(|conn| {
        let exists = conn
            .prepare_cached("SELECT 1 FROM ml_clients WHERE mid = ?1 AND partner_mid = ?2")?
            .exists([client, partner])?;
        if !exists {
            return Err(Error::NotFound);
        }
        let count: i64 = conn
            .prepare_cached("SELECT count(*) FROM ml_contacts WHERE client_mid = ?1")?
            .query_row([client], |r| r.get(0))?;
        let page = Page::of(ctx, count as u64)?;
        let contacts = conn
            .prepare_cached(concat!(
                select_contact!(),
                "WHERE c.client_mid = ?1 ORDER BY c.position LIMIT ?2 OFFSET ?3"
            ))?
            .query_map(
                crate::params![client, page.limit(), page.offset()],
                Contact::from_row,
            )?
            .map(|c| c.map(|c| c.render(ctx)))
            .collect::<crate::db::Result<Vec<_>>>()?;
        Ok(page.respond(ctx, contacts))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_contacts_are_valid() {
        let org = json!({"contact_type": "organization", "name": "Example Co", "addresses": [], "email": null});
        let person = json!({"contact_type": "person", "family_name": "Sato", "addresses": [], "email": {"address": ""}});
        let org = NewContact::from_json(&org).unwrap();
        assert_eq!(org.display_name(), "Example Co");
        assert_eq!(org.email, None);
        let person = NewContact::from_json(&person).unwrap();
        assert_eq!(person.display_name(), "Sato");
        assert_eq!(person.email, None, "an empty address means no e-mail");
    }

    #[test]
    fn errors_name_each_field_in_drf_shapes() {
        let bad = json!({
            "contact_type": "person",
            "email": {"address": "not an address"},
            "addresses": [{"postal_code": "601-8446"}, {"region": []}, "x"],
        });
        assert_eq!(
            NewContact::from_json(&bad).unwrap_err(),
            json!({
                "family_name": ["This field is required."],
                "email": {"address": ["Enter a valid email address."]},
                "addresses": [
                    {},
                    {"region": ["Not a valid string."]},
                    {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
                ],
            })
        );
        assert_eq!(
            NewContact::from_json(&json!({"contact_type": "robot"})).unwrap_err(),
            json!({"contact_type": ["\"robot\" is not a valid choice."]})
        );
        assert_eq!(
            NewContact::from_json(&json!({"contact_type": "organization", "name": " "}))
                .unwrap_err(),
            json!({"name": ["This field may not be blank."]})
        );
    }

    #[test]
    fn addresses_get_defaults_and_a_display_line() {
        let c = NewContact::from_json(&json!({
            "contact_type": "organization", "name": "MakeLeaps",
            "addresses": [{"postal_code": "601-8446", "region": "kyoto", "locality": "Kyoto-shi"}],
            "email": {"address": "taro@example.com"},
        }))
        .unwrap();
        assert_eq!(c.email.as_deref(), Some("taro@example.com"));
        assert_eq!(c.addresses[0]["format"], "jp_default");
        assert_eq!(c.addresses[0]["country_name"], "JP");
        assert_eq!(c.addresses[0]["display"], "601-8446 kyoto Kyoto-shi");
    }
}
