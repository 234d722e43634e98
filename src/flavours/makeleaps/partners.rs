//! Partners: `GET /api/partner/` and `GET /api/partner/{mid}/`. An API key belongs to exactly
//! one partner (organization.md), so the list always holds the caller's partner alone; any
//! other mid is 404.
//!
//! The partner object is the one recorded from the real API (docs/makeleaps.md): its name and the
//! URLs of its collections. Only `clients` is served here; the other collections (documents,
//! tags, ...) are links to a part of MakeLeaps this emulator does not cover, and answer 404.

use crate::db::OptionalExtension;
use serde_json::{json, Value};

use super::paging::Page;
use super::{ok, Ctx, Error};
use crate::http::Response;

/// The partner's fields, or 404 (a token outliving its partner is not possible: the
/// tokens are deleted with it, but a deleted row must not become a 500).
fn partner_object(ctx: &Ctx) -> Result<Value, Error> {
    let name: String = ctx
        .app
        .store
        .read(|conn| {
            conn.prepare_cached("SELECT name FROM ml_partners WHERE mid = ?1")?
                .query_row([&ctx.partner], |r| r.get(0))
                .optional()
        })?
        .ok_or(Error::NotFound)?;
    let mid = ctx.partner.as_str();
    let urls = &ctx.urls;
    let collection = |name: &str| urls.partner_collection(mid, name);
    Ok(json!({
        "url": urls.partner(mid),
        "name": name,
        "clients": collection("client"),
        "contacts": collection("contact"),
        "documents": collection("document"),
        "line_item_catalog": collection("item"),
        "tags": collection("tag"),
        "sending_orders": collection("sending/order"),
        "history": collection("history"),
        "integrations": {},
        // Our choice: MakeLeaps adds these two; the account is named like the partner.
        "account_name": name,
        "tax_registration_number": "",
    }))
}

/// `GET /api/`, the API root where clients start: the partner the token is bound to, as
/// `partners[0]`, whose URLs lead to everything else (our choice of shape: a list, as an API
/// key could in principle see more than one).
pub fn api_root(ctx: &Ctx) -> Result<Response, Error> {
    Ok(ok(200, json!({"partners": [partner_object(ctx)?]})))
}

/// `GET /api/partner/`: a list of one, in the list envelope.
pub fn list_partners(ctx: &Ctx) -> Result<Response, Error> {
    let partner = partner_object(ctx)?;
    let page = Page::of(ctx, 1)?;
    Ok(page.respond(ctx, vec![partner]))
}

/// `GET /api/partner/{mid}/`: the caller's own partner only.
pub fn get_partner(ctx: &Ctx, mid: &str) -> Result<Response, Error> {
    ctx.own_partner(mid)?;
    Ok(ok(200, partner_object(ctx)?))
}
