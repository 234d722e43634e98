//! Listeners, dispatch by prefix, and shutdown.
//!
//! The main listener serves every flavour under its prefix, plus `/healthz` and `/_admin`;
//! each `--listen-<flavour>` listener serves one flavour at its vendor's root paths. tiny_http
//! gives each connection a thread, which reads whole requests and runs our handler on them
//! itself: no other thread is woken between reading a request and writing its answer. At most
//! `--workers` requests per listener are handled at once; the others wait for a turn. A
//! handler that panics is answered 500. With `--tls-cert`/`--tls-key` every listener speaks
//! HTTPS only (`tls`). What is built before listening is `startup`'s; what is kept of each
//! exchange after its answer, `record`'s.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::app::App;
use crate::config::Config;
use crate::flavours::{self, Flavour};
use crate::http::{Request, Response};
use crate::{record, startup};

/// What a listener serves.
#[derive(Clone, Copy)]
enum Mount {
    /// Every flavour under its prefix, `/healthz` and `/_admin`.
    Main,
    /// One flavour at the vendor's root paths.
    Dedicated(&'static dyn Flavour),
}

struct Listener {
    server: tiny_http::Server,
    permits: Arc<Permits>,
}

/// The requests one listener handles at once (`--workers`). Each runs on its connection's
/// thread; past the limit a request waits here for a turn. Bounded so that a burst of
/// connections queues here rather than all running at once; the writes among those in flight
/// make one commit group, and their reads share the store's bounded readers.
struct Permits {
    busy: Mutex<usize>,
    max: usize,
    /// Signalled when a permit is given back.
    freed: Condvar,
    /// Signalled when the last permit in use is given back.
    idle: Condvar,
}

struct Permit<'a>(&'a Permits);

