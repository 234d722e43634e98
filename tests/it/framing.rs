//! Framing by the book (RFC 9112): requests whose end two readers could see in different
//! places, with misspelt methods or versions the server does not speak, or with bare line ends, are
//! answered with their status and the connection is closed. Each is sent over a raw socket
//! with a second request right behind it, which a proxy that framed the first differently
//! would take for a request of its own: that one must not be answered.

use std::io::Write;
use std::time::Duration;

use crate::socket_limits::{connect_from, healthz_from, read_until_closed};
use crate::support::Server;

/// The request a smuggler hides behind the first.
const SMUGGLED: &str = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// Sends `head` and the smuggled request in one write; everything the server answers
/// before it closes the connection.
fn exchange(server: &Server, head: &str) -> String {
    let mut stream = connect_from(server, "127.0.0.1", None);
    stream
        .write_all(format!("{head}{SMUGGLED}").as_bytes())
        .unwrap();
    read_until_closed(&mut stream)
}

/// The status codes of the answers in `answers`, in order.
fn statuses(answers: &str) -> Vec<&str> {
    answers
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &answers[at + 9..at + 12])
        .collect()
}

#[test]
fn ambiguous_framing_unknown_methods_and_versions_are_refused_and_the_connection_closed() {
    let server = Server::start();
    let post = "POST /mx/clients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "Transfer-Encoding with Content-Length",
            format!("{post}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            "400",
        ),
        (
            "two different Content-Lengths",
            format!("{post}Content-Length: 2\r\nContent-Length: 40\r\n\r\n{{}}"),
            "400",
        ),
        (
            "a Content-Length list that differs",
            format!("{post}Content-Length: 2, 40\r\n\r\n{{}}"),
            "400",
        ),
        (
            "a Content-Length that is not a number",
            format!("{post}Content-Length: 2x\r\n\r\n{{}}"),
            "400",
        ),
        (
            "an unknown transfer coding before chunked",
            format!("{post}Transfer-Encoding: rot13, chunked\r\n\r\n0\r\n\r\n"),
            "501",
        ),
        (
            "chunked not the last transfer coding",
            format!("{post}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
            "400",
        ),
        (
            "a transfer coding without chunked",
            format!("{post}Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n"),
            "400",
        ),
        (
            "chunked twice",
            format!(
                "{post}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            "400",
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            "POST /mx/clients HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .into(),
            "400",
        ),
        (
            "whitespace before a header's colon",
            format!("{post}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
            "400",
        ),
        (
            "a header line ended by a bare LF",
            "GET /healthz HTTP/1.1\r\nHost: x\nX-Hidden: y\r\n\r\n".into(),
            "400",
        ),
        (
            "a lowercase method",
            "get /healthz HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            "400",
        ),
        (
            "a method that is not a token",
            "GE(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            "400",
        ),
        (
            "HTTP/2.0 on an HTTP/1.1 connection",
            "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n".into(),
            "505",
        ),
        (
            "a version that is not HTTP/d.d",
            "GET /healthz HTTP/1.10\r\nHost: x\r\n\r\n".into(),
            "400",
        ),
    ];
    for (what, head, status) in &cases {
        let answers = exchange(&server, head);
        assert_eq!(
            statuses(&answers),
            [*status],
            "{what}: one answer, then closed (the smuggled request unanswered): {answers:?}"
        );
        assert!(
            answers.contains("Connection: close"),
            "{what}: says it closes: {answers:?}"
        );
    }
    healthz_from(&server, "127.0.0.1", Duration::from_secs(5)).expect("still serving");
}

#[test]
fn unambiguous_framing_keeps_the_connection_for_the_next_request() {
    let server = Server::start();
    let cases = [
        // The same length twice (RFC 9110 §8.6 allows either refusing or using it).
        "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}",
        "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        // A higher minor version is served as HTTP/1.1 (RFC 9110 §2.5).
        "GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n",
        // An empty line before a request line is ignored (RFC 9112 §2.2).
        "\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for head in cases {
        let mut stream = connect_from(&server, "127.0.0.1", None);
        let last = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        stream
            .write_all(format!("{head}{last}").as_bytes())
            .unwrap();
        let answers = read_until_closed(&mut stream);
        let statuses = statuses(&answers);
        assert_eq!(statuses.len(), 2, "{head:?}: both answered: {answers:?}");
        assert_eq!(statuses[1], "200", "{head:?}: {answers:?}");
    }
}

#[test]
fn a_method_the_server_does_not_know_is_405_with_allow_and_the_connection_stays() {
    let server = Server::start();
    for method in ["QUERY", "BREW"] {
        let mut stream = connect_from(&server, "127.0.0.1", None);
        let head = format!("{method} /mx/clients HTTP/1.1\r\nHost: x\r\n\r\n");
        let last = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        stream
            .write_all(format!("{head}{last}").as_bytes())
            .unwrap();
        let answers = read_until_closed(&mut stream);
        assert_eq!(statuses(&answers), ["405", "200"], "{method}: {answers:?}");
        assert!(answers.contains("Allow: POST"), "{method}: {answers:?}");
    }
}
