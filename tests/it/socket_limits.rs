//! The socket's deadlines and fair shares: what one slow, greedy or hostile client can hold
//! of the server, tried over raw sockets on loopback. Every loop is bounded; each test would
//! hang or fail against a server without the limit it checks.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::support::Server;

pub(crate) fn address(server: &Server) -> SocketAddr {
    server
        .url
        .strip_prefix("http://")
        .expect("a plain HTTP server")
        .parse()
        .expect("the server's address")
}

/// A socket to `server` from `local` (any address of 127.0.0.0/8), with an optional small
/// receive buffer.
pub(crate) fn try_connect_from(
    server: SocketAddr,
    local: &str,
    receive_buffer: Option<usize>,
) -> std::io::Result<TcpStream> {
    connect_within(server, local, receive_buffer, Duration::from_secs(5))
}

/// `try_connect_from`, giving up on connecting after `within`.
pub(crate) fn connect_within(
    server: SocketAddr,
    local: &str,
    receive_buffer: Option<usize>,
    within: Duration,
) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let local: SocketAddr = format!("{local}:0").parse().expect("a local address");
    socket.bind(&local.into())?;
    if let Some(bytes) = receive_buffer {
        socket.set_recv_buffer_size(bytes)?;
    }
    socket.connect_timeout(&server.into(), within)?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(stream)
}

pub(crate) fn connect_from(
    server: &Server,
    local: &str,
    receive_buffer: Option<usize>,
) -> TcpStream {
    try_connect_from(address(server), local, receive_buffer).expect("connecting")
}

/// Everything the server sends until it closes the connection or 10 s pass.
pub(crate) fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// `GET /healthz` over a fresh connection from `local`, answered within `within`.
pub(crate) fn healthz_from(server: &Server, local: &str, within: Duration) -> Result<(), String> {
    probe(address(server), local, within)
}

/// `GET /healthz` to `server` over a fresh connection from `local`, answered 200 within
/// `within`.
pub(crate) fn probe(server: SocketAddr, local: &str, within: Duration) -> Result<(), String> {
    let mut stream =
        try_connect_from(server, local, None).map_err(|e| format!("connecting: {e}"))?;
    stream.set_read_timeout(Some(within)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("writing: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("no answer within {within:?}: {e}"))?;
    if answer.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("answered {answer:?}"))
    }
}

#[test]
fn a_request_head_trickled_past_the_head_timeout_is_answered_408_and_closed() {
    let server = Server::builder().arg("--head-timeout").arg("1s").start();
    let mut stream = connect_from(&server, "127.0.0.1", None);
    stream.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    // One header byte every 200 ms: each read is quick, the head as a whole is not. Upstream
    // tiny_http only timed single reads, so this kept the connection for as long as it went on.
    let mut answer = String::new();
    for byte in b"X-Slow: ".iter().cycle().take(50) {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        stream.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        if let Ok(n) = stream.read(&mut buf) {
            answer.push_str(&String::from_utf8_lossy(&buf[..n]));
            break;
        }
        stream.set_nonblocking(false).unwrap();
    }
    stream.set_nonblocking(false).unwrap();
    answer.push_str(&read_until_closed(&mut stream));
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "after {:?} the server answered {answer:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the head deadline did not cut the trickle off"
    );
}

#[test]
fn trickling_heads_from_one_address_do_not_lock_out_another() {
    let per_address = 8;
    let server = Server::builder()
        .arg("--max-connections-per-address")
        .arg(per_address.to_string())
        .start();
    // Three times the cap from 127.0.0.1, each a head that never ends.
    let mut held: Vec<TcpStream> = (0..3 * per_address)
        .map(|_| {
            let mut stream = connect_from(&server, "127.0.0.1", None);
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ");
            stream
        })
        .collect();
    // Another address is served at once.
    for _ in 0..5 {
        healthz_from(&server, "127.0.0.2", Duration::from_secs(2))
            .expect("127.0.0.2 is served while 127.0.0.1 is at its cap");
    }
    // Past the cap, 127.0.0.1's sockets were closed without an answer.
    let closed = held
        .iter_mut()
        .filter(|stream| {
            let stream: &TcpStream = stream;
            let mut stream = stream;
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut buf = [0u8; 64];
            match stream.read(&mut buf) {
                Ok(0) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                Ok(_) => panic!("a trickling head was answered"),
            }
        })
        .count();
    assert_eq!(
        closed,
        2 * per_address,
        "the sockets over the per-address cap are closed, the others held"
    );
}

#[test]
fn slow_request_bodies_from_more_clients_than_workers_hold_no_worker() {
    let server = Server::builder()
        .arg("--workers")
        .arg("2")
        .arg("--body-timeout")
        .arg("2s")
        .arg("--body-min-rate")
        .arg("100")
        .start();
    // Six bodies of 5,000 bytes that stop after 10: upstream read them on the workers.
    let mut slow: Vec<TcpStream> = (0..6)
        .map(|_| {
            let mut stream = connect_from(&server, "127.0.0.1", None);
            stream
                .write_all(
                    b"POST /mx/clients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                      Content-Length: 5000\r\n\r\n{\"client\":",
                )
                .unwrap();
            stream
        })
        .collect();
    for _ in 0..5 {
        healthz_from(&server, "127.0.0.1", Duration::from_secs(1))
            .expect("/healthz answers while slow bodies are pending");
    }
    // The bodies missed their deadline: each is answered 408 and closed.
    for stream in &mut slow {
        let answer = read_until_closed(stream);
        assert!(answer.starts_with("HTTP/1.1 408"), "answered {answer:?}");
    }
}

#[test]
fn a_client_that_pipelines_and_never_reads_holds_no_worker() {
    let server = Server::builder().arg("--workers").arg("2").start();
    // Three such clients, more than the workers: each sends 100 requests for a 96 KB document
    // at once into a small receive buffer, and reads nothing.
    let request = b"GET /makeleaps/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
    let greedy: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut stream = connect_from(&server, "127.0.0.1", Some(4096));
            stream.write_all(&request.repeat(100)).unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..10 {
        healthz_from(&server, "127.0.0.1", Duration::from_secs(1))
            .expect("/healthz answers while greedy clients hold their connections");
    }
    drop(greedy);
}

#[test]
fn bytes_outside_ascii_in_the_request_line_or_a_header_get_400() {
    let server = Server::start();
    for head in [
        &b"GET /heal\xffthz HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Name: Jos\xc3\xa9\r\n\r\n"[..],
    ] {
        let mut stream = connect_from(&server, "127.0.0.1", None);
        stream.write_all(head).unwrap();
        let answer = read_until_closed(&mut stream);
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{:?} answered {answer:?}",
            String::from_utf8_lossy(head)
        );
    }
    healthz_from(&server, "127.0.0.1", Duration::from_secs(2)).expect("still serving");
}

#[test]
fn pipelined_requests_on_one_connection_are_answered_in_order() {
    let server = Server::start();
    let mut stream = connect_from(&server, "127.0.0.1", None);
    let mut requests = Vec::new();
    for i in 0..20 {
        let path = if i % 2 == 0 { "/healthz" } else { "/nowhere" };
        requests.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    requests.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(&requests).unwrap();
    let answers = read_until_closed(&mut stream);
    let statuses: Vec<&str> = answers
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &answers[at + 9..at + 12])
        .collect();
    let mut expected: Vec<&str> = (0..20)
        .map(|i| if i % 2 == 0 { "200" } else { "404" })
        .collect();
    expected.push("200");
    assert_eq!(statuses, expected);
}
