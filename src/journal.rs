//! The request journal (`GET /_admin/requests`): the most recent requests, with secrets in
//! their bodies redacted. A ring bounded both in entries and in bytes, because a fixture
//! that keeps every request of a long suite runs out of memory (as some peers do).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::conformance::Deviation;

/// Bodies are kept up to this many bytes each.
const MAX_BODY_KEPT: usize = 4096;

#[derive(Clone)]
pub struct Entry {
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub flavour: Option<&'static str>,
    pub tenant: Option<String>,
    pub duration_ms: f64,
    pub body: String,
    /// The request's headers, credentials and cookies redacted (`redact_headers`).
    pub headers: Vec<(String, String)>,
    /// The answer's body, redacted and bounded as `body` is.
    pub answer: String,
}

impl Entry {
    fn size(&self) -> usize {
        64 + self.method.len()
            + self.path.len()
            + self.query.len()
            + self.body.len()
            + self.answer.len()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + self.tenant.as_ref().map_or(0, String::len)
    }
}

/// An entry with its id and what the request did against its vendor's contract.
struct Kept {
    id: u64,
    entry: Entry,
    conformance: Vec<Deviation>,
}

struct Ring {
    entries: VecDeque<Kept>,
    bytes: usize,
    next_id: u64,
}

pub struct Journal {
    ring: Mutex<Ring>,
    max_entries: usize,
    max_bytes: usize,
    /// Deviating requests whose deviations could not be added to the stored counts.
    uncounted: AtomicU64,
}

/// Which entries `list` returns.
#[derive(Default)]
pub struct Filter {
    pub flavour: Option<String>,
    /// A prefix of the path.
    pub path: Option<String>,
    /// Only entries at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// Only entries of this tenant.
    pub tenant: Option<String>,
}

impl Filter {
    fn keeps(&self, e: &Entry) -> bool {
        self.flavour.as_deref().is_none_or(|f| e.flavour == Some(f))
            && self.path.as_deref().is_none_or(|p| e.path.starts_with(p))
            && self.since_ms.is_none_or(|s| e.at_ms >= s)
            && self
                .tenant
                .as_deref()
                .is_none_or(|t| e.tenant.as_deref() == Some(t))
    }
}

impl Journal {
    pub fn new(max_entries: usize, max_bytes: usize) -> Journal {
        Journal {
            ring: Mutex::new(Ring {
                entries: VecDeque::new(),
                bytes: 0,
                next_id: 1,
            }),
            max_entries,
            max_bytes,
            uncounted: AtomicU64::new(0),
        }
    }

    /// One deviating request's deviations could not be stored: the report says how many.
    pub fn note_uncounted(&self) {
        self.uncounted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.max_entries > 0 && self.max_bytes > 0
    }

    /// Keeps an entry, with the deviations its request noted (`conformance`).
    pub fn record(&self, entry: Entry, conformance: Vec<Deviation>) {
        if !self.enabled() {
            return;
        }
        let mut ring = self.lock();
        ring.bytes += entry.size() + deviations_size(&conformance);
        let id = ring.next_id;
        ring.next_id += 1;
        ring.entries.push_back(Kept {
            id,
            entry,
            conformance,
        });
        while ring.entries.len() > self.max_entries || ring.bytes > self.max_bytes {
            match ring.entries.pop_front() {
                Some(old) => ring.bytes -= old.entry.size() + deviations_size(&old.conformance),
                None => break,
            }
        }
    }

    /// `GET /_admin/conformance`: the deviations of the entries that `filter` keeps,
    /// summed up per rule, with the `stored` counts when the filter allows them (their rules
    /// found in `catalogue`).
    pub fn conformance(
        &self,
        filter: &Filter,
        stored: Option<&crate::conformance::Counts>,
        catalogue: crate::conformance::Catalogue,
    ) -> Value {
        let ring = self.lock();
        let uncounted = self.uncounted.load(Ordering::Relaxed);
        let kept = ring
            .entries
            .iter()
            .filter(|k| filter.keeps(&k.entry))
            .map(|k| {
                (
                    crate::conformance::Example {
                        id: k.id,
                        at_ms: k.entry.at_ms,
                        method: &k.entry.method,
                        path: &k.entry.path,
                        status: k.entry.status,
                        flavour: k.entry.flavour,
                        tenant: k.entry.tenant.as_deref(),
                    },
                    &k.conformance[..],
                )
            });
        crate::conformance::summarize(kept, stored, uncounted, catalogue)
    }

