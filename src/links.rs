//! One-time links (the links that flavours mail for registering or setting a password): 32
//! random bytes from the OS, base64url; only their SHA-256 is stored. A link expires, works
//! once, and is redeemed by a single conditional UPDATE, so of two concurrent redemptions
//! exactly one changes a row. Issuing a new link for the same purpose and record revokes the
//! earlier ones (a re-invitation kills the old link).
//!
//! Lookups go by the hash: an attacker timing them learns about a hash, not about the token.

use crate::db::{Connection, OptionalExtension, Transaction};

use crate::auth::sha256;

#[derive(Debug)]
pub enum LinkError {
    /// No such link (never issued, or for another purpose).
    Unknown,
    /// Already redeemed, or replaced by a newer link.
    Used,
    Expired,
    Store(crate::db::Error),
}

impl LinkError {
    /// The HTTP status of a page about this link: 404 for one that never existed, 410 for
    /// one that did (used, replaced or expired), 500 for a store failure.
    pub fn status(&self) -> u16 {
        match self {
            LinkError::Unknown => 404,
            LinkError::Used | LinkError::Expired => 410,
            LinkError::Store(_) => 500,
        }
    }
}

impl From<crate::db::Error> for LinkError {
    fn from(e: crate::db::Error) -> Self {
        LinkError::Store(e)
    }
}

/// Revokes every live link of `purpose` for `subject_id`.
pub fn revoke(
    tx: &Transaction,
    purpose: &str,
    subject_id: &str,
    now_ms: i64,
) -> crate::db::Result<()> {
    tx.prepare_cached(
        "UPDATE links SET revoked_at = ?3
         WHERE purpose = ?1 AND subject_id = ?2 AND used_at IS NULL AND revoked_at IS NULL",
    )?
    .execute(crate::params![purpose, subject_id, now_ms])?;
    Ok(())
}

/// Creates a link for `subject_id` (revoking its earlier ones) and returns its token.
pub fn issue(
    tx: &Transaction,
    ids: &crate::ids::Ids,
    purpose: &str,
    subject_id: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> crate::db::Result<String> {
    revoke(tx, purpose, subject_id, now_ms)?;
    issue_first(tx, ids, purpose, subject_id, now_ms, ttl_ms)
}

/// `issue` for a record created in this transaction, which has no earlier link to revoke.
pub fn issue_first(
    tx: &Transaction,
    ids: &crate::ids::Ids,
    purpose: &str,
    subject_id: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> crate::db::Result<String> {
    let token = ids.secret_token();
    tx.prepare_cached(
        "INSERT INTO links (token_hash, purpose, subject_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(crate::params![
        sha256(token.as_bytes()),
        purpose,
        subject_id,
        now_ms,
        now_ms.saturating_add(ttl_ms)
    ])?;
    Ok(token)
}

/// The record a live link acts on, without using the link up (to show its form).
pub fn check(
    conn: &Connection,
    purpose: &str,
    token: &str,
    now_ms: i64,
) -> Result<String, LinkError> {
    let row: Option<(String, i64, Option<i64>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT subject_id, expires_at, used_at, revoked_at FROM links
             WHERE token_hash = ?1 AND purpose = ?2",
        )?
        .query_row(crate::params![sha256(token.as_bytes()), purpose], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    match row {
        None => Err(LinkError::Unknown),
        Some((_, _, Some(_), _)) | Some((_, _, _, Some(_))) => Err(LinkError::Used),
        Some((_, expires_at, _, _)) if expires_at <= now_ms => Err(LinkError::Expired),
        Some((subject_id, ..)) => Ok(subject_id),
    }
}

/// Uses the link up and returns its record: one atomic UPDATE, so it succeeds only once.
pub fn redeem(
    tx: &Transaction,
    purpose: &str,
    token: &str,
    now_ms: i64,
) -> Result<String, LinkError> {
    let redeemed: Option<String> = tx
        .prepare_cached(
            "UPDATE links SET used_at = ?3
             WHERE token_hash = ?1 AND purpose = ?2
               AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?3
             RETURNING subject_id",
        )?
        .query_row(
            crate::params![sha256(token.as_bytes()), purpose, now_ms],
            |r| r.get(0),
        )
        .optional()?;
    match redeemed {
        Some(subject_id) => Ok(subject_id),
        // Say why it failed (unknown, used, expired) with the same rules as `check`.
        None => check(tx, purpose, token, now_ms).and(Err(LinkError::Used)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store};

    #[test]
    fn a_link_works_once_and_a_new_one_revokes_the_old() {
        let store = Store::open(":memory:", Durability::Process).unwrap();
        let first = store
            .write(|tx| issue(tx, &crate::ids::Ids::new(None), "p", "s1", 0, 1000))
            .unwrap();
        let second = store
            .write(|tx| issue(tx, &crate::ids::Ids::new(None), "p", "s1", 10, 1000))
            .unwrap();
        let redeem_at = |token: &str, at: i64| store.write(|tx| redeem(tx, "p", token, at));
        assert!(matches!(redeem_at(&first, 20), Err(LinkError::Used)));
        assert_eq!(redeem_at(&second, 20).unwrap(), "s1");
        assert!(matches!(redeem_at(&second, 21), Err(LinkError::Used)));
        assert!(matches!(redeem_at("nope", 21), Err(LinkError::Unknown)));
        let third = store
            .write(|tx| issue(tx, &crate::ids::Ids::new(None), "p", "s2", 0, 1000))
            .unwrap();
        assert!(matches!(redeem_at(&third, 1000), Err(LinkError::Expired)));
        assert!(matches!(
            store.write(|tx| redeem(tx, "other", &third, 5)),
            Err(LinkError::Unknown)
        ));
    }
}
