//! The client's side of `--db-timeout` on PostgreSQL. The server's `statement_timeout`
//! ends a statement that runs too long, but not one the server never gets to: a frozen or
//! partitioned server keeps the TCP connection open (its kernel still acknowledges), and the
//! blocking client waits as long as TCP does, minutes. So every connection in use carries a
//! deadline, moved on at each round trip, and a watchdog thread shuts the socket of one that
//! passed it: the waiting call returns at once with a closed connection, which is answered
//! 503 in the vendor's format, and the pool makes a new connection for the next request.
//!
//! The blocking client does not hand out its socket, so it is found by its ports: the server
//! names the client's port (`inet_client_port()`), and the one socket of this process with
//! that local port and the server's port is it. Before the socket is shut down, its inode is
//! checked again, so a number reused by another file is never touched. Connections over a
//! Unix socket have no port: they are not watched (a local server is not partitioned away).

use std::mem::ManuallyDrop;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// How often the watchdog looks: the most a timeout is overrun by.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// One watched connection's socket and deadline.
#[derive(Debug)]
pub struct Deadline {
    fd: RawFd,
    inode: u64,
    timeout: Duration,
    /// Milliseconds since `epoch()` past which the socket is shut down; 0 while idle.
    due_ms: AtomicU64,
    tripped: AtomicBool,
}

impl Deadline {
    /// Finds the socket of the connection whose local port the server named, and watches it.
    pub fn watch(local_port: u16, server_port: u16, timeout: Duration) -> Option<Arc<Deadline>> {
        let (fd, inode) = find_socket(local_port, server_port)?;
        let deadline = Arc::new(Deadline {
            fd,
            inode,
            timeout,
            due_ms: AtomicU64::new(0),
            tripped: AtomicBool::new(false),
        });
        watched()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&deadline));
        Some(deadline)
    }

    /// A round trip starts: it has the timeout from now.
    pub fn arm(&self) {
        let due = elapsed_ms(epoch()) + self.timeout.as_millis() as u64;
        self.due_ms.store(due.max(1), Ordering::Relaxed);
    }

    /// The connection went back to the pool.
    pub fn disarm(&self) {
        self.due_ms.store(0, Ordering::Relaxed);
    }

    /// True once the watchdog shut the socket for want of an answer.
    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }

    fn overdue(&self, now_ms: u64) -> bool {
        let due = self.due_ms.load(Ordering::Relaxed);
        due != 0 && now_ms > due && !self.tripped()
    }

    fn trip(&self) {
        // The number may have been closed and reused since: only the same socket is shut.
        let same = std::fs::metadata(format!("/proc/self/fd/{}", self.fd))
            .is_ok_and(|m| m.ino() == self.inode);
        if same {
            self.tripped.store(true, Ordering::Relaxed);
            // SAFETY: the descriptor is open (checked just above) and is not closed here:
            // ManuallyDrop keeps the borrowed socket from being closed on drop.
            let socket = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(self.fd) });
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn elapsed_ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Every deadline of the process, and the one watchdog thread that checks them, started with
/// the first.
fn watched() -> &'static Mutex<Vec<Weak<Deadline>>> {
    static WATCHED: OnceLock<Mutex<Vec<Weak<Deadline>>>> = OnceLock::new();
    WATCHED.get_or_init(|| {
        std::thread::Builder::new()
            .name("db-deadlines".into())
            .spawn(watch_forever)
            .expect("spawning the database deadline watchdog");
        Mutex::new(Vec::new())
    })
}

fn watch_forever() {
    loop {
        std::thread::sleep(WATCH_EVERY);
        let now_ms = elapsed_ms(epoch());
        let mut overdue = Vec::new();
        {
            let mut all = watched().lock().unwrap_or_else(|e| e.into_inner());
            all.retain(|weak| match weak.upgrade() {
                Some(deadline) => {
                    if deadline.overdue(now_ms) {
                        overdue.push(deadline);
                    }
                    true
                }
                None => false,
            });
        }
        for deadline in overdue {
            deadline.trip();
        }
    }
}

/// The descriptor and inode of this process's TCP socket from `local_port` to `server_port`.
fn find_socket(local_port: u16, server_port: u16) -> Option<(RawFd, u64)> {
    for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // SAFETY: only its addresses are read; ManuallyDrop never closes it. A descriptor
        // closed meanwhile makes these calls fail (EBADF), which skips it.
        let socket = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
        let ours = socket.local_addr().is_ok_and(|a| a.port() == local_port)
            && socket.peer_addr().is_ok_and(|a| a.port() == server_port);
        if ours {
            let inode = std::fs::metadata(entry.path()).ok()?.ino();
            return Some((fd, inode));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    /// A read from a peer that never answers returns once the deadline passes.
    #[test]
    fn a_call_waiting_on_a_silent_peer_is_cut_at_its_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server_port = listener.local_addr().unwrap().port();
        let mut client = TcpStream::connect(("127.0.0.1", server_port)).unwrap();
        let (_silent, _) = listener.accept().unwrap();
        let local_port = client.local_addr().unwrap().port();
        let deadline = Deadline::watch(local_port, server_port, Duration::from_millis(200))
            .expect("the socket is found by its ports");
        deadline.arm();
        let started = Instant::now();
        let mut byte = [0u8; 1];
        let read = client.read(&mut byte);
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(deadline.tripped());
    }
}
