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

// Types and nulls: one rule per kind, the field named in each deviation's detail
// (docs/mx.md, "What Clientele checks", says why).

/// The create call's reference: the body and its four string fields.
const CREATE: &str = "https://docs.mx.com/other/client-enablement-api";

pub static TYPE: Rule = Rule {
    code: "mx.type",
    rule: "The body is a JSON object whose client is an object of strings (company_name, \
           email, first_name, last_name); another type is refused with a 400.",
    source: CREATE,
};

pub static NULL: Rule = Rule {
    code: "mx.null",
    rule: "client and its four fields are required, so never null; null is refused with \
           a 400 (is required).",
    source: CREATE,
};

/// Every rule, for the documentation test.
pub static ALL: &[&Rule] = &[&ACCEPT, &CONTENT_TYPE, &TYPE, &NULL, &PATH];
