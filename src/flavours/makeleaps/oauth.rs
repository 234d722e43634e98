//! OAuth2 client credentials (docs/makeleaps.md, from MakeLeaps' tutorial and recorded traffic):
//!
//! - `POST /user/oauth2/token/` with `Authorization: Basic base64(client_id:client_secret)`
//!   and the form `grant_type=client_credentials` → 200
//!   `{"access_token", "expires_in": 36000, "token_type": "Bearer", "scope": "read write"}`,
//!   `Cache-Control: no-store`. A partner may hold any number of live tokens.
//! - `POST /user/oauth2/revoke-token/`, same Basic auth, `token=` in the form (or, as one
//!   client library does, in the query) → 200 with no body (RFC 7009: also for a token that
//!   is unknown or not the caller's, which is left alone).
//!
//! Tokens are 30 random letters and digits, like MakeLeaps' (django-oauth-toolkit's default),
//! kept only as their SHA-256, and expire after 10 hours. The client secret is argon2id in
//! the store; `app.credentials` verifies each credential with argon2 once, not per request.
//!
//! The order of checks is oauthlib's: an unknown grant type is refused before the client is
//! authenticated; a missing one after (the recorded `invalid_client` answer came from an
//! empty body).

use crate::db::OptionalExtension;
use serde_json::json;

use super::Error;
use crate::app::App;
use crate::http::{form_body, Request, Response};

/// Lifetime of an access token, in seconds (the recorded `expires_in`).
pub const TOKEN_LIFETIME_S: i64 = 36_000;
/// Characters of an access token (the recorded tokens have 30).
const TOKEN_LEN: usize = 30;
const TOKEN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Grant types OAuth2 defines that MakeLeaps' API applications are not registered for.
const OTHER_KNOWN_GRANTS: [&str; 4] = [
    "authorization_code",
    "password",
    "refresh_token",
    "implicit",
];

/// `POST /user/oauth2/token/`.
pub fn issue_token(app: &App, req: &Request) -> Result<Response, Error> {
    let form = form_body(req);
    let grant_type = field(&form, "grant_type").filter(|g| !g.is_empty());
    match grant_type {
        Some("client_credentials") | None => {}
        Some(g) if OTHER_KNOWN_GRANTS.contains(&g) => {}
        Some(_) => return Err(Error::UnsupportedGrantType),
    }
    let partner = authenticate_client(app, req, &form)?;
    match grant_type {
        None => return Err(Error::InvalidRequest("Missing grant type.")),
        Some("client_credentials") => {}
        Some(_) => return Err(Error::UnauthorizedClient),
    }

    let token = new_token(&app.ids);
    let hash = crate::auth::sha256(token.as_bytes());
    let now = app.clock.now_ms();
    app.store.write_rows(|tx| {
        // Keep the table to live tokens: each issue sweeps the expired ones (indexed).
        tx.prepare_cached("DELETE FROM ml_tokens WHERE expires_at <= ?1")?
            .execute([now])?;
        tx.prepare_cached(
            "INSERT INTO ml_tokens (token_hash, partner_mid, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(crate::params![
            &hash[..],
            partner,
            now,
            now + TOKEN_LIFETIME_S * 1000
        ])?;
        Ok::<_, Error>(())
    })?;
    let body = json!({
        "access_token": token,
        "expires_in": TOKEN_LIFETIME_S,
        "token_type": "Bearer",
        "scope": "read write",
    });
    Ok(Response::json(200, &body)
        .with_header("Cache-Control", "no-store")
        .with_header("Pragma", "no-cache"))
}

