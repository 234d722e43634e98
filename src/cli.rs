//! The command line: every option once, with its environment variable, default and help
//! (DESIGN.md §1). `run` is what `main` calls; it prints a failure once and returns the exit code.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "clientele",
    version,
    about = "Four vendors' client-onboarding APIs (MX, ShieldConex, Nueve09, MakeLeaps) \
             in one binary with SQLite inside"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve every flavour; prints `listening on URL` on stdout when ready.
    // A repeated option takes its last value, so wrappers can append overrides.
    #[command(args_override_self = true)]
    Serve(Box<ServeOptions>),
    /// Connect once to where --mail points (TLS and login included) and report whether it
    /// accepts them, without sending a mail; exit 0 when it does.
    CheckMail(CheckMailOptions),
}

#[derive(Args, Debug, Clone)]
pub struct CheckMailOptions {
    /// Where mail goes, as for `serve --mail`.
    #[arg(
        long,
        env = "CLIENTELE_MAIL",
        value_name = "SPEC",
        hide_env_values = true,
        default_value = "mbox:./clientele.mbox"
    )]
    pub mail: String,
}

#[derive(Args, Debug, Clone)]
pub struct ServeOptions {
    /// Main listener; port 0 picks a free port.
    #[arg(
        long,
        env = "CLIENTELE_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: String,

