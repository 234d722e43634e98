//! # Simple usage
//!
//! ## Creating the server
//!
//! The easiest way to create a server is to call `Server::http()`.
//!
//! The `http()` function returns an `IoResult<Server>` which will return an error
//! in the case where the server creation fails (for example if the listening port is already
//! occupied).
//!
//! ```no_run
//! let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! ```
//!
//! A newly-created `Server` will immediately start listening for incoming connections and HTTP
//! requests.
//!
//! ## Receiving requests
//!
//! Calling `server.recv()` will block until the next request is available.
//! This function returns an `IoResult<Request>`, so you need to handle the possible errors.
//!
//! ```no_run
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//!
//! loop {
//!     // blocks until the next request is received
//!     let request = match server.recv() {
//!         Ok(rq) => rq,
//!         Err(e) => { println!("error: {}", e); break }
//!     };
//!
//!     // do something with the request
//!     // ...
//! }
//! ```
//!
//! In a real-case scenario, you will probably want to spawn multiple worker tasks and call
//! `server.recv()` on all of them. Like this:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::thread;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! let server = Arc::new(server);
//! let mut guards = Vec::with_capacity(4);
//!
//! for _ in (0 .. 4) {
//!     let server = server.clone();
//!
//!     let guard = thread::spawn(move || {
//!         loop {
//!             let rq = server.recv().unwrap();
//!
//!             // ...
//!         }
//!     });
//!
//!     guards.push(guard);
//! }
//! ```
//!
//! If you don't want to block, you can call `server.try_recv()` instead.
//!
//! ## Handling requests
//!
//! The `Request` object returned by `server.recv()` contains informations about the client's request.
//! The most useful methods are probably `request.method()` and `request.url()` which return
//! the requested method (`GET`, `POST`, etc.) and url.
//!
//! To handle a request, you need to create a `Response` object. See the docs of this object for
//! more infos. Here is an example of creating a `Response` from a file:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! ```
//!
//! All that remains to do is call `request.respond()`:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! # let request = server.recv().unwrap();
//! # let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! let _ = request.respond(response);
//! ```
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![allow(clippy::match_like_matches_macro)]

#[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
use zeroize::Zeroizing;

use std::error::Error;
use std::io::Error as IoError;
use std::io::ErrorKind as IoErrorKind;
use std::io::Result as IoResult;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use client::ClientConnection;
use connection::Connection;
use connections::{Phase, Place};
use util::MessagesQueue;

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
pub use connections::Connections;
pub use request::{ReadWrite, Request};
pub use response::{Response, ResponseBox};
pub use test::TestRequest;

mod client;
mod common;
mod connection;
mod connections;
mod request;
mod response;
mod ssl;
mod test;
mod util;

/// The main class of this library.
///
/// Destroying this object will immediately close the listening socket and the reading
///  part of all the client's connections. Requests that have already been returned by
///  the `recv()` function will not close and the responses will be transferred to the client.
pub struct Server {
    // should be false as long as the server exists
    // when set to true, all the subtasks will close within a few hundreds ms
    close: Arc<AtomicBool>,

    // queue for messages received by child threads
    messages: Arc<MessagesQueue<Message>>,

    // result of TcpListener::local_addr()
    listening_addr: ListenAddr,

    // Clientele patch: answers handed back to their connections' threads and not yet written
    unwritten_answers: Arc<std::sync::atomic::AtomicUsize>,
}

enum Message {
    Error(IoError),
    NewRequest(Request),
}

impl From<IoError> for Message {
    fn from(e: IoError) -> Message {
        Message::Error(e)
    }
}

impl From<Request> for Message {
    fn from(rq: Request) -> Message {
        Message::NewRequest(rq)
    }
}

// this trait is to make sure that Server implements Share and Send
#[doc(hidden)]
#[allow(dead_code)]
trait MustBeShareDummy: Sync + Send {}
#[doc(hidden)]
impl MustBeShareDummy for Server {}

pub struct IncomingRequests<'a> {
    server: &'a Server,
}

