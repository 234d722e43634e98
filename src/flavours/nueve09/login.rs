//! `POST /auth/login` ("Get authorization Token", docs/nueve09.md): body
//! `{"api_client": {"api_key", "password"}}`; the token comes back in the `Authorization`
//! response header, the account in the body.

use serde_json::{json, Value};

use super::accounts::Account;
use super::{rules, token, Error};
use crate::app::App;
use crate::conformance::refuse_at;
use crate::http::{json_body, Request, Response};

/// Logs an account in: its api_key names it, its password is checked against the argon2id
/// hash (once per credential, then from the cache).
pub fn log_in(app: &App, req: &Request) -> Result<Response, Error> {
    let json = super::require_json(req);
    let body = json_body(req);
    if let (Err(_), Ok(body)) = (&json, &body) {
        // Refused for its media type, the body is still read for its own mistakes, so that
        // one round trip lists them all.
        let _ = credentials(body);
    }
    json?;
    let body = body?;
    let (api_key, password) = credentials(&body)?;
    let found = app.store.read(|conn| Account::by_api_key(conn, api_key))?;
    let Some((account, password_hash)) = found else {
        // An unknown api_key costs what a wrong password does.
        app.credentials.verify_nobody(password);
        return Err(Error::InvalidCredentials);
    };
    // The account's tenant from here, refused or not: the request is theirs.
    crate::conformance::tenant(&account.id);
    if !app
        .credentials
        .verify("nueve09", &account.id, password, &password_hash)
    {
        return Err(Error::InvalidCredentials);
    }
    let token = token::issue(app, &account.id)?;
    let body = json!({
        "status": {"code": 200, "message": "Logged in successfully."},
        "data": {"client": account.to_json()},
    });
    Ok(Response::json(200, &body)
        .with_header("Authorization", &format!("Bearer {token}"))
        // Browser clients can read the header only when it is exposed (devise-jwt's advice).
        .with_header("Access-Control-Expose-Headers", "Authorization"))
}

/// `api_client.api_key` and `api_client.password`, or a 400 naming the first that is
/// missing or wrong. Every null and wrong type is noted (`nueve09.null`, `nueve09.type`);
/// nothing can log in without them, so `--lenient` refuses them still.
fn credentials(body: &Value) -> Result<(&str, &str), Error> {
    const REQUIRED: &str =
        "api_client is required: {\"api_client\": {\"api_key\": ..., \"password\": ...}}";
    let api_client = match body.get("api_client") {
        None => return Err(Error::BadRequest(REQUIRED.into())),
        Some(Value::Null) => {
            let _ = refuse_at(&rules::NULL, "api_client");
            return Err(Error::BadRequest(REQUIRED.into()));
        }
        Some(Value::Object(map)) => map,
        Some(_) => {
            let _ = refuse_at(&rules::TYPE, "api_client");
            return Err(Error::BadRequest("api_client must be an object".into()));
        }
    };
    let field = |name: &str| match api_client.get(name) {
        Some(Value::String(s)) => Ok(s.as_str()),
        None => Err(Error::BadRequest(format!("api_client.{name} is required"))),
        Some(Value::Null) => {
            let _ = refuse_at(&rules::NULL, &format!("api_client.{name}"));
            Err(Error::BadRequest(format!("api_client.{name} is required")))
        }
        Some(_) => {
            let _ = refuse_at(&rules::TYPE, &format!("api_client.{name}"));
            Err(Error::BadRequest(format!(
                "api_client.{name} must be a string"
            )))
        }
    };
    // Both are read before either is answered, so that both mistakes are noted.
    let (api_key, password) = (field("api_key"), field("password"));
    Ok((api_key?, password?))
}
