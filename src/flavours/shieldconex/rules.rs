//! The rules of ShieldConex's contract that Clientele checks (docs/shieldconex.md, "What
//! Clientele checks"): each deviation is refused as ShieldConex would, or recorded under
//! `--lenient`.

use crate::conformance::Rule;

pub static CONTENT_TYPE: Rule = Rule {
    code: "shieldconex.content_type",
    rule: "A request with a body sends it as Content-Type: application/json, the only \
           media type the API reference gives request bodies.",
    source: "https://developers.bluefin.com/shieldconex/docs/about-the-shieldconex-manager-apis",
};

pub static CONTENT_TYPE_MISSING: Rule = Rule {
    code: "shieldconex.content_type_missing",
    rule: "A request with a body says it is JSON (Content-Type: application/json); \
           accepted without one here, as the vendor's answer is not documented.",
    source: "docs/shieldconex.md#what-clientele-checks",
};

pub static CONTACT_ROLE_NULL: Rule = Rule {
    code: "shieldconex.contact_role_null",
    rule: "An inline contact's userRole is a role name, not null (as on POST /users); \
           leave it out for the default role.",
    source: "https://developers.bluefin.com/shieldconex/docs/managing-users",
};

// Types and nulls: one rule per kind, the attribute named in each deviation's detail
// (docs/shieldconex.md, "What Clientele checks", says why).

/// Where the API reference gives every attribute its type.
const API_REFERENCE: &str = "https://developers.bluefin.com/shieldconex/reference/create-partner";

pub static TYPE: Rule = Rule {
    code: "shieldconex.type",
    rule: "Each attribute and query parameter has the type the API reference gives it (a \
           string, an integer, a boolean, an object); another type is refused with a 409 \
           on that attribute.",
    source: API_REFERENCE,
};

pub static NULL: Rule = Rule {
    code: "shieldconex.null",
    rule: "A required attribute, or one an update cannot clear (name, isActive, a \
           reference), is not null; null is refused with a 409 on that attribute.",
    source: API_REFERENCE,
};

pub static NUMERIC_STRING: Rule = Rule {
    code: "shieldconex.numeric_string",
    rule: "An integer attribute (an id, location, version) is a JSON number; a string of \
           digits (\"792\") is accepted here, as the vendor's answer is not documented.",
    source: "docs/shieldconex.md#what-clientele-checks",
};

pub static PADDED_ID: Rule = Rule {
    code: "shieldconex.padded_id",
    rule: "An id in a path is written as the answers give it (744); one with leading zeros \
           (00744) finds the same record here, as the vendor's answer is not documented.",
    source: "docs/shieldconex.md#what-clientele-checks",
};

pub static NAME_CASE: Rule = Rule {
    code: "shieldconex.name_case",
    rule: "A partner, client or role named by its name is spelt as the record has it; a \
           name in another case finds it here, as the vendor's answer is not documented.",
    source: "docs/shieldconex.md#what-clientele-checks",
};

pub static PATH: Rule = Rule {
    code: "shieldconex.path",
    rule: "Paths are exact as ShieldConex writes them (/api/v1/clients, no trailing slash); \
           another path is 404.",
    source: "https://developers.bluefin.com/shieldconex/v1.3.2/docs/api-endpoint-overview",
};

/// Every rule, for the documentation test.
pub static ALL: &[&Rule] = &[
    &CONTENT_TYPE,
    &CONTENT_TYPE_MISSING,
    &CONTACT_ROLE_NULL,
    &TYPE,
    &NULL,
    &NUMERIC_STRING,
    &PADDED_ID,
    &NAME_CASE,
    &PATH,
];
