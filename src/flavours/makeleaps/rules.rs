//! The rules of MakeLeaps' contract that Clientele checks (docs/makeleaps.md, "What
//! Clientele checks"): each deviation is refused as MakeLeaps would, or recorded under
//! `--lenient`.

use crate::conformance::Rule;

pub static CONTENT_TYPE: Rule = Rule {
    code: "makeleaps.content_type",
    rule: "A request body is sent as Content-Type: application/json; MakeLeaps (a Django \
           REST Framework API) answers 415 to another media type.",
    source: "https://developer.makeleaps.com/en/api/tutorial/managing-organizations-and-clients",
};

pub static PER_PAGE: Rule = Rule {
    code: "makeleaps.per_page",
    rule: "per_page is a positive integer; another value is ignored (the default page size \
           is used), as Django REST Framework's pagination does.",
    source: "docs/makeleaps.md#what-clientele-checks",
};

pub static PATH: Rule = Rule {
    code: "makeleaps.path",
    rule: "Paths are exact as MakeLeaps writes them, with their trailing slash \
           (/api/partner/{mid}/client/); another path is 404.",
    source: "https://app.makeleaps.com/api/docs/",
};

// Types and nulls: one rule per kind, the field named in each deviation's detail
// (docs/makeleaps.md, "What Clientele checks", says why).

/// The client and contact resources, their fields and types.
const RESOURCES: &str = "https://app.makeleaps.com/api/docs/";

pub static TYPE: Rule = Rule {
    code: "makeleaps.type",
    rule: "Each field has the type of its resource (text fields are strings, contacts and \
           addresses lists, a contact, an email and an address objects, default_contact a \
           URL string); another type is refused with a 400, in DRF's words.",
    source: RESOURCES,
};

pub static NULL: Rule = Rule {
    code: "makeleaps.null",
    rule: "A field that takes no null (a required one, contacts, default_contact, a text \
           field that may not be blank) is not null; null is refused with a 400 (This field \
           may not be null.).",
    source: RESOURCES,
};

pub static NUMBER_AS_TEXT: Rule = Rule {
    code: "makeleaps.number_as_text",
    rule: "A text field is a JSON string; a number is accepted as its text, as Django REST \
           Framework's CharField takes one, and recorded.",
    source: "docs/makeleaps.md#what-clientele-checks",
};

/// Every rule, for the documentation test.
pub static ALL: &[&Rule] = &[
    &CONTENT_TYPE,
    &PER_PAGE,
    &TYPE,
    &NULL,
    &NUMBER_AS_TEXT,
    &PATH,
];
