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
//! a request, the checks note into it, and the server `take`s what was noted.
//!
//! The journal is a ring, so it forgets; the counts do not: every deviating request adds
//! to per-tenant, per-rule counts in the store (`count`), which a reset empties and a tenant
//! set's deletion forgets for its tenants. The report's counts come from there, its
//! examples (the first and last request that broke each rule) from the ring.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::db::{Connection, Transaction};

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

/// One deviation of one request: the rule, whether the request was refused for it, and
/// where in the request it was (`detail`, e.g. the field of a rule about every field's type).
#[derive(Debug, Clone)]
pub struct Deviation {
    pub rule: &'static Rule,
    pub refused: bool,
    pub detail: Option<Box<str>>,
}

impl Deviation {
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.rule.code,
            "rule": self.rule.rule,
            "source": self.rule.source,
            "refused": self.refused,
            "detail": self.detail,
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
    note(rule, None, true)
}

/// A deviation whose vendor answer is unknown: accepted, and noted.
pub fn warn(rule: &'static Rule) {
    note(rule, None, false);
}

/// `refuse`, saying where: a rule that covers many fields names the one (`isActive`).
#[must_use]
pub fn refuse_at(rule: &'static Rule, detail: &str) -> bool {
    note(rule, Some(detail), true)
}

/// `warn`, saying where.
pub fn warn_at(rule: &'static Rule, detail: &str) {
    note(rule, Some(detail), false);
}

/// Notes a deviation; answers whether the request is refused for it.
fn note(rule: &'static Rule, detail: Option<&str>, refuse: bool) -> bool {
    CURRENT.with(|c| {
        let mut current = c.borrow_mut();
        let refused = refuse && !current.lenient;
        current.deviations.push(Deviation {
            rule,
            refused,
            detail: detail.map(Into::into),
        });
        refused
    })
}

/// How many deviations this request has noted so far, for `forget_since`.
pub fn noted() -> usize {
    CURRENT.with(|c| c.borrow().deviations.len())
}

