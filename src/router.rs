//! Route tables: each flavour writes every operation once, as a `Route` of (method, path
//! template, handler), and this module answers the questions asked of such a table: which
//! handler takes a request (with the `{name}` segments it captured), which methods a path
//! allows (404 and 405 with `Allow`), and the list of operations that the flavour's OpenAPI
//! document must match.
//!
//! Every table also answers `GET /openapi.json` (the document, `Routing::Document`), and a
//! table built with `with_head_and_options` answers HEAD and OPTIONS on every path that has a
//! GET, as Django REST Framework views do; neither is written in the flavour's list.

/// Where every flavour serves its OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The order of methods in an `Allow` header, whatever the order of the route table.
pub const METHOD_ORDER: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// One operation: an HTTP method and a path template below the mount, as the vendor writes
/// it (`/api/v1/clients/{id}`, `/api/partner/{partner_mid}/client/`), and what answers it. A
/// `{name}` segment stands for any one path segment. In a table built `with_path_rule` (the
/// vendors' tables) paths match exactly, trailing slash included, as the vendors' do, and a
/// path that differs only in empty segments (a trailing slash added or left out, `//`) is a
/// deviation from that rule: unlisted (404) unless the server is lenient (`conformance`).
/// Other tables (admin calls) match segment by segment with empty segments dropped.
pub struct Route<H: 'static> {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: H,
}

/// A flavour's routes, and whether GET paths also answer HEAD and OPTIONS.
pub struct Table<H: 'static> {
    routes: &'static [Route<H>],
    /// Paths with a GET answer HEAD with it.
    head: bool,
    /// Paths with a GET answer OPTIONS with it.
    options: bool,
    /// `GET /openapi.json` is the document (the vendors' tables; not the admin's).
    document: bool,
    path_rule: Option<&'static crate::conformance::Rule>,
}

/// The `{name}` segments a request's path filled in.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params<'r>(Vec<(&'static str, &'r str)>);

impl<'r> Params<'r> {
    /// The segment that stood for `{name}`; "" when the template has no such segment.
    pub fn get(&self, name: &str) -> &'r str {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, value)| value)
    }
}

/// How a listed method reached its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The method is the route's own.
    Route,
    /// A HEAD answered by the path's GET handler (the server drops the body).
    Head,
    /// An OPTIONS on a path with a GET; the handler is the GET's, for what it names.
    Options,
}

/// What a route table says about a request.
pub enum Routing<'t, 'r, H: 'static> {
    /// A listed operation. `allow` is every method of the path (a flavour may send it
    /// on every answer, as Django REST Framework does).
    Found {
        handler: &'t H,
        params: Params<'r>,
        via: Via,
        allow: String,
    },
    /// `GET /openapi.json`.
    Document,
    /// The path is listed with other methods only: 405 with this `Allow`. `some_handler` is a
    /// handler of the path (`None` for the document's path), for flavours whose 405 depends on
    /// what kind of path it is.
    OtherMethod {
        allow: String,
        some_handler: Option<&'t H>,
    },
    /// No listed path matches: 404.
    Unlisted,
}

