use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read};

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use crate::common::{HTTPVersion, Method, StatusCode};
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;

/// Clientele patch: the longest request line or header line accepted (then 400 and close).
const MAX_LINE_BYTES: usize = 16 * 1024;
/// Clientele patch: the most headers one request may carry.
const MAX_HEADERS: usize = 128;

/// Clientele patch: the error of a line over `MAX_LINE_BYTES` or with bytes outside ASCII
/// (told apart from I/O errors, which close the connection without an answer: these get a
/// 400 first).
#[derive(Debug)]
struct BadLine(&'static str);

impl BadLine {
    fn is(e: &IoError) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<BadLine>())
    }
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BadLine {}

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // Clientele patch: lets a request close the connection without an answer
    abort_handle: Option<crate::connection::Connection>,

    // Clientele patch: the socket's read deadline, set for each request head and body
    deadline: std::sync::Arc<crate::connection::Deadlines>,
    limits: std::sync::Arc<crate::Limits>,
    // Clientele patch: whether this connection waits on its client (for `Connections`)
    activity: std::sync::Arc<crate::connections::Activity>,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    /// Clientele patch: a request refused with this status and why (an unknown method or
    /// version, ambiguous framing).
    Refused(StatusCode, &'static str),
    ReadIoError(IoError),
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub(crate) fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        deadline: std::sync::Arc<crate::connection::Deadlines>,
        activity: std::sync::Arc<crate::connections::Activity>,
        limits: std::sync::Arc<crate::Limits>,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();
        let abort_handle = read_socket.abort_handle();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
            abort_handle,
            deadline,
            limits,
            activity,
        }
    }

    /// Clientele patch: the connection's read deadline and the body timeout, for the drain
    /// of an unread body after the answer.
    pub(crate) fn body_deadline(&self) -> (std::sync::Arc<crate::connection::Deadlines>, Duration) {
        (self.deadline.clone(), self.limits.body_timeout)
    }

    /// Clientele patch: answers a request that cannot be served (`explanation` is the body)
    /// and lets the client read that answer before the connection closes.
    fn refuse(&mut self, status: StatusCode, version: HTTPVersion, explanation: &str) {
        use std::io::Write;
        let mut writer = self.sink.next().unwrap();
        let response = crate::Response::from_string(explanation)
            .with_status_code(status)
            .closing_the_connection();
        if response
            .raw_print(&mut writer, version, &[], false, None)
            .is_ok()
        {
            let _ = writer.flush();
            self.linger();
        }
    }

    /// Clientele patch: closing a socket with request bytes unread sends a reset, which can
    /// destroy the answer before the client has read it. So the connection is half-closed
    /// first (not under TLS, whose close_notify must come before the FIN: it is sent when
    /// the connection is dropped), and what the client still sends is read and dropped, for
    /// at most a second or 64 KiB (Apache's "lingering close").
    fn linger(&mut self) {
        if let Some(socket) = self.abort_handle.as_ref().filter(|_| !self.secure) {
            let _ = socket.shutdown(std::net::Shutdown::Write);
        }
        self.deadline
            .set(std::time::Instant::now() + Duration::from_secs(1));
        let mut dropped = [0u8; 4096];
        let mut left: usize = 64 * 1024;
        while left > 0 {
            match self.next_header_source.read(&mut dropped) {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    }

    /// Reads the next line from self.next_header_source.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line.
    ///
    /// Clientele patch: `starts_request` marks the request line: once its first byte has
    /// arrived, the whole head must arrive within the head timeout.
    fn read_next_line(&mut self, starts_request: bool) -> IoResult<AsciiString> {
        let mut buf = Vec::new();
        let mut prev_byte_was_cr = false;

        loop {
            let byte = self.next_header_source.by_ref().bytes().next();

            let byte = match byte {
                Some(b) => b?,
                None => return Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF")),
            };
            if starts_request && buf.is_empty() {
                self.deadline
                    .set(std::time::Instant::now() + self.limits.head_timeout);
                self.activity.enter(crate::connections::Phase::Reading);
            }

            if byte == b'\n' && prev_byte_was_cr {
                buf.pop(); // removing the '\r'

                // Clientele patch: answered 400 (upstream closed without an answer).
                return AsciiString::from_ascii(buf).map_err(|_| {
                    IoError::new(ErrorKind::InvalidData, BadLine("bytes outside ASCII"))
                });
            }

            // Clientele patch (RFC 9112 §2.2, §5.5): a line ends with CRLF only. A bare LF or
            // CR, or another control character in a line, is refused: a proxy that took a
            // bare LF for the end of a line would read other headers than we do.
            if (prev_byte_was_cr && byte != b'\n') || !allowed_in_line(byte) {
                return Err(IoError::new(
                    ErrorKind::InvalidData,
                    BadLine("a control character in a line"),
                ));
            }

            prev_byte_was_cr = byte == b'\r';

            // Clientele patch: upstream grew the line without bound, so one fast client could
            // make the server allocate any amount with a single endless header line.
            if buf.len() >= MAX_LINE_BYTES {
                return Err(IoError::new(
                    ErrorKind::InvalidData,
                    BadLine("line too long"),
                ));
            }
            buf.push(byte);
        }
    }

    /// The request line, or why there is none.
    fn read_request_line(&mut self) -> Result<AsciiString, ReadError> {
        self.read_next_line(true).map_err(|e| {
            if BadLine::is(&e) {
                ReadError::WrongRequestLine
            } else {
                ReadError::ReadIoError(e)
            }
        })
    }

    /// Reads the header lines after a request line, up to the empty line that ends them.
    fn read_headers(&mut self, version: &HTTPVersion) -> Result<Vec<crate::Header>, ReadError> {
        let mut headers = Vec::new();
        loop {
            let line = self.read_next_line(false).map_err(|e| {
                if BadLine::is(&e) {
                    ReadError::WrongHeader(version.clone())
                } else {
                    ReadError::ReadIoError(e)
                }
            })?;

            if line.is_empty() {
                return Ok(headers);
            };
            // Clientele patch: a bounded number of headers, for the same reason.
            if headers.len() >= MAX_HEADERS {
                return Err(ReadError::WrongHeader(version.clone()));
            }
            headers.push(match FromStr::from_str(line.as_str().trim()) {
                // TODO: remove this conversion
                Ok(h) => h,
                _ => return Err(ReadError::WrongHeader(version.clone())),
            });
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        let (method, path, version, headers) = {
            // reading the request line
            let (method, path, version) = {
                // Clientele patch: between requests, only the idle timeout applies.
                self.deadline.clear();
                self.activity.enter(crate::connections::Phase::Idle);
                let mut line = self.read_request_line()?;
                // Clientele patch (RFC 9112 §2.2): an empty line before a request line is
                // ignored (clients have sent a CRLF after a body).
                if line.is_empty() {
                    line = self.read_request_line()?;
                }

                parse_request_line(
                    line.as_str().trim(), // TODO: remove this conversion
                )?
            };

            let headers = self.read_headers(&version)?;
            (method, path, version, headers)
        };

        // building the writer for the request
        let writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            *self.remote_addr.as_ref().unwrap(),
            data_source,
            writer,
        )
        .map(|mut request| {
            request.abort_handle = self.abort_handle.as_ref().map(|c| c.handle());
            request
        })
        .and_then(|mut request| {
            request
                .buffer_body(&self.limits, &self.deadline)
                .map(|()| request)
                .map_err(crate::request::RequestCreationError::CreationIoError)
        })
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
                request::RequestCreationError::Refused(status, why) => {
                    ReadError::Refused(status, why)
                }
            }
        })?;

        // return the request
        Ok(request)
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        let rq = match self.read() {
            Ok(rq) => rq,
            // Clientele patch: every error answers (but an I/O error, which leaves nobody to
            // answer) and closes the connection: where the next request would start is
            // unknown, or not to be trusted.
            Err(ReadError::WrongRequestLine) => {
                self.refuse(StatusCode(400), HTTPVersion(1, 1), "");
                return None;
            }
            Err(ReadError::WrongHeader(ver)) => {
                self.refuse(StatusCode(400), ver, "");
                return None;
            }
            Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::TimedOut => {
                self.refuse(StatusCode(408), HTTPVersion(1, 1), "");
                return None;
            }
            Err(ReadError::ExpectationFailed(ver)) => {
                // TODO: should be recoverable, but needs handling in case of body
                self.refuse(StatusCode(417), ver, "");
                return None;
            }
            Err(ReadError::Refused(status, why)) => {
                self.refuse(status, HTTPVersion(1, 1), why);
                return None;
            }
            Err(ReadError::ReadIoError(_)) => return None,
        };

        // updating the status of the connection
        let connection_header = rq
            .headers()
            .iter()
            .find(|h| h.field.equiv("Connection"))
            .map(|h| h.value.as_str());

        let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

        match lowercase {
            Some(ref val) if val.contains("close") => self.no_more_requests = true,
            Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
            Some(ref val)
                if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
            {
                self.no_more_requests = true
            }
            None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
            _ => (),
        };

        // returning the request
        Some(rq)
    }
}

