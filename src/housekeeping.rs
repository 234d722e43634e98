//! Deleting what nobody can use any more, so that a long-running server's database does not
//! grow with dead rows: expired sessions, links long past their expiry or use, delivered mail
//! older than a month, and what each flavour's `housekeeping` statements name. Runs on its
//! own thread (`server.rs`) every few minutes, as one short write transaction.

use crate::store::Store;

/// How often `prune` runs.
pub const EVERY_MS: i64 = 5 * 60_000;

/// Dead links are kept this long, so that an old link still gets "used" or "expired"
/// rather than "not valid"; sent and failed mail this long, for `GET /_admin/mail`.
const KEEP_MS: i64 = 30 * 86_400_000;

pub fn prune(store: &Store, now: i64) -> rusqlite::Result<()> {
    let long_ago = now.saturating_sub(KEEP_MS);
    store.write(|tx| {
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
        Ok(())
    })
}
