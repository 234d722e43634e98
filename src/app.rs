//! What every request handler can reach: the store, the clock, the credential cache, the
//! configuration, and the tenants that startup seeded (so a reset can seed them again).

use std::sync::Arc;

use crate::auth::CredentialCache;
use crate::clock::Clock;
use crate::faults::Faults;
use crate::journal::Journal;
use crate::mail::Mailer;
use crate::seed;
use crate::store::Store;

/// Settings handlers need, resolved from the command line at startup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base of the links put in mails, e.g. `http://127.0.0.1:8080` (no trailing slash).
    pub public_url: String,
    /// Lifetime of one-time links.
    pub link_ttl_ms: i64,
    /// MX: creates from outside these networks wait for manual review; `None` trusts all.
    pub trusted_networks: Option<Vec<ipnet::IpNet>>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Bearer token of the admin API; `None` hides `/_admin` entirely.
    pub admin_token: Option<String>,
    /// Nueve09: cents an account must keep after funding a sub-client (`--nueve09-min-balance`).
    pub nueve09_min_balance_cents: i64,
    /// Nueve09: the token-signing key given at startup; `None`: one kept in the database.
    pub nueve09_signing_key: Option<crate::flavours::nueve09::token::SigningKey>,
}

pub struct App {
    pub store: Arc<Store>,
    pub clock: Clock,
    pub credentials: CredentialCache,
    pub config: Config,
    /// The tenants seeded at startup (`--demo`, `--seed`), secrets already hashed.
    pub startup_seed: Vec<seed::Document>,
    pub mailer: Mailer,
    pub journal: Journal,
    /// ShieldConex's informative per-user request counts (its X-RateLimit-* headers).
    pub shieldconex_rate: crate::flavours::shieldconex::ratelimit::RateWindows,
    pub faults: Faults,
}

impl App {
    /// Tells the mail sender that a transaction queued mail (call after it committed).
    pub fn wake_mailer(&self) {
        self.mailer.wake();
    }

    /// Deletes all data and seeds again what startup seeded, in one transaction.
    pub fn reset(&self) -> rusqlite::Result<()> {
        let now = self.clock.now_ms();
        crate::ids::restart_sequence();
        self.store.write(|tx| {
            Store::delete_all(tx)?;
            for doc in &self.startup_seed {
                doc.apply(tx, now)?;
            }
            Ok::<_, rusqlite::Error>(())
        })?;
        self.credentials.clear();
        self.shieldconex_rate.clear();
        Ok(())
    }
}
