//! The rules of Nueve09's contract that Clientele checks (docs/nueve09.md, "What Clientele
//! checks"): each deviation is refused as Nueve09 would, or recorded under `--lenient`.

use crate::conformance::Rule;

pub static CONTENT_TYPE: Rule = Rule {
    code: "nueve09.content_type",
    rule: "POST /auth/login and POST /clients send Content-Type: application/json, which \
           Nueve09 marks required.",
    source: "http://developers.nueve09.io/en/docs/clientela/crear-un-cliente",
};

pub static BLANK_OPTIONAL: Rule = Rule {
    code: "nueve09.blank_optional",
    rule: "An optional field is left out or null rather than sent as \"\", which does not \
           match its pattern; accepted as left out, as the vendor's answer is not documented.",
    source: "docs/nueve09.md#what-clientele-checks",
};

pub static PATH: Rule = Rule {
    code: "nueve09.path",
    rule: "Paths are exact as Nueve09 writes them (/clients, no trailing slash); another \
           path is 404.",
    source: "http://developers.nueve09.io/en/docs/clientela/crear-un-cliente",
};

// Types and nulls: one rule per kind, the field named in each deviation's detail
// (docs/nueve09.md, "What Clientele checks", says why).

/// The create call's table of fields (types, required or not).
const CREATE: &str = "http://developers.nueve09.io/en/docs/clientela/crear-un-cliente";

pub static TYPE: Rule = Rule {
    code: "nueve09.type",
    rule: "Each field has the type the vendor's table gives it (text fields are strings, \
           available a number, api_client an object, page and per_page integers); another \
           type is refused (422 must be a string, 400 on the login).",
    source: CREATE,
};

pub static NULL: Rule = Rule {
    code: "nueve09.null",
    rule: "A required field is not null; null is refused as a missing field is (is required).",
    source: CREATE,
};

pub static NUMERIC_STRING: Rule = Rule {
    code: "nueve09.numeric_string",
    rule: "available is a JSON number; a decimal string (\"1000\") is accepted here, as the \
           vendor's answer is not documented.",
    source: "docs/nueve09.md#what-clientele-checks",
};

pub static NAME_CASE: Rule = Rule {
    code: "nueve09.name_case",
    rule: "A state is written as the States Catalog lists it, as a code (CDMX) or a name \
           (Nuevo León); another case or a name without its accents (cdmx, Nuevo Leon) finds \
           it here, and is recorded.",
    source: "docs/nueve09.md#what-clientele-checks",
};

/// Every rule, for the documentation test.
pub static ALL: &[&Rule] = &[
    &CONTENT_TYPE,
    &BLANK_OPTIONAL,
    &TYPE,
    &NULL,
    &NUMERIC_STRING,
    &NAME_CASE,
    &PATH,
];
