//! The shared harness: spawn the binary on port 0 with a temporary directory, read the
//! readiness line, make HTTP calls, and kill the process on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ADMIN_TOKEN: &str = "test-admin-token";
/// `PROCESSOR-1234:API-KEY-4567`, the demo processor (MX's own example).
pub const MX_DEMO_AUTH: &str = "Basic UFJPQ0VTU09SLTEyMzQ6QVBJLUtFWS00NTY3";
pub const MX_ACCEPT: &str = "application/vnd.mx.provisioning.v1+json";

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "clientele-it-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    /// Removes the directory (and its PostgreSQL schema), unless `CLIENTELE_KEEP_TEST_DIRS`
    /// is set, to read the servers' `stderr.log` after a run.
    fn drop(&mut self) {
        if std::env::var_os("CLIENTELE_KEEP_TEST_DIRS").is_some() {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
        if let Some(base) = postgres() {
            if let Ok(mut client) = clientele::store::postgres_client(&base) {
                let _ = client.batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {} CASCADE",
                    schema_of(self)
                ));
            }
        }
    }
}

/// The PostgreSQL database the suite runs against instead of SQLite files, when
/// `CLIENTELE_TEST_POSTGRES` names one: a URL whose user may create schemas there. Each
/// server directory gets a schema of its own in it.
pub fn postgres() -> Option<String> {
    std::env::var("CLIENTELE_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// For tests of what only a SQLite file has (its lock file, its WAL, copying it): true, with
/// a message, when the suite runs on PostgreSQL.
pub fn sqlite_only(what: &str) -> bool {
    if postgres().is_some() {
        eprintln!("not run on PostgreSQL: {what} is about the SQLite file");
        return true;
    }
    false
}

/// The schema of a server directory (`clientele-it-PID-N` → `it_PID_N`).
fn schema_of(dir: &TempDir) -> String {
    let name = dir.path().file_name().unwrap_or_default().to_string_lossy();
    name.trim_start_matches("clientele-").replace('-', "_")
}

/// What `--db` is for a server in `dir`: its SQLite file, or its schema's URL.
pub fn database_of(dir: &TempDir) -> String {
    let Some(base) = postgres() else {
        return dir.join("clientele.db").display().to_string();
    };
    let schema = schema_of(dir);
    static CITEXT: std::sync::Once = std::sync::Once::new();
    let mut client =
        clientele::store::postgres_client(&base).expect("connecting to CLIENTELE_TEST_POSTGRES");
    CITEXT.call_once(|| {
        // Once per database, in `public`, which every test schema's search path ends with.
        let _ = client.batch_execute("CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public");
    });
    client
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .expect("creating the test's schema");
    let glue = if base.contains('?') { '&' } else { '?' };
    format!("{base}{glue}options=-csearch_path%3D{schema}%2Cpublic")
}

/// A direct connection to a server's database, to check what was really stored (or to
/// change it behind the server's back), through the same seam the server uses.
pub enum TestDb {
    Sqlite(rusqlite::Connection),
    Postgres(Box<std::cell::RefCell<clientele::db::postgres::PgConn>>),
}

impl TestDb {
    pub fn open(database: &str) -> TestDb {
        if postgres().is_some() {
            let client = clientele::store::postgres_client(database)
                .expect("connecting to the test's schema");
            return TestDb::Postgres(Box::new(
                clientele::db::postgres::PgConn::new(client).into(),
            ));
        }
        let conn = rusqlite::Connection::open(database).expect("opening the database file");
        conn.busy_timeout(Duration::from_secs(5))
            .expect("setting a busy timeout");
        TestDb::Sqlite(conn)
    }

    pub fn with<T>(&self, f: impl FnOnce(&clientele::db::Connection) -> T) -> T {
        match self {
            TestDb::Sqlite(conn) => f(&clientele::db::Connection::sqlite(conn)),
            TestDb::Postgres(conn) => f(&clientele::db::Connection::postgres(conn)),
        }
    }

    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl clientele::db::Params,
        f: impl FnOnce(&clientele::db::Row<'_>) -> clientele::db::Result<T>,
    ) -> clientele::db::Result<T> {
        self.with(|c| c.query_row(sql, params, f))
    }

    /// Every row of a query, each mapped by `f`.
    pub fn rows<T>(
        &self,
        sql: &str,
        params: impl clientele::db::Params,
        f: impl FnMut(&clientele::db::Row<'_>) -> clientele::db::Result<T>,
    ) -> clientele::db::Result<Vec<T>> {
        self.with(|c| c.prepare(sql)?.query_map(params, f)?.collect())
    }

    pub fn execute(
        &self,
        sql: &str,
        params: impl clientele::db::Params,
    ) -> clientele::db::Result<usize> {
        self.with(|c| c.execute(sql, params))
    }
}

/// How to start a server; `Server::start()` is the common case (demo tenants, admin API).
pub struct Builder {
    demo: bool,
    /// Pass `--admin-token` (the fixture setup); off, the server runs as a deployment.
    admin: bool,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    /// PEM of the certificate the server presents under `tls`, for the client to trust.
    trusted: Option<Vec<u8>>,
    /// stderr is a pipe nobody reads (instead of `stderr.log`).
    stderr_unread: bool,
    /// `--db`, when not the directory's own (another server's database).
    database: Option<String>,
    /// Limits on open files (soft, hard) the process starts with, set through `prlimit`.
    open_files: Option<(u64, u64)>,
}

impl Builder {
    pub fn no_demo(mut self) -> Self {
        self.demo = false;
        self
    }

    /// Without `--admin-token`, as a deployment runs.
    pub fn no_admin(mut self) -> Self {
        self.admin = false;
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Connects stderr to a pipe that is kept open and never read: once it is full (64 KiB
    /// on Linux) every write to it blocks.
    pub fn stderr_unread(mut self) -> Self {
        self.stderr_unread = true;
        self
    }

    /// Starts the process with these limits on open files (soft, hard), as `ulimit -n` or
    /// systemd's `LimitNOFILE=` would.
    pub fn open_files(mut self, soft: u64, hard: u64) -> Self {
        self.open_files = Some((soft, hard));
        self
    }

    /// Serves from this `--db` instead of the directory's own.
    pub fn database(mut self, database: &str) -> Self {
        self.database = Some(database.to_string());
        self
    }

    /// Serves from `other`'s database (a second instance on one PostgreSQL database).
    pub fn sharing_database_with(mut self, other: &Server) -> Self {
        self.database = Some(other.database.clone());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Serves HTTPS with this certificate and key; the server's calls trust the certificate.
    pub fn tls(mut self, cert: &Path, key: &Path) -> Self {
        self.trusted = Some(std::fs::read(cert).expect("reading the test certificate"));
        self.arg("--tls-cert")
            .arg(cert.display().to_string())
            .arg("--tls-key")
            .arg(key.display().to_string())
    }

    pub fn start(self) -> Server {
        self.start_in(TempDir::new())
    }

    /// Starts on an existing directory (its `clientele.db`), e.g. to restart on the same file.
    pub fn start_in(self, dir: TempDir) -> Server {
        let database = self.database.unwrap_or_else(|| database_of(&dir));
        let binary = env!("CARGO_BIN_EXE_clientele");
        // prlimit sets the limits and then becomes the server (exec): the same process.
        let mut command = match self.open_files {
            Some((soft, hard)) => {
                let mut command = Command::new("prlimit");
                command.arg(format!("--nofile={soft}:{hard}")).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--db")
            .arg(&database)
            .arg("--mail")
            .arg(format!("mbox:{}", dir.join("clientele.mbox").display()));
        if self.admin {
            command.arg("--admin-token").arg(ADMIN_TOKEN);
        }
        if self.demo {
            command.arg("--demo");
        }
        command.args(&self.args);
        for (k, v) in &self.envs {
            command.env(k, v);
        }
        let stderr = std::fs::File::create(dir.join("stderr.log")).expect("stderr log");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if self.stderr_unread {
                Stdio::piped()
            } else {
                stderr.into()
            });
        let mut child = command.spawn().expect("spawning clientele");
        let unread_stderr = child.stderr.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("reading the readiness line");
        let Some(url) = line.trim_end().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "no readiness line (got {line:?}); stderr:\n{}",
                std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
            );
        };
        Server {
            url: url.to_string(),
            agent: match &self.trusted {
                Some(cert) => agent_trusting(cert),
                None => agent(),
            },
            child,
            _stdout: stdout,
            _unread_stderr: unread_stderr,
            dir: Some(dir),
            database,
        }
    }
}

pub struct Server {
    pub url: String,
    /// The client for `get`, `post`, `call`: it trusts the server's certificate under TLS.
    pub agent: ureq::Agent,
    child: Child,
    _stdout: BufReader<ChildStdout>,
    _unread_stderr: Option<ChildStderr>,
    dir: Option<TempDir>,
    /// Its `--db`.
    database: String,
}

impl Server {
    pub fn start() -> Server {
        Server::builder().start()
    }

    pub fn builder() -> Builder {
        Builder {
            demo: true,
            admin: true,
            args: Vec::new(),
            envs: Vec::new(),
            trusted: None,
            stderr_unread: false,
            database: None,
            open_files: None,
        }
    }

    pub fn dir(&self) -> &TempDir {
        self.dir.as_ref().expect("the directory is kept until drop")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir().join("clientele.db")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir().join("stderr.log")).unwrap_or_default()
    }

    /// Waits (at most 5 s) until stderr contains `text`; true if it did.
    pub fn stderr_shows(&self, text: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.stderr().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Starts a server with a dedicated `--listen-<flavour>` listener; returns it and the
    /// listener's base URL (announced on stderr before the readiness line).
    pub fn with_dedicated(flavour: &str) -> (Server, String) {
        let server = Server::builder()
            .arg(format!("--listen-{flavour}"))
            .arg("127.0.0.1:0")
            .start();
        let announced = format!("{flavour} listening on ");
        let url = server
            .stderr()
            .lines()
            .find_map(|l| {
                l.split_once(&announced)
                    .map(|(_, url)| url.trim().to_string())
            })
            .expect("the dedicated listener is announced on stderr");
        (server, url)
    }

    /// The unread stderr pipe of a server started with `stderr_unread`, to read it after all.
    pub fn take_unread_stderr(&mut self) -> ChildStderr {
        self._unread_stderr
            .take()
            .expect("started with stderr_unread")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Descriptors the process has open now.
    pub fn open_descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("reading the server's descriptors")
            .count()
    }

    /// Sockets among the descriptors the process has open now (listeners and connections).
    pub fn open_sockets(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("reading the server's descriptors")
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    }

    /// Threads the process runs now.
    pub fn threads(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("reading the server's status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("Threads:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("a Threads line")
    }

    /// The connections the server said at startup it holds at most.
    pub fn connection_cap(&self) -> usize {
        assert!(self.stderr_shows("connections at once"));
        self.stderr()
            .lines()
            .find_map(|line| line.strip_prefix("clientele: at most "))
            .and_then(|rest| rest.split(' ').next()?.parse().ok())
            .expect("the startup line about connections")
    }

    /// Sends SIGTERM and waits (at most 10 s) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait_exit()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("running kill");
        assert!(status.success());
    }

    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for clientele") {
                return status;
            }
            assert!(Instant::now() < deadline, "clientele did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process (SIGKILL) and hands back its directory, to start again on it.
    pub fn kill(mut self) -> TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.take().expect("the directory is kept until drop")
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.call("GET", path, headers, None)
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        call_with(
            &self.agent,
            "POST",
            &format!("{}{path}", self.url),
            headers,
            Some(body.as_bytes()),
        )
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        call_with(
            &self.agent,
            method,
            &format!("{}{path}", self.url),
            headers,
            body,
        )
    }

    /// A call to the admin API with the right token.
    pub fn admin(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        self.call(
            method,
            &format!("/_admin{path}"),
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ],
            body.map(str::as_bytes),
        )
    }

    /// Opens the server's database directly, to check what was really stored.
    pub fn db(&self) -> TestDb {
        TestDb::open(&self.database)
    }

    pub fn count(&self, table: &str) -> i64 {
        self.db()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("counting rows")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} (status {})", self.body, self.status))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent_config() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
}

fn agent() -> ureq::Agent {
    agent_config().build().into()
}

/// A client that trusts only this (PEM) certificate, over rustls with ring.
pub fn agent_trusting(cert_pem: &[u8]) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let cert = Certificate::from_pem(cert_pem).expect("a PEM certificate");
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::new_with_certs(&[cert]))
        .build();
    agent_config().tls_config(tls).build().into()
}

/// One HTTP call; 4xx and 5xx come back as replies, not errors.
pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
    call_with(&agent(), method, url, headers, body)
}

