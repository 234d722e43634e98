//! Paged lists, as MakeLeaps' clients walk them: `?page=N&per_page=M`, and a `meta` of
//! `{"next", "prev", "page", "count", "status"}` where `next`/`prev` are full URLs to follow
//! until null and `count` is the total (recorded traffic, docs/makeleaps.md).
//!
//! The rules are those of DRF's `PageNumberPagination`, which MakeLeaps uses: a `per_page`
//! that is not a positive number falls back to the default, one over the maximum is cut to
//! it; `page=last` is the last page; a page that is not a number or past the end is
//! 404 "Invalid page." (but page 1 of an empty list is fine).

use serde_json::{json, Value};

use super::{Ctx, Error};
use crate::http::Response;

/// Items per page when `per_page` is absent or unusable. Our choice: MakeLeaps does not say.
pub const DEFAULT_PER_PAGE: u64 = 20;
/// The most items one page holds (client libraries ask for 100). Our choice.
pub const MAX_PER_PAGE: u64 = 100;

/// One page of a list of `count` items.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    pub number: u64,
    pub size: u64,
    pub count: u64,
}

impl Page {
    /// Reads `page` and `per_page` from the query for a list of `count` items.
    pub fn of(ctx: &Ctx, count: u64) -> Result<Page, Error> {
        let per_page = ctx.req.query_param("per_page");
        let usable = |p: &str| p.trim().parse::<u64>().is_ok_and(|n| n > 0);
        if per_page.as_deref().is_some_and(|p| !usable(p)) {
            crate::conformance::warn(&super::rules::PER_PAGE);
        }
        Page::resolve(
            ctx.req.query_param("page").as_deref(),
            ctx.req.query_param("per_page").as_deref(),
            count,
        )
    }

    fn resolve(page: Option<&str>, per_page: Option<&str>, count: u64) -> Result<Page, Error> {
        let size = per_page
            .and_then(|p| p.trim().parse::<u64>().ok())
            .filter(|&n| n > 0)
            .map_or(DEFAULT_PER_PAGE, |n| n.min(MAX_PER_PAGE));
        let pages = count.div_ceil(size).max(1);
        let number = match page.map(str::trim) {
            None | Some("") => 1,
            Some("last") => pages,
            Some(text) => text.parse::<u64>().map_err(|_| Error::InvalidPage)?,
        };
        if number == 0 || number > pages {
            return Err(Error::InvalidPage);
        }
        Ok(Page {
            number,
            size,
            count,
        })
    }

    pub fn limit(&self) -> i64 {
        self.size as i64
    }

    pub fn offset(&self) -> i64 {
        ((self.number - 1) * self.size) as i64
    }

    fn has_next(&self) -> bool {
        self.number * self.size < self.count
    }

    /// The enveloped answer: this page's items and the links to its neighbours.
    pub fn respond(&self, ctx: &Ctx, items: Vec<Value>) -> Response {
        let next = self.has_next().then(|| link(ctx, Some(self.number + 1)));
        // Like DRF, the link back to page 1 drops `page` instead of saying `page=1`.
        let prev = match self.number {
            1 => None,
            2 => Some(link(ctx, None)),
            n => Some(link(ctx, Some(n - 1))),
        };
        Response::json(
            200,
            &json!({
                "meta": {
                    "next": next,
                    "prev": prev,
                    "page": self.number,
                    "count": self.count,
                    "status": 200,
                },
                "response": items,
            }),
        )
    }
}

/// This request's own URL with `page` replaced (or removed), the other query parameters kept
/// in DRF's order (sorted by name).
fn link(ctx: &Ctx, page: Option<u64>) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(ctx.req.query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "page")
        .collect();
    if let Some(n) = page {
        pairs.push(("page".into(), n.to_string()));
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let url = ctx.urls.absolute(&ctx.req.path);
    if pairs.is_empty() {
        return url;
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{url}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_drf_page_number_rules() {
        let page = |p, s, n| Page::resolve(p, s, n);
        assert_eq!(
            page(None, None, 0).unwrap().number,
            1,
            "an empty list has page 1"
        );
        assert_eq!(page(None, Some("0"), 5).unwrap().size, DEFAULT_PER_PAGE);
        assert_eq!(page(None, Some("x"), 5).unwrap().size, DEFAULT_PER_PAGE);
        assert_eq!(page(None, Some("1000"), 5).unwrap().size, MAX_PER_PAGE);
        assert_eq!(page(Some("last"), Some("2"), 5).unwrap().number, 3);
        assert!(matches!(
            page(Some("4"), Some("2"), 5),
            Err(Error::InvalidPage)
        ));
        assert!(matches!(page(Some("0"), None, 5), Err(Error::InvalidPage)));
        assert!(matches!(
            page(Some("two"), None, 5),
            Err(Error::InvalidPage)
        ));
        let p = page(Some("2"), Some("2"), 5).unwrap();
        assert_eq!((p.offset(), p.limit(), p.has_next()), (2, 2, true));
        assert!(!page(Some("3"), Some("2"), 5).unwrap().has_next());
    }
}