/// Represents the parameters required to create a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The addresses to try to listen to.
    pub addr: ConfigListenAddr,

    /// If `Some`, then the server will use SSL to encode the communications.
    pub ssl: Option<SslConfig>,

    /// Clientele patch: what one client may hold of the server, and for how long.
    pub limits: Limits,

    /// Clientele patch: when set, each connection's thread runs this on its requests itself
    /// instead of handing them to `recv`; see `Handler`.
    pub handler: Option<Handler>,
}

/// Clientele patch: a request handler run on the connection's own thread. It answers with
/// `Request::hand_back` (the connection's thread then writes the answer), `respond` or
/// `abort`. No thread hands the request over or wakes another for the answer: two context
/// switches per request fewer than `recv`. The handler bounds its own concurrency.
#[derive(Clone)]
pub struct Handler(pub Arc<dyn Fn(Request) + Send + Sync>);

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handler")
    }
}

/// Clientele patch: deadlines and fair shares on the socket.
///
/// Each connection has a thread of its own, which reads a request's head and body, hands
/// the whole request to a worker (`recv`) or runs the `Handler` on it, and writes the
/// answer: a worker or handler never waits on a client's socket, and a connection's
/// pipelined requests are served one at a time, so one connection never holds more than one
/// worker. What a slow or hostile client can still hold is connection threads, and these
/// limits bound them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; past it a new connection is closed at once. The cap of
    /// the server's own `Connections`, when it is not given one (`Options::connections`).
    pub max_connections: usize,
    /// Connections served at once from one client IP address (idem).
    pub max_connections_per_address: usize,
    /// How long a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long a request head (request line and headers) may take, from its first byte.
    pub head_timeout: Duration,
    /// A request body may take this long, plus one second for every `body_min_rate` bytes
    /// received (Apache `mod_reqtimeout` style); then 408 and the connection is closed.
    pub body_timeout: Duration,
    /// Bytes per second, see `body_timeout`.
    pub body_min_rate: u64,
    /// How long writing an answer may take, from its start: past it the connection is
    /// closed (a client that does not read its answers).
    pub write_timeout: Duration,
    /// Bodies up to this size are read whole by the connection's thread before the request
    /// is handed over; larger ones are left for the handler to refuse unread.
    pub max_buffered_body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            max_connections_per_address: 128,
            idle_timeout: Duration::from_secs(30),
            head_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(20),
            body_min_rate: 500,
            write_timeout: Duration::from_secs(30),
            max_buffered_body: 1024 * 1024 + 1,
        }
    }
}

/// Configuration of the server for SSL.
#[derive(Debug, Clone)]
pub struct SslConfig {
    /// Contains the public certificate to send to clients.
    pub certificate: Vec<u8>,
    /// Contains the ultra-secret private key used to decode communications.
    pub private_key: Vec<u8>,
}

