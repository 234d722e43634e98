//! The rules of MX's contract that Clientele checks (docs/mx.md, "What Clientele checks"):
//! each deviation is refused as MX refuses it, or recorded under `--lenient`.

use crate::conformance::Rule;

/// MX's platform error table: the 404 and 406 rows.
const ERRORS: &str = "https://docs.mx.com/api-reference/platform-api/overview/errors";

pub static ACCEPT: Rule = Rule {
    code: "mx.accept",
    rule: "Send Accept: application/vnd.mx.provisioning.v1+json; MX answers 406 \
           (the request didn't specify a valid API version) otherwise.",
    source: ERRORS,
};

pub static CONTENT_TYPE: Rule = Rule {
    code: "mx.content_type",
    rule: "POST /clients sends Content-Type: application/json; MX answers 404 otherwise.",
    source: ERRORS,
};

pub static PATH: Rule = Rule {
    code: "mx.path",
    rule: "Paths are exact as MX writes them (POST /clients, no trailing slash); \
           another path is 404.",
    source: "https://docs.mx.com/other/client-enablement-api",
};

/// Every rule, for the documentation test.
pub static ALL: &[&Rule] = &[&ACCEPT, &CONTENT_TYPE, &PATH];
