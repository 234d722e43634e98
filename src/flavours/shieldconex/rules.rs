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
    &PATH,
];
