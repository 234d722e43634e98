//! Deleting what nobody can use any more, so that a long-running server's database does not
//! grow with dead rows: expired sessions, links long past their expiry or use, expired or
//! revoked tokens of the flavours that keep them (`Flavour::housekeeping`), and delivered
//! mail older than a month. Runs on its own thread (`server.rs`) at startup and every few
//! minutes, as one short write transaction.
//!
//! It also takes one-time links out of the stored copies of mails that left (`mail::scrub`):
//! all of them in a deployment (delivery scrubs them already; this catches mails sent while
//! `--admin-token` was on), and, with `--admin-token`, those whose link expired. Then it
//! truncates the WAL, where the unscrubbed versions of those rows could otherwise linger
//! (deleted and overwritten content in the database file is zeroed: `secure_delete`).

use crate::store::Store;

/// How often `prune` runs.
pub const EVERY_MS: i64 = 5 * 60_000;

/// Dead links are kept this long, so that an old link still gets "used" or "expired"
/// rather than "not valid"; sent and failed mail this long, for `GET /_admin/mail`.
const KEEP_MS: i64 = 30 * 86_400_000;

/// Prunes as of `now`. `keep_live_links`: the admin API is on, so delivered mail keeps its
/// links until they expire (tests follow them).
pub fn prune(store: &Store, now: i64, keep_live_links: bool) -> crate::db::Result<()> {
    let long_ago = now.saturating_sub(KEEP_MS);
    store.write(|tx| {
        let to_scrub: Vec<(i64, bool)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, CASE WHEN secret_until <= ?1 THEN 1 ELSE 0 END FROM mail_outbox
                 WHERE secret_links IS NOT NULL AND status != 'pending'
                   AND (?2 = 0 OR secret_until <= ?1)",
            )?;
            let rows = stmt.query_map(crate::params![now, keep_live_links], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<crate::db::Result<_>>()?
        };
        for (id, expired) in to_scrub {
            let marker = if expired {
                crate::mail::REMOVED_AFTER_EXPIRY
            } else {
                crate::mail::REMOVED_AFTER_DELIVERY
            };
            crate::mail::scrub(tx, id, marker)?;
        }
        tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
        tx.execute(
            "DELETE FROM links WHERE expires_at <= ?1 OR used_at <= ?1 OR revoked_at <= ?1",
            [long_ago],
        )?;
        for flavour in crate::flavours::ALL {
            for statement in flavour.housekeeping() {
                tx.execute(statement, [now])?;
            }
        }
        tx.execute(
            "DELETE FROM mail_outbox WHERE status IN ('sent', 'failed') AND created_at <= ?1",
            [long_ago],
        )?;
        Ok::<_, crate::db::Error>(())
    })?;
    if !store.truncate_wal()? {
        crate::log::line(
            "housekeeping: a reader kept the WAL from being truncated; next time".to_string(),
        );
    }
    Ok(())
}
