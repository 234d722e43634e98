//! Many addresses, few descriptors: crowds of slow or greedy clients from nine loopback
//! addresses against a server with a low limit on open files, over raw sockets. Every loop is
//! bounded. The server must stay within its descriptors, keep serving newcomers, and give
//! back what a client held within the documented timeouts. Each test prints what it
//! measured (`cargo test --test it crowds:: -- --nocapture`).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::socket_limits::{
    address, connect_from, connect_within, probe, read_until_closed, try_connect_from,
};
use crate::support::Server;

/// The nine addresses the crowds come from; probes come from 127.0.0.1.
fn crowd_addresses() -> Vec<String> {
    (2..=10).map(|n| format!("127.0.0.{n}")).collect()
}

/// Waits at most `within` for `done`; true if it came.
fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `count` probes (`GET /healthz` on a fresh connection from 127.0.0.1, each given 5 s),
/// four at a time with a pause between; how many were answered 200.
fn probes_answered(server: SocketAddr, count: usize) -> usize {
    let threads: Vec<_> = (0..4)
        .map(|lane| {
            std::thread::spawn(move || {
                (lane..count)
                    .step_by(4)
                    .filter(|_| {
                        std::thread::sleep(Duration::from_millis(100));
                        probe(server, "127.0.0.1", Duration::from_secs(5)).is_ok()
                    })
                    .count()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

/// Sets the running server's soft limit on open files (`prlimit --pid`).
fn set_soft_open_files(server: &Server, soft: u64) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", server.pid()))
        .arg(format!("--nofile={soft}:"))
        .status()
        .expect("running prlimit");
    assert!(status.success());
}

/// The soft and hard limits on open files of the running server.
fn open_files_limits(server: &Server) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn the_open_files_limit_is_raised_to_the_hard_one_and_caps_the_connections() {
    let server = Server::builder().open_files(128, 256).start();
    assert_eq!(open_files_limits(&server), (256, 256));
    assert!(
        server.stderr_shows("within the limit of 256 open files, raised from 128"),
        "{}",
        server.stderr()
    );
    let cap = server.connection_cap();
    assert!(
        (8..256).contains(&cap),
        "a cap of {cap} under 256 open files"
    );
    // Under the test runner's own limit, --max-connections decides.
    let roomy = Server::start();
    assert_eq!(roomy.connection_cap(), 1024);
    assert!(roomy.stderr_shows("(--max-connections)"));
}

#[test]
fn six_hundred_connections_under_256_open_files_leave_the_server_serving() {
    // It counts the server's descriptors: on PostgreSQL its pool's connections take some too,
    // and open with the load. The front door is the same on both.
    if crate::support::sqlite_only("counting descriptors with a database pool beside them") {
        return;
    }
    let server = Server::builder().open_files(256, 256).start();
    let before = (server.open_descriptors(), server.open_sockets());
    let to = address(&server);
    let addresses = crowd_addresses();
    // The first report of this issue: 600 connections under `ulimit -n 256` panicked the
    // accept thread, and nothing was ever accepted again.
    let held: Vec<TcpStream> = (0..600)
        .filter_map(|i| try_connect_from(to, &addresses[i % 6], None).ok())
        .collect();
    let during = server.open_descriptors();
    let answered = probes_answered(to, 20);
    drop(held);
    assert!(eventually(Duration::from_secs(10), || server
        .open_sockets()
        <= before.1));
    let after = probes_answered(to, 20);
    eprintln!(
        "600 connections under 256 open files: {during} descriptors open while held \
         ({} before), {answered}/20 probes answered then, {after}/20 after",
        before.0
    );
    assert!(answered >= 18, "{answered}/20 probes answered");
    assert_eq!(after, 20);
    assert!(
        !server.stderr().contains("cannot accept connections"),
        "the cap kept the server from running out: {}",
        server.stderr()
    );
}

#[test]
fn running_out_of_descriptors_pauses_accepting_which_resumes_when_there_is_room() {
    // It counts the server's descriptors: on PostgreSQL its pool's connections take some too,
    // and open with the load. The front door is the same on both.
    if crate::support::sqlite_only("counting descriptors with a database pool beside them") {
        return;
    }
    let mut server = Server::builder().start();
    let (soft, _) = open_files_limits(&server);
    // Something else took every descriptor: no new one can be made (the lowest free one is
    // above the limit).
    set_soft_open_files(&server, 3);
    let started = Instant::now();
    let mut waiting: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut stream = connect_from(&server, "127.0.0.1", None);
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            stream
        })
        .collect();
    assert!(
        server.stderr_shows("cannot accept connections"),
        "{}",
        server.stderr()
    );
    std::thread::sleep(Duration::from_secs(2));
    let lines = server.stderr().matches("cannot accept connections").count();
    let seconds = started.elapsed().as_secs() as usize;
    assert!(
        lines <= seconds + 1,
        "{lines} lines in {seconds} s: at most one a second"
    );
    // Room again: the connections that waited are served, and new ones too.
    set_soft_open_files(&server, soft);
    for stream in &mut waiting {
        let answer = read_until_closed(stream);
        assert!(answer.starts_with("HTTP/1.1 200"), "answered {answer:?}");
    }
    assert_eq!(probes_answered(address(&server), 4), 4);
    assert_eq!(server.terminate().code(), Some(0));
}

/// A client from `local` that pipelines `requests` GETs of `path` into a small receive
/// buffer and never reads.
fn never_reading(server: SocketAddr, local: &str, path: &str, requests: usize) -> TcpStream {
    let mut stream = try_connect_from(server, local, Some(4096)).expect("connecting");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream
        .write_all(request.repeat(requests).as_bytes())
        .expect("sending the requests");
    stream
}

#[test]
fn clients_that_do_not_read_are_closed_at_the_write_timeout_freeing_descriptors_and_threads() {
    // It counts the server's sockets: on PostgreSQL its pool's connections are sockets too,
    // and open with the load. The front door is the same on both.
    if crate::support::sqlite_only("counting sockets with a database pool beside them") {
        return;
    }
    // An idle timeout far away: whatever is closed here, the write timeout closed.
    let server = Server::builder()
        .arg("--write-timeout")
        .arg("2s")
        .arg("--idle-timeout")
        .arg("120s")
        .arg("--journal-entries")
        .arg("0")
        .start();
    let to = address(&server);
    probe(to, "127.0.0.1", Duration::from_secs(5)).expect("served");
    // The probe's connection closed: the listener is the only socket left.
    assert!(eventually(Duration::from_secs(5), || server.open_sockets() == 1));
    let before = (server.open_sockets(), server.threads());
    // Twelve clients from four addresses, each with 100 requests for a 105 KB document: the
    // kernel takes up to 4 MiB of answers, then the server's writes block.
    let crowd: Vec<TcpStream> = (0..12)
        .map(|i| {
            let local = format!("127.0.0.{}", 2 + i % 4);
            never_reading(to, &local, "/makeleaps/openapi.json", 100)
        })
        .collect();
    let held = eventually(Duration::from_secs(20), || {
        server.open_sockets() >= before.0 + crowd.len()
    });
    let during = (server.open_sockets(), server.threads());
    assert!(
        held,
        "the server held the crowd: {during:?}, before {before:?}"
    );
    let blocked_at = Instant::now();
    // Each answer must be written within the write timeout: then the connection is closed,
    // pipelined requests or not. Before, a timed-out write went on to the next request.
    let freed = eventually(Duration::from_secs(20), || {
        server.open_sockets() <= before.0
    });
    let sockets_freed_after = blocked_at.elapsed();
    assert!(
        freed,
        "sockets still open: {} (before {})",
        server.open_sockets(),
        before.0
    );
    // A connection thread left idle ends five seconds after its last connection.
    let threads_freed = eventually(Duration::from_secs(20), || server.threads() <= before.1);
    eprintln!(
        "12 never-reading clients, --write-timeout 2s: {} sockets and {} threads while \
         blocked ({} and {} before); back to {} and {} (the sockets {:.1} s after all were \
         held)",
        during.0,
        during.1,
        before.0,
        before.1,
        server.open_sockets(),
        server.threads(),
        sockets_freed_after.as_secs_f64()
    );
    assert!(threads_freed, "threads: {}", server.threads());
    for mut stream in crowd {
        // What the kernel held is there to read, then the end of the connection.
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let closed = loop {
            match stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) => break e.kind() == ErrorKind::ConnectionReset,
            }
        };
        assert!(closed, "the server closed the connection");
    }
}

