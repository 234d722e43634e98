//! Clientele inside a Rust test: a whole server started in-process on a free port, with an
//! in-memory database and mail captured in the outbox, stopped when dropped.
//!
//! ```
//! let server = clientele::testing::Server::start();
//! let url = format!("{}/healthz", server.url());
//! // ... point the code under test at server.url() ...
//! assert!(server.mails().is_empty());
//! ```

use serde_json::Value;

use crate::app::App;
use crate::server::Running;

/// The admin token of in-process servers, for tests that drive `/_admin` over HTTP.
pub const ADMIN_TOKEN: &str = "clientele-testing";

pub struct Server {
    running: Option<Running>,
    mail_dir: std::path::PathBuf,
}

impl Server {
    /// The demo tenants, an in-memory database, a free port.
    pub fn start() -> Server {
        Server::with_args(&["--demo"]).expect("starting an in-process Clientele")
    }

    /// Starts with extra `serve` options (`--demo`, `--link-ttl 1s`, ...). The listener,
    /// database (":memory:"), mail (an mbox in a temporary directory) and admin token are
    /// set for you; options given here come after them and win.
    pub fn with_args(args: &[&str]) -> Result<Server, String> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mail_dir = std::env::temp_dir().join(format!(
            "clientele-testing-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&mail_dir).map_err(|e| e.to_string())?;
        let mbox = format!("mbox:{}", mail_dir.join("mail.mbox").display());
        let mut all = vec![
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--mail",
            &mbox,
            "--admin-token",
            ADMIN_TOKEN,
            "--workers",
            "4",
        ];
        all.extend_from_slice(args);
        let options = crate::cli::serve_options(&all)?;
        let running = crate::server::start(options)?;
        Ok(Server {
            running: Some(running),
            mail_dir,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`; flavours live under `/mx`, ...
    pub fn url(&self) -> &str {
        self.running().url()
    }

    pub fn app(&self) -> &App {
        self.running().app()
    }

    /// Everything mailed so far, as `GET /_admin/mail` shows it (oldest first).
    pub fn mails(&self) -> Vec<Value> {
        self.mails_to(None)
    }

    /// The links mailed to `to`, oldest first.
    pub fn links_to(&self, to: &str) -> Vec<String> {
        self.mails_to(Some(to))
            .iter()
            .flat_map(|m| m["links"].as_array().cloned().unwrap_or_default())
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect()
    }

    fn mails_to(&self, to: Option<&str>) -> Vec<Value> {
        let mailbox = self
            .app()
            .store
            .read(|c| crate::mail::mailbox(c, to))
            .expect("reading the outbox");
        mailbox["messages"].as_array().cloned().unwrap_or_default()
    }

    /// Deletes all data and seeds the startup tenants again.
    pub fn reset(&self) {
        self.app().reset().expect("resetting");
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("running until dropped")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}
