//! What every request handler can reach: the store, this server's clock and id generator,
//! the credential cache, the settings, each flavour's per-process state, and the tenants that
//! startup seeded (so a reset can seed them again).
//!
//! Nothing here names a flavour: a flavour's state is a `FlavourState` that the flavour made
//! at startup and finds again with `App::state`.

use std::any::Any;
use std::sync::Arc;

use crate::auth::Credentials;
use crate::clock::Clock;
use crate::faults::Faults;
use crate::ids::Ids;
use crate::journal::Journal;
use crate::mail::Mailer;
use crate::store::Store;

/// Settings handlers need, resolved from the `Config` at startup.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base of the links put in mails, e.g. `http://127.0.0.1:8080` (no trailing slash).
    pub public_url: String,
    /// Lifetime of one-time links.
    pub link_ttl_ms: i64,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Bearer token of the admin API; `None` hides `/_admin` entirely.
    pub admin_token: Option<String>,
    /// `--lenient`: deviations from a vendor's contract are recorded, not refused.
    pub lenient: bool,
    /// `--mail-from`: the sender of every mail (and the domain of its Message-ID).
    pub mail_from: lettre::message::Mailbox,
}

/// What one flavour keeps in memory for one server (counters, parsed options).
pub trait FlavourState: Any + Send + Sync {
    /// Forgets what requests built up (a reset); options stay.
    fn reset(&self) {}

    /// A line for stderr at startup (where a key comes from, say).
    fn notice(&self) -> Option<String> {
        None
    }
}

/// The state of a flavour that keeps none.
impl FlavourState for () {}

/// Applies the startup seed documents in a transaction, as of a time; made by `server.rs`
/// from the parsed documents, so that this module needs to know nothing of seeds.
pub type StartupTenants =
    Box<dyn Fn(&crate::db::Transaction, i64) -> crate::db::Result<()> + Send + Sync>;

pub struct App {
    pub store: Arc<Store>,
    pub clock: Arc<Clock>,
    /// Ids and secrets: this server's own generator (deterministic or not).
    pub ids: Ids,
    /// How chosen secrets are hashed, and the verified credentials remembered.
    pub credentials: Credentials,
    pub settings: Settings,
    /// One state per flavour, in the order of `flavours::ALL`.
    pub states: Vec<Box<dyn FlavourState>>,
    /// Seeds the tenants of startup (`--demo`, `--seed`, secrets already hashed) again.
    pub startup_tenants: StartupTenants,
    pub mailer: Arc<Mailer>,
    pub journal: Journal,
    pub faults: Faults,
    /// What this server last read of the clock and faults other instances share.
    pub shared: crate::fixture_state::Shared,
    /// Wrong admin tokens per client address (the admin API and the console's sign-in).
    pub admin_guesses: crate::guesses::Guesses,
    /// Who is signed in to this server's console.
    pub console_sessions: crate::sessions::Sessions,
}

impl App {
    /// The state of type `T` that a flavour made at startup.
    ///
    /// # Panics
    /// When no flavour made one: a flavour asking for a state it does not make is a bug,
    /// answered 500 by the server's panic fallback.
    pub fn state<T: FlavourState>(&self) -> &T {
        self.states
            .iter()
            .find_map(|state| (state.as_ref() as &dyn Any).downcast_ref::<T>())
            .expect("every flavour's state is made at startup")
    }

    /// The fixture controls (clock, faults) and how they are shared with other instances on
    /// the same database.
    pub fn controls(&self) -> crate::fixture_state::Controls<'_> {
        crate::fixture_state::Controls {
            store: &self.store,
            clock: &self.clock,
            faults: &self.faults,
            shared: &self.shared,
        }
    }

    /// Tells the mail sender that a transaction queued mail (call after it committed).
    pub fn wake_mailer(&self) {
        self.mailer.wake();
    }

    /// Deletes all data and seeds again what startup seeded, in one transaction.
    pub fn reset(&self) -> crate::db::Result<()> {
        let now = self.clock.now_ms();
        self.ids.restart_sequence();
        self.store.write(|tx| {
            Store::delete_all(tx)?;
            (self.startup_tenants)(tx, now)
        })?;
        self.credentials.clear();
        for state in &self.states {
            state.reset();
        }
        Ok(())
    }
}
