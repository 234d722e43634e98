//! Sub-clients: `POST /clients` (docs/nueve09.md) creates one funded from the caller's `available`;
//! `GET /clients` and `GET /clients/{id}` read back the caller's own (our design: the vendor
//! publishes no read endpoints).
//!
//! A sub-client is an account (`n09_accounts` with `parent_id` set): it logs in with
//! `api_key` = the `api_client.name` of the create answer and `password` =
//! `api_key_password`, and can fund sub-clients of its own.

use std::sync::OnceLock;

use crate::db::Value as SqlValue;
use crate::db::{OptionalExtension, Row, Transaction};
use serde_json::{json, Map, Value};

use super::accounts::{mexico_city_time, Account};
use super::form::{self, Form, COLUMNS};
use super::{money, ok, token, Error, FieldErrors};
use crate::app::App;
use crate::http::{json_body, Request, Response};

/// `GET /clients` pages: 25 sub-clients unless `per_page` says otherwise, at most 100.
const DEFAULT_PER_PAGE: i64 = 25;
const MAX_PER_PAGE: i64 = 100;

/// What the server makes for a new sub-client, before the transaction.
struct NewSubclient {
    id: String,
    /// Shown once, as `api_client.name`; stored only as its SHA-256.
    api_key: String,
    password_hash: String,
}

/// `POST /clients`: validates every field, then in one transaction checks uniqueness,
/// debits the caller and creates the sub-client.
pub fn create_client(app: &App, req: &Request) -> Result<Response, Error> {
    let caller = token::authenticate(app, req)?;
    let json = super::require_json(req);
    let raw = match &req.body {
        crate::http::Body::Complete(bytes) => bytes.as_slice(),
        _ => &[],
    };
    let body = json_body(req);
    if let (Err(_), Ok(body)) = (&json, &body) {
        // Refused for its media type, the body is still read for its own mistakes.
        let _ = Form::from_json(body, raw);
    }
    json?;
    let form = Form::from_json(&body?, raw)?;
    let new = NewSubclient {
        id: app.ids.uuid_v4(),
        api_key: app.ids.uuid_v4(),
        // A chosen password: argon2id, which costs 15-70 ms at the standard cost, so it is
        // hashed before taking the writer, not inside the transaction.
        password_hash: app
            .credentials
            .hash_chosen(&form.api_key_password, &app.ids),
    };
    let now = app.clock.now_ms();
    let floor_cents = app.state::<super::Nueve09State>().min_balance_cents;
    app.store
        .write_rows(|tx| insert_subclient(tx, &caller, &form, &new, floor_cents, now))?;
    let rfc = form.get("rfc").unwrap_or_default();
    if !form::looks_like_rfc(rfc) {
        crate::log::line(format!(
            "nueve09: sub-client {} has an rfc that does not follow SAT's pattern (accepted)",
            new.id
        ));
    }
    let alias = form.get("alias").unwrap_or_default();
    // The vendor's answer, field for field: `code` is the alias, `api_client.id` an empty string.
    Ok(ok(json!({"subclient": {
        "id": new.id,
        "code": alias,
        "name": form.get("name"),
        "available": money::to_json(form.available_cents),
        "rfc": rfc,
        "api_client": {
            "id": "",
            "name": new.api_key,
            "alias": alias,
            "description": form.get("api_key_description").unwrap_or_default(),
        },
    }})))
}

