//! What `server::start` builds before it listens: the checked settings, the store, the
//! startup seed, the mail transport, the server's state (`App`), and the threads beside the
//! listeners (mail sender, housekeeping).

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use lettre::message::Mailbox;

use crate::app::{App, Settings};
use crate::auth::{Credentials, PasswordHashing};
use crate::config::Config;
use crate::flavours;
use crate::ids::Ids;
use crate::journal::Journal;
use crate::mail::{spawn_sender, Outbox, Transport};
use crate::seed;
use crate::store::{Durability, Store, StoreOptions};

/// What the server's state is made of, read and checked from the configuration before any
/// listener is bound (so that a bad option is named first).
pub(crate) struct Prepared {
    hashing: PasswordHashing,
    states: Vec<Box<dyn crate::app::FlavourState>>,
    ids: Ids,
    store: Arc<Store>,
    startup_seed: Vec<seed::Document>,
    transport: Transport,
    mail_from: Mailbox,
}

pub(crate) fn prepare(config: &Config, hashing: PasswordHashing) -> Result<Prepared, String> {
    let states = flavours::ALL
        .iter()
        .map(|f| f.state(config))
        .collect::<Result<Vec<_>, String>>()?;
    let ids = Ids::new(config.deterministic);
    let store = open_store(config)?;
    let startup_seed = startup_seed(config, &ids, hashing)?;
    let (transport, mail_from) = mail_settings(config)?;
    Ok(Prepared {
        hashing,
        states,
        ids,
        store,
        startup_seed,
        transport,
        mail_from,
    })
}

/// The server's state for the main listener at `url`, with its startup tenants seeded;
/// and where its mail goes, for the sender.
pub(crate) fn app(
    config: &Config,
    url: &str,
    prepared: Prepared,
) -> Result<(Arc<App>, Transport), String> {
    let Prepared {
        hashing,
        states,
        ids,
        store,
        startup_seed,
        transport,
        mail_from,
    } = prepared;
    let app = Arc::new(App {
        store,
        clock: Default::default(),
        ids,
        credentials: Credentials::new(hashing),
        settings: settings(config, url, mail_from),
        states,
        startup_tenants: Box::new(move |tx, now| {
            startup_seed.iter().try_for_each(|doc| doc.apply(tx, now))
        }),
        mailer: Default::default(),
        journal: Journal::new(config.journal_entries, config.journal_bytes),
        faults: Default::default(),
        shared: Default::default(),
        admin_guesses: Default::default(),
        console_sessions: Default::default(),
    });
    seed_startup_tenants(&app)?;
    Ok((app, transport))
}

/// What handlers need of the configuration; links in mail point to `url` unless
/// `--public-url` says otherwise.
pub(crate) fn settings(config: &Config, url: &str, mail_from: Mailbox) -> Settings {
    let public_url = config.public_url.as_deref().unwrap_or(url);
    Settings {
        public_url: public_url.trim_end_matches('/').to_string(),
        link_ttl_ms: config.link_ttl_ms,
        admin_token: config.admin_token.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        lenient: config.lenient,
        mail_from,
    }
}

/// The threads beside the listeners.
pub(crate) struct Background {
    pub mail_sender: JoinHandle<()>,
    pub housekeeping_stop: mpsc::Sender<()>,
    pub housekeeping: JoinHandle<()>,
}

/// Starts the mail sender and housekeeping.
pub(crate) fn start_background(app: &App, config: &Config, transport: Transport) -> Background {
    // Without the admin API nobody reads delivered mail's links again: they are scrubbed.
    let keep_live_links = config.admin_token.is_some();
    let outbox = Outbox {
        store: app.store.clone(),
        clock: app.clock.clone(),
        mailer: app.mailer.clone(),
        scrubs_links: !keep_live_links,
        instance: outbox_instance(&transport),
    };
    let mail_sender = spawn_sender(
        outbox,
        transport,
        app.settings.mail_from.clone(),
        config.mail_give_up_ms,
    );
    let (housekeeping_stop, stop_signal) = mpsc::channel();
    let housekeeping = spawn_housekeeping(
        app.store.clone(),
        app.clock.clone(),
        keep_live_links,
        stop_signal,
    );
    Background {
        mail_sender,
        housekeeping_stop,
        housekeeping,
    }
}

/// `--mail` and `--mail-from`, checked, with where mail goes announced on stderr.
pub(crate) fn mail_settings(config: &Config) -> Result<(Transport, Mailbox), String> {
    let transport = Transport::parse(&config.mail)?;
    // An mbox that cannot be appended to would fail every mail after startup: found now.
    // (A relay is not tried: it may be down for a while, and mail waits for it.)
    if let Transport::Mbox(path) = &transport {
        crate::mail::open_mbox(path).map_err(|e| {
            format!(
                "--mail mbox:{}: cannot append to it ({e}); make its folder, or give the \
                     user that runs clientele write access to it",
                path.display()
            )
        })?;
    }
    eprintln!("clientele: mail goes to {}", transport.summary());
    if let Transport::Smtp(relay) = &transport {
        if relay.insecure {
            eprintln!(
                "clientele: WARNING: --mail has tls_insecure=true: the relay's certificate is \
                 NOT verified, so anyone on the path can read the mail and the password"
            );
        }
    }
    let mail_from: Mailbox = config
        .mail_from
        .parse()
        .map_err(|e| format!("--mail-from {:?}: {e}", config.mail_from))?;
    Ok((transport, mail_from))
}

