//! Deleting what nobody can use any more, so that a long-running server's database does not
//! grow with dead rows: expired sessions, links long past their expiry or use, expired or
//! revoked MakeLeaps tokens, and delivered mail older than a month. Runs from the mail
//! sender's thread every few minutes, as one short write transaction.

use crate::app::App;

/// How often `prune` runs.
pub const EVERY_MS: i64 = 5 * 60_000;

/// Dead links are kept this long, so that an old link still gets "used" or "expired"
/// rather than "not valid"; sent and failed mail this long, for `GET /_admin/mail`.
const KEEP_MS: i64 = 30 * 86_400_000;

pub fn prune(app: &App) -> rusqlite::Result<()> {
    let now = app.clock.now_ms();
    let long_ago = now.saturating_sub(KEEP_MS);
    app.store.write(|tx| {
        tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
        tx.execute(
            "DELETE FROM links WHERE expires_at <= ?1 OR used_at <= ?1 OR revoked_at <= ?1",
            [long_ago],
        )?;
        tx.execute(
            "DELETE FROM ml_tokens WHERE expires_at <= ?1 OR revoked_at IS NOT NULL",
            [now],
        )?;
        tx.execute(
            "DELETE FROM mail_outbox WHERE status IN ('sent', 'failed') AND created_at <= ?1",
            [long_ago],
        )?;
        Ok(())
    })
}