/// `GET /clients?page=1&per_page=25`: the caller's sub-clients in creation order.
pub fn list_clients(app: &App, req: &Request) -> Result<Response, Error> {
    let caller = token::authenticate(app, req)?;
    let page = positive_param(req, "page", 1, i64::from(u32::MAX))?;
    let per_page = positive_param(req, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)?;
    let (total, subclients) = app.store.read(|conn| {
        let total: i64 = conn
            .prepare_cached("SELECT subclient_count FROM n09_accounts WHERE id = ?1")?
            .query_row([&caller.id], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let mut stmt = conn.prepare_cached(list_sql())?;
        let rows = stmt.query_map(
            crate::params![caller.id, per_page, (page - 1) * per_page],
            subclient_json,
        )?;
        let subclients = rows.collect::<crate::db::Result<Vec<Value>>>()?;
        Ok::<_, Error>((total, subclients))
    })?;
    Ok(ok(json!({
        "subclients": subclients,
        "pagination": {
            "page": page,
            "per_page": per_page,
            "total": total,
            "total_pages": (total + per_page - 1) / per_page,
        },
    })))
}

/// `GET /clients/{id}`: one sub-client of the caller; anyone else's is 404.
pub fn get_client(app: &App, req: &Request, id: &str) -> Result<Response, Error> {
    let caller = token::authenticate(app, req)?;
    let found = app.store.read(|conn| {
        conn.prepare_cached(get_sql())?
            .query_row([id, &caller.id], subclient_json)
            .optional()
    })?;
    let subclient = found.ok_or(Error::NotFound)?;
    Ok(ok(json!({ "subclient": subclient })))
}

/// The create's transaction: uniqueness (409), the balance check (422 code 1001), the debit
/// and the insert. The caller's row is read locked, before either check: the creates of one
/// account take turns from there to their commit, so two can never both spend the same pesos
/// or take the same alias, while other accounts' creates go on beside them.
fn insert_subclient(
    tx: &Transaction,
    caller: &Account,
    form: &Form,
    new: &NewSubclient,
    floor_cents: i64,
    now_ms: i64,
) -> Result<(), Error> {
    // Read again inside the transaction: the `available` seen at authentication may be stale.
    let available_cents: i64 = tx
        .prepare_for_update("SELECT available_cents FROM n09_accounts WHERE id = ?1")?
        .query_row([&caller.id], |r| r.get(0))
        .optional()?
        .ok_or(Error::Unauthorized("the token's account no longer exists"))?;
    let duplicates = duplicates(tx, &caller.id, form)?;
    if !duplicates.is_empty() {
        return Err(Error::Duplicate(duplicates));
    }
    // The caller keeps at least --nueve09-min-balance, and never goes below zero.
    let floor_cents = floor_cents.max(0);
    if available_cents - form.available_cents < floor_cents {
        return Err(Error::InsufficientBalance {
            available_cents,
            requested_cents: form.available_cents,
            floor_cents,
        });
    }
    tx.prepare_cached(
        "UPDATE n09_accounts SET available_cents = available_cents - ?2,
             subclient_count = subclient_count + 1, updated_at = ?3
         WHERE id = ?1",
    )?
    .execute(crate::params![caller.id, form.available_cents, now_ms])?;

    let alias = form.get("alias").unwrap_or_default();
    let mut values: Vec<SqlValue> = vec![
        new.id.clone().into(),
        caller.id.clone().into(),
        crate::auth::sha256(new.api_key.as_bytes()).to_vec().into(),
        new.password_hash.clone().into(),
        alias.to_string().into(), // code: the alias, as the vendor's answer shows
        caller.entity_code.clone().into(), // a sub-client belongs to its parent's entity
        form.available_cents.into(),
        now_ms.into(),
    ];
    values.extend(
        form.columns()
            .map(|(_, value)| value.map(str::to_string).into()),
    );
    tx.prepare_cached(insert_sql())?
        .execute(crate::db::params_from_iter(values))?;
    Ok(())
}

/// The sub-clients of `?1` that use alias `?2`, RFC `?3` or API-key name `?4`: one search per
/// unique index. With the three tests ORed in one WHERE, SQLite walked every sub-client of
/// the parent, so each create cost more than the one before.
const DUPLICATES_SQL: &str = "SELECT alias, rfc, api_key_name FROM n09_accounts
     WHERE parent_id = ?1 AND alias = ?2 COLLATE NOCASE
     UNION ALL
     SELECT alias, rfc, api_key_name FROM n09_accounts
     WHERE parent_id = ?1 AND rfc = ?3 COLLATE NOCASE
     UNION ALL
     SELECT alias, rfc, api_key_name FROM n09_accounts
     WHERE parent_id = ?1 AND api_key_name = ?4 COLLATE NOCASE";

/// Which of alias, RFC and API-key name another sub-client of the caller already uses
/// (case-insensitively, as the unique indexes of schema.sql compare them).
fn duplicates(tx: &Transaction, parent_id: &str, form: &Form) -> crate::db::Result<FieldErrors> {
    let unique = ["alias", "rfc", "api_key_name"].map(|f| (f, form.get(f).unwrap_or_default()));
    let mut stmt = tx.prepare_cached(DUPLICATES_SQL)?;
    let mut rows = stmt.query(crate::params![
        parent_id,
        unique[0].1,
        unique[1].1,
        unique[2].1
    ])?;
    let mut taken = FieldErrors::new();
    while let Some(row) = rows.next()? {
        for (i, (field, wanted)) in unique.iter().enumerate() {
            let existing: Option<String> = row.get(i)?;
            if existing.is_some_and(|e| e.eq_ignore_ascii_case(wanted)) {
                taken.insert(field.to_string(), vec!["has already been taken".into()]);
            }
        }
    }
    Ok(taken)
}

/// `INSERT INTO n09_accounts (...)`: the server's columns, then one per field of `COLUMNS`
/// (schema.sql names them as the vendor does).
fn insert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let fixed = [
            "id",
            "parent_id",
            "api_key_hash",
            "password_hash",
            "code",
            "entity_code",
            "available_cents",
            "created_at",
        ];
        let columns: Vec<&str> = fixed
            .into_iter()
            .chain(COLUMNS.iter().map(|f| f.name))
            .collect();
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        // updated_at = created_at: ?8.
        format!(
            "INSERT INTO n09_accounts ({}, updated_at) VALUES ({}, ?8)",
            columns.join(", "),
            placeholders.join(", ")
        )
    })
}