/// Forgets the deviations noted after `noted()` gave `count`: a write that checks and notes
/// inside its transaction starts with this, since the store may run it again (it lost a race
/// on PostgreSQL, `Store::write_rows`) and its checks would note them a second time.
pub fn forget_since(count: usize) {
    CURRENT.with(|c| c.borrow_mut().deviations.truncate(count));
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

/// Adds one request's deviations to the stored counts of `tenant` (`""` for none).
pub fn count(
    tx: &Transaction,
    tenant: &str,
    flavour: &str,
    deviations: &[Deviation],
) -> crate::db::Result<()> {
    tx.prepare_cached(
        "INSERT INTO conformance_requests (tenant, flavour, deviating) VALUES (?1, ?2, 1)
         ON CONFLICT (tenant, flavour)
         DO UPDATE SET deviating = conformance_requests.deviating + 1",
    )?
    .execute(crate::params![tenant, flavour])?;
    let mut add = tx.prepare_cached(
        "INSERT INTO conformance_counts (tenant, flavour, code, count, refused)
         VALUES (?1, ?2, ?3, 1, ?4)
         ON CONFLICT (tenant, flavour, code)
         DO UPDATE SET count = conformance_counts.count + 1,
                       refused = conformance_counts.refused + excluded.refused",
    )?;
    for deviation in deviations {
        add.execute(crate::params![
            tenant,
            flavour,
            deviation.rule.code,
            i64::from(deviation.refused)
        ])?;
    }
    Ok(())
}

/// Forgets the counts of `tenant` (its tenant set is being deleted).
pub fn forget(tx: &Transaction, tenant: &str) -> crate::db::Result<()> {
    tx.execute("DELETE FROM conformance_counts WHERE tenant = ?1", [tenant])?;
    tx.execute(
        "DELETE FROM conformance_requests WHERE tenant = ?1",
        [tenant],
    )?;
    Ok(())
}

/// The stored counts a report shows: per rule (code), how many requests broke it and how
/// many were refused; and how many requests broke any rule.
#[derive(Debug, Default)]
pub struct Counts {
    pub rules: BTreeMap<String, (Option<String>, u64, u64)>,
    pub deviating_requests: u64,
}

/// The stored counts of one tenant and flavour, or of all (`None`).
pub fn counts(
    conn: &Connection,
    tenant: Option<&str>,
    flavour: Option<&str>,
) -> crate::db::Result<Counts> {
    let mut counts = Counts::default();
    // The sums are cast: PostgreSQL's sum of BIGINTs is a NUMERIC.
    let mut rules = conn.prepare_cached(
        "SELECT code, min(flavour), CAST(sum(count) AS BIGINT), CAST(sum(refused) AS BIGINT)
         FROM conformance_counts
         WHERE (CAST(?1 AS TEXT) IS NULL OR tenant = ?1)
           AND (CAST(?2 AS TEXT) IS NULL OR flavour = ?2)
         GROUP BY code",
    )?;
    let rows = rules.query_map(crate::params![tenant, flavour], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    for row in rows {
        let (code, flavour, count, refused): (String, Option<String>, i64, i64) = row?;
        let (count, refused) = (count.max(0) as u64, refused.max(0) as u64);
        counts.rules.insert(code, (flavour, count, refused));
    }
    let deviating: Option<i64> = conn
        .prepare_cached(
            "SELECT CAST(sum(deviating) AS BIGINT) FROM conformance_requests
             WHERE (CAST(?1 AS TEXT) IS NULL OR tenant = ?1)
               AND (CAST(?2 AS TEXT) IS NULL OR flavour = ?2)",
        )?
        .query_row(crate::params![tenant, flavour], |r| r.get(0))?;
    counts.deviating_requests = deviating.unwrap_or(0).max(0) as u64;
    Ok(counts)
}

/// Every rule a report can name, by flavour: each flavour's name and its rules
/// (`Flavour::conformance_rules`). The caller hands it in because the flavours use this
/// module, so this module must not use them.
pub type Catalogue<'c> = &'c [(&'static str, &'static [&'static Rule])];

/// The rule whose code is `code`, among every flavour's.
fn rule_by_code(catalogue: Catalogue, code: &str) -> Option<&'static Rule> {
    catalogue
        .iter()
        .flat_map(|(_, rules)| rules.iter().copied())
        .find(|rule| rule.code == code)
}

/// The flavour named `name`, as the catalogue spells it (the report's names are static).
fn flavour_named(catalogue: Catalogue, name: Option<&str>) -> Option<&'static str> {
    catalogue
        .iter()
        .map(|(flavour, _)| *flavour)
        .find(|flavour| Some(*flavour) == name)
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
    /// The request, with where in it `deviation` was (a report names the field of its
    /// examples, so a rule about every field's type says which one).
    fn to_json(&self, deviation: &Deviation) -> Value {
        let mut example = json!({
            "id": self.id,
            "at": crate::clock::iso_millis(self.at_ms),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "tenant": self.tenant,
        });
        if let Some(detail) = &deviation.detail {
            example["detail"] = json!(detail);
        }
        example
    }
}

/// `GET /_admin/conformance`: per rule, how many requests broke it (and how many of those
/// were refused), with the first and the last of them still in the journal; `requests` is
/// how many requests of the journal were looked at. The counts are `stored` ones when
/// given (they never forget), else the journal's; `uncounted` is how many deviating
/// requests could not be added to the stored counts. A stored count names its rule by code
/// only: `catalogue` gives the rule.
pub fn summarize<'e>(
    requests: impl Iterator<Item = (Example<'e>, &'e [Deviation])>,
    stored: Option<&Counts>,
    uncounted: u64,
    catalogue: Catalogue,
) -> Value {
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
                first: example.to_json(deviation),
                last: Value::Null,
            });
            tally.count += 1;
            tally.refused += u64::from(deviation.refused);
            tally.last = example.to_json(deviation);
        }
    }
    if let Some(stored) = stored {
        // The store is the account: a rule it does not hold was reset or forgotten, even if
        // the journal still has an example of it.
        rules.retain(|code, _| stored.rules.contains_key(*code));
        for (code, (flavour, count, refused)) in &stored.rules {
            let Some(rule) = rule_by_code(catalogue, code) else {
                continue;
            };
            let tally = rules.entry(rule.code).or_insert_with(|| Tally {
                rule,
                flavour: flavour_named(catalogue, flavour.as_deref()),
                count: 0,
                refused: 0,
                first: Value::Null,
                last: Value::Null,
            });
            tally.count = *count;
            tally.refused = *refused;
        }
        deviating = stored.deviating_requests;
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
        "counts_from": if stored.is_some() { "store" } else { "journal" },
        "uncounted": uncounted,
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
            detail: Some("isActive".into()),
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
            None,
            0,
            &[],
        );
        assert_eq!(summary["requests"], 3);
        assert_eq!(summary["deviating_requests"], 2);
        assert_eq!(summary["rules"][0]["count"], 2);
        assert_eq!(summary["rules"][0]["first"]["id"], 1);
        assert_eq!(summary["rules"][0]["last"]["id"], 3);
        assert_eq!(summary["rules"][0]["last"]["detail"], "isActive");
    }

    /// Stored counts name a rule by its code: the report finds the rule (and its flavour's
    /// name) in the catalogue it is given, and leaves out a code no flavour has any more.
    #[test]
    fn stored_counts_find_their_rules_in_the_catalogue() {
        static RULES: [&Rule; 1] = [&ACCEPT];
        let mut stored = Counts {
            deviating_requests: 5,
            ..Counts::default()
        };
        stored
            .rules
            .insert("test.accept".into(), (Some("test".into()), 4, 3));
        stored.rules.insert("gone.rule".into(), (None, 1, 0));
        let summary = summarize(std::iter::empty(), Some(&stored), 0, &[("test", &RULES)]);
        assert_eq!(summary["counts_from"], "store");
        assert_eq!(summary["deviating_requests"], 5);
        let rules = summary["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), 1, "{summary}");
        assert_eq!(rules[0]["code"], "test.accept");
        assert_eq!(rules[0]["flavour"], "test");
        assert_eq!(rules[0]["rule"], "Send Accept.");
        assert_eq!(
            (rules[0]["count"].as_u64(), rules[0]["refused"].as_u64()),
            (Some(4), Some(3))
        );
    }
}
