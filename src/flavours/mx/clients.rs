//! `POST /clients`: validate, then keep the client with its processor and status.

use std::str::FromStr;

use crate::db::OptionalExtension;
use serde_json::{Map, Value};

use super::{invitations, rules, Error};
use crate::app::App;
use crate::conformance::{refuse, refuse_at};
use crate::http::{json_body, Request, Response};

/// The media type of this API's one version (the vendor's Accept header).
const API_MEDIA_TYPE: &str = "application/vnd.mx.provisioning.v1+json";

/// A processor that authenticated.
pub struct Processor {
    pub id: String,
    /// As its clients' invitations name it.
    pub name: String,
}

/// The four required fields of the vendor's create call, validated.
pub struct NewClient {
    pub company_name: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// (field, longest accepted length in characters), in the order of the seed's table.
const FIELDS: [(&str, usize); 4] = [
    ("company_name", 255),
    ("email", 254),
    ("first_name", 100),
    ("last_name", 100),
];

pub fn create(app: &App, req: &Request) -> Result<Response, Error> {
    let processor = authenticate(app, req)?;
    // Both headers are checked before either is answered, so that the report lists every
    // mistake of the request, not only the one the answer names.
    let wrong_type = !req.content_type_is("application/json") && refuse(&rules::CONTENT_TYPE);
    let not_acceptable = !accepts_v1(req.header("Accept")) && refuse(&rules::ACCEPT);
    // The body is read (and its deviations noted) even when a header refuses the request,
    // so that one round trip lists every mistake; the headers' answer comes first.
    let client = json_body(req).map(|body| NewClient::from_json(&body));
    if wrong_type {
        return Err(Error::WrongContentType);
    }
    if not_acceptable {
        return Err(Error::NotAcceptable);
    }
    let client = client??;
    let now = app.clock.now_ms();
    let source_ip = crate::http::client_ip(req, &app.settings.trusted_proxies);
    // The vendor documents that requests from outside the trusted networks "must be manually
    // investigated and approved". The caller cannot tell: same 200, but no mail until an admin
    // approves.
    let needs_review = match (&app.state::<super::MxState>().trusted_networks, source_ip) {
        (Some(networks), Some(ip)) => !networks.iter().any(|n| n.contains(&ip)),
        (Some(_), None) => true,
        (None, _) => false,
    };
    let source_ip = source_ip.map(|ip| ip.to_string());
    // Row by row: the upsert locks the client's row, so two creates for one e-mail take
    // turns from there, and the second revokes the link the first issued.
    app.store.write_rows(|tx| {
        let recipient = upsert_client(
            tx,
            &app.ids,
            &processor,
            &client,
            source_ip.as_deref(),
            needs_review,
            now,
        )?;
        if recipient.status == "pending_review" {
            // A link mailed earlier must not get around the review.
            crate::links::revoke(tx, super::REGISTER_LINK, &recipient.client_id, now)?;
            return Ok(());
        }
        Ok::<_, Error>(invitations::send_to(app, tx, &recipient, now)?)
    })?;
    app.wake_mailer();
    Ok(Response::empty(200))
}

/// Basic `processor_id:api_key`, verified against the processor's argon2id hash (cached).
fn authenticate(app: &App, req: &Request) -> Result<Processor, Error> {
    let (id, api_key) =
        crate::auth::parse_basic(req.header("Authorization")).ok_or(Error::Unauthorized)?;
    let found: Option<(String, String)> = app.store.read(|conn| {
        conn.prepare_cached("SELECT api_key_hash, name FROM mx_processors WHERE id = ?1")?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    })?;
    let (hash, name) = found.unzip();
    if !app
        .credentials
        .verify_or_nobody("mx", &id, &api_key, hash.as_deref())
    {
        return Err(Error::Unauthorized);
    }
    let name = name.ok_or(Error::Unauthorized)?;
    Ok(Processor { id, name })
}

/// True when the Accept header names this API version, as MX requires: absent, `*/*` and
/// `application/json` do not say which version the client was written for.
fn accepts_v1(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| {
        accept
            .split(',')
            .filter_map(|item| item.split(';').next())
            .map(str::trim)
            .any(|media| media.eq_ignore_ascii_case(API_MEDIA_TYPE))
    })
}