impl<H: 'static> Table<H> {
    pub const fn new(routes: &'static [Route<H>]) -> Table<H> {
        Table {
            routes,
            head: false,
            options: false,
            document: true,
            path_rule: None,
        }
    }

    /// A table of the server's own pages: no OpenAPI document, and every path with a GET
    /// answers HEAD with it (what a browser or a link checker sends).
    pub const fn pages(routes: &'static [Route<H>]) -> Table<H> {
        Table {
            routes,
            head: true,
            options: false,
            document: false,
            path_rule: None,
        }
    }

    /// A table of calls with no OpenAPI document (the admin API's).
    pub const fn without_document(routes: &'static [Route<H>]) -> Table<H> {
        Table {
            routes,
            head: false,
            options: false,
            document: false,
            path_rule: None,
        }
    }

    /// A path that is not exact but differs only in slashes goes to its route as a
    /// deviation from `rule` (and is refused unless the server is lenient).
    pub const fn with_path_rule(self, rule: &'static crate::conformance::Rule) -> Table<H> {
        Table {
            routes: self.routes,
            head: self.head,
            options: self.options,
            document: self.document,
            path_rule: Some(rule),
        }
    }

    /// Every path with a GET also answers HEAD and OPTIONS.
    pub const fn with_head_and_options(routes: &'static [Route<H>]) -> Table<H> {
        Table {
            routes,
            head: true,
            options: true,
            document: true,
            path_rule: None,
        }
    }

    /// Every operation the table answers, in table order: its routes, the HEAD and OPTIONS it
    /// derives, and `GET /openapi.json`. The flavour's OpenAPI document lists exactly these.
    pub fn operations(&self) -> Vec<(&'static str, &'static str)> {
        let mut operations: Vec<(&'static str, &'static str)> = Vec::new();
        for (i, route) in self.routes.iter().enumerate() {
            operations.push((route.method, route.path));
            // A path's HEAD and OPTIONS come after its own methods (a path's routes are
            // written together).
            let last_of_path = self.routes.get(i + 1).is_none_or(|r| r.path != route.path);
            let has_get = || {
                self.routes
                    .iter()
                    .any(|r| r.path == route.path && r.method == "GET")
            };
            if last_of_path && (self.head || self.options) && has_get() {
                if self.head {
                    operations.push(("HEAD", route.path));
                }
                if self.options {
                    operations.push(("OPTIONS", route.path));
                }
            }
        }
        if self.document {
            operations.push(("GET", OPENAPI_PATH));
        }
        operations
    }

    /// Looks a request up: the path as sent, then (with a path rule) the path with its
    /// empty segments dropped.
    pub fn lookup<'t, 'r>(&'t self, method: &str, path: &'r str) -> Routing<'t, 'r, H> {
        let exact: Vec<&'r str> = path.split('/').skip(1).collect();
        let loose =
            || -> Vec<&'r str> { exact.iter().copied().filter(|s| !s.is_empty()).collect() };
        let Some(rule) = self.path_rule else {
            return self.lookup_segments(method, &loose(), true);
        };
        let routing = self.lookup_segments(method, &exact, false);
        if !matches!(routing, Routing::Unlisted) {
            return routing;
        }
        match self.lookup_segments(method, &loose(), true) {
            Routing::Unlisted => Routing::Unlisted,
            _ if crate::conformance::refuse(rule) => Routing::Unlisted,
            routing => routing,
        }
    }

    /// One pass over the table; `loose`: the segments have no empty ones, nor must the
    /// templates'.
    fn lookup_segments<'t, 'r>(
        &'t self,
        method: &str,
        segments: &[&'r str],
        loose: bool,
    ) -> Routing<'t, 'r, H> {
        let template_matches = |template, segments: &[&'r str]| {
            if loose {
                template_matches_loosely(template, segments)
            } else {
                template_matches(template, segments)
            }
        };
        if self.document && template_matches(OPENAPI_PATH, segments).is_some() {
            return if method == "GET" {
                Routing::Document
            } else {
                Routing::OtherMethod {
                    allow: "GET".into(),
                    some_handler: None,
                }
            };
        }
        let mut path_methods = [false; METHOD_ORDER.len()];
        let mut found: Option<(&'t H, Params<'r>, Via)> = None;
        let mut some_handler = None;
        for route in self.routes {
            let Some(params) = template_matches(route.path, segments) else {
                continue;
            };
            some_handler.get_or_insert(&route.handler);
            let mut mark = |m: &str| {
                if let Some(i) = METHOD_ORDER.iter().position(|o| *o == m) {
                    path_methods[i] = true;
                }
            };
            mark(route.method);
            let is_get = route.method == "GET";
            if is_get && self.head {
                mark("HEAD");
            }
            if is_get && self.options {
                mark("OPTIONS");
            }
            if found.is_none() {
                let via = if route.method == method {
                    Some(Via::Route)
                } else if is_get && self.head && method == "HEAD" {
                    Some(Via::Head)
                } else if is_get && self.options && method == "OPTIONS" {
                    Some(Via::Options)
                } else {
                    None
                };
                if let Some(via) = via {
                    found = Some((&route.handler, params, via));
                }
            }
        }
        let allow: Vec<&str> = METHOD_ORDER
            .into_iter()
            .zip(path_methods)
            .filter_map(|(m, on)| on.then_some(m))
            .collect();
        let allow = allow.join(", ");
        match (found, some_handler) {
            (Some((handler, params, via)), _) => Routing::Found {
                handler,
                params,
                via,
                allow,
            },
            (None, Some(handler)) => Routing::OtherMethod {
                allow,
                some_handler: Some(handler),
            },
            (None, None) => Routing::Unlisted,
        }
    }
}

/// The captured segments when `template` matches the path's `segments` (the path split
/// at `/`, less the empty piece before its first `/`) exactly.
fn template_matches<'r>(template: &'static str, segments: &[&'r str]) -> Option<Params<'r>> {
    matches_parts(template.split('/').skip(1), segments)
}

/// As `template_matches`, with the template's empty segments dropped (a trailing slash).
fn template_matches_loosely<'r>(
    template: &'static str,
    segments: &[&'r str],
) -> Option<Params<'r>> {
    matches_parts(template.split('/').filter(|s| !s.is_empty()), segments)
}

