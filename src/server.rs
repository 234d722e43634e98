//! Listeners, the worker pool, dispatch by prefix, and shutdown.
//!
//! The main listener serves every flavour under its prefix, plus `/healthz` and `/_admin`;
//! each `--listen-<flavour>` listener serves one flavour at its vendor's root paths. Every
//! listener has its own workers looping on tiny_http's `recv()` (tiny_http gives each
//! connection a thread and hands us whole requests). A handler that panics is answered 500
//! and the worker carries on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use serde_json::json;

use crate::app::{App, Config};
use crate::cli::ServeOptions;
use crate::flavours::Flavour;
use crate::http::{Request, Response};
use crate::seed;
use crate::store::{Durability, Store};

/// What a listener serves.
#[derive(Clone, Copy, Debug)]
enum Mount {
    /// Every flavour under its prefix, `/healthz` and `/_admin`.
    Main,
    /// One flavour at the vendor's root paths.
    Dedicated(Flavour),
}

struct Listener {
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
}

/// A started server. Dropping it does not stop it; call `shutdown`.
pub struct Running {
    url: String,
    dedicated: Vec<(Flavour, String)>,
    app: Arc<App>,
    listeners: Vec<Listener>,
    stopping: Arc<AtomicBool>,
}

impl Running {
    /// The main listener's base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `--listen-<flavour>` listeners and their base URLs.
    pub fn dedicated_urls(&self) -> &[(Flavour, String)] {
        &self.dedicated
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Stops accepting, lets every request in flight finish, and returns.
    pub fn shutdown(self) {
        self.stopping.store(true, Ordering::SeqCst);
        for listener in &self.listeners {
            for _ in 0..listener.workers.len() {
                listener.server.unblock();
            }
        }
        for listener in self.listeners {
            for worker in listener.workers {
                let _ = worker.join();
            }
        }
    }
}

/// Opens the store, seeds startup tenants, binds every listener and starts the workers.
pub fn start(options: ServeOptions) -> Result<Running, String> {
    let durability = if options.durable {
        Durability::PowerLoss
    } else {
        Durability::Process
    };
    let store = Store::open(&options.db, durability)
        .map_err(|e| format!("cannot open the database {:?}: {e}", options.db))?;
    let startup_seed = startup_seed(&options)?;

    let main = bind(&options.listen)?;
    let url = format!("http://{}", main.server_addr());
    let public_url = options
        .public_url
        .clone()
        .unwrap_or_else(|| url.clone())
        .trim_end_matches('/')
        .to_string();
    let mut servers = vec![(main, Mount::Main)];
    let mut dedicated = Vec::new();
    for (flavour, addr) in dedicated_listeners(&options) {
        let server = bind(addr)?;
        dedicated.push((flavour, format!("http://{}", server.server_addr())));
        servers.push((server, Mount::Dedicated(flavour)));
    }

    let app = Arc::new(App {
        store,
        clock: Default::default(),
        credentials: Default::default(),
        config: Config {
            public_url,
            link_ttl_ms: options.link_ttl,
            admin_token: options.admin_token.clone(),
            nueve09_min_balance_cents: options.nueve09_min_balance,
        },
        startup_seed,
    });
    let now = app.clock.now_ms();
    app.store
        .write(|tx| {
            app.startup_seed
                .iter()
                .try_for_each(|doc| doc.apply(tx, now))
        })
        .map_err(|e| format!("cannot seed the startup tenants: {e}"))?;

    let workers_per_listener = options.workers.unwrap_or_else(default_workers).max(1);
    let stopping = Arc::new(AtomicBool::new(false));
    let listeners = servers
        .into_iter()
        .map(|(server, mount)| {
            let server = Arc::new(server);
            let workers = (0..workers_per_listener)
                .map(|i| spawn_worker(i, server.clone(), mount, app.clone(), stopping.clone()))
                .collect();
            Listener { server, workers }
        })
        .collect();
    Ok(Running {
        url,
        dedicated,
        app,
        listeners,
        stopping,
    })
}

fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(4, 16)
}