/// One sub-client of a parent: `?1` its id, `?2` the parent's.
fn get_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| format!("{} WHERE id = ?1 AND parent_id = ?2", select_view()))
}

/// A page of a parent's sub-clients in creation order: `?1` the parent, `?2` and `?3` the
/// limit and offset. The `(parent_id)` index yields them in rowid order, so nothing is sorted
/// (on PostgreSQL the seam orders by the `seq` column that stands for the rowid).
fn list_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "{} WHERE parent_id = ?1 ORDER BY rowid LIMIT ?2 OFFSET ?3",
            select_view()
        )
    })
}

/// `SELECT` of what a sub-client view shows (see `subclient_json`), without its `WHERE`.
fn select_view() -> String {
    let fields: Vec<&str> = COLUMNS.iter().map(|f| f.name).collect();
    format!(
        "SELECT id, code, available_cents, status, created_at, updated_at, {} FROM n09_accounts",
        fields.join(", ")
    )
}

/// A sub-client as the read endpoints show it: the create answer's fields, its current
/// `available`, and the rest of the form as given. `api_client.name` (the API key) is only
/// in the create answer: the key is stored as its SHA-256.
fn subclient_json(row: &Row) -> crate::db::Result<Value> {
    let mut view = Map::new();
    view.insert("id".into(), Value::String(row.get(0)?));
    view.insert("code".into(), Value::String(row.get(1)?));
    view.insert("available".into(), money::to_json(row.get(2)?));
    view.insert("status".into(), Value::String(row.get(3)?));
    view.insert("created_at".into(), mexico_city_time(row.get(4)?).into());
    view.insert("updated_at".into(), mexico_city_time(row.get(5)?).into());
    for (i, field) in COLUMNS.iter().enumerate() {
        let value: Option<String> = row.get(6 + i)?;
        view.insert(field.name.into(), value.into());
    }
    let api_client = json!({
        "id": "",
        "alias": view["alias"],
        "description": view["api_key_description"].as_str().unwrap_or_default(),
    });
    view.insert("api_client".into(), api_client);
    Ok(Value::Object(view))
}

/// A positive integer query parameter, `default` when absent, at most `max`; else 422.
fn positive_param(req: &Request, name: &str, default: i64, max: i64) -> Result<i64, Error> {
    match req.query_param(name) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            // Not an integer at all is a wrong type (`nueve09.type`); with `--lenient`, the
            // default.
            Err(_) if !crate::conformance::refuse_at(&super::rules::TYPE, name) => Ok(default),
            _ => Err(Error::invalid(
                name,
                &format!("must be an integer from 1 to {max}"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::DUPLICATES_SQL;

    #[test]
    fn the_duplicate_check_searches_each_unique_index_by_both_columns() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("../../../schema.sql"))
            .unwrap();
        let mut plan = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {DUPLICATES_SQL}"))
            .unwrap();
        let steps: Vec<String> = plan
            .query_map(["p", "a", "r", "k"], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let searches: Vec<&String> = steps.iter().filter(|s| s.starts_with("SEARCH")).collect();
        assert_eq!(searches.len(), 3, "{steps:?}");
        for column in ["alias", "rfc", "api_key_name"] {
            assert!(
                searches
                    .iter()
                    .any(|s| s.contains(&format!("(parent_id=? AND {column}=?)"))),
                "{column} is not searched by its index: {steps:?}"
            );
        }
    }
}
