//! Clientele inside a Rust test: a whole server started in-process on a free port, with an
//! in-memory database and mail captured in the outbox, stopped when dropped. Chosen passwords
//! are hashed at the fast cost (`--fast-password-hashing`) unless the configuration marks a
//! deployment (TLS, an https public URL), with which that mode is refused.
//!
//! ```
//! let server = clientele::testing::Server::start();
//! let url = format!("{}/healthz", server.url());
//! // ... point the code under test at server.url() ...
//! assert!(server.mails().is_empty());
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::app::App;
use crate::config::Config;
use crate::server::Running;

/// The admin token of in-process servers, for tests that drive `/_admin` over HTTP.
pub const ADMIN_TOKEN: &str = "clientele-testing";

pub struct Server {
    running: Option<Running>,
    mail_dir: PathBuf,
}

/// A directory of its own for an in-process server's mbox.
fn temporary_mail_dir() -> Result<PathBuf, String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let mail_dir = std::env::temp_dir().join(format!(
        "clientele-testing-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&mail_dir).map_err(|e| e.to_string())?;
    Ok(mail_dir)
}

impl Server {
    /// The demo tenants, an in-memory database, a free port.
    pub fn start() -> Server {
        let config = Config {
            demo: true,
            ..Config::default()
        };
        Server::with_config(config).expect("starting an in-process Clientele")
    }

    /// Starts with `config`, except for what an in-process server always has: a free port,
    /// an in-memory database, mail in an mbox of a temporary directory, the admin token
    /// `ADMIN_TOKEN`, 4 requests at once, and fast password hashing (unless the config has
    /// TLS or an https public URL).
    pub fn with_config(config: Config) -> Result<Server, String> {
        let mail_dir = temporary_mail_dir()?;
        let config = Config {
            listen: "127.0.0.1:0".into(),
            db: ":memory:".into(),
            mail: format!("mbox:{}", mail_dir.join("mail.mbox").display()),
            admin_token: Some(ADMIN_TOKEN.into()),
            workers: Some(4),
            ..config
        };
        Server::started(config, mail_dir)
    }

    /// Starts with extra `serve` options (`--demo`, `--link-ttl 1s`, ...). The listener,
    /// database (":memory:"), mail (an mbox in a temporary directory), admin token and fast
    /// password hashing (unless the options mark a deployment) are set for you; options
    /// given here come after them and win.
    pub fn with_args(args: &[&str]) -> Result<Server, String> {
        let mail_dir = temporary_mail_dir()?;
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
        let config = crate::cli::serve_config(&all)?;
        Server::started(config, mail_dir)
    }

    fn started(mut config: Config, mail_dir: PathBuf) -> Result<Server, String> {
        // A test server's passwords protect nothing: hashing them slowly only slows tests.
        config.fast_password_hashing |= config.deployment_mark().is_none();
        match crate::server::start(config) {
            Ok(running) => Ok(Server {
                running: Some(running),
                mail_dir,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&mail_dir);
                Err(e)
            }
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`; each flavour lives under its prefix.
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