impl NewClient {
    /// The body's client, or MX's 400 naming the first mistake. Each wrong type and null is
    /// noted (`mx.type`, `mx.null`, with the field) in the order of `FIELDS`; all four are
    /// required, so with `--lenient` such a value is still refused, as one left out would be.
    pub fn from_json(body: &Value) -> Result<NewClient, Error> {
        let Some(top) = body.as_object() else {
            let _ = refuse_at(&rules::TYPE, "body");
            return Err(Error::BadRequest(
                "the request body must be a JSON object: {\"client\": {...}}".into(),
            ));
        };
        let client = match top.get("client") {
            None => return Err(Error::BadRequest("client is required".into())),
            Some(Value::Null) => {
                let _ = refuse_at(&rules::NULL, "client");
                return Err(Error::BadRequest("client is required".into()));
            }
            Some(Value::Object(map)) => map,
            Some(_) => {
                let _ = refuse_at(&rules::TYPE, "client");
                return Err(Error::BadRequest("client must be an object".into()));
            }
        };
        let [company_name, email, first_name, last_name] =
            FIELDS.map(|(name, max)| required_string(client, name, max));
        let client = NewClient {
            company_name: company_name?,
            email: email?,
            first_name: first_name?,
            last_name: last_name?,
        };
        if lettre::Address::from_str(&client.email).is_err() {
            return Err(Error::Unprocessable(format!(
                "client.email is not a valid email address: {:?}",
                client.email
            )));
        }
        Ok(client)
    }
}

fn required_string(client: &Map<String, Value>, name: &str, max: usize) -> Result<String, Error> {
    let value = match client.get(name) {
        None => return Err(Error::BadRequest(format!("client.{name} is required"))),
        Some(Value::Null) => {
            let _ = refuse_at(&rules::NULL, &format!("client.{name}"));
            return Err(Error::BadRequest(format!("client.{name} is required")));
        }
        Some(Value::String(s)) => s.trim(),
        Some(_) => {
            let _ = refuse_at(&rules::TYPE, &format!("client.{name}"));
            return Err(Error::BadRequest(format!("client.{name} must be a string")));
        }
    };
    if value.is_empty() {
        return Err(Error::BadRequest(format!(
            "client.{name} must not be blank"
        )));
    }
    if value.chars().count() > max {
        return Err(Error::Unprocessable(format!(
            "client.{name} must be at most {max} characters"
        )));
    }
    Ok(value.to_string())
}

/// Inserts the client, or on a repeat (same processor, same e-mail) updates the names and
/// counts a re-invitation. A registered client stays registered; otherwise the status is
/// `invited`, or `pending_review` for a request from outside the trusted networks.
fn upsert_client(
    tx: &crate::db::Transaction,
    ids: &crate::ids::Ids,
    processor: &Processor,
    client: &NewClient,
    source_ip: Option<&str>,
    needs_review: bool,
    now_ms: i64,
) -> Result<invitations::Recipient, Error> {
    let new_id = format!("CLT-{}", ids.uuid_v4());
    let upserted = tx
        .prepare_cached(
            "INSERT INTO mx_clients (id, processor_id, company_name, email, first_name, last_name,
                 status, source_ip, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?9, ?7, ?8, ?8)
             ON CONFLICT (processor_id, email) DO UPDATE SET
                 company_name = excluded.company_name,
                 first_name = excluded.first_name,
                 last_name = excluded.last_name,
                 source_ip = excluded.source_ip,
                 status = CASE mx_clients.status WHEN 'registered' THEN mx_clients.status
                                                 ELSE excluded.status END,
                 invitations = mx_clients.invitations + 1,
                 updated_at = excluded.updated_at
             RETURNING id, status, email, first_name, company_name, invitations",
        )?
        .query_row(
            crate::params![
                new_id,
                processor.id,
                client.company_name,
                client.email,
                client.first_name,
                client.last_name,
                source_ip,
                now_ms,
                if needs_review {
                    "pending_review"
                } else {
                    "invited"
                }
            ],
            |r| {
                Ok(invitations::Recipient {
                    client_id: r.get(0)?,
                    status: r.get(1)?,
                    email: r.get(2)?,
                    first_name: r.get(3)?,
                    company_name: r.get(4)?,
                    processor_name: processor.name.clone(),
                    // Inserted now (a repeat counts one more invitation).
                    is_new: r.get::<_, i64>(5)? == 1,
                })
            },
        )?;
    Ok(upserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_rules() {
        assert!(!accepts_v1(None));
        assert!(accepts_v1(Some("application/vnd.mx.provisioning.v1+json")));
        assert!(accepts_v1(Some(
            "*/*, application/vnd.mx.provisioning.v1+json;q=0.9"
        )));
        assert!(!accepts_v1(Some("*/*")));
        assert!(!accepts_v1(Some("text/html, application/json;q=0.9")));
        assert!(!accepts_v1(Some("application/vnd.mx.provisioning.v2+json")));
        assert!(!accepts_v1(Some("text/html")));
    }
}
