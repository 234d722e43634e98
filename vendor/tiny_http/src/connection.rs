//! Abstractions of Tcp and Unix socket types

use std::io::ErrorKind;
#[cfg(unix)]
use std::os::unix::net as unix_net;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use std::{
    net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs},
    path::PathBuf,
};

/// Unified listener. Either a [`TcpListener`] or [`std::os::unix::net::UnixListener`]
pub enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(unix_net::UnixListener),
}
impl Listener {
    pub(crate) fn local_addr(&self) -> std::io::Result<ListenAddr> {
        match self {
            Self::Tcp(l) => l.local_addr().map(ListenAddr::from),
            #[cfg(unix)]
            Self::Unix(l) => l.local_addr().map(ListenAddr::from),
        }
    }

    pub(crate) fn accept(&self) -> std::io::Result<(Connection, Option<SocketAddr>)> {
        match self {
            Self::Tcp(l) => l
                .accept()
                .map(|(conn, addr)| (Connection::from(conn), Some(addr))),
            #[cfg(unix)]
            Self::Unix(l) => l.accept().map(|(conn, _)| (Connection::from(conn), None)),
        }
    }
}
impl From<TcpListener> for Listener {
    fn from(s: TcpListener) -> Self {
        Self::Tcp(s)
    }
}
#[cfg(unix)]
impl From<unix_net::UnixListener> for Listener {
    fn from(s: unix_net::UnixListener) -> Self {
        Self::Unix(s)
    }
}

/// Unified connection. Either a [`TcpStream`] or [`std::os::unix::net::UnixStream`].
///
/// Clientele patch: every handle on one socket (the read half, the write half, the handle
/// that aborts a request, the socket beneath a TLS session) shares one [`Deadlines`], so
/// that the connection's thread can bound a whole request head or body, not just one read:
/// the deadline is enforced on each read of the socket itself, beneath TLS, where a client
/// that trickles one byte at a time cannot stretch it.
///
/// Clientele patch: the handles share the socket itself too (`Arc`), where upstream gave each
/// one a descriptor of its own (`try_clone`, a `dup`): a connection costs one descriptor, not
/// three or four, and making a handle cannot fail. Upstream's `try_clone().unwrap()` panicked
/// the accept thread once the process ran out of descriptors, and the server never accepted
/// again.
#[derive(Debug)]
pub(crate) struct Connection {
    socket: Socket,
    deadline: std::sync::Arc<Deadlines>,
    /// The read timeout last set on the socket through this handle (saves a system call
    /// per read between requests, when it does not change).
    read_timeout: Option<Duration>,
    /// The write timeout last set on the socket through this handle.
    write_timeout: Option<Duration>,
}

#[derive(Debug)]
enum Socket {
    Tcp(Arc<TcpStream>),
    #[cfg(unix)]
    Unix(Arc<unix_net::UnixStream>),
}

/// Clientele patch: how long the next reads and writes of a connection may take.
///
/// With no read deadline set, each read may wait `idle` (a keep-alive connection between
/// requests); with one, every read waits at most until it, and a read past it fails with
/// `TimedOut`.
///
/// An answer must be written within `write` of its start (`start_answer`). A timeout on each
/// write alone was not enough: the kernel keeps growing the send buffer of a client that
/// does not read (up to `tcp_wmem`, 4 MiB), and every step let a blocked write through, so
/// the timeout started over and never passed.
#[derive(Debug)]
pub(crate) struct Deadlines {
    idle: Duration,
    write: Duration,
    /// Nanoseconds after `epoch`; 0 for none.
    at: AtomicU64,
    /// The answer's deadline, nanoseconds after `epoch`; 0 for none.
    write_at: AtomicU64,
    epoch: Instant,
}

impl Deadlines {
    fn new(idle: Duration, write: Duration) -> Deadlines {
        Deadlines {
            idle,
            write,
            at: AtomicU64::new(0),
            write_at: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.epoch).as_nanos();
        (nanos.min(u128::from(u64::MAX)) as u64).max(1)
    }

    /// Reads must complete by `at`.
    pub(crate) fn set(&self, at: Instant) {
        self.at.store(self.nanos(at), Ordering::Relaxed);
    }

    /// The answer about to be written must be written within the write timeout.
    pub(crate) fn start_answer(&self) {
        let at = self.nanos(Instant::now() + self.write);
        self.write_at.store(at, Ordering::Relaxed);
    }

    /// Back to the idle timeout (between requests), and no answer under way.
    pub(crate) fn clear(&self) {
        self.at.store(0, Ordering::Relaxed);
        self.write_at.store(0, Ordering::Relaxed);
    }