fn matches_parts<'r>(
    mut parts: impl Iterator<Item = &'static str>,
    segments: &[&'r str],
) -> Option<Params<'r>> {
    let mut params = Params::default();
    for segment in segments {
        match parts.next() {
            Some(part) if part.starts_with('{') && part.ends_with('}') && !segment.is_empty() => {
                params.0.push((&part[1..part.len() - 1], segment));
            }
            Some(part) if part == *segment => {}
            _ => return None,
        }
    }
    parts.next().is_none().then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    static ROUTES: &[Route<u8>] = &[
        Route {
            method: "GET",
            path: "/api/v1/clients",
            handler: 1,
        },
        Route {
            method: "POST",
            path: "/api/v1/clients",
            handler: 2,
        },
        Route {
            method: "PATCH",
            path: "/api/v1/clients/{id}",
            handler: 3,
        },
        Route {
            method: "GET",
            path: "/api/v1/clients/{id}",
            handler: 4,
        },
    ];
    static TABLE: Table<u8> = Table::new(ROUTES);
    static DRF: Table<u8> = Table::with_head_and_options(ROUTES);

    fn found(routing: Routing<u8>) -> Option<(u8, String, Via, String)> {
        match routing {
            Routing::Found {
                handler,
                params,
                via,
                allow,
            } => Some((*handler, params.get("id").to_string(), via, allow)),
            _ => None,
        }
    }

    #[test]
    fn lookup_matches_segments_and_orders_allow() {
        let hit =
            |h: u8, id: &str, allow: &str| Some((h, id.to_string(), Via::Route, allow.into()));
        assert_eq!(
            found(TABLE.lookup("GET", "/api/v1/clients")),
            hit(1, "", "GET, POST")
        );
        assert_eq!(
            found(TABLE.lookup("POST", "/api/v1/clients/")),
            hit(2, "", "GET, POST")
        );
        assert!(matches!(
            TABLE.lookup("DELETE", "/api/v1/clients/744"),
            Routing::OtherMethod { allow, some_handler: Some(3) } if allow == "GET, PATCH"
        ));
        assert_eq!(
            found(TABLE.lookup("GET", "/api/v1//clients/744/")),
            hit(4, "744", "GET, PATCH")
        );
        for unlisted in ["/api/v1", "/api/v1/clients/744/x", "/api/v2/clients", "/"] {
            assert!(
                matches!(TABLE.lookup("GET", unlisted), Routing::Unlisted),
                "{unlisted}"
            );
        }
        assert!(matches!(
            TABLE.lookup("GET", "/openapi.json"),
            Routing::Document
        ));
        assert!(matches!(
            TABLE.lookup("POST", "/openapi.json"),
            Routing::OtherMethod { allow, some_handler: None } if allow == "GET"
        ));
    }

    static PATH_RULE: crate::conformance::Rule = crate::conformance::Rule {
        code: "test.path",
        rule: "Paths are exact.",
        source: "docs/test.md",
    };
    static EXACT: Table<u8> = Table::<u8>::new(ROUTES).with_path_rule(&PATH_RULE);

    #[test]
    fn a_table_with_a_path_rule_matches_exactly_unless_lenient() {
        crate::conformance::begin(false);
        assert!(found(EXACT.lookup("GET", "/api/v1/clients/7")).is_some());
        assert!(crate::conformance::take().0.is_empty());
        for inexact in [
            "/api/v1/clients/",
            "/api/v1//clients/7",
            "/api/v1/clients/7/",
        ] {
            crate::conformance::begin(false);
            assert!(
                matches!(EXACT.lookup("GET", inexact), Routing::Unlisted),
                "{inexact}"
            );
            let (deviations, _) = crate::conformance::take();
            assert_eq!(deviations.len(), 1, "{inexact}");
            assert!(deviations[0].refused);
        }
        crate::conformance::begin(true);
        assert_eq!(
            found(EXACT.lookup("DELETE", "/api/v1/clients/7/")),
            None,
            "another method is still a 405"
        );
        assert!(matches!(
            EXACT.lookup("DELETE", "/api/v1/clients/7/"),
            Routing::OtherMethod { .. }
        ));
        assert_eq!(
            found(EXACT.lookup("GET", "/api/v1/clients/7/")).map(|f| f.1),
            Some("7".to_string())
        );
        assert!(!crate::conformance::take().0[0].refused);
        crate::conformance::begin(false);
        assert!(matches!(
            EXACT.lookup("GET", "/nothing/"),
            Routing::Unlisted
        ));
        assert!(
            crate::conformance::take().0.is_empty(),
            "no rule for a path nobody lists"
        );
    }

    #[test]
    fn head_and_options_come_from_get() {
        assert_eq!(
            found(DRF.lookup("HEAD", "/api/v1/clients/7")),
            Some((4, "7".into(), Via::Head, "GET, PATCH, HEAD, OPTIONS".into()))
        );
        assert_eq!(
            found(DRF.lookup("OPTIONS", "/api/v1/clients")),
            Some((
                1,
                "".into(),
                Via::Options,
                "GET, POST, HEAD, OPTIONS".into()
            ))
        );
        assert!(matches!(
            TABLE.lookup("HEAD", "/api/v1/clients"),
            Routing::OtherMethod { .. }
        ));
        let operations = DRF.operations();
        assert!(operations.contains(&("OPTIONS", "/api/v1/clients/{id}")));
        assert!(operations.contains(&("GET", OPENAPI_PATH)));
        assert_eq!(operations.len(), 4 + 4 + 1);
    }
}
