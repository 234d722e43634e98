//! Login tokens. `POST /auth/login` answers with `Authorization: Bearer <token>` and every
//! other call sends that header back (docs/nueve09.md: Rails + devise-jwt). Ours is a JWT
//! signed with HS256, with devise-jwt's claims: `sub` (the account id), `scp`, `iat`, `exp`
//! (24 hours later) and a `jti`.
//!
//! The key comes from `--nueve09-signing-key-file` or `CLIENTELE_NUEVE09_SIGNING_KEY` when
//! given; otherwise it is 32 bytes from the OS generator, made once per database (table
//! `n09_signing_key`) so tokens survive a restart. Verifying needs no state beyond it: the
//! signature is checked in constant time (`hmac`'s `verify_slice`), then the expiry, then
//! that the account still exists.

use crate::db::{Connection, OptionalExtension};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::accounts::Account;
use super::Error;
use crate::app::App;
use crate::flavours::OptionValues;
use crate::http::Request;

/// How long a token is valid (docs/nueve09.md: 24 h).
pub const TOKEN_TTL_SECONDS: i64 = 24 * 60 * 60;

/// Longer bearer values are not ours; refused before any decoding.
const MAX_TOKEN_LEN: usize = 4096;

/// The fixed JOSE header of every token we sign.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The options that give a key: `--nueve09-signing-key-file` and `--nueve09-signing-key`.
pub const KEY_FILE: &str = "nueve09-signing-key-file";
pub const KEY: &str = "nueve09-signing-key";

/// Shortest key accepted from a file or the environment (HS256's own size).
const MIN_KEY_BYTES: usize = 32;

/// A token-signing key given at startup; its `Debug` does not show it.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// The key of `--nueve09-signing-key-file` or `--nueve09-signing-key`
/// (`CLIENTELE_NUEVE09_SIGNING_KEY`): its bytes without surrounding whitespace, at least
/// `MIN_KEY_BYTES` of them.
pub fn configured_key(options: &OptionValues) -> Result<Option<SigningKey>, String> {
    let file = options.get(KEY_FILE).map(std::path::Path::new);
    let (text, source) = match (file, options.get(KEY)) {
        (Some(path), _) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("--nueve09-signing-key-file {}: {e}", path.display()))?;
            (
                bytes,
                format!("--nueve09-signing-key-file {}", path.display()),
            )
        }
        (None, Some(key)) => (
            key.clone().into_bytes(),
            "--nueve09-signing-key (CLIENTELE_NUEVE09_SIGNING_KEY)".to_string(),
        ),
        (None, None) => return Ok(None),
    };
    let key = text.trim_ascii();
    if key.len() < MIN_KEY_BYTES {
        return Err(format!(
            "{source}: the key is {} bytes; give at least {MIN_KEY_BYTES} \
             (e.g. the output of `openssl rand -hex 32`)",
            key.len()
        ));
    }
    Ok(Some(SigningKey(key.to_vec())))
}

/// The startup line that says where the signing key comes from or is kept.
pub fn key_notice(options: &OptionValues, db: &str) -> String {
    if let Some(path) = options.get(KEY_FILE).map(std::path::Path::new) {
        format!(
            "nueve09 tokens are signed with the key in {}",
            path.display()
        )
    } else if options.contains_key(KEY) {
        "nueve09 tokens are signed with the key of CLIENTELE_NUEVE09_SIGNING_KEY".to_string()
    } else if db == ":memory:" || db.is_empty() {
        "nueve09 token-signing key: made at the first login and kept in memory only \
         (--nueve09-signing-key-file or CLIENTELE_NUEVE09_SIGNING_KEY give one)"
            .to_string()
    } else {
        let database = crate::store::describe(db);
        format!(
            "nueve09 token-signing key: made at the first login and kept in the clear in the \
             {database} (table n09_signing_key); --nueve09-signing-key-file or \
             CLIENTELE_NUEVE09_SIGNING_KEY keep it elsewhere"
        )
    }
}

/// Signs a fresh token for the account, creating the database's key on first use.
pub fn issue(app: &App, account_id: &str) -> Result<String, Error> {
    let key = signing_key(app)?;
    let now = app.clock.now_ms().div_euclid(1000);
    let claims = json!({
        "sub": account_id,
        "scp": "api_client",
        "iat": now,
        "exp": now + TOKEN_TTL_SECONDS,
        "jti": app.ids.uuid_v4(),
    });
    Ok(sign(&key, &claims))
}

