//! Conformance: what a request did that the vendor's contract does not allow.
//!
//! Each flavour checks what its vendor requires (headers, content types, exact paths, field
//! types) and names every deviation with a `Rule`: a stable code, the rule in one sentence,
//! and where the vendor (or the flavour's page in `docs/`) says so. A deviation the vendor
//! refuses is refused in the vendor's own error format, unless the server runs with
//! `--lenient`; a deviation whose vendor answer is unknown is accepted. Either way it is
//! noted here, for the request being handled, and the journal keeps it with the request
//! (`GET /_admin/requests`, field `conformance`); `GET /_admin/conformance` sums them up.
//!
//! A request is handled on one thread (its connection's) from the flavour's `handle` to its journal
//! entry, so the deviations of the request in hand live in a thread-local: `begin` starts
//! a request, the checks note into it, and `Journal::record` takes what was noted.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::{json, Value};

/// One rule of a vendor's contract.
#[derive(Debug)]
pub struct Rule {
    /// Stable, `<flavour>.<what>` (`mx.accept`), for tests to assert on.
    pub code: &'static str,
    /// The rule, in one sentence.
    pub rule: &'static str,
    /// Where it is documented: the vendor's public page, or the flavour's page here
    /// (`docs/mx.md#what-clientele-checks`) when we decided it.
    pub source: &'static str,
}

/// One deviation of one request: the rule, and whether the request was refused for it.
#[derive(Debug, Clone, Copy)]
pub struct Deviation {
    pub rule: &'static Rule,
    pub refused: bool,
}

impl Deviation {
    pub fn to_json(self) -> Value {
        json!({
            "code": self.rule.code,
            "rule": self.rule.rule,
            "source": self.rule.source,
            "refused": self.refused,
        })
    }
}

#[derive(Default)]
struct Current {
    lenient: bool,
    deviations: Vec<Deviation>,
    tenant: Option<String>,
}

thread_local! {
    static CURRENT: RefCell<Current> = RefCell::new(Current::default());
}

/// Starts a request on this thread (forgetting anything a previous one left).
pub fn begin(lenient: bool) {
    CURRENT.with(|c| {
        *c.borrow_mut() = Current {
            lenient,
            ..Current::default()
        }
    });
}

/// A deviation the vendor refuses: notes it, and answers true when the request must be
/// refused (the server is not lenient).
#[must_use]
pub fn refuse(rule: &'static Rule) -> bool {
    CURRENT.with(|c| {
        let mut current = c.borrow_mut();
        let refused = !current.lenient;
        current.deviations.push(Deviation { rule, refused });
        refused
    })
}

/// A deviation whose vendor answer is unknown: accepted, and noted.
pub fn warn(rule: &'static Rule) {
    CURRENT.with(|c| {
        c.borrow_mut().deviations.push(Deviation {
            rule,
            refused: false,
        })
    });
}

/// True when the server is lenient (for checks that must decide before noting).
pub fn lenient() -> bool {
    CURRENT.with(|c| c.borrow().lenient)
}

/// The tenant the request authenticated as, for flavours whose credential does not name
/// it (bearer tokens): the journal keeps it when the request has no Basic user.
pub fn tenant(name: &str) {
    CURRENT.with(|c| c.borrow_mut().tenant = Some(name.to_string()));
}

/// Takes what the request in hand noted: its deviations and tenant.
pub fn take() -> (Vec<Deviation>, Option<String>) {
    CURRENT.with(|c| {
        let mut current = c.borrow_mut();
        (
            std::mem::take(&mut current.deviations),
            current.tenant.take(),
        )
    })
}

/// A request of the journal, as the summary names its examples.
pub struct Example<'e> {
    pub id: u64,
    pub at_ms: i64,
    pub method: &'e str,
    pub path: &'e str,
    pub status: u16,
    pub flavour: Option<&'static str>,
    pub tenant: Option<&'e str>,
}

impl Example<'_> {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "at": crate::clock::iso_millis(self.at_ms),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "tenant": self.tenant,
        })
    }
}

/// `GET /_admin/conformance`: per rule, how many requests broke it (and how many of those
/// were refused), with the first and the last of them; `requests` is how many requests
/// were looked at.
pub fn summarize<'e>(requests: impl Iterator<Item = (Example<'e>, &'e [Deviation])>) -> Value {
    struct Tally {
        rule: &'static Rule,
        flavour: Option<&'static str>,
        count: u64,
        refused: u64,
        first: Value,
        last: Value,
    }
    let mut rules: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut looked_at = 0u64;
    let mut deviating = 0u64;
    for (example, deviations) in requests {
        looked_at += 1;
        if !deviations.is_empty() {
            deviating += 1;
        }
        for deviation in deviations {
            let tally = rules.entry(deviation.rule.code).or_insert_with(|| Tally {
                rule: deviation.rule,
                flavour: example.flavour,
                count: 0,
                refused: 0,
                first: example.to_json(),
                last: Value::Null,
            });
            tally.count += 1;
            tally.refused += u64::from(deviation.refused);
            tally.last = example.to_json();
        }
    }
    let rules: Vec<Value> = rules
        .into_values()
        .map(|t| {
            json!({
                "code": t.rule.code,
                "flavour": t.flavour,
                "rule": t.rule.rule,
                "source": t.rule.source,
                "count": t.count,
                "refused": t.refused,
                "first": t.first,
                "last": t.last,
            })
        })
        .collect();
    json!({
        "requests": looked_at,
        "deviating_requests": deviating,
        "rules": rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    static ACCEPT: Rule = Rule {
        code: "test.accept",
        rule: "Send Accept.",
        source: "docs/test.md",
    };

    #[test]
    fn lenient_requests_are_noted_but_not_refused() {
        begin(false);
        assert!(refuse(&ACCEPT));
        tenant("T");
        let (deviations, tenant) = take();
        assert_eq!(deviations.len(), 1);
        assert!(deviations[0].refused);
        assert_eq!(tenant.as_deref(), Some("T"));
        begin(true);
        assert!(!refuse(&ACCEPT));
        warn(&ACCEPT);
        let (deviations, tenant) = take();
        assert!(deviations.iter().all(|d| !d.refused));
        assert_eq!(deviations.len(), 2);
        assert_eq!(tenant, None);
        assert!(take().0.is_empty());
    }

    #[test]
    fn the_summary_counts_per_rule_with_first_and_last() {
        let refused = [Deviation {
            rule: &ACCEPT,
            refused: true,
        }];
        let example = |id| Example {
            id,
            at_ms: 0,
            method: "POST",
            path: "/x",
            status: 406,
            flavour: Some("test"),
            tenant: None,
        };
        let summary = summarize(
            [
                (example(1), &refused[..]),
                (example(2), &[][..]),
                (example(3), &refused[..]),
            ]
            .into_iter(),
        );
        assert_eq!(summary["requests"], 3);
        assert_eq!(summary["deviating_requests"], 2);
        assert_eq!(summary["rules"][0]["count"], 2);
        assert_eq!(summary["rules"][0]["first"]["id"], 1);
        assert_eq!(summary["rules"][0]["last"]["id"], 3);
    }
}