/// `POST /user/oauth2/revoke-token/`.
pub fn revoke_token(app: &App, req: &Request) -> Result<Response, Error> {
    let form = form_body(req);
    let partner = authenticate_client(app, req, &form)?;
    let token = field(&form, "token")
        .map(str::to_string)
        .or_else(|| req.query_param("token"))
        .filter(|t| !t.is_empty())
        .ok_or(Error::InvalidRequest("Missing token parameter."))?;
    let hash = crate::auth::sha256(token.as_bytes());
    let now = app.clock.now_ms();
    app.store.write_rows(|tx| {
        tx.prepare_cached(
            "UPDATE ml_tokens SET revoked_at = ?1
             WHERE token_hash = ?2 AND partner_mid = ?3 AND revoked_at IS NULL",
        )?
        .execute(crate::params![now, &hash[..], partner])
    })?;
    Ok(Response::empty(200).with_header("Cache-Control", "no-store"))
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    crate::http::form_field(form, name)
}

/// The client credentials (Basic, or `client_id`/`client_secret` in the form as RFC 6749
/// §2.3.1 allows) → the partner's mid.
fn authenticate_client(
    app: &App,
    req: &Request,
    form: &[(String, String)],
) -> Result<String, Error> {
    let (client_id, secret) = match crate::auth::parse_basic(req.header("Authorization")) {
        Some(pair) => pair,
        None => match (field(form, "client_id"), field(form, "client_secret")) {
            (Some(id), Some(secret)) => (id.to_string(), secret.to_string()),
            _ => return Err(Error::InvalidClient),
        },
    };
    let row: Option<(String, String)> = app.store.read(|conn| {
        conn.prepare_cached("SELECT mid, client_secret_hash FROM ml_partners WHERE client_id = ?1")?
            .query_row([&client_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    })?;
    let (mid, hash) = row.unzip();
    // The client id's partner, with a wrong secret too: the request is theirs either way.
    if let Some(mid) = &mid {
        crate::conformance::tenant(mid);
    }
    // An unknown client_id costs what a wrong secret does.
    if app
        .credentials
        .verify_or_nobody("makeleaps", &client_id, &secret, hash.as_deref())
    {
        mid.ok_or(Error::InvalidClient)
    } else {
        Err(Error::InvalidClient)
    }
}

/// The partner a request's credentials name, checked or not: a bearer token's (expired or
/// revoked too), or the client id's of the token endpoint (Basic, or the form's).
pub fn partner_named(app: &App, req: &Request) -> Option<String> {
    if let Some(token) = crate::auth::parse_bearer(req.header("Authorization")) {
        let hash = crate::auth::sha256(token.as_bytes());
        return app
            .store
            .read(|conn| {
                conn.prepare_cached("SELECT partner_mid FROM ml_tokens WHERE token_hash = ?1")?
                    .query_row([&hash[..]], |r| r.get(0))
                    .optional()
            })
            .ok()?;
    }
    let client_id = match crate::auth::parse_basic(req.header("Authorization")) {
        Some((client_id, _)) => client_id,
        None => {
            let form = crate::http::form_body(req);
            field(&form, "client_id")?.to_string()
        }
    };
    app.store
        .read(|conn| {
            conn.prepare_cached("SELECT mid FROM ml_partners WHERE client_id = ?1")?
                .query_row([&client_id], |r| r.get(0))
                .optional()
        })
        .ok()?
}

/// 30 characters drawn uniformly from letters and digits (rejection sampling, so no
/// character is likelier than another): about 178 bits.
fn new_token(ids: &crate::ids::Ids) -> String {
    let mut token = String::with_capacity(TOKEN_LEN);
    let mut bytes = [0u8; 64];
    while token.len() < TOKEN_LEN {
        ids.fill_random(&mut bytes);
        // 248 = 4 × 62: bytes at or above it would favour the first characters.
        for b in bytes.iter().filter(|&&b| b < 248) {
            if token.len() == TOKEN_LEN {
                break;
            }
            token.push(char::from(TOKEN_ALPHABET[usize::from(*b) % 62]));
        }
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_look_like_makeleaps_tokens() {
        let ids = crate::ids::Ids::new(None);
        let a = new_token(&ids);
        assert_eq!(a.len(), 30);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, new_token(&ids));
    }
}