impl Permits {
    fn new(max: usize) -> Permits {
        Permits {
            busy: Mutex::new(0),
            max: max.max(1),
            freed: Condvar::new(),
            idle: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn acquire(&self) -> Permit<'_> {
        let mut busy = self.lock();
        while *busy >= self.max {
            busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy += 1;
        Permit(self)
    }

    /// Waits until no request is being handled.
    fn wait_idle(&self) {
        let mut busy = self.lock();
        while *busy > 0 {
            busy = self.idle.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut busy = self.0.lock();
        *busy -= 1;
        self.0.freed.notify_one();
        if *busy == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// A started server. Dropping it does not stop it; call `shutdown`.
pub struct Running {
    url: String,
    dedicated: Vec<(&'static str, String)>,
    app: Arc<App>,
    listeners: Vec<Listener>,
    stopping: Arc<AtomicBool>,
    mail_sender: JoinHandle<()>,
    /// Dropping it stops the housekeeping thread.
    housekeeping_stop: mpsc::Sender<()>,
    housekeeping: JoinHandle<()>,
    write_timeout: Duration,
}

impl Running {
    /// The main listener's base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The dedicated listeners: flavour name and base URL.
    pub fn dedicated_urls(&self) -> &[(&'static str, String)] {
        &self.dedicated
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Stops accepting, lets every request in flight finish, and returns. A request that
    /// arrives meanwhile on an open connection is answered 503.
    pub fn shutdown(self) {
        self.stopping.store(true, Ordering::SeqCst);
        for listener in self.listeners {
            listener.permits.wait_idle();
            // Answers are written by their connections' threads: let those finish (a client
            // that does not read is cut off by the write timeout).
            listener.server.wait_for_answers(self.write_timeout);
            // Dropping the server stops its accept loop.
        }
        // After the requests: every mail they queued is in the outbox, delivered now or at
        // the next start.
        self.app.mailer.stop();
        let _ = self.mail_sender.join();
        drop(self.housekeeping_stop);
        let _ = self.housekeeping.join();
    }
}

/// Opens the store, seeds startup tenants, binds and serves every listener, and starts the
/// mail sender and housekeeping.
pub fn start(config: Config) -> Result<Running, String> {
    startup::check_admin_token(config.admin_token.as_deref())?;
    let hashing = startup::password_hashing(&config)?;
    let tls = crate::tls::load(&config)?;
    let prepared = startup::prepare(&config, hashing)?;
    let (bound, url, dedicated) = bind_all(&config, tls.is_some())?;
    let (app, transport) = startup::app(&config, &url, prepared)?;
    let background = startup::start_background(&app, &config, transport);
    let limits = socket_limits(&config);
    let stopping = Arc::new(AtomicBool::new(false));
    let listeners = serve_all(&app, &config, bound, tls.as_ref(), &limits, &stopping)?;
    Ok(Running {
        url,
        dedicated,
        app,
        listeners,
        stopping,
        mail_sender: background.mail_sender,
        housekeeping_stop: background.housekeeping_stop,
        housekeeping: background.housekeeping,
        write_timeout: limits.write_timeout,
    })
}

/// Serves every bound listener, each with its own turns and all with one table of
/// connections.
fn serve_all(
    app: &Arc<App>,
    config: &Config,
    bound: Vec<(std::net::TcpListener, String, Mount)>,
    tls: Option<&crate::tls::Tls>,
    limits: &tiny_http::Limits,
    stopping: &Arc<AtomicBool>,
) -> Result<Vec<Listener>, String> {
    let workers_per_listener = config.workers.unwrap_or_else(default_workers).max(1);
    let connections = connections(config, workers_per_listener * bound.len());
    bound
        .into_iter()
        .map(|(listener, addr, mount)| {
            let permits = Arc::new(Permits::new(workers_per_listener));
            let handler = handler(app.clone(), mount, permits.clone(), stopping.clone());
            let options = tiny_http::Options {
                ssl: tls.map(|tls| tls.config.clone()),
                limits: limits.clone(),
                handler: Some(handler),
                connections: connections.clone(),
            };
            let server = serve(listener, &addr, tls, options)?;
            Ok(Listener { server, permits })
        })
        .collect()
}

/// Every listener bound (its socket, the address asked for, what it serves); the main
/// listener's URL; the dedicated ones'. Bound before the server's state is built, which needs
/// the URLs; served after.
type Bound = (
    Vec<(std::net::TcpListener, String, Mount)>,
    String,
    Vec<(&'static str, String)>,
);

fn bind_all(config: &Config, tls: bool) -> Result<Bound, String> {
    let scheme = if tls { "https" } else { "http" };
    let bind = |addr: &str| {
        std::net::TcpListener::bind(addr)
            .and_then(|listener| Ok((listener.local_addr()?, listener)))
            .map(|(local, listener)| (listener, format!("{scheme}://{local}")))
            .map_err(|e| format!("cannot listen on {addr}: {e}"))
    };
    let (main, url) = bind(&config.listen)?;
    let mut listeners = vec![(main, config.listen.clone(), Mount::Main)];
    let mut dedicated = Vec::new();
    for (name, addr) in &config.dedicated {
        let flavour = flavours::by_name(name).ok_or_else(|| format!("no flavour {name:?}"))?;
        let (listener, url) = bind(addr)?;
        dedicated.push((flavour.name(), url));
        listeners.push((listener, addr.clone(), Mount::Dedicated(flavour)));
    }
    // Announced in the order of the flavours, whatever the order of the options.
    dedicated.sort_by_key(|(name, _)| flavours::ALL.iter().position(|f| f.name() == *name));
    Ok((listeners, url, dedicated))
}

/// Requests handled at once per listener. A write waiting for its group's commit holds its
/// turn, so a group can hold at most this many writes: with 4 (twice the cores on 2 cores),
/// `--durable` creates stopped near 2,200/s, one fsync per 4 writes; with 16, creates ran at
/// 4.7–5.2k/s with p99 17–32 ms, with 32 at 6.2–6.3k/s and 11–12 ms (bench/README.md). The
/// SQLite readers, which cost memory, are bounded apart (`store`). Turns cost nothing while
/// unused: no thread waits for them.
fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 16).clamp(32, 64)
}

/// The socket's deadlines and caps (docs/deploy.md, "Limits").
fn socket_limits(config: &Config) -> tiny_http::Limits {
    let ms = |ms: i64| Duration::from_millis(ms.max(1) as u64);
    tiny_http::Limits {
        max_connections: config.max_connections,
        max_connections_per_address: config.max_connections_per_address,
        idle_timeout: ms(config.idle_timeout_ms),
        head_timeout: ms(config.head_timeout_ms),
        body_timeout: ms(config.body_timeout_ms),
        body_min_rate: config.body_min_rate,
        write_timeout: ms(config.write_timeout_ms),
        // One byte over the body limit, so that a handler can tell "too large" from "exact".
        max_buffered_body: crate::http::MAX_BODY_BYTES + 1,
    }
}

/// Starts serving a bound listener: tiny_http's accept loop and connection threads, which
/// run `handler` on each request.
fn serve(
    listener: std::net::TcpListener,
    addr: &str,
    tls: Option<&crate::tls::Tls>,
    options: tiny_http::Options,
) -> Result<tiny_http::Server, String> {
    tiny_http::Server::from_listener_with(listener, options).map_err(|e| match tls {
        None => format!("cannot listen on {addr}: {e}"),
        Some(tls) => format!("cannot listen on {addr} with {}: {e}", tls.files),
    })
}

/// The connections every listener shares: capped by `--max-connections` and by what the
/// open-files limit leaves when `requests` are handled at once (said on stderr), and by
/// `--max-connections-per-address` from one address.
fn connections(config: &Config, requests: usize) -> Arc<tiny_http::Connections> {
    let budget = crate::descriptors::budget(config, requests);
    eprintln!("{}", budget.summary());
    tiny_http::Connections::new(budget.connections, config.max_connections_per_address)
}

/// What a listener's connection threads run on each request: wait for a turn, then serve it.
fn handler(
    app: Arc<App>,
    mount: Mount,
    permits: Arc<Permits>,
    stopping: Arc<AtomicBool>,
) -> tiny_http::Handler {
    tiny_http::Handler(Arc::new(move |raw: tiny_http::Request| {
        let _turn = permits.acquire();
        serve_one(&app, mount, &stopping, raw);
    }))
}

fn serve_one(app: &App, mount: Mount, stopping: &AtomicBool, mut raw: tiny_http::Request) {
    let started = Instant::now();
    let mut req = Request::read_from(&mut raw);
    let logged_path = record::redact(raw.url());
    // Which flavour a request is for is known before its handler runs, so that a handler
    // that panics is still answered in its vendor's format.
    let target = target_of(mount, &req);
    let routed = answer(app, mount, target, stopping, &mut req);
    let journalled = !matches!(routed.target, Target::Admin) && app.journal.enabled();
    // Made before the body moves into tiny_http's answer.
    let kept_answer = match &routed.response {
        Some(response) if journalled => record::kept_answer(response, &req),
        _ => String::new(),
    };
    let answer = routed.response.map(|response| {
        let mut out =
            tiny_http::Response::from_data(response.body).with_status_code(response.status);
        for (name, value) in &response.headers {
            if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                out.add_header(header);
            }
        }
        (response.status, out)
    });
    let status = answer.as_ref().map_or(0, |(status, _)| *status);
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    crate::log::line(format!(
        "{} {} {} {:.1}ms",
        req.method, logged_path, status, elapsed_ms
    ));
    let flavour = match routed.target {
        Target::Flavour(flavour) => Some(flavour),
        _ => None,
    };
    let exchange = record::Exchange {
        req: &req,
        flavour,
        journalled,
        status,
        answer: kept_answer,
        elapsed_ms,
    };
    record::settle(app, exchange);
    // Journalled first, so that a client that has its answer finds its request in the
    // journal. The answer is written once the handler has given its turn back: a client that
    // does not read holds its connection's thread (until the write timeout), never a turn.
    match answer {
        Some((_, out)) => {
            let _ = raw.hand_back(out);
        }
        None => raw.abort(),
    }
}

/// The answer to a request: its handler's, or a 503 while shutting down, or a 500 when the
/// handler panicked.
fn answer(
    app: &App,
    mount: Mount,
    target: Target,
    stopping: &AtomicBool,
    req: &mut Request,
) -> Routed {
    if stopping.load(Ordering::SeqCst) {
        // Shutting down: a request on a connection still open is refused, and the client
        // told to connect again (to the next process).
        return Routed {
            response: Some(error_for(app, target, 503).with_header("Connection", "close")),
            target,
        };
    }
    catch_unwind(AssertUnwindSafe(|| route(app, mount, target, req))).unwrap_or_else(|_| Routed {
        response: Some(error_for(app, target, 500)),
        target,
    })
}

/// An error answer with no handler behind it (a panic, a shutdown): in the vendor's format
/// for a flavour's request.
fn error_for(app: &App, target: Target, status: u16) -> Response {
    match target {
        Target::Flavour(flavour) => flavour.error_response(app, status),
        _ if status == 503 => Response::json(status, &json!({"error": "shutting down"})),
        _ => Response::json(status, &json!({"error": "internal server error"})),
    }
}

/// What a request was for, as far as the journal and the panic fallback care.
#[derive(Clone, Copy)]
enum Target {
    Admin,
    Flavour(&'static dyn Flavour),
    Other,
}

/// The flavour (or admin API) a request goes to, by its listener and path.
fn target_of(mount: Mount, req: &Request) -> Target {
    match mount {
        Mount::Dedicated(flavour) => Target::Flavour(flavour),
        Mount::Main if under(&req.path, "/_admin") => Target::Admin,
        Mount::Main => flavours::ALL
            .iter()
            .find(|f| under(&req.path, f.prefix()))
            .map_or(Target::Other, |f| Target::Flavour(*f)),
    }
}

struct Routed {
    target: Target,
    /// `None`: close the connection without answering (an injected fault).
    response: Option<Response>,
}

/// Dispatch: the admin fronts, a flavour, `/healthz`, or a 404 that lists the prefixes.
fn route(app: &App, mount: Mount, target: Target, req: &mut Request) -> Routed {
    if !matches!(target, Target::Other) {
        // Other instances on the database may have moved the clock or set faults. When the
        // database does not answer, the request goes on and meets the same (a 503).
        let _ = app.controls().pull();
    }
    let response = match target {
        Target::Flavour(flavour) => flavour_request(app, mount, flavour, req),
        Target::Admin => Some(admin_request(app, req)),
        Target::Other if req.path == "/healthz" => Some(healthz(app, req)),
        Target::Other => {
            let prefixes: Vec<&str> = flavours::ALL.iter().map(|f| f.prefix()).collect();
            Some(Response::json(
                404,
                &json!({"error": "not found", "flavours": prefixes}),
            ))
        }
    };
    Routed { target, response }
}

/// `/_admin/` and `/_admin/console/...` go to the console (HTML), the rest of `/_admin` to
/// the admin API (JSON); a change is then shared with other instances on the database.
fn admin_request(app: &App, req: &Request) -> Response {
    let response =
        crate::console::handle(app, req).unwrap_or_else(|| crate::admin_api::handle(app, req));
    if req.method != "GET" && req.method != "HEAD" {
        if let Err(e) = app.controls().push() {
            crate::log::line(format!("admin: sharing the clock and faults failed: {e}"));
        }
    }
    response
}

/// A flavour's request, at the vendor's own path: a fault's answer, or the flavour's.
/// `None`: close the connection without answering.
fn flavour_request(
    app: &App,
    mount: Mount,
    flavour: &dyn Flavour,
    req: &mut Request,
) -> Option<Response> {
    if let Mount::Main = mount {
        req.path = req.path[flavour.prefix().len()..].to_string();
        req.mount = flavour.prefix().to_string();
    }
    // This request's deviations from the vendor's contract start here, for the fault answer
    // as for the flavour's (a thread's previous request must not leak into its entry).
    crate::conformance::begin(app.settings.lenient);
    // The document describes the API, it is not part of it: no authentication, and before
    // the faults, so that a test that breaks the API can still read how it should work.
    // Other methods go on to the flavour, which answers the vendor's 405.
    if !flavours::is_document_request(req) {
        if let Some(answer) = fault(app, flavour, req) {
            return answer;
        }
    }
    // All of a request's reads see one WAL snapshot (a write ends it: bench/README.md).
    Some(crate::store::Store::one_snapshot(|| {
        flavour.handle(app, req)
    }))
}

/// What an injected fault makes of a request, if a rule matches and answers for it: its
/// answer, or `None` to drop the connection. A rule that only delays lets it go on.
fn fault(app: &App, flavour: &dyn Flavour, req: &Request) -> Option<Option<Response>> {
    let fault = app
        .controls()
        .take_fault(flavour.name(), &req.method, &req.path)?;
    if let Some(ms) = fault.delay_ms {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    if fault.drop {
        return Some(None);
    }
    let status = fault.status?;
    Some(Some(match fault.body {
        Some(body) => Response::json(status, &body),
        None => flavour.error_response(app, status),
    }))
}

/// `GET /healthz` (and `HEAD`); any other method is 405. 503 when the database does not
/// answer (PostgreSQL) or cannot be written (SQLite).
fn healthz(app: &App, req: &Request) -> Response {
    match req.method.as_str() {
        "GET" | "HEAD" => match app.store.reachable() {
            Ok(()) => Response::json(
                200,
                &json!({"status": "ok", "log_lines_dropped": crate::log::dropped()}),
            ),
            Err(e) => Response::json(
                503,
                &json!({"status": "unavailable", "database": e.to_string()}),
            ),
        },
        _ => Response::json(405, &json!({"error": "use GET or HEAD"}))
            .with_header("Allow", "GET, HEAD"),
    }
}

/// True when `path` is `prefix` itself or below it (`/a`, `/a/...`, but not `/ab`).
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(under("/alpha", "/alpha"));
        assert!(under("/alpha/clients", "/alpha"));
        assert!(!under("/alphaclients", "/alpha"));
    }
}