    /// The time left before `at` (nanoseconds after `epoch`, 0 for none), at most `longest`;
    /// `TimedOut` when it has passed.
    fn left(&self, at: u64, longest: Duration) -> std::io::Result<Duration> {
        if at == 0 {
            return Ok(longest);
        }
        let remaining = Duration::from_nanos(at).saturating_sub(self.epoch.elapsed());
        if remaining.is_zero() {
            return Err(timed_out());
        }
        // The socket rejects a zero timeout; a millisecond is the finest that matters here.
        Ok(remaining.max(Duration::from_millis(1)).min(longest))
    }

    /// The timeout for the next read, or `TimedOut` when the deadline has passed.
    fn next_read_timeout(&self) -> std::io::Result<Duration> {
        self.left(self.at.load(Ordering::Relaxed), self.idle)
    }

    /// The timeout for the next write, or `TimedOut` when the answer's deadline has passed.
    fn next_write_timeout(&self) -> std::io::Result<Duration> {
        self.left(self.write_at.load(Ordering::Relaxed), self.write)
    }

    /// How far the socket's write timeout may be from the time left before it is set again:
    /// a write then ends at most this much after the answer's deadline, and a quick answer
    /// costs no system call.
    fn write_slack(&self) -> Duration {
        (self.write / 10).max(Duration::from_millis(10))
    }
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(ErrorKind::TimedOut, "request deadline passed")
}

impl std::io::Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let between_requests = self.deadline.at.load(Ordering::Relaxed) == 0;
        let timeout = Some(self.deadline.next_read_timeout()?);
        if timeout != self.read_timeout {
            self.set_read_timeout(timeout)?;
            self.read_timeout = timeout;
        }
        let read = match &self.socket {
            Socket::Tcp(s) => (&**s).read(buf),
            #[cfg(unix)]
            Socket::Unix(s) => (&**s).read(buf),
        };
        // A socket read timeout surfaces as WouldBlock on Unix; say what it is. An idle
        // keep-alive connection is closed quietly; a request cut short gets a 408.
        read.map_err(|e| match e.kind() {
            ErrorKind::WouldBlock if between_requests => {
                std::io::Error::new(ErrorKind::ConnectionAborted, "idle connection")
            }
            ErrorKind::WouldBlock => timed_out(),
            _ => e,
        })
    }
}
impl std::io::Write for Connection {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bound_write()?;
        let written = match &self.socket {
            Socket::Tcp(s) => (&**s).write(buf),
            #[cfg(unix)]
            Socket::Unix(s) => (&**s).write(buf),
        };
        written.map_err(|e| match e.kind() {
            ErrorKind::WouldBlock => std::io::Error::new(ErrorKind::TimedOut, "write timed out"),
            _ => e,
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &self.socket {
            Socket::Tcp(s) => (&**s).flush(),
            #[cfg(unix)]
            Socket::Unix(s) => (&**s).flush(),
        }
    }
}
impl Connection {
    /// Gets the peer's address. Some for TCP, None for Unix sockets.
    pub(crate) fn peer_addr(&mut self) -> std::io::Result<Option<SocketAddr>> {
        match &self.socket {
            Socket::Tcp(s) => s.peer_addr().map(Some),
            #[cfg(unix)]
            Socket::Unix(_) => Ok(None),
        }
    }

    /// Clientele patch: keeps the socket's write timeout within the answer's deadline.
    fn bound_write(&mut self) -> std::io::Result<()> {
        let wanted = self.deadline.next_write_timeout()?;
        let slack = self.deadline.write_slack();
        let set = self.write_timeout.unwrap_or(Duration::MAX);
        if wanted + slack < set || set + slack < wanted {
            self.set_write_timeout(wanted)?;
        }
        Ok(())
    }

    fn set_write_timeout(&mut self, timeout: Duration) -> std::io::Result<()> {
        match &self.socket {
            Socket::Tcp(s) => s.set_write_timeout(Some(timeout)),
            #[cfg(unix)]
            Socket::Unix(s) => s.set_write_timeout(Some(timeout)),
        }?;
        self.write_timeout = Some(timeout);
        Ok(())
    }

    /// Clientele patch: the deadline every handle on this socket shares.
    pub(crate) fn deadline(&self) -> std::sync::Arc<Deadlines> {
        self.deadline.clone()
    }

