//! A test SMTP server on a real socket: it speaks just enough SMTP (RFC 5321, no TLS, no
//! auth) for lettre to deliver to it, keeps what it received, counts the connections, RSETs
//! and QUITs it saw, and can misbehave as a relay may (`Behaviour`).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// How the sink departs from a well-behaved relay.
#[derive(Clone, Copy, Default)]
pub struct Behaviour {
    /// Hangs up without an answer at every `n`th MAIL FROM (counted over all connections).
    pub hang_up_at_every_nth_mail: Option<usize>,
    /// Closes a connection once it carried this many mails, right after the last one's 250,
    /// as a relay that limits the mails of a session or times idle ones out.
    pub mails_per_connection: Option<usize>,
    /// Holds the answer to each mail's end of data this long.
    pub data_reply_delay: Duration,
}

/// What the sink saw of the connections to it.
#[derive(Clone, Copy, Default, Debug)]
pub struct Counts {
    pub connections: usize,
    /// Open now.
    pub open: usize,
    /// The most that were open at once.
    pub most_open: usize,
    pub rsets: usize,
    pub quits: usize,
    /// MAIL FROMs, whether the sink then hung up or not.
    pub mail_froms: usize,
    pub hang_ups: usize,
}

/// What every connection's thread shares.
#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    counts: Mutex<Counts>,
    behaviour: Behaviour,
}

pub struct SmtpSink {
    pub port: u16,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl SmtpSink {
    /// Listens on 127.0.0.1:`port` (0 for a free one).
    pub fn start(port: u16) -> SmtpSink {
        SmtpSink::behaving(port, Behaviour::default())
    }

    /// Listens on 127.0.0.1:`port` (0 for a free one), misbehaving as `behaviour` says.
    pub fn behaving(port: u16, behaviour: Behaviour) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("binding the SMTP sink");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            behaviour,
            ..Shared::default()
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, s) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let sh = sh.clone();
                        sh.opened();
                        std::thread::spawn(move || {
                            let _ = session(stream, &sh);
                            sh.closed();
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        SmtpSink { port, shared, stop }
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn counts(&self) -> Counts {
        *self.shared.counts.lock().unwrap()
    }

    /// Waits (at most `timeout`) until `done` holds for the counts, and returns them.
    pub fn wait_for_counts(&self, timeout: Duration, done: impl Fn(&Counts) -> bool) -> Counts {
        let deadline = Instant::now() + timeout;
        loop {
            let counts = self.counts();
            if done(&counts) || Instant::now() > deadline {
                return counts;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (at most `timeout`) until `count` messages arrived, and returns them all.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= count || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A loopback port held without listening: a connection to it is refused, as to a relay that
/// is down, and no other socket of the test run can take it meanwhile. (A port found free and
/// released at once could be handed to another test's listener before the sink binds it.)
pub struct DownPort {
    socket: socket2::Socket,
    pub port: u16,
}

impl DownPort {
    pub fn reserve() -> DownPort {
        use socket2::{Domain, Socket, Type};
        // No SO_REUSEADDR: every other bind to this port fails until it is released.
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a socket");
        let any_port: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        socket
            .bind(&any_port.into())
            .expect("binding a loopback port");
        let port = socket
            .local_addr()
            .unwrap()
            .as_socket()
            .expect("an IP address")
            .port();
        DownPort { socket, port }
    }

    /// Lets the port go, for a listener to bind it right away.
    pub fn release(self) -> u16 {
        drop(self.socket);
        self.port
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Shared {
    fn count(&self, change: impl FnOnce(&mut Counts)) {
        change(&mut self.counts.lock().unwrap());
    }

    fn opened(&self) {
        self.count(|c| {
            c.connections += 1;
            c.open += 1;
            c.most_open = c.most_open.max(c.open);
        });
    }

    fn closed(&self) {
        self.count(|c| c.open -= 1);
    }

    /// Counts a MAIL FROM; true if the sink is to hang up on it.
    fn hangs_up_at_mail(&self) -> bool {
        let mut counts = self.counts.lock().unwrap();
        counts.mail_froms += 1;
        let hang_up = self
            .behaviour
            .hang_up_at_every_nth_mail
            .is_some_and(|n| counts.mail_froms.is_multiple_of(n));
        counts.hang_ups += usize::from(hang_up);
        hang_up
    }
}

fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 sink.test ESMTP\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut mails = 0;
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            out.write_all(b"250-sink.test\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            if shared.hangs_up_at_mail() {
                return Ok(());
            }
            from = command[10..].trim().to_string();
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().trim_matches(['<', '>']).to_string());
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if lines.read_line(&mut l)? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            std::thread::sleep(shared.behaviour.data_reply_delay);
            shared.received.lock().unwrap().push(Received {
                from: from.clone(),
                to: to.clone(),
                data,
            });
            out.write_all(b"250 queued\r\n")?;
            mails += 1;
            if shared.behaviour.mails_per_connection == Some(mails) {
                return Ok(());
            }
        } else if upper == "QUIT" {
            shared.count(|c| c.quits += 1);
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            shared.count(|c| c.rsets += usize::from(upper == "RSET"));
            out.write_all(b"250 OK\r\n")?;
        } else {
            out.write_all(b"502 not implemented\r\n")?;
        }
    }
}
