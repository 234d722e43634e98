//! The container's health probe: `GET /healthz` on the server inside the container, exit 0
//! on a 200 and 1 otherwise. The final image is distroless (no shell, no curl), so this is a
//! tiny program on the standard library alone, built with `rustc` in the image's build stage.
//!
//! Usage: `clientele-healthcheck [HOST:PORT] [PATH]`, default `127.0.0.1:8080 /healthz`.
//! Plain HTTP only: a server started with `--tls-cert` needs another probe.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

fn probe(address: &str, path: &str) -> Result<(), String> {
    let timeout = Duration::from_secs(3);
    let socket = address
        .to_socket_addrs()
        .map_err(|e| format!("{address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address}: no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&socket, timeout).map_err(|e| format!("{address}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        match stream.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(e.to_string()),
        }
    }
    let status_line = String::from_utf8_lossy(&head[..read]);
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!(
            "unhealthy: {:?}",
            status_line.lines().next().unwrap_or("")
        )),
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let path = args.next().unwrap_or_else(|| "/healthz".to_string());
    match probe(&address, &path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("clientele-healthcheck: {message}");
            ExitCode::FAILURE
        }
    }
}
