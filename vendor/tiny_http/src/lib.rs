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
use util::MessagesQueue;

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
pub use request::{ReadWrite, Request};
pub use response::{Response, ResponseBox};
pub use test::TestRequest;

mod client;
mod common;
mod connection;
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
    /// Connections served at once; past it a new connection is closed at once.
    pub max_connections: usize,
    /// Connections served at once from one client IP address.
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
    /// How long one write of an answer may block on a client that does not read.
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

/// Gives a connection's places back when its thread is done with it: one of the server's
/// and one of its client address's.
struct ConnectionSlot {
    counts: Arc<std::sync::Mutex<ConnectionCounts>>,
    address: Option<std::net::IpAddr>,
}

/// Clientele patch: connections held, in all and per client address.
#[derive(Default)]
struct ConnectionCounts {
    total: usize,
    per_address: std::collections::HashMap<std::net::IpAddr, usize>,
}

impl ConnectionCounts {
    /// Takes a place for a new connection from `address`, unless a cap is reached.
    fn admit(&mut self, address: Option<std::net::IpAddr>, limits: &Limits) -> bool {
        if self.total >= limits.max_connections {
            return false;
        }
        if let Some(address) = address {
            let held = self.per_address.entry(address).or_insert(0);
            if *held >= limits.max_connections_per_address {
                return false;
            }
            *held += 1;
        }
        self.total += 1;
        true
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.total -= 1;
        if let Some(address) = self.address {
            if let Some(held) = counts.per_address.get_mut(&address) {
                *held -= 1;
                if *held == 0 {
                    counts.per_address.remove(&address);
                }
            }
        }
    }
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
        let listener = listener.into();
        // building the "close" variable
        let close_trigger = Arc::new(AtomicBool::new(false));

        // building the TcpListener
        let (server, local_addr) = {
            let local_addr = listener.local_addr()?;
            log::debug!("Server listening on {}", local_addr);
            (listener, local_addr)
        };

        // building the SSL capabilities
        #[cfg(all(feature = "ssl-openssl", feature = "ssl-rustls"))]
        compile_error!(
            "Features 'ssl-openssl' and 'ssl-rustls' must not be enabled at the same time"
        );
        #[cfg(not(any(feature = "ssl-openssl", feature = "ssl-rustls")))]
        type SslContext = ();
        #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
        type SslContext = crate::ssl::SslContextImpl;
        let ssl: Option<SslContext> = {
            match ssl_config {
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

        // creating a task where server.accept() is continuously called
        // and ClientConnection objects are pushed in the messages queue
        let messages = MessagesQueue::with_capacity(8);

        let inside_close_trigger = close_trigger.clone();
        let inside_messages = messages.clone();
        let unwritten_answers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let inside_unwritten_answers = unwritten_answers.clone();
        thread::spawn(move || {
            // a tasks pool is used to dispatch the connections into threads
            let tasks_pool = util::TaskPool::new();
            // Clientele patch: one thread per connection, so cap the connections held at once,
            // in all and per client address; past a cap a new socket is closed at once.
            let counts = Arc::new(std::sync::Mutex::new(ConnectionCounts::default()));
            let limits = Arc::new(limits);

            log::debug!("Running accept thread");
            while !inside_close_trigger.load(Relaxed) {
                let new_client = match server.accept() {
                    Ok((mut sock, peer)) => {
                        let address = peer.map(|a| a.ip());
                        let admitted = counts
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .admit(address, &limits);
                        if !admitted {
                            drop(sock);
                            continue;
                        }
                        let slot = ConnectionSlot {
                            counts: counts.clone(),
                            address,
                        };
                        let _ = sock.set_nodelay();
                        if sock
                            .set_timeouts(limits.idle_timeout, limits.write_timeout)
                            .is_err()
                        {
                            continue;
                        }
                        let deadline = sock.deadline();
                        use util::RefinedTcpStream;
                        let (read_closable, write_closable) = match ssl {
                            None => RefinedTcpStream::new(sock),
                            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
                            Some(ref ssl) => {
                                // trying to apply SSL over the connection
                                // if an error occurs, we just close the socket and resume listening
                                let sock = match ssl.accept(sock) {
                                    Ok(s) => s,
                                    Err(_) => continue,
                                };

                                RefinedTcpStream::new(sock)
                            }
                            #[cfg(not(any(feature = "ssl-openssl", feature = "ssl-rustls")))]
                            Some(ref _ssl) => unreachable!(),
                        };

                        Ok((
                            ClientConnection::new(
                                write_closable,
                                read_closable,
                                deadline,
                                limits.clone(),
                            ),
                            slot,
                        ))
                    }
                    Err(e) => Err(e),
                };

                match new_client {
                    Ok((client, slot)) => {
                        let to = match &handler {
                            Some(handler) => To::Handler(handler.clone()),
                            None => To::Workers(inside_messages.clone()),
                        };
                        let unwritten_answers = inside_unwritten_answers.clone();
                        let mut connection = Some((client, slot, unwritten_answers));
                        tasks_pool.spawn(Box::new(move || {
                            if let Some((client, _slot, unwritten_answers)) = connection.take() {
                                serve_connection(client, &to, unwritten_answers);
                            }
                        }));
                    }

                    Err(e) => {
                        log::error!("Error accepting new client: {}", e);
                        inside_messages.push(e.into());
                        break;
                    }
                }
            }
            log::debug!("Terminating accept thread");
        });

        // result
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
    to: &To,
    unwritten_answers: Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    let (deadline, body_timeout) = client.body_deadline();
    for rq in client {
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
            // Answering drops the request, which drains a body the handler left unread: that
            // gets the body timeout, not the idle one.
            deadline.set(std::time::Instant::now() + body_timeout);
            let _ = rq.respond(response);
            unwritten_answers.fetch_sub(1, Ordering::Release);
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