impl Server {
    /// Shortcut for a simple server on a specific address.
    #[inline]
    pub fn http<A>(addr: A) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
            ssl: None,
            limits: Limits::default(),
            handler: None,
        })
    }

    /// Shortcut for an HTTPS server on a specific address.
    #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
    #[inline]
    pub fn https<A>(
        addr: A,
        config: SslConfig,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
            ssl: Some(config),
            limits: Limits::default(),
            handler: None,
        })
    }

    #[cfg(unix)]
    #[inline]
    /// Shortcut for a UNIX socket server at a specific path
    pub fn http_unix(
        path: &std::path::Path,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::unix_from_path(path),
            ssl: None,
            limits: Limits::default(),
            handler: None,
        })
    }

    /// Builds a new server that listens on the specified address.
    pub fn new(config: ServerConfig) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = config.addr.bind()?;
        Self::from_listener_with_handler(listener, config.ssl, config.limits, config.handler)
    }

    /// Builds a new server using the specified TCP listener.
    ///
    /// This is useful if you've constructed TcpListener using some less usual method
    /// such as from systemd. For other cases, you probably want the `new()` function.
    pub fn from_listener<L: Into<Listener>>(
        listener: L,
        ssl_config: Option<SslConfig>,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Self::from_listener_with_limits(listener, ssl_config, Limits::default())
    }

    /// Clientele patch: `from_listener` with the given limits.
    pub fn from_listener_with_limits<L: Into<Listener>>(
        listener: L,
        ssl_config: Option<SslConfig>,
        limits: Limits,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Self::from_listener_with_handler(listener, ssl_config, limits, None)
    }

    /// Clientele patch: `from_listener` with the given limits, and the handler that the
    /// connections' threads run (`None`: requests go to `recv`).
    pub fn from_listener_with_handler<L: Into<Listener>>(
        listener: L,
        ssl_config: Option<SslConfig>,
        limits: Limits,
        handler: Option<Handler>,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let connections =
            Connections::new(limits.max_connections, limits.max_connections_per_address);
        Self::from_listener_with(
            listener,
            Options {
                ssl: ssl_config,
                limits,
                handler,
                connections,
            },
        )
    }

    /// Clientele patch: a server on `listener` as `options` say; servers given the same
    /// `Connections` share its caps.
    pub fn from_listener_with<L: Into<Listener>>(
        listener: L,
        options: Options,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = listener.into();
        // building the "close" variable
        let close_trigger = Arc::new(AtomicBool::new(false));

        let local_addr = listener.local_addr()?;
        log::debug!("Server listening on {}", local_addr);

        // building the SSL capabilities
        #[cfg(all(feature = "ssl-openssl", feature = "ssl-rustls"))]
        compile_error!(
            "Features 'ssl-openssl' and 'ssl-rustls' must not be enabled at the same time"
        );
        let ssl: Option<SslContext> = {
            match options.ssl {
                #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
                Some(config) => Some(SslContext::from_pem(
                    config.certificate,
                    Zeroizing::new(config.private_key),
                )?),
                #[cfg(not(any(feature = "ssl-openssl", feature = "ssl-rustls")))]
                Some(_) => return Err(
                    "Building a server with SSL requires enabling the `ssl` feature in tiny-http"
                        .into(),
                ),
                None => None,
            }
        };

        let messages = MessagesQueue::with_capacity(8);
        let unwritten_answers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let to = match options.handler {
            Some(handler) => To::Handler(handler),
            None => To::Workers(messages.clone()),
        };
        let acceptor = Acceptor {
            listener,
            ssl,
            limits: Arc::new(options.limits),
            connections: options.connections,
            to: Arc::new(to),
            close: close_trigger.clone(),
            unwritten_answers: unwritten_answers.clone(),
        };
        thread::spawn(move || acceptor.run());

        Ok(Server {
            messages,
            close: close_trigger,
            listening_addr: local_addr,
            unwritten_answers,
        })
    }

    /// Returns an iterator for all the incoming requests.
    ///
    /// The iterator will return `None` if the server socket is shutdown.
    #[inline]
    pub fn incoming_requests(&self) -> IncomingRequests<'_> {
        IncomingRequests { server: self }
    }

    /// Returns the address the server is listening to.
    #[inline]
    pub fn server_addr(&self) -> ListenAddr {
        self.listening_addr.clone()
    }

    /// Blocks until an HTTP request has been submitted and returns it.
    pub fn recv(&self) -> IoResult<Request> {
        match self.messages.pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(rq),
            None => Err(IoError::new(IoErrorKind::Other, "thread unblocked")),
        }
    }

    /// Same as `recv()` but doesn't block longer than timeout
    pub fn recv_timeout(&self, timeout: Duration) -> IoResult<Option<Request>> {
        match self.messages.pop_timeout(timeout) {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// Same as `recv()` but doesn't block.
    pub fn try_recv(&self) -> IoResult<Option<Request>> {
        match self.messages.try_pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// Clientele patch: waits, at most `timeout`, until every answer handed back with
    /// `Request::hand_back` has been written (for a graceful shutdown).
    pub fn wait_for_answers(&self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        while self
            .unwritten_answers
            .load(std::sync::atomic::Ordering::Acquire)
            > 0
            && std::time::Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Unblock thread stuck in recv() or incoming_requests().
    /// If there are several such threads, only one is unblocked.
    /// This method allows graceful shutdown of server.
    pub fn unblock(&self) {
        self.messages.unblock();
    }
}

#[cfg(not(any(feature = "ssl-openssl", feature = "ssl-rustls")))]
type SslContext = ();
#[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
type SslContext = crate::ssl::SslContextImpl;

/// Clientele patch: how a server made by `Server::from_listener_with` runs.
pub struct Options {
    /// If `Some`, the server speaks TLS.
    pub ssl: Option<SslConfig>,
    pub limits: Limits,
    /// See `Handler`; `None`: requests go to `recv`.
    pub handler: Option<Handler>,
    /// The caps on connections, which servers made with the same one share (see
    /// `Connections`); its caps stand instead of `limits.max_connections` and
    /// `limits.max_connections_per_address`.
    pub connections: Arc<Connections>,
}

/// Clientele patch: the accept thread of one server.
struct Acceptor {
    listener: Listener,
    ssl: Option<SslContext>,
    limits: Arc<Limits>,
    connections: Arc<Connections>,
    to: Arc<To>,
    close: Arc<AtomicBool>,
    unwritten_answers: Arc<std::sync::atomic::AtomicUsize>,
}

impl Acceptor {
    /// Accepts connections until the server is dropped, each on a thread of its own.
    ///
    /// Clientele patch: upstream ended this loop at the first error, so one moment out of
    /// descriptors (`EMFILE`) stopped the server accepting for good while the process lived
    /// on. Now an error waits and retries (see `AcceptErrors`), and a connection that cannot
    /// be set up is closed.
    fn run(self) {
        let tasks_pool = util::TaskPool::new();
        let mut errors = AcceptErrors::default();
        let mut spawn_failures = util::Throttle::default();
        log::debug!("Running accept thread");
        while !self.close.load(Relaxed) {
            let (socket, peer) = match self.listener.accept() {
                Ok(accepted) => {
                    errors.reset();
                    accepted
                }
                Err(e) => {
                    errors.wait_after(&e);
                    continue;
                }
            };
            // Past a cap the socket is closed at once (dropped).
            let Some(place) = self.connections.admit(peer.map(|a| a.ip()), &socket) else {
                continue;
            };
            let Some(client) = self.set_up(socket, &place) else {
                continue;
            };
            let to = self.to.clone();
            let unwritten_answers = self.unwritten_answers.clone();
            let mut connection = Some((client, place));
            let started = tasks_pool.spawn(Box::new(move || {
                if let Some((client, place)) = connection.take() {
                    serve_connection(client, &place, &to, unwritten_answers.clone());
                }
            }));
            if let Err(e) = started {
                if let Some(n) = spawn_failures.due() {
                    log::error!(
                        "cannot start a thread for a connection ({e}); closed it \
                         ({n} since the last report)"
                    );
                }
            }
        }
        log::debug!("Terminating accept thread");
    }

    /// Timeouts on the socket, TLS around it, and the connection that reads its requests;
    /// `None` if the socket failed meanwhile.
    fn set_up(&self, mut socket: Connection, place: &Place) -> Option<ClientConnection> {
        let _ = socket.set_nodelay();
        socket
            .set_timeouts(self.limits.idle_timeout, self.limits.write_timeout)
            .ok()?;
        let deadline = socket.deadline();
        use util::RefinedTcpStream;
        let (read_closable, write_closable) = match &self.ssl {
            None => RefinedTcpStream::new(socket),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Some(ssl) => RefinedTcpStream::new(ssl.accept(socket).ok()?),
            #[cfg(not(any(feature = "ssl-openssl", feature = "ssl-rustls")))]
            Some(_) => unreachable!(),
        };
        Some(ClientConnection::new(
            write_closable,
            read_closable,
            deadline,
            place.activity(),
            self.limits.clone(),
        ))
    }
}

/// Clientele patch: what the accept loop does after an error. A client gone before its
/// connection was accepted is no reason to wait; anything else (out of descriptors, of
/// memory) waits 10 ms, doubling up to a second while errors go on, so that connections
/// closing meanwhile give their descriptors back. One line a second at most says so.
struct AcceptErrors {
    wait: Duration,
    throttle: util::Throttle,
}

impl Default for AcceptErrors {
    fn default() -> Self {
        AcceptErrors {
            wait: Self::FIRST_WAIT,
            throttle: util::Throttle::default(),
        }
    }
}

impl AcceptErrors {
    const FIRST_WAIT: Duration = Duration::from_millis(10);
    const LONGEST_WAIT: Duration = Duration::from_secs(1);

    fn wait_after(&mut self, error: &IoError) {
        if matches!(
            error.kind(),
            IoErrorKind::ConnectionAborted | IoErrorKind::Interrupted
        ) {
            return;
        }
        if let Some(n) = self.throttle.due() {
            log::error!(
                "cannot accept connections ({error}); retrying, waiting up to a second between \
                 tries ({n} failed since the last report)"
            );
        }
        thread::sleep(self.wait);
        self.wait = (self.wait * 2).min(Self::LONGEST_WAIT);
    }

    fn reset(&mut self) {
        self.wait = Self::FIRST_WAIT;
    }
}

/// Clientele patch: where a connection's thread sends its requests.
enum To {
    /// Pushed for `recv`.
    Workers(Arc<MessagesQueue<Message>>),
    /// Handled on the connection's thread.
    Handler(Handler),
}

/// Clientele patch: a connection's thread. It reads one request (head and body), hands it
/// to a worker (or runs the handler on it), and waits: the worker hands the request back with
/// its answer, which this thread writes (under the write timeout) before it reads the next
/// request. Upstream pushed every pipelined request at once and let workers write, so a
/// client that pipelined and never read held every worker in a blocked write.
fn serve_connection(
    client: ClientConnection,
    place: &Place,
    to: &To,
    unwritten_answers: Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    let (deadline, body_timeout) = client.body_deadline();
    let activity = place.activity();
    for rq in client {
        activity.enter(Phase::Handling);
        // A channel per request: when the request is dropped unanswered, its only sender goes
        // with it and the wait below ends.
        let (sender, answers) = mpsc::channel();
        let hand_back = request::HandBack {
            sender,
            unwritten: unwritten_answers.clone(),
        };
        let rq = rq.with_hand_back(hand_back);
        match to {
            To::Workers(messages) => messages.push(rq.into()),
            To::Handler(handler) => (handler.0)(rq),
        }
        // Err: the request was answered in place, aborted, or dropped (which answers 500).
        if let Ok((rq, response)) = answers.recv() {
            let rq: Request = rq;
            activity.enter(Phase::Writing);
            // Answering drops the request, which drains a body the handler left unread: that
            // gets the body timeout, not the idle one.
            deadline.set(std::time::Instant::now() + body_timeout);
            deadline.start_answer();
            let written = rq.respond(response);
            unwritten_answers.fetch_sub(1, Ordering::Release);
            // Clientele patch: a write that failed (the answer's write deadline passed on a
            // client that does not read, or the socket broke) ends the connection. Going on to
            // the next pipelined request, as before, gave such a client another write timeout
            // per request it had sent, and kept its connection (and thread) for ever.
            if written.is_err() {
                break;
            }
        }
    }
}

impl Iterator for IncomingRequests<'_> {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        self.server.recv().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close.store(true, Relaxed);
        // Connect briefly to ourselves to unblock the accept thread
        let maybe_stream = match &self.listening_addr {
            ListenAddr::IP(addr) => TcpStream::connect(addr).map(Connection::from),
            #[cfg(unix)]
            ListenAddr::Unix(addr) => {
                // TODO: use connect_addr when its stabilized.
                let path = addr.as_pathname().unwrap();
                std::os::unix::net::UnixStream::connect(path).map(Connection::from)
            }
        };
        if let Ok(stream) = maybe_stream {
            let _ = stream.shutdown(Shutdown::Both);
        }

        #[cfg(unix)]
        if let ListenAddr::Unix(addr) = &self.listening_addr {
            if let Some(path) = addr.as_pathname() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
