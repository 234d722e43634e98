//! The command line: every option once, with its environment variable, default and help
//! (docs/deploy.md). The shared options are `ServeOptions`; each flavour adds
//! `--listen-<name>` and its own options (`Flavour::options`). Parsing ends in a plain
//! `Config` for `server::start`. `run` is what `main` calls; it prints a failure once and
//! returns the exit code.

use std::io::Write;
use std::path::PathBuf;

use std::collections::BTreeMap;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::Config;
use crate::flavours;

#[derive(Parser, Debug)]
#[command(name = "clientele", version)]
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

    /// SQLite database file; ":memory:" keeps nothing; or a PostgreSQL database,
    /// postgres://USER[:PASS]@HOST[:PORT]/DB, shared by every instance given the same URL.
    #[arg(
        long,
        env = "CLIENTELE_DB",
        value_name = "DB",
        default_value = "./clientele.db"
    )]
    pub db: String,

    /// PostgreSQL: the most database connections this instance opens.
    #[arg(long, env = "CLIENTELE_DB_POOL", value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub db_pool: u16,

    /// PostgreSQL: how long connecting, waiting for a free connection, or one statement may
    /// take before the request is answered 503 (s, m, h or d).
    #[arg(long, env = "CLIENTELE_DB_TIMEOUT", value_name = "DURATION", default_value = "5s",
          value_parser = crate::clock::parse_duration_ms)]
    pub db_timeout: i64,

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
    #[arg(long, env = "CLIENTELE_DEMO", value_parser = boolean)]
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

    /// Believe X-Forwarded-For only from these peers (comma-separated CIDRs); default none.
    #[arg(long, env = "CLIENTELE_TRUSTED_PROXIES", value_name = "CIDRS", value_parser = parse_cidrs)]
    pub trusted_proxies: Option<Networks>,

    /// Make every commit survive a power loss too (SQLite synchronous=FULL; slower).
    #[arg(long, env = "CLIENTELE_DURABLE", value_parser = boolean)]
    pub durable: bool,

    /// Accept requests the vendor would refuse (missing headers, inexact paths, ...) and
    /// only record them as conformance warnings (GET /_admin/conformance).
    #[arg(long, env = "CLIENTELE_LENIENT", value_parser = boolean)]
    pub lenient: bool,

    /// Requests handled at once per listener; default sixteen times the cores, at least 32
    /// and at most 64.
    #[arg(long, env = "CLIENTELE_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// Connections held at once, on all listeners together (lowered at startup to what the
    /// limit on open files leaves); near it new ones close the longest-waiting idle ones.
    #[arg(long, env = "CLIENTELE_MAX_CONNECTIONS", value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Connections held at once from one client IP address, on all listeners together.
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

    /// Hash chosen passwords with argon2id at its least cost, microseconds instead of tens of
    /// milliseconds: for test suites only (the pytest plugin and clientele::testing turn it
    /// on). Refused with --tls-cert or an https --public-url.
    #[arg(long, env = "CLIENTELE_FAST_PASSWORD_HASHING", value_parser = boolean)]
    pub fast_password_hashing: bool,

    /// How long writing an answer may take from its start, on a client that does not read
    /// it (then the connection is closed).
    #[arg(long, env = "CLIENTELE_WRITE_TIMEOUT", value_name = "DURATION", default_value = "30s",
          value_parser = crate::clock::parse_duration_ms)]
    pub write_timeout: i64,
}

/// `serve` options from arguments (and the environment), as a `Config`: what
/// `testing::Server::with_args` starts.
pub fn serve_config(args: &[&str]) -> Result<Config, String> {
    register_secrets(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
    let argv = std::iter::once("serve").chain(args.iter().copied());
    let command = with_flavour_options(ServeOptions::augment_args(
        clap::Command::new("serve").args_override_self(true),
    ));
    let matches = command
        .try_get_matches_from(argv)
        .map_err(|e| crate::redact::text(&e.to_string()))?;
    config(&matches)
}

/// A switch's value from the environment (`CLIENTELE_DEMO=1`), in any of the usual forms.
fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("use 1 or 0, true or false, yes or no, on or off".into()),
    }
}

/// A list of networks given as one comma-separated option.
#[derive(Debug, Clone)]
pub struct Networks(pub Vec<ipnet::IpNet>);

