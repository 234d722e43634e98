//! Fault injection (`/_admin/faults`): rules that make matching requests answer a chosen
//! status and body, wait, or lose their connection, for the next N matches or until removed.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A rule as `POST /_admin/faults` takes it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Only this flavour (by name); any when absent.
    #[serde(default)]
    pub flavour: Option<String>,
    /// Only this method; any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// The vendor path below the flavour's mount, `*` matching any run of characters
    /// (`/clients`, `/api/v1/clients/*`); any path when absent.
    #[serde(default)]
    pub path: Option<String>,
    /// Answer with this status instead of handling the request.
    #[serde(default)]
    pub status: Option<u16>,
    /// The body of that answer; the flavour's own error body for the status when absent.
    #[serde(default)]
    pub body: Option<Value>,
    /// Wait this long first (then answer `status`, or handle the request normally).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop: bool,
    /// Apply to the next N matching requests only; until removed when absent.
    #[serde(default)]
    pub times: Option<u32>,
}

/// What to do to one request.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: Option<u16>,
    pub body: Option<Value>,
    pub delay_ms: Option<u64>,
    pub drop: bool,
}

#[derive(Default)]
pub struct Faults {
    rules: Mutex<(u64, Vec<(u64, Rule)>)>,
}

/// The longest delay a rule may ask for.
const MAX_DELAY_MS: u64 = 60_000;

impl Faults {
    pub fn add(&self, rule: Rule) -> Result<Value, String> {
        if rule.status.is_none() && rule.delay_ms.is_none() && !rule.drop {
            return Err("a rule needs status, delay_ms or drop".into());
        }
        if let Some(status) = rule.status {
            // A 1xx is not a final answer: tiny_http would send it and the client wait on.
            if !(200..=599).contains(&status) {
                return Err("status must be between 200 and 599".into());
            }
        }
        if rule.delay_ms.is_some_and(|d| d > MAX_DELAY_MS) {
            return Err(format!("delay_ms must be at most {MAX_DELAY_MS}"));
        }
        if rule.times == Some(0) {
            return Err("times must be at least 1".into());
        }
        let mut rules = self.lock();
        rules.0 += 1;
        let id = rules.0;
        let shown = describe(id, &rule);
        rules.1.push((id, rule));
        Ok(shown)
    }

    pub fn list(&self) -> Value {
        let rules = self.lock();
        json!({"faults": rules.1.iter().map(|(id, r)| describe(*id, r)).collect::<Vec<_>>()})
    }

    /// Removes one rule (by id) or all; true when something was removed.
    pub fn remove(&self, id: Option<u64>) -> bool {
        let mut rules = self.lock();
        let before = rules.1.len();
        match id {
            Some(id) => rules.1.retain(|(i, _)| *i != id),
            None => rules.1.clear(),
        }
        rules.1.len() != before
    }

    /// The fault for this request, if a rule matches (counting it against `times`).
    pub fn take(&self, flavour: Option<&str>, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.lock();
        if rules.1.is_empty() {
            return None;
        }
        let index = rules.1.iter().position(|(_, r)| {
            r.flavour.as_deref().is_none_or(|f| Some(f) == flavour)
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.path.as_deref().is_none_or(|p| glob(p, path))
        })?;
        let rule = rules.1[index].1.clone();
        if let Some(times) = rule.times {
            if times <= 1 {
                rules.1.remove(index);
            } else {
                rules.1[index].1.times = Some(times - 1);
            }
        }
        Some(Fault {
            status: rule.status,
            body: rule.body,
            delay_ms: rule.delay_ms,
            drop: rule.drop,
        })
    }

    /// Whether a rule counts its uses (`times`).
    pub fn has_counted(&self) -> bool {
        self.lock().1.iter().any(|(_, r)| r.times.is_some())
    }

    /// The rules and the next id as text (`fixture_state` keeps them in the database).
    pub fn snapshot(&self) -> String {
        serde_json::to_string(&*self.lock()).unwrap_or_default()
    }

    /// The rules of a `snapshot` ("" for none).
    pub fn restore(&self, snapshot: &str) {
        let restored = serde_json::from_str(snapshot).unwrap_or_default();
        *self.lock() = restored;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Vec<(u64, Rule)>)> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn describe(id: u64, r: &Rule) -> Value {
    json!({"id": id, "flavour": r.flavour, "method": r.method, "path": r.path,
           "status": r.status, "body": r.body, "delay_ms": r.delay_ms, "drop": r.drop,
           "times": r.times})
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("/clients", "/clients"));
        assert!(glob("/api/v1/clients/*", "/api/v1/clients/744"));
        assert!(glob("*/client/*", "/api/partner/1/client/2/"));
        assert!(!glob("/clients", "/clients/1"));
        assert!(!glob("/a*b*c", "/abx"));
    }

    #[test]
    fn times_counts_down_and_removes_the_rule() {
        let faults = Faults::default();
        let rule: Rule =
            serde_json::from_value(json!({"path": "/clients", "status": 503, "times": 2})).unwrap();
        faults.add(rule).unwrap();
        assert!(faults.take(Some("alpha"), "POST", "/other").is_none());
        assert_eq!(
            faults
                .take(Some("alpha"), "POST", "/clients")
                .unwrap()
                .status,
            Some(503)
        );
        assert!(faults.take(Some("alpha"), "POST", "/clients").is_some());
        assert!(faults.take(Some("alpha"), "POST", "/clients").is_none());
        assert!(faults
            .add(serde_json::from_value(json!({"path": "/x"})).unwrap())
            .is_err());
    }
}