/// The account behind the request's `Authorization: Bearer <token>`, or 401.
pub fn authenticate(app: &App, req: &Request) -> Result<Account, Error> {
    let token = crate::auth::parse_bearer(req.header("Authorization")).ok_or(
        Error::Unauthorized("a bearer token from POST /auth/login is required"),
    )?;
    let now = app.clock.now_ms().div_euclid(1000);
    app.store.read(|conn| {
        // No key yet means no token was ever issued on this database.
        let key = match &app.state::<super::Nueve09State>().signing_key {
            Some(SigningKey(key)) => key.clone(),
            None => read_key(conn)?.ok_or(Error::Unauthorized("the token is not valid"))?,
        };
        let account_id = verify(&key, token, now).map_err(Error::Unauthorized)?;
        let account = Account::by_id(conn, &account_id)?
            .ok_or(Error::Unauthorized("the token's account no longer exists"))?;
        crate::conformance::tenant(&account.id);
        Ok(account)
    })
}

/// The account a request's bearer token names, expired or not (the signature must hold):
/// who a refused request came from, for the journal and the conformance counts.
pub fn account_named(app: &App, req: &Request) -> Option<String> {
    let token = crate::auth::parse_bearer(req.header("Authorization"))?;
    let key = match &app.state::<super::Nueve09State>().signing_key {
        Some(SigningKey(key)) => key.clone(),
        None => app.store.read(read_key).ok()??,
    };
    // At the earliest time there is, every token is unexpired.
    verify(&key, token, i64::MIN).ok()
}

/// The database's signing key, made on the first call (two concurrent first logins both
/// insert-or-ignore, then read the one key that won).
fn signing_key(app: &App) -> Result<Vec<u8>, Error> {
    if let Some(SigningKey(key)) = &app.state::<super::Nueve09State>().signing_key {
        return Ok(key.clone());
    }
    if let Some(key) = app.store.read(read_key)? {
        return Ok(key);
    }
    let mut fresh = [0u8; 32];
    app.ids.fill_random(&mut fresh);
    let now = app.clock.now_ms();
    app.store.write_rows(|tx| {
        tx.prepare_cached(
            "INSERT INTO n09_signing_key (id, secret, created_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(crate::params![&fresh[..], now])?;
        read_key(tx)?.ok_or_else(|| Error::Internal("the signing key was not stored".into()))
    })
}

fn read_key(conn: &Connection) -> crate::db::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT secret FROM n09_signing_key WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()
}

fn mac(key: &[u8], header: &str, payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts a key of any length");
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac
}

/// `base64url(header).base64url(claims).base64url(HMAC-SHA256)`.
fn sign(key: &[u8], claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(HEADER);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = mac(key, &header, &payload).finalize().into_bytes();
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The `sub` of a token signed with `key` and not expired at `now` (Unix seconds); else why
/// not, for the `WWW-Authenticate` header.
fn verify(key: &[u8], token: &str, now: i64) -> Result<String, &'static str> {
    const MALFORMED: &str = "the token is not a JWT";
    if token.len() > MAX_TOKEN_LEN {
        return Err(MALFORMED);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MALFORMED);
    };
    // Only HS256 is ours: "none" and every other algorithm are refused before anything else.
    if decode_json(header).ok_or(MALFORMED)?["alg"] != "HS256" {
        return Err("the token is not signed with HS256");
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| MALFORMED)?;
    mac(key, header, payload)
        .verify_slice(&signature)
        .map_err(|_| "the token's signature is not valid")?;
    let claims = decode_json(payload).ok_or(MALFORMED)?;
    let expires = claims["exp"].as_i64().ok_or("the token has no expiry")?;
    if now >= expires {
        return Err("the token has expired");
    }
    claims["sub"]
        .as_str()
        .map(str::to_string)
        .ok_or("the token names no account")
}

fn decode_json(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn token(exp: i64) -> String {
        sign(KEY, &json!({"sub": "account-1", "exp": exp}))
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let t = token(1_000);
        assert_eq!(verify(KEY, &t, 999), Ok("account-1".to_string()));
        assert_eq!(verify(KEY, &t, 1_000), Err("the token has expired"));
    }

    #[test]
    fn forgeries_are_refused() {
        let t = token(1_000);
        let other_key = b"another key of thirty-two bytes!";
        assert!(verify(other_key, &t, 0).is_err());
        // Same signature, claims changed to another account.
        let (head, rest) = t.split_once('.').unwrap();
        let signature = rest.split_once('.').unwrap().1;
        let forged_claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"account-2","exp":1000}"#);
        let forged = format!("{head}.{forged_claims}.{signature}");
        assert_eq!(
            verify(KEY, &forged, 0),
            Err("the token's signature is not valid")
        );
        // alg "none" with no signature.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"account-1","exp":1000}"#)
        );
        assert_eq!(
            verify(KEY, &none, 0),
            Err("the token is not signed with HS256")
        );
        for garbage in ["", "a.b", "a.b.c.d", "!!!.!!!.!!!"] {
            assert!(verify(KEY, garbage, 0).is_err(), "{garbage}");
        }
    }
}