    /// SQLite database file; ":memory:" keeps nothing.
    #[arg(
        long,
        env = "CLIENTELE_DB",
        value_name = "PATH",
        default_value = "./clientele.db"
    )]
    pub db: String,

    /// Where mail goes: mbox:PATH, or
    /// smtp://[USER:PASS@]HOST:PORT[?tls=none|starttls|tls][&ca=PEM][&tls_insecure=true].
    #[arg(
        long,
        env = "CLIENTELE_MAIL",
        value_name = "SPEC",
        hide_env_values = true,
        default_value = "mbox:./clientele.mbox"
    )]
    pub mail: String,

    /// Sender of every mail.
    #[arg(
        long,
        env = "CLIENTELE_MAIL_FROM",
        value_name = "ADDR",
        default_value = "Clientele <no-reply@localhost>"
    )]
    pub mail_from: String,

    /// Base of links in mails; default the main listener's own URL.
    #[arg(long, env = "CLIENTELE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Seed the demo tenants (the vendors' documentation examples) into the database.
    #[arg(long, env = "CLIENTELE_DEMO")]
    pub demo: bool,

    /// Load tenants from a JSON file (same shape as POST /_admin/seed); idempotent.
    #[arg(long, env = "CLIENTELE_SEED", value_name = "FILE")]
    pub seed: Option<PathBuf>,

    /// Enable the admin API for this bearer token; without it /_admin is 404.
    #[arg(
        long,
        env = "CLIENTELE_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,

    /// Serve HTTPS (TLS 1.2 and 1.3 only) on every listener with this PEM certificate chain;
    /// needs --tls-key.
    #[arg(long, env = "CLIENTELE_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, env = "CLIENTELE_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// A dedicated listener serving MX at its vendor's root paths.
    #[arg(long, env = "CLIENTELE_LISTEN_MX", value_name = "ADDR")]
    pub listen_mx: Option<String>,

    /// A dedicated listener serving ShieldConex at its vendor's root paths.
    #[arg(long, env = "CLIENTELE_LISTEN_SHIELDCONEX", value_name = "ADDR")]
    pub listen_shieldconex: Option<String>,

    /// A dedicated listener serving Nueve09 at its vendor's root paths.
    #[arg(long, env = "CLIENTELE_LISTEN_NUEVE09", value_name = "ADDR")]
    pub listen_nueve09: Option<String>,

    /// A dedicated listener serving MakeLeaps at its vendor's root paths.
    #[arg(long, env = "CLIENTELE_LISTEN_MAKELEAPS", value_name = "ADDR")]
    pub listen_makeleaps: Option<String>,

    /// Lifetime of one-time links (s, m, h or d).
    #[arg(long, env = "CLIENTELE_LINK_TTL", value_name = "DURATION", default_value = "7d",
          value_parser = crate::clock::parse_duration_ms)]
    pub link_ttl: i64,

    /// Give up delivering a mail (and mark it failed) this long after it was queued.
    #[arg(long, env = "CLIENTELE_MAIL_GIVE_UP", value_name = "DURATION", default_value = "1d",
          value_parser = crate::clock::parse_duration_ms)]
    pub mail_give_up: i64,

    /// Requests kept in the journal (GET /_admin/requests); 0 turns it off.
    #[arg(
        long,
        env = "CLIENTELE_JOURNAL_ENTRIES",
        value_name = "N",
        default_value_t = 1000
    )]
    pub journal_entries: usize,

    /// Bytes the journal may hold at most (bodies included).
    #[arg(long, env = "CLIENTELE_JOURNAL_BYTES", value_name = "N", default_value_t = 4 * 1024 * 1024)]
    pub journal_bytes: usize,

    /// Reproducible ids, uuids, mids and tokens from a seeded generator (for snapshot tests;
    /// never in production: tokens become guessable). A reset starts the sequence over.
    #[arg(long, env = "CLIENTELE_DETERMINISTIC", value_name = "SEED", num_args = 0..=1,
          default_missing_value = "0", require_equals = true)]
    pub deterministic: Option<u64>,

    /// Nueve09: the least `available` (pesos) an account keeps after funding a sub-client.
    #[arg(long, env = "CLIENTELE_NUEVE09_MIN_BALANCE", value_name = "AMOUNT", default_value = "0",
          value_parser = crate::flavours::nueve09::money::parse_min_balance)]
    pub nueve09_min_balance: i64,

    /// Nueve09: sign login tokens with the key in this file (at least 32 bytes; surrounding
    /// whitespace is ignored) instead of one made and kept in the database.
    #[arg(
        long,
        env = "CLIENTELE_NUEVE09_SIGNING_KEY_FILE",
        value_name = "PATH",
        conflicts_with = "nueve09_signing_key"
    )]
    pub nueve09_signing_key_file: Option<PathBuf>,

    /// Nueve09: the token-signing key itself (at least 32 bytes); prefer the environment
    /// variable or --nueve09-signing-key-file, as a command line is visible to other users.
    #[arg(
        long,
        env = "CLIENTELE_NUEVE09_SIGNING_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub nueve09_signing_key: Option<String>,

    /// MX: creates from other addresses wait for manual review (comma-separated CIDRs, e.g.
    /// 127.0.0.0/8,10.0.0.0/8); default: all trusted.
    #[arg(long, env = "CLIENTELE_TRUSTED_NETWORKS", value_name = "CIDRS", value_parser = parse_cidrs)]
    pub trusted_networks: Option<Networks>,

    /// Believe X-Forwarded-For only from these peers (comma-separated CIDRs); default none.
    #[arg(long, env = "CLIENTELE_TRUSTED_PROXIES", value_name = "CIDRS", value_parser = parse_cidrs)]
    pub trusted_proxies: Option<Networks>,

    /// Make every commit survive a power loss too (SQLite synchronous=FULL; slower).
    #[arg(long, env = "CLIENTELE_DURABLE")]
    pub durable: bool,

    /// Request worker threads; default twice the cores, at least 4 and at most 16.
    #[arg(long, env = "CLIENTELE_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// Connections served at once on each listener; past it new ones are closed at once.
    #[arg(long, env = "CLIENTELE_MAX_CONNECTIONS", value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Connections served at once from one client IP address, on each listener.
    #[arg(long, env = "CLIENTELE_MAX_CONNECTIONS_PER_ADDRESS", value_name = "N",
          default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_address: u32,

    /// How long a keep-alive connection may wait for its next request.
    #[arg(long, env = "CLIENTELE_IDLE_TIMEOUT", value_name = "DURATION", default_value = "30s",
          value_parser = crate::clock::parse_duration_ms)]
    pub idle_timeout: i64,

    /// How long a request line and headers may take to arrive, from their first byte
    /// (then 408 and the connection is closed).
    #[arg(long, env = "CLIENTELE_HEAD_TIMEOUT", value_name = "DURATION", default_value = "15s",
          value_parser = crate::clock::parse_duration_ms)]
    pub head_timeout: i64,

    /// How long a request body may take, plus one second per --body-min-rate bytes received
    /// (then 408 and the connection is closed).
    #[arg(long, env = "CLIENTELE_BODY_TIMEOUT", value_name = "DURATION", default_value = "20s",
          value_parser = crate::clock::parse_duration_ms)]
    pub body_timeout: i64,

    /// Bytes per second a slow request body must keep up (see --body-timeout).
    #[arg(long, env = "CLIENTELE_BODY_MIN_RATE", value_name = "BYTES", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_min_rate: u64,

    /// How long writing an answer may wait on a client that does not read (then the
    /// connection is closed).
    #[arg(long, env = "CLIENTELE_WRITE_TIMEOUT", value_name = "DURATION", default_value = "30s",
          value_parser = crate::clock::parse_duration_ms)]
    pub write_timeout: i64,
}

