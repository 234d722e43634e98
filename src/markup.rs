//! HTML is written with maud's `html!` templates (CONTRIBUTING.md, "HTML"), which escape
//! every value put into a page: a record's field, a mail's subject or a query parameter
//! can only ever become text. This is the one place where a string becomes markup as it is,
//! and it takes only text fixed in this program's source (`&'static str`): the stylesheets.
//! A test (`tests/it/structure.rs`) keeps `PreEscaped` out of every other file.

pub use maud::{html, Markup, DOCTYPE};

/// A stylesheet of ours, put in a page's `<style>` unescaped (a `>` in a selector must stay
/// one).
pub fn trusted_style(css: &'static str) -> maud::PreEscaped<&'static str> {
    maud::PreEscaped(css)
}