    /// Clientele patch (slowloris): the idle timeout between requests, and how long one
    /// write may block on a client that does not read.
    pub(crate) fn set_timeouts(&mut self, idle: Duration, write: Duration) -> std::io::Result<()> {
        self.deadline = std::sync::Arc::new(Deadlines::new(idle, write));
        self.set_read_timeout(Some(idle))?;
        self.read_timeout = Some(idle);
        self.set_write_timeout(write)
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match &self.socket {
            Socket::Tcp(s) => s.set_read_timeout(timeout),
            #[cfg(unix)]
            Socket::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    /// Clientele patch: headers and body go out as two writes; with Nagle's algorithm the
    /// second waited for the client's delayed ACK, adding 40 ms to every answer over ~1 KiB.
    pub(crate) fn set_nodelay(&self) -> std::io::Result<()> {
        match &self.socket {
            Socket::Tcp(s) => s.set_nodelay(true),
            #[cfg(unix)]
            Socket::Unix(_) => Ok(()),
        }
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> std::io::Result<()> {
        match &self.socket {
            Socket::Tcp(s) => s.shutdown(how),
            #[cfg(unix)]
            Socket::Unix(s) => s.shutdown(how),
        }
    }

    /// Another handle on the same socket (no new descriptor).
    pub(crate) fn handle(&self) -> Self {
        let socket = match &self.socket {
            Socket::Tcp(s) => Socket::Tcp(s.clone()),
            #[cfg(unix)]
            Socket::Unix(s) => Socket::Unix(s.clone()),
        };
        Connection {
            socket,
            deadline: self.deadline.clone(),
            read_timeout: self.read_timeout,
            write_timeout: self.write_timeout,
        }
    }
}
impl From<TcpStream> for Connection {
    fn from(s: TcpStream) -> Self {
        Connection {
            socket: Socket::Tcp(Arc::new(s)),
            deadline: std::sync::Arc::new(Deadlines::new(
                Duration::from_secs(30),
                Duration::from_secs(30),
            )),
            read_timeout: None,
            write_timeout: None,
        }
    }
}
#[cfg(unix)]
impl From<unix_net::UnixStream> for Connection {
    fn from(s: unix_net::UnixStream) -> Self {
        Connection {
            socket: Socket::Unix(Arc::new(s)),
            deadline: std::sync::Arc::new(Deadlines::new(
                Duration::from_secs(30),
                Duration::from_secs(30),
            )),
            read_timeout: None,
            write_timeout: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum ConfigListenAddr {
    IP(Vec<SocketAddr>),
    #[cfg(unix)]
    // TODO: use SocketAddr when bind_addr is stabilized
    Unix(std::path::PathBuf),
}
impl ConfigListenAddr {
    pub fn from_socket_addrs<A: ToSocketAddrs>(addrs: A) -> std::io::Result<Self> {
        addrs.to_socket_addrs().map(|it| Self::IP(it.collect()))
    }

    #[cfg(unix)]
    pub fn unix_from_path<P: Into<PathBuf>>(path: P) -> Self {
        Self::Unix(path.into())
    }

    pub(crate) fn bind(&self) -> std::io::Result<Listener> {
        match self {
            Self::IP(a) => TcpListener::bind(a.as_slice()).map(Listener::from),
            #[cfg(unix)]
            Self::Unix(a) => unix_net::UnixListener::bind(a).map(Listener::from),
        }
    }
}

/// Unified listen socket address. Either a [`SocketAddr`] or [`std::os::unix::net::SocketAddr`].
#[derive(Debug, Clone)]
pub enum ListenAddr {
    IP(SocketAddr),
    #[cfg(unix)]
    Unix(unix_net::SocketAddr),
}
impl ListenAddr {
    pub fn to_ip(self) -> Option<SocketAddr> {
        match self {
            Self::IP(s) => Some(s),
            #[cfg(unix)]
            Self::Unix(_) => None,
        }
    }

    /// Gets the Unix socket address.
    ///
    /// This is also available on non-Unix platforms, for ease of use, but always returns `None`.
    #[cfg(unix)]
    pub fn to_unix(self) -> Option<unix_net::SocketAddr> {
        match self {
            Self::IP(_) => None,
            Self::Unix(s) => Some(s),
        }
    }
    #[cfg(not(unix))]
    pub fn to_unix(self) -> Option<SocketAddr> {
        None
    }
}
impl From<SocketAddr> for ListenAddr {
    fn from(s: SocketAddr) -> Self {
        Self::IP(s)
    }
}
#[cfg(unix)]
impl From<unix_net::SocketAddr> for ListenAddr {
    fn from(s: unix_net::SocketAddr) -> Self {
        Self::Unix(s)
    }
}
impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::IP(s) => s.fmt(f),
            #[cfg(unix)]
            Self::Unix(s) => std::fmt::Debug::fmt(s, f),
        }
    }
}