/// Parses a "HTTP/1.1" string.
///
/// Clientele patch (RFC 9112 §2.3): `HTTP/` DIGIT `.` DIGIT, or 400. A major version other
/// than 1 gets 505 (upstream took HTTP/2.0 and 3.0 in, then wrote its 505 behind the
/// request's own answer, which never came: no answer at all); a higher 1.x is served as 1.1,
/// the highest minor version this server speaks (RFC 9110 §2.5).
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let digits = version.strip_prefix("HTTP/").map(str::as_bytes);
    let (major, minor) = match digits {
        Some(&[major, b'.', minor]) if major.is_ascii_digit() && minor.is_ascii_digit() => {
            (major - b'0', minor - b'0')
        }
        _ => return Err(ReadError::WrongRequestLine),
    };
    match (major, minor) {
        (1, 0) => Ok(HTTPVersion(1, 0)),
        (1, _) => Ok(HTTPVersion(1, 1)),
        _ => Err(ReadError::Refused(
            StatusCode(505),
            "This server only supports HTTP versions 1.0 and 1.1",
        )),
    }
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
///
/// Clientele patch (RFC 9112 §3): exactly three parts, one space apart (upstream ignored a
/// fourth); a method is a token (or 400), matched case-sensitively (RFC 9110 §9.1: `get` is
/// not `GET`, and upstream served it as GET): another spelling of a standard method is 400.
/// Any other token goes on as a non-standard method, which the application answers (405
/// with the path's `Allow`: RFC 9110 allows it as well as 501, and client tools expect it).
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::WrongRequestLine);
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) || path.is_empty() {
        return Err(ReadError::WrongRequestLine);
    }
    let version = parse_http_version(version)?;
    match method.parse() {
        Ok(Method::NonStandard(_)) if is_standard(&method.to_ascii_uppercase()) => Err(
            ReadError::Refused(StatusCode(400), "Methods are case-sensitive"),
        ),
        Ok(method) => Ok((method, path.to_owned(), version)),
        Err(()) => Err(ReadError::WrongRequestLine),
    }
}

