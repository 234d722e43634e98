//! What a server is started with: plain values, no command-line parsing. `cli` fills a
//! `Config` from options and the environment; `testing` fills one directly; `server::start`
//! takes one.

use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// Main listener; port 0 picks a free port.
    pub listen: String,
    /// Dedicated listeners: flavour name → address (each serves one flavour at its root).
    pub dedicated: BTreeMap<String, String>,
    /// SQLite database file; ":memory:" keeps nothing; or a `postgres://` URL.
    pub db: String,
    /// PostgreSQL: the most connections this instance opens.
    pub db_pool: usize,
    /// PostgreSQL: the longest a connection, a free connection or a statement is waited for.
    pub db_timeout_ms: i64,
    /// Every commit survives a power loss too (SQLite synchronous=FULL).
    pub durable: bool,
    /// Where mail goes: `mbox:PATH` or an `smtp://` URL.
    pub mail: String,
    /// Sender of every mail.
    pub mail_from: String,
    /// Give up delivering a mail this long after it was queued.
    pub mail_give_up_ms: i64,
    /// Base of links in mails; `None`: the main listener's own URL.
    pub public_url: Option<String>,
    /// Seed the demo tenants.
    pub demo: bool,
    /// Load tenants from this seed document.
    pub seed: Option<PathBuf>,
    /// Bearer token of the admin API; `None` hides `/_admin` entirely.
    pub admin_token: Option<String>,
    /// PEM certificate chain and private key: every listener speaks HTTPS only.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Lifetime of one-time links.
    pub link_ttl_ms: i64,
    /// Requests kept in the journal (0 turns it off), and the bytes it may hold.
    pub journal_entries: usize,
    pub journal_bytes: usize,
    /// Reproducible ids and tokens from a generator seeded with this.
    pub deterministic: Option<u64>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Deviations from a vendor's contract are accepted and recorded, not refused.
    pub lenient: bool,
    /// Requests handled at once per listener; `None`: sixteen times the cores, at least 32
    /// and at most 64.
    pub workers: Option<usize>,
    /// Connections held at once on all listeners together (lowered to what the limit on
    /// open files leaves), and from one client address.
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// How long a keep-alive connection may wait for its next request.
    pub idle_timeout_ms: i64,
    /// How long a request line and headers may take to arrive.
    pub head_timeout_ms: i64,
    /// How long a request body may take, plus one second per `body_min_rate` bytes.
    pub body_timeout_ms: i64,
    pub body_min_rate: u64,
    /// How long writing an answer may take from its start.
    pub write_timeout_ms: i64,
    /// Chosen passwords hashed with argon2id at its least cost (test suites only; refused
    /// with anything in `deployment_mark`).
    pub fast_password_hashing: bool,
    /// The flavours' own options, by long option name (`<flavour>-<option>`), as given;
    /// each flavour parses its own and uses its default for an absent one.
    pub flavour_options: BTreeMap<String, String>,
}

impl Default for Config {
    /// The defaults of the command line.
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:8080".into(),
            dedicated: BTreeMap::new(),
            db: "./clientele.db".into(),
            db_pool: 16,
            db_timeout_ms: 5_000,
            durable: false,
            mail: "mbox:./clientele.mbox".into(),
            mail_from: "Clientele <no-reply@localhost>".into(),
            mail_give_up_ms: 86_400_000,
            public_url: None,
            demo: false,
            seed: None,
            admin_token: None,
            tls_cert: None,
            tls_key: None,
            link_ttl_ms: 7 * 86_400_000,
            journal_entries: 1000,
            journal_bytes: 4 * 1024 * 1024,
            deterministic: None,
            trusted_proxies: Vec::new(),
            lenient: false,
            workers: None,
            max_connections: 1024,
            max_connections_per_address: 128,
            idle_timeout_ms: 30_000,
            head_timeout_ms: 15_000,
            body_timeout_ms: 20_000,
            body_min_rate: 500,
            write_timeout_ms: 30_000,
            fast_password_hashing: false,
            flavour_options: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The option that shows this server is a deployment (real users reach it), if one does:
    /// TLS of its own, or links in mail that point to an https address.
    pub fn deployment_mark(&self) -> Option<&'static str> {
        let https_links = self
            .public_url
            .as_deref()
            .is_some_and(|url| url.trim().to_ascii_lowercase().starts_with("https:"));
        if self.tls_cert.is_some() {
            Some("--tls-cert")
        } else if https_links {
            Some("an https --public-url")
        } else {
            None
        }
    }
}

/// `10.0.0.0/8,192.168.1.7` → networks (a bare address is a /32 or /128).
pub fn parse_cidrs(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{s:?} is not an address or CIDR network"))
        })
        .collect()
}
