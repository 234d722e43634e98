//! The HTTP vocabulary every flavour shares: a request read with a body limit, a response
//! value, and small helpers for headers, queries, JSON and paths. Flavours decide what a
//! problem means in their vendor's format; this module only reports it.

use std::io::Read;
use std::net::SocketAddr;

use serde_json::Value;

/// Largest request body accepted; past it every flavour answers 413 in its own format.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug)]
pub enum Body {
    Complete(Vec<u8>),
    /// Longer than `MAX_BODY_BYTES`; only the limit was read.
    TooLarge,
    /// The connection failed while the body was being read.
    Unreadable,
}

/// One request, with its body already read (up to the limit).
#[derive(Debug)]
pub struct Request {
    /// A method tiny_http knows, e.g. `POST` (RFC 9110's and `PATCH`).
    pub method: String,
    /// The path below the flavour's mount point, e.g. `/clients` for `/<flavour>/clients`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Where this flavour is mounted on this listener: `/<flavour>`, or `` on a dedicated
    /// listener.
    pub mount: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub remote: Option<SocketAddr>,
    pub secure: bool,
}

impl Request {
    /// Builds a request from tiny_http's, reading at most `MAX_BODY_BYTES` of the body.
    pub fn read_from(raw: &mut tiny_http::Request) -> Request {
        let url = raw.url().to_string();
        let (path, query) = match url.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (url, String::new()),
        };
        let headers: Vec<(String, String)> = raw
            .headers()
            .iter()
            .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
            .collect();
        let declared_too_large = raw.body_length().is_some_and(|n| n > MAX_BODY_BYTES);
        let body = if declared_too_large {
            Body::TooLarge
        } else {
            let mut bytes = Vec::new();
            let limit = MAX_BODY_BYTES as u64 + 1;
            match raw.as_reader().take(limit).read_to_end(&mut bytes) {
                Ok(n) if n > MAX_BODY_BYTES => Body::TooLarge,
                Ok(_) => Body::Complete(bytes),
                Err(_) => Body::Unreadable,
            }
        };
        Request {
            // As sent: methods are case-sensitive, and tiny_http lets only known ones in.
            method: raw.method().as_str().to_string(),
            path,
            query,
            mount: String::new(),
            headers,
            body,
            remote: raw.remote_addr().copied(),
            secure: raw.secure(),
        }
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// `scheme://host` as the client addressed us (the Host header), for absolute URLs.
    pub fn origin(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        let host = self.header("Host").unwrap_or("localhost");
        format!("{scheme}://{host}")
    }

    /// True when the media type of `Content-Type` is `wanted` (parameters ignored).
    pub fn content_type_is(&self, wanted: &str) -> bool {
        self.header("Content-Type").is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(wanted))
        })
    }

    /// The path split into its non-empty segments.
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }
}

/// The client's address: the peer, or, when the peer is one of `trusted_proxies`, the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(req: &Request, trusted_proxies: &[ipnet::IpNet]) -> Option<std::net::IpAddr> {
    let peer = req.remote?.ip();
    let trusted = |ip: &std::net::IpAddr| trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<std::net::IpAddr> = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("X-Forwarded-For"))
        .flat_map(|(_, v)| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    // Walk from the nearest hop outwards; the first untrusted hop is the client.
    Some(
        forwarded
            .iter()
            .rev()
            .find(|ip| !trusted(ip))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer),
    )
}

/// Why a JSON body could not be read; each flavour words it in its own format.
#[derive(Debug)]
pub enum JsonError {
    TooLarge,
    Unreadable,
    Empty,
    /// Not JSON: serde_json's description, with line and column.
    Malformed(String),
}

/// The request body parsed as a JSON value.
pub fn json_body(req: &Request) -> Result<Value, JsonError> {
    match &req.body {
        Body::TooLarge => Err(JsonError::TooLarge),
        Body::Unreadable => Err(JsonError::Unreadable),
        Body::Complete(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Err(JsonError::Empty),
        Body::Complete(bytes) => {
            serde_json::from_slice(bytes).map_err(|e| JsonError::Malformed(e.to_string()))
        }
    }
}

/// A response, built by handlers and written out by the server.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: &Value) -> Response {
        Response::empty(status)
            .with_header("Content-Type", "application/json")
            // The same compact text as `to_string`, written straight into the body rather
            // than through `Display`'s formatter adapter.
            .with_body(serde_json::to_vec(value).unwrap_or_else(|_| value.to_string().into_bytes()))
    }

    /// An HTML page, which no other site may frame (`unframeable`).
    pub fn html(status: u16, page: String) -> Response {
        Response::empty(status)
            .with_header("Content-Type", "text/html; charset=utf-8")
            .unframeable()
            .with_body(page.into_bytes())
    }

    /// Keeps the page out of other sites' frames, where a hidden page under a decoy can
    /// steal a click on a form (clickjacking): `X-Frame-Options` for older browsers, a
    /// `frame-ancestors` policy for the others. A page with a fuller policy of its own (the
    /// console's) replaces the policy afterwards, keeping `frame-ancestors 'none'`.
    pub fn unframeable(self) -> Response {
        self.with_header_replaced("X-Frame-Options", "DENY")
            .with_header_replaced("Content-Security-Policy", "frame-ancestors 'none'")
    }

    /// Sets a header, in place of any of the same name.
    pub fn with_header_replaced(mut self, name: &str, value: &str) -> Response {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.with_header(name, value)
    }

    pub fn redirect(location: &str) -> Response {
        Response::empty(303).with_header("Location", location)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_body(mut self, body: Vec<u8>) -> Response {
        self.body = body;
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The fields of an `application/x-www-form-urlencoded` body.
pub fn form_body(req: &Request) -> Vec<(String, String)> {
    match &req.body {
        Body::Complete(bytes) => form_urlencoded::parse(bytes).into_owned().collect(),
        _ => Vec::new(),
    }
}

/// The first value of field `name` of a form (from `form_body`).
pub fn form_field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The value of one cookie from the `Cookie` header.
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], query: &str) -> Request {
        Request {
            method: "GET".into(),
            path: "/a//b/".into(),
            query: query.into(),
            mount: String::new(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Body::Complete(Vec::new()),
            remote: None,
            secure: false,
        }
    }

    #[test]
    fn reads_headers_queries_and_cookies() {
        let req = request(
            &[
                ("content-type", "application/json; charset=utf-8"),
                ("Cookie", "a=1; session=xyz"),
            ],
            "partner=New%20Partner&take=5",
        );
        assert!(req.content_type_is("application/json"));
        assert_eq!(req.query_param("partner").as_deref(), Some("New Partner"));
        assert_eq!(req.query_param("skip"), None);
        assert_eq!(cookie(&req, "session").as_deref(), Some("xyz"));
        assert_eq!(req.segments(), vec!["a", "b"]);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