    pub fn list(&self, filter: &Filter) -> Value {
        let ring = self.lock();
        let requests: Vec<Value> = ring
            .entries
            .iter()
            .filter(|k| filter.keeps(&k.entry))
            .map(
                |Kept {
                     id,
                     entry: e,
                     conformance,
                 }| {
                    json!({
                        "id": id,
                        "at": crate::clock::iso_millis(e.at_ms),
                        "method": e.method,
                        "path": e.path,
                        "query": e.query,
                        "status": e.status,
                        "flavour": e.flavour,
                        "tenant": e.tenant,
                        "duration_ms": (e.duration_ms * 1000.0).round() / 1000.0,
                        "body": e.body,
                        "conformance": conformance.iter().map(|d| d.to_json()).collect::<Vec<_>>(),
                    })
                },
            )
            .collect();
        json!({ "requests": requests })
    }

    /// Up to `limit` entries that `keep` accepts (given the id too), newest first, with
    /// their ids.
    pub fn newest(&self, keep: impl Fn(u64, &Entry) -> bool, limit: usize) -> Vec<(u64, Entry)> {
        let ring = self.lock();
        ring.entries
            .iter()
            .rev()
            .filter(|k| keep(k.id, &k.entry))
            .take(limit)
            .map(|k| (k.id, k.entry.clone()))
            .collect()
    }

    /// The entry `id`, while the ring still holds it.
    pub fn get(&self, id: u64) -> Option<Entry> {
        let ring = self.lock();
        ring.entries
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.entry.clone())
    }

    /// The deviations from its vendor's contract that request `id` made, while the ring
    /// still holds it.
    pub fn deviations(&self, id: u64) -> Vec<crate::conformance::Deviation> {
        let ring = self.lock();
        ring.entries
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.conformance.clone())
            .unwrap_or_default()
    }

    /// The id of the newest entry (0 when none was ever recorded), for live refresh.
    pub fn last_id(&self) -> u64 {
        self.lock().next_id - 1
    }

    pub fn clear(&self) {
        let mut ring = self.lock();
        ring.entries.clear();
        ring.bytes = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// True for field names that hold secrets (passwords, keys, tokens).
pub fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|s| name.contains(s))
}

/// What the name of a field that holds a secret contains (in lower case).
const SECRET_WORDS: [&str; 5] = ["password", "secret", "token", "api_key", "apikey"];