fn parse_cidrs(text: &str) -> Result<Networks, String> {
    crate::config::parse_cidrs(text).map(Networks)
}

/// What `--help` says the program is, from the list of flavours.
fn about() -> String {
    const COUNTS: [&str; 10] = [
        "No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine",
    ];
    let count = COUNTS
        .get(flavours::ALL.len())
        .map_or_else(|| flavours::ALL.len().to_string(), |c| c.to_string());
    let titles: Vec<&str> = flavours::ALL.iter().map(|f| f.title()).collect();
    format!(
        "{count} vendors' client-onboarding APIs ({}) in one binary with SQLite inside",
        titles.join(", ")
    )
}

/// The options every flavour adds: `--listen-<name>`, and the flavour's own.
fn with_flavour_options(mut command: clap::Command) -> clap::Command {
    for flavour in flavours::ALL {
        let long = format!("listen-{}", flavour.name());
        command = command.arg(
            Arg::new(long.clone())
                .long(long.clone())
                .env(env_name(&long))
                .value_name("ADDR")
                .help(format!(
                    "A dedicated listener serving {} at its vendor's root paths",
                    flavour.title()
                )),
        );
        for option in flavour.options() {
            let check = option.check;
            let mut arg = Arg::new(option.long)
                .long(option.long)
                .env(env_name(option.long))
                .value_name(option.value_name)
                .help(option.help)
                .hide_env_values(option.secret)
                .value_parser(move |text: &str| check(text).map(|()| text.to_string()));
            if let Some(default) = option.default {
                arg = arg.default_value(default);
            }
            if let Some(other) = option.conflicts_with {
                arg = arg.conflicts_with(other);
            }
            command = command.arg(arg);
        }
    }
    command
}

/// `listen-<name>` → `CLIENTELE_LISTEN_<NAME>`.
fn env_name(long: &str) -> String {
    format!("CLIENTELE_{}", long.to_uppercase().replace('-', "_"))
}

/// The `Config` of parsed `serve` options.
fn config(matches: &ArgMatches) -> Result<Config, String> {
    let options = ServeOptions::from_arg_matches(matches).map_err(|e| e.to_string())?;
    let mut dedicated = BTreeMap::new();
    let mut flavour_options = BTreeMap::new();
    for flavour in flavours::ALL {
        let listen = format!("listen-{}", flavour.name());
        if let Some(addr) = matches.get_one::<String>(&listen) {
            dedicated.insert(flavour.name().to_string(), addr.clone());
        }
        for option in flavour.options() {
            if let Some(value) = matches.get_one::<String>(option.long) {
                flavour_options.insert(option.long.to_string(), value.clone());
            }
        }
    }
    Ok(Config {
        listen: options.listen,
        dedicated,
        db: options.db,
        db_pool: usize::from(options.db_pool),
        db_timeout_ms: options.db_timeout,
        durable: options.durable,
        lenient: options.lenient,
        mail: options.mail,
        mail_from: options.mail_from,
        mail_give_up_ms: options.mail_give_up,
        public_url: options.public_url,
        demo: options.demo,
        seed: options.seed,
        admin_token: options.admin_token,
        tls_cert: options.tls_cert,
        tls_key: options.tls_key,
        link_ttl_ms: options.link_ttl,
        journal_entries: options.journal_entries,
        journal_bytes: options.journal_bytes,
        deterministic: options.deterministic,
        trusted_proxies: options.trusted_proxies.map_or_else(Vec::new, |n| n.0),
        workers: options.workers,
        max_connections: options.max_connections as usize,
        max_connections_per_address: options.max_connections_per_address as usize,
        idle_timeout_ms: options.idle_timeout,
        head_timeout_ms: options.head_timeout,
        body_timeout_ms: options.body_timeout,
        body_min_rate: options.body_min_rate,
        write_timeout_ms: options.write_timeout,
        fast_password_hashing: options.fast_password_hashing,
        flavour_options,
    })
}

/// Parses the command line, runs the command, and returns the process exit code.
pub fn run() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    register_secrets(&args);
    let command = Cli::command()
        .about(about())
        .mut_subcommand("serve", with_flavour_options);
    let matches = match command.try_get_matches_from(&args) {
        Ok(matches) => matches,
        Err(e) => return refuse_arguments(&e, &args),
    };
    let result = match matches.subcommand() {
        Some(("serve", serve_matches)) => config(serve_matches).and_then(serve),
        Some(("check-mail", check_matches)) => CheckMailOptions::from_arg_matches(check_matches)
            .map_err(|e| e.to_string())
            .and_then(|options| check_mail(&options.mail)),
        _ => Err("unknown command".to_string()),
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("clientele: {}", crate::redact::text(&message));
            1
        }
    }
}