/// Clientele patch: whether `method` is one of the standard methods, spelled as they are.
fn is_standard(method: &str) -> bool {
    !matches!(method.parse(), Ok(Method::NonStandard(_)) | Err(()))
}

/// Clientele patch: a byte of a token (`tchar`, RFC 9110 §5.6.2), as methods are.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Clientele patch: a byte that may appear in a request line or header line (RFC 9110 §5.5:
/// no control character but a tab; CR only before the LF that ends the line).
fn allowed_in_line(byte: u8) -> bool {
    byte == b'\t' || byte == b'\r' || !byte.is_ascii_control()
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }

    #[test]
    fn methods_and_versions_by_the_book() {
        use super::{parse_request_line as parse, ReadError};
        let status = |line| match parse(line) {
            Ok(_) => 0,
            Err(ReadError::Refused(status, _)) => status.0,
            Err(_) => 400,
        };
        assert_eq!(status("GET /a HTTP/1.1"), 0);
        assert_eq!(status("PATCH /a HTTP/1.0"), 0);
        assert_eq!(status("get /a HTTP/1.1"), 400);
        assert_eq!(status("Post /a HTTP/1.1"), 400);
        assert!(matches!(parse("BREW /a HTTP/1.1"), Ok((m, _, _)) if m.as_str() == "BREW"));
        assert_eq!(status("GE(T /a HTTP/1.1"), 400);
        assert_eq!(status("GET /a HTTP/2.0"), 505);
        assert_eq!(status("GET /a HTTP/0.9"), 505);
        assert_eq!(status("GET /a http/1.1"), 400);
        assert_eq!(status("GET /a HTTP/1.10"), 400);
        assert_eq!(status("GET /a HTTP/1.1 extra"), 400);
        assert_eq!(status("GET  /a HTTP/1.1"), 400);
        assert!(matches!(parse("GET /a HTTP/1.2"), Ok((_, _, v)) if v == (1, 1)));
    }
}