fn bind(addr: &str) -> Result<tiny_http::Server, String> {
    tiny_http::Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))
}

fn dedicated_listeners(options: &ServeOptions) -> Vec<(Flavour, &str)> {
    [
        (Flavour::Mx, &options.listen_mx),
        (Flavour::ShieldConex, &options.listen_shieldconex),
        (Flavour::Nueve09, &options.listen_nueve09),
        (Flavour::MakeLeaps, &options.listen_makeleaps),
    ]
    .into_iter()
    .filter_map(|(flavour, addr)| addr.as_deref().map(|a| (flavour, a)))
    .collect()
}

/// `--demo` and `--seed FILE`, parsed and with secrets hashed once, for startup and resets.
fn startup_seed(options: &ServeOptions) -> Result<Vec<seed::Document>, String> {
    let mut docs = Vec::new();
    if options.demo {
        docs.push(seed::demo());
    }
    if let Some(path) = &options.seed {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the seed file {}: {e}", path.display()))?;
        let mut doc = seed::Document::parse(&bytes)
            .map_err(|e| format!("invalid seed file {}: {e}", path.display()))?;
        doc.prepare(&crate::auth::hash_secret);
        docs.push(doc);
    }
    Ok(docs)
}

fn spawn_worker(
    index: usize,
    server: Arc<tiny_http::Server>,
    mount: Mount,
    app: Arc<App>,
    stopping: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("worker-{index}"))
        .spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match server.recv() {
                    Ok(raw) => serve_one(&app, mount, raw),
                    Err(_) if stopping.load(Ordering::SeqCst) => break,
                    Err(e) => eprintln!("clientele: accepting a request failed: {e}"),
                }
            }
        })
        .expect("spawning a worker thread")
}

fn serve_one(app: &App, mount: Mount, mut raw: tiny_http::Request) {
    let started = Instant::now();
    let mut req = Request::read_from(&mut raw);
    let logged_path = redact(raw.url());
    let response = catch_unwind(AssertUnwindSafe(|| route(app, mount, &mut req)))
        .unwrap_or_else(|_| Response::json(500, &json!({"error": "internal server error"})));
    let status = response.status;
    let mut out = tiny_http::Response::from_data(response.body).with_status_code(status);
    for (name, value) in &response.headers {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            out.add_header(header);
        }
    }
    let _ = raw.respond(out);
    eprintln!(
        "{} {} {} {:.1}ms",
        req.method,
        logged_path,
        status,
        started.elapsed().as_secs_f64() * 1000.0
    );
}

fn route(app: &App, mount: Mount, req: &mut Request) -> Response {
    match mount {
        Mount::Dedicated(flavour) => flavour.handle(app, req),
        Mount::Main => {
            if req.path == "/healthz" {
                return Response::json(200, &json!({"status": "ok"}));
            }
            if under(&req.path, "/_admin") {
                return crate::admin::handle(app, req);
            }
            for flavour in Flavour::ALL {
                if under(&req.path, flavour.prefix()) {
                    req.path = req.path[flavour.prefix().len()..].to_string();
                    req.mount = flavour.prefix().to_string();
                    return flavour.handle(app, req);
                }
            }
            let prefixes: Vec<&str> = Flavour::ALL.iter().map(|f| f.prefix()).collect();
            Response::json(404, &json!({"error": "not found", "flavours": prefixes}))
        }
    }
}

/// True when `path` is `prefix` itself or below it (`/mx`, `/mx/...`, but not `/mxfoo`).
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The path and query for the log, with long opaque segments (one-time tokens) elided.
fn redact(url: &str) -> String {
    url.split('/')
        .map(|segment| {
            let opaque = segment.len() >= 32
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if opaque {
                "…"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(under("/mx", "/mx"));
        assert!(under("/mx/clients", "/mx"));
        assert!(!under("/mxclients", "/mx"));
    }

    #[test]
    fn tokens_are_not_logged() {
        let token = crate::ids::secret_token();
        let logged = redact(&format!("/mx/dashboard/register/{token}"));
        assert_eq!(logged, "/mx/dashboard/register/…");
    }
}