/// Applies the startup seed documents, then starts the id sequence over so that requests
/// after startup draw the same sequence as after a reset (deterministic mode).
pub(crate) fn seed_startup_tenants(app: &App) -> Result<(), String> {
    let now = app.clock.now_ms();
    app.store
        .write(|tx| (app.startup_tenants)(tx, now))
        .map_err(|e| format!("cannot seed the startup tenants: {e}"))?;
    app.ids.restart_sequence();
    Ok(())
}

/// Who this process is to the other instances on a PostgreSQL outbox (`Outbox::instance`).
/// Writing to an mbox, it is the file on this machine: a restart on the same file is the same
/// sender, which checks the end of the file for what its previous run appended before it
/// died (an mbox is one instance's). Over SMTP, each run is new.
pub(crate) fn outbox_instance(transport: &Transport) -> String {
    match transport.mbox_path() {
        Some(path) => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default();
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            format!("mbox:{host}:{}", path.display())
        }
        None => format!("smtp:{:016x}", rand::random::<u64>()),
    }
}

pub(crate) fn open_store(config: &Config) -> Result<Arc<Store>, String> {
    let durability = if config.durable {
        Durability::PowerLoss
    } else {
        Durability::Process
    };
    let options = StoreOptions {
        durability,
        pool_size: config.db_pool,
        timeout: Duration::from_millis(u64::try_from(config.db_timeout_ms).unwrap_or(5_000)),
    };
    // A PostgreSQL URL may hold a password: it is not repeated.
    let shown = if crate::store::is_postgres_url(&config.db) {
        "of --db".to_string()
    } else {
        format!("of --db {:?}", config.db)
    };
    Store::open_with(&config.db, &options)
        .map_err(|e| format!("cannot open the database {shown}: {e}"))
}

/// Prunes dead rows every few minutes of the server's clock; it looks every second, so a
/// clock moved by the admin API is noticed. Ends when `stop` is dropped.
pub(crate) fn spawn_housekeeping(
    store: Arc<Store>,
    clock: Arc<crate::clock::Clock>,
    keep_live_links: bool,
    stop: mpsc::Receiver<()>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("housekeeping".into())
        .spawn(move || {
            let mut pruned_at = i64::MIN;
            loop {
                let now = clock.now_ms();
                if now.saturating_sub(pruned_at) >= crate::housekeeping::EVERY_MS {
                    pruned_at = now;
                    if let Err(e) = crate::housekeeping::prune(&store, now, keep_live_links) {
                        crate::log::line(format!("housekeeping: pruning dead rows failed: {e}"));
                    }
                }
                match stop.recv_timeout(Duration::from_secs(1)) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => break,
                }
            }
        })
        .expect("spawning the housekeeping thread")
}

/// An empty token (what `CLIENTELE_ADMIN_TOKEN=` from an unset variable gives) would
/// otherwise be matched by a request with no `Authorization` at all.
pub(crate) fn check_admin_token(token: Option<&str>) -> Result<(), String> {
    match token {
        Some(t) if t.trim().is_empty() => Err(
            "--admin-token (CLIENTELE_ADMIN_TOKEN) is empty; give a token, or leave it unset \
             to turn the admin API off"
                .into(),
        ),
        _ => Ok(()),
    }
}

/// `--fast-password-hashing`, refused where a deployment shows (docs/deploy.md): a fixture
/// command copied into a service file must not store real users' passwords cheaply.
pub(crate) fn password_hashing(config: &Config) -> Result<PasswordHashing, String> {
    if !config.fast_password_hashing {
        return Ok(PasswordHashing::Standard);
    }
    match config.deployment_mark() {
        Some(mark) => Err(format!(
            "--fast-password-hashing is for test suites and cannot be used with {mark}: \
             a server that has it stores passwords with argon2id at its least cost"
        )),
        None => Ok(PasswordHashing::Fast),
    }
}

/// `--demo` and `--seed FILE`, parsed and with secrets hashed once, for startup and resets.
pub(crate) fn startup_seed(
    config: &Config,
    ids: &Ids,
    hashing: PasswordHashing,
) -> Result<Vec<seed::Document>, String> {
    let mut docs = Vec::new();
    if config.demo {
        docs.push(seed::demo(ids, hashing));
    }
    if let Some(path) = &config.seed {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the seed file {}: {e}", path.display()))?;
        let mut doc = seed::Document::parse(&bytes)
            .map_err(|e| format!("invalid seed file {}: {e}", path.display()))?;
        doc.prepare(
            &|secret| crate::auth::hash_chosen(secret, ids, hashing),
            ids,
        );
        docs.push(doc);
    }
    Ok(docs)
}