/// `call` with a given client (e.g. `Server::agent`, which trusts a test certificate).
pub fn call_with(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    try_call_with(agent, method, url, headers, body)
        .unwrap_or_else(|e| panic!("{method} {url} failed: {e}"))
}

/// `call` to a server that may be gone: `Err` when no answer came.
pub fn try_call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Reply, String> {
    try_call_with(&agent(), method, url, headers, body)
}

fn try_call_with(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Reply, String> {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let result = match body {
        Some(bytes) => agent.run(request.body(bytes.to_vec()).expect("a valid request")),
        None => agent.run(request.body(()).expect("a valid request")),
    };
    let mut response = result.map_err(|e| e.to_string())?;
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Creates (or re-invites) an MX client of the demo processor, as MX's documented curl does.
pub fn mx_invite(server: &Server, email: &str) -> Reply {
    let body = serde_json::json!({"client": {"company_name": "MX", "email": email,
                                             "first_name": "John", "last_name": "Foo"}});
    server.post(
        "/mx/clients",
        &[
            ("Accept", MX_ACCEPT),
            ("Authorization", MX_DEMO_AUTH),
            ("Content-Type", "application/json"),
        ],
        &body.to_string(),
    )
}

/// An access token of the demo MakeLeaps partner (client credentials).
pub fn makeleaps_demo_token(server: &Server) -> String {
    let reply = server.post(
        "/makeleaps/user/oauth2/token/",
        &[
            (
                "Authorization",
                "Basic ZGVtby1jbGllbnQtaWQ6ZGVtby1jbGllbnQtc2VjcmV0",
            ),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "grant_type=client_credentials",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["access_token"].as_str().unwrap().to_string()
}

/// The admin mailbox's messages to `to`.
pub fn mails_to(server: &Server, to: &str) -> Vec<Value> {
    let reply = server.admin("GET", &format!("/mail?to={to}"), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits (at most `timeout`) until every mail to `to` has the given status.
pub fn wait_mail_status(server: &Server, to: &str, status: &str, timeout: Duration) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let mails = mails_to(server, to);
        if (!mails.is_empty() && mails.iter().all(|m| m["status"] == status))
            || Instant::now() > deadline
        {
            return mails;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The path (without the origin) of the newest link mailed to `to`.
pub fn newest_link_path(server: &Server, to: &str) -> String {
    let mails = mails_to(server, to);
    let link = mails.last().expect("a mail")["links"][0]
        .as_str()
        .expect("a link")
        .to_string();
    link.strip_prefix(&server.url)
        .expect("links point at the server")
        .to_string()
}

/// A form POST with cookies; returns the reply.
pub fn post_form(server: &Server, path: &str, cookies: &str, fields: &[(&str, &str)]) -> Reply {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    server.call(
        "POST",
        path,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", cookies),
        ],
        Some(body.as_bytes()),
    )
}

/// `name=value` of a `Set-Cookie` header of `reply` named `name`.
pub fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap_or("").to_string())
        .find(|pair| pair.starts_with(&format!("{name}=")))
}

/// Runs the binary with these arguments and environment (and no CLIENTELE_ADMIN_TOKEN from
/// outside) for at most 10 s, killing it then; what it wrote and how it ended.
pub fn run_briefly(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clientele"));
    command
        .args(args)
        .env_remove("CLIENTELE_ADMIN_TOKEN")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawning clientele");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("waiting").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    child.wait_with_output().expect("collecting the output")
}