/// `serve` options from arguments (and the environment), for embedding.
pub fn serve_options(args: &[&str]) -> Result<ServeOptions, String> {
    #[derive(Parser)]
    #[command(name = "serve", args_override_self = true)]
    struct Serve {
        #[command(flatten)]
        options: ServeOptions,
    }
    let argv = std::iter::once("serve").chain(args.iter().copied());
    Serve::try_parse_from(argv)
        .map(|s| s.options)
        .map_err(|e| e.to_string())
}

/// A list of networks given as one comma-separated option.
#[derive(Debug, Clone)]
pub struct Networks(pub Vec<ipnet::IpNet>);

/// `10.0.0.0/8,192.168.1.7` → networks (a bare address is a /32 or /128).
fn parse_cidrs(text: &str) -> Result<Networks, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{s:?} is not an address or CIDR network"))
        })
        .collect::<Result<_, _>>()
        .map(Networks)
}

/// Parses the command line, runs the command, and returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(options) => serve(*options),
        Command::CheckMail(options) => check_mail(&options.mail),
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("clientele: {message}");
            1
        }
    }
}

/// `clientele check-mail`: one connection to the relay, its outcome on stdout.
fn check_mail(spec: &str) -> Result<(), String> {
    let transport = crate::mail::Transport::parse(spec)?;
    let report = transport.check()?;
    println!("{report}");
    Ok(())
}

/// Starts the server, prints the readiness line, and serves until SIGTERM or SIGINT.
fn serve(options: ServeOptions) -> Result<(), String> {
    let (stop_tx, stop_rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .map_err(|e| format!("cannot install the signal handler: {e}"))?;

    // A handler's panic is answered 500 and logged; its message goes through the log too, so
    // that a blocked stderr does not stop the worker.
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        crate::log::line(format!("clientele: thread '{name}' {info}"));
    }));
    let demo = options.demo;
    let key_notice = crate::flavours::nueve09::token::key_notice(&options);
    let running = crate::server::start(options)?;
    eprintln!("clientele: {key_notice}");
    if demo {
        eprintln!("{}", crate::seed::DEMO_BANNER);
    }
    // Only the main listener's line goes to stdout (one readiness line); the dedicated
    // listeners are announced on stderr first, so they are known once stdout says ready.
    for (flavour, url) in running.dedicated_urls() {
        eprintln!("clientele: {} listening on {url}", flavour.name());
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", running.url())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write the readiness line: {e}"))?;
    drop(stdout);

    let _ = stop_rx.recv();
    // Through the log: a blocked stderr must not keep the process from stopping.
    crate::log::line("clientele: shutting down".into());
    running.shutdown();
    crate::log::flush(std::time::Duration::from_secs(1));
    Ok(())
}