/// Headers as the journal keeps them: the value of credentials and cookies replaced by
/// `***` (an `Authorization` keeps its scheme).
pub fn redact_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            let shown = if lower == "authorization" || lower == "proxy-authorization" {
                match v.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} ***"),
                    None => "***".to_string(),
                }
            } else if lower == "cookie" || is_secret(&lower) || lower.contains("api-key") {
                "***".to_string()
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

/// True for a path segment that looks like a one-time token (32 characters or more of
/// base64url): the journal keeps "…" instead.
pub fn is_opaque(segment: &str) -> bool {
    segment.len() >= 32
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The answer's body as the journal keeps it: redacted as `redact_body` redacts a request's
/// body, and without the one-time tokens of the request's `path` (a page served at a
/// mailed link repeats its token in its form). The usual answer, which names no secret
/// field, skips the JSON round trip.
pub fn redact_answer(bytes: &[u8], content_type: Option<&str>, path: &str) -> String {
    let mut text = if names_a_secret(bytes) {
        redact_body(bytes, content_type)
    } else {
        cut_bytes(bytes)
    };
    for token in path.split('/').filter(|s| is_opaque(s)) {
        text = text.replace(token, "…");
    }
    text
}

/// True when `bytes` contain one of `SECRET_WORDS`, ASCII case ignored. One pass over the
/// answer (this runs on every journalled request): only a byte that can start a secret word
/// is compared further.
fn names_a_secret(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, b)| {
        matches!(b.to_ascii_lowercase(), b'p' | b's' | b't' | b'a')
            && SECRET_WORDS.iter().any(|word| {
                bytes
                    .get(i..i + word.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
            })
    })
}

/// The body as the journal keeps it: secrets of JSON and form bodies replaced by `***`,
/// then cut to `MAX_BODY_KEPT` bytes.
pub fn redact_body(bytes: &[u8], content_type: Option<&str>) -> String {
    if bytes.is_empty() {
        return String::new();
    }
    let text = if let Ok(mut value) = serde_json::from_slice::<Value>(bytes) {
        redact_json(&mut value);
        value.to_string()
    } else if content_type.is_some_and(|t| t.starts_with("application/x-www-form-urlencoded")) {
        let pairs = form_urlencoded::parse(bytes).map(|(k, v)| {
            let v = if is_secret(&k) { "***".into() } else { v };
            (k, v)
        });
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    };
    cut(text)
}

/// `text` cut to `MAX_BODY_KEPT` bytes (at a character boundary), with "…" when cut.
/// `cut` of the text of `bytes`, without copying more than the part that is kept (an answer
/// can be a list of hundreds of KiB; this runs on every journalled request).
fn cut_bytes(bytes: &[u8]) -> String {
    if bytes.len() <= MAX_BODY_KEPT {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut end = MAX_BODY_KEPT;
    // Back to the start of a character, as `cut` steps back to a char boundary.
    while end > 0 && bytes[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    format!("{}…", String::from_utf8_lossy(&bytes[..end]))
}

fn cut(text: String) -> String {
    if text.len() <= MAX_BODY_KEPT {
        return text;
    }
    let mut cut = MAX_BODY_KEPT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => redact_map(map),
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

fn redact_map(map: &mut Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        if is_secret(key) && !value.is_null() {
            *value = Value::from("***");
        } else {
            redact_json(value);
        }
    }
}

/// What a request's deviations take in the ring: each its rule and flags, and its detail.
fn deviations_size(deviations: &[Deviation]) -> usize {
    deviations
        .iter()
        .map(|d| std::mem::size_of::<Deviation>() + d.detail.as_ref().map_or(0, |t| t.len()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_bytes_keeps_what_cutting_the_text_keeps() {
        for len in [
            0,
            10,
            MAX_BODY_KEPT - 1,
            MAX_BODY_KEPT,
            MAX_BODY_KEPT + 1,
            3 * MAX_BODY_KEPT,
        ] {
            for filler in ["a", "é", "€", "😀"] {
                let text = filler.repeat(len / filler.len() + 1);
                assert_eq!(
                    cut_bytes(text.as_bytes()),
                    cut(text.clone()),
                    "{len} {filler}"
                );
            }
        }
    }

    fn entry(path: &str, body: &str) -> Entry {
        Entry {
            at_ms: 0,
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            status: 200,
            flavour: Some("alpha"),
            tenant: None,
            duration_ms: 0.1,
            body: body.into(),
            headers: Vec::new(),
            answer: String::new(),
        }
    }

    /// The one-pass scan finds what the plain search over each word finds: every word, in
    /// any case, at the start, middle and end of an answer, and nothing else.
    #[test]
    fn an_answer_names_a_secret_as_a_plain_search_would_say() {
        let plain = |bytes: &[u8]| {
            SECRET_WORDS.iter().any(|word| {
                bytes
                    .windows(word.len())
                    .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
            })
        };
        let mut cases: Vec<String> = vec![
            String::new(),
            "{\"status\":\"ok\"}".into(),
            "pas".into(),
            "api_ke".into(),
            "tokens".into(),
            "{\"id\":744,\"name\":\"Acme\",\"partner\":{\"id\":792}}".into(),
        ];
        for word in SECRET_WORDS {
            let upper = word.to_ascii_uppercase();
            cases.extend([
                word.to_string(),
                format!("x{upper}"),
                format!("{{\"a\":1,\"{word}\":2}}"),
                format!("{}…", &word[..word.len() - 1]),
                format!("ab{}", &upper[..word.len() - 1]),
            ]);
        }
        for case in &cases {
            assert_eq!(
                names_a_secret(case.as_bytes()),
                plain(case.as_bytes()),
                "{case}"
            );
        }
    }

    #[test]
    fn the_ring_is_bounded_in_entries_and_bytes() {
        let journal = Journal::new(3, 1_000_000);
        for i in 0..5 {
            journal.record(entry(&format!("/{i}"), ""), Vec::new());
        }
        let list = journal.list(&Filter::default());
        let paths: Vec<&str> = list["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["/2", "/3", "/4"]);
        let journal = Journal::new(1000, 500);
        for _ in 0..10 {
            journal.record(entry("/x", &"b".repeat(200)), Vec::new());
        }
        assert_eq!(
            journal.list(&Filter::default())["requests"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn headers_and_answers_are_kept_redacted_and_counted() {
        let headers: Vec<(String, String)> = [
            ("Authorization", "Basic dXNlcjpwYXNz"),
            ("Cookie", "session=abc"),
            ("X-Api-Key", "k"),
            ("Accept", "application/json"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let kept = redact_headers(&headers);
        assert_eq!(kept[0].1, "Basic ***");
        assert_eq!(kept[1].1, "***");
        assert_eq!(kept[2].1, "***");
        assert_eq!(kept[3].1, "application/json");
        // The answer and the headers count against the byte budget like the body.
        let journal = Journal::new(1000, 1000);
        for _ in 0..5 {
            let mut e = entry("/x", "");
            e.answer = "a".repeat(300);
            journal.record(e, Vec::new());
        }
        let newest = journal.newest(|_, _| true, 10);
        assert_eq!(newest.len(), 2);
        assert_eq!(newest[0].0, 5, "newest first");
        assert_eq!(journal.get(5).map(|e| e.answer.len()), Some(300));
        assert!(journal.get(1).is_none());
        assert_eq!(journal.last_id(), 5);
    }

    #[test]
    fn answers_lose_secret_fields_and_the_path_s_tokens() {
        let token = "A".repeat(43);
        let page = format!("<form action=\"/alpha/register/{token}\">");
        let kept = redact_answer(
            page.as_bytes(),
            Some("text/html"),
            &format!("/alpha/register/{token}"),
        );
        assert_eq!(kept, "<form action=\"/alpha/register/…\">");
        let kept = redact_answer(br#"{"access_token": "t", "n": 1}"#, None, "/oauth");
        assert_eq!(kept, r#"{"access_token":"***","n":1}"#);
        let plain = r#"{ "id": 7 }"#;
        assert_eq!(
            redact_answer(plain.as_bytes(), None, "/x"),
            plain,
            "as sent"
        );
        assert!(redact_answer(&[b'x'; 9000], None, "/").len() <= MAX_BODY_KEPT + 3);
    }

    #[test]
    fn secrets_are_redacted() {
        let body = br#"{"api_client":{"api_key":"k","password":"p"},"name":"n"}"#;
        let kept = redact_body(body, Some("application/json"));
        assert!(!kept.contains("\"k\"") && !kept.contains("\"p\"") && kept.contains("\"n\""));
        let form = redact_body(
            b"grant_type=client_credentials&client_secret=s",
            Some("application/x-www-form-urlencoded"),
        );
        assert_eq!(form, "grant_type=client_credentials&client_secret=***");
        assert!(redact_body("é".repeat(5000).as_bytes(), None).len() <= MAX_BODY_KEPT + 3);
    }
}