/// The options whose values are secrets: the whole value, or the password of a URL.
fn secret_options() -> (Vec<String>, Vec<String>) {
    let mut whole = vec!["admin-token".to_string()];
    for flavour in flavours::ALL {
        whole.extend(
            flavour
                .options()
                .iter()
                .filter(|o| o.secret)
                .map(|o| o.long.to_string()),
        );
    }
    (whole, vec!["mail".into(), "db".into()])
}

/// Hides, before anything is parsed, every secret given on the command line or in the
/// environment: a message about a malformed value must not show it (`redact`).
fn register_secrets(args: &[String]) {
    let (whole, urls) = secret_options();
    for (long, is_url) in whole
        .iter()
        .map(|l| (l, false))
        .chain(urls.iter().map(|l| (l, true)))
    {
        let from_env = std::env::var(env_name(long)).ok();
        for value in given_values(args, long).into_iter().chain(from_env) {
            if is_url {
                crate::redact::register_url_password(&value);
            } else {
                crate::redact::register(&value);
            }
        }
    }
}

/// The values given on the command line for `--long` (`--long VALUE` or `--long=VALUE`).
fn given_values(args: &[String], long: &str) -> Vec<String> {
    let flag = format!("--{long}");
    let mut values = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if *arg == flag {
            values.extend(args.get(i + 1).cloned());
        } else if let Some(value) = arg.strip_prefix(&format!("{flag}=")) {
            values.push(value.to_string());
        }
    }
    values
}

/// Prints clap's refusal of the arguments (secrets hidden; a value that came from the
/// environment named by its variable) and returns its exit code. Help and version go out
/// as clap prints them.
fn refuse_arguments(e: &clap::Error, args: &[String]) -> i32 {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || matches!(
            e.kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        )
    {
        let _ = e.print();
        return e.exit_code();
    }
    let mut message = crate::redact::text(&e.render().to_string());
    if let Some(variable) = variable_behind(e, args) {
        // Under the first line, which quotes the value: before clap's hint about --help.
        let first = message.find('\n').unwrap_or(message.len());
        message.insert_str(
            first,
            &format!("\n  (the value comes from the environment variable {variable})"),
        );
    }
    eprint!("{message}");
    e.exit_code()
}

/// The environment variable a refused value came from: set, and its option not given on
/// the command line.
fn variable_behind(e: &clap::Error, args: &[String]) -> Option<String> {
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg
        .strip_prefix("--")?
        .split([' ', '=', '<'])
        .next()?
        .to_string();
    let on_command_line = args
        .iter()
        .any(|a| *a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
    let variable = env_name(&long);
    (!on_command_line && std::env::var_os(&variable).is_some()).then_some(variable)
}

/// `clientele check-mail`: one connection to the relay, its outcome on stdout.
fn check_mail(spec: &str) -> Result<(), String> {
    let transport = crate::mail::Transport::parse(spec)?;
    let report = transport.check()?;
    println!("{report}");
    Ok(())
}

/// Starts the server, prints the readiness line, and serves until SIGTERM or SIGINT.
fn serve(config: Config) -> Result<(), String> {
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
    // Here, not in `server::start`: a program that embeds the server keeps its own logger.
    crate::log::take_http_server_reports();
    let demo = config.demo;
    let fast_hashing = config.fast_password_hashing;
    let running = crate::server::start(config)?;
    if fast_hashing {
        eprintln!(
            "clientele: --fast-password-hashing: chosen passwords are stored with argon2id at \
             its least cost (for test suites; never for real users)"
        );
    }
    for notice in running.app().states.iter().filter_map(|s| s.notice()) {
        eprintln!("clientele: {notice}");
    }
    if demo {
        eprintln!("{}", crate::seed::demo_banner());
    }
    // Only the main listener's line goes to stdout (one readiness line); the dedicated
    // listeners are announced on stderr first, so they are known once stdout says ready.
    for (flavour, url) in running.dedicated_urls() {
        eprintln!("clientele: {flavour} listening on {url}");
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
