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

/// Every rule, for the documentation test.
pub static ALL: &[&Rule] = &[&CONTENT_TYPE, &PER_PAGE, &PATH];