/// Until `stop`: `sockets` connections from `local`, each a request head that never ends (a
/// byte every 50 ms), each opened again at once when the server closes it. How many it
/// opened.
fn slowloris(server: SocketAddr, local: String, sockets: usize, stop: Arc<AtomicBool>) -> usize {
    let mut held: Vec<Option<TcpStream>> = (0..sockets).map(|_| None).collect();
    let mut opened = 0;
    while !stop.load(Ordering::Relaxed) {
        for slot in &mut held {
            let alive = slot
                .as_mut()
                .is_some_and(|s| s.write(b"x").is_ok() && !closed_by_server(s));
            if !alive {
                *slot = open_endless_head(server, &local);
                opened += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    opened
}

fn open_endless_head(server: SocketAddr, local: &str) -> Option<TcpStream> {
    // A connection not accepted within a second is given up, and tried again on the next
    // pass: the attacker keeps up its pace.
    let mut stream = connect_within(server, local, None, Duration::from_secs(1)).ok()?;
    stream.set_nonblocking(true).ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .ok()?;
    Some(stream)
}

/// True when the server closed (or answered, which it does only to close: 408) the
/// connection of a non-blocking socket.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    !matches!(stream.read(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// Runs `attack` from each of the nine addresses while 60 probes are made; the probes
/// answered and the connections each address opened.
fn probes_under<F>(server: &Server, attack: F) -> (usize, Vec<usize>)
where
    F: Fn(SocketAddr, String, Arc<AtomicBool>) -> usize + Send + Sync + Copy + 'static,
{
    let to = address(server);
    let before = server.open_descriptors();
    let cap = server.connection_cap();
    let stop = Arc::new(AtomicBool::new(false));
    let attackers: Vec<_> = crowd_addresses()
        .into_iter()
        .map(|local| {
            let stop = stop.clone();
            std::thread::spawn(move || attack(to, local, stop))
        })
        .collect();
    // The attack has filled the server before the probes start.
    let full = eventually(Duration::from_secs(20), || {
        server.open_descriptors() >= before + cap * 3 / 4
    });
    let answered = probes_answered(to, 60);
    stop.store(true, Ordering::Relaxed);
    let opened = attackers.into_iter().map(|a| a.join().unwrap()).collect();
    assert!(full, "the attack never filled the server");
    (answered, opened)
}

#[test]
fn reconnecting_slowloris_from_nine_addresses_leaves_nine_probes_in_ten_answered() {
    let server = Server::builder().open_files(256, 256).start();
    // Forty endless heads from each address: nine times forty is over twice the cap.
    let (answered, opened) =
        probes_under(&server, |to, local, stop| slowloris(to, local, 40, stop));
    eprintln!(
        "reconnecting slowloris, 9 addresses x 40 sockets, cap {}: {answered}/60 probes \
         answered; connections opened per address {opened:?}",
        server.connection_cap()
    );
    assert!(answered >= 54, "{answered}/60 probes answered");
    assert_eq!(probes_answered(address(&server), 4), 4, "and after");
}

/// Until `stop`: `sockets` connections from `local` that pipeline GETs and never read, each
/// opened again when a write to it fails (the server closed it). Two of them ask for a
/// 105 KB document a hundred times, so the server's writes to them block; the others ask for
/// a 22 KB one ten times, then once more every quarter of a second. How many it opened.
fn greedy(server: SocketAddr, local: String, sockets: usize, stop: Arc<AtomicBool>) -> usize {
    let open = |i: usize| {
        let (path, requests) = match i {
            0 | 1 => ("/makeleaps/openapi.json", 100),
            _ => ("/mx/openapi.json", 10),
        };
        let within = Duration::from_secs(1);
        let mut stream = connect_within(server, &local, Some(4096), within).ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        stream.set_nonblocking(true).ok()?;
        stream.write_all(request.repeat(requests).as_bytes()).ok()?;
        Some(stream)
    };
    let mut held: Vec<Option<TcpStream>> = (0..sockets).map(|_| None).collect();
    let mut opened = 0;
    while !stop.load(Ordering::Relaxed) {
        for (i, slot) in held.iter_mut().enumerate() {
            let more = b"GET /mx/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
            let alive = slot.as_mut().is_some_and(|s| match s.write(more) {
                Ok(_) => true,
                Err(e) => e.kind() == ErrorKind::WouldBlock,
            });
            if !alive {
                *slot = open(i);
                opened += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    opened
}

#[test]
#[ignore = "a CPU-bound crowd that times the front door: run alone, with --ignored"]
fn a_never_reading_pipelining_crowd_from_nine_addresses_leaves_nine_probes_in_ten_answered() {
    // Alone (CI runs it so): beside the rest of the suite on two cores, its debug-build
    // server is starved of CPU and a probe or two more time out (53 of 60 seen, 57 alone).
    // On PostgreSQL a probe's /healthz also waits for PostgreSQL, at most two seconds: with
    // this crowd, the rest of the suite and every backend on two cores, that wait is what
    // ran out (47 to 53 probes of 60 in CI's runs; 57 alone), not the connections this
    // tests. The reconnecting slowloris above runs on both engines.
    if crate::support::sqlite_only("a CPU-bound crowd whose probes would time PostgreSQL") {
        return;
    }
    // The journal off: in a debug build, its redacted copy of each 105 KB answer costs tens
    // of milliseconds, and this would test the CPU rather than the connections.
    let server = Server::builder()
        .open_files(256, 256)
        .arg("--journal-entries")
        .arg("0")
        .start();
    let (answered, opened) = probes_under(&server, |to, local, stop| greedy(to, local, 40, stop));
    eprintln!(
        "never-reading pipelining crowd, 9 addresses x 40 sockets, cap {}: {answered}/60 \
         probes answered; connections opened per address {opened:?}",
        server.connection_cap()
    );
    assert!(answered >= 54, "{answered}/60 probes answered");
    assert_eq!(probes_answered(address(&server), 4), 4, "and after");
}
