//! ShieldConex's error bodies, all rendered here (docs/shieldconex.md):
//!
//! - 404 `{"uuid","errorCode":7404,"message":"Requested resource cannot be found."}` (the vendor's),
//! - 403 `{"uuid","errorCode":7403,"message":"Permission denied."}` (the partner guide),
//! - 409 "Invalid data" with one entry per offending attribute (the OpenAPI `ErrorValidation`),
//! - and, where the vendor publishes no body, the same shape with a fitting code: 401 7401,
//!   405 7405, 413 7413, 500 7500.
//!
//! Every error carries a fresh `uuid`, as the vendor's do. Internal errors are logged with
//! their detail; the client sees only the generic message.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::http::{JsonError, Response};
use crate::ids::Ids;

/// Per-attribute codes of a 409 (docs/shieldconex.md; our choice; 7404 added for unknown
/// references).
pub const REQUIRED: u16 = 7400;
pub const NOT_FOUND: u16 = 7404;
pub const DUPLICATE: u16 = 7410;
pub const INVALID: u16 = 7422;

#[derive(Debug)]
pub enum Error {
    /// 401: missing or wrong Basic credentials, or an inactive user.
    Unauthorized,
    /// 403: the caller's role or level may not do this.
    Forbidden,
    /// 404: no such path or record, or a record outside the caller's scope.
    NotFound,
    /// 405, with the methods the path does allow.
    MethodNotAllowed(String),
    /// 409: the attributes that are wrong, each with its message and code.
    Invalid(Problems),
    /// 413: a body over the limit.
    PayloadTooLarge,
    /// 500: logged with its detail; the client sees only a generic message.
    Internal(String),
    /// 503: the database did not answer in time (PostgreSQL); logged with its detail.
    Unavailable(String),
}

/// What is wrong with a request's attributes, keyed by attribute path (`contact.email`).
#[derive(Clone, Debug, Default)]
pub struct Problems(BTreeMap<String, Problem>);

#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    attribute: String,
    message: String,
    #[serde(rename = "errorCode")]
    error_code: u16,
}

impl Problems {
    /// Records a problem; the first one found for an attribute is kept.
    pub fn add(&mut self, attribute: &str, code: u16, message: impl Into<String>) {
        self.0
            .entry(attribute.to_string())
            .or_insert_with(|| Problem {
                attribute: attribute.to_string(),
                message: message.into(),
                error_code: code,
            });
    }

    pub fn has(&self, attribute: &str) -> bool {
        self.0.contains_key(attribute)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was recorded, else the 409.
    pub fn check(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self))
        }
    }
}

/// A 409 about one attribute.
pub fn invalid(attribute: &str, code: u16, message: impl Into<String>) -> Error {
    let mut problems = Problems::default();
    problems.add(attribute, code, message);
    Error::Invalid(problems)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    success: Option<bool>,
    error_code: u16,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a BTreeMap<String, Problem>>,
}

impl Error {
    /// The vendor's body; `ids` draws its fresh `uuid`.
    pub fn render(&self, ids: &Ids) -> Response {
        let (status, code, message) = match self {
            Error::Unauthorized => (401, 7401, "Unauthorized."),
            Error::Forbidden => (403, 7403, "Permission denied."),
            Error::NotFound => (404, 7404, "Requested resource cannot be found."),
            Error::MethodNotAllowed(_) => (405, 7405, "Method not allowed."),
            Error::Invalid(_) => (409, 7409, "Invalid data"),
            Error::PayloadTooLarge => (413, 7413, "Request body is larger than 1 MiB."),
            Error::Internal(detail) => {
                crate::log::line(format!("shieldconex: internal error: {detail}"));
                (500, 7500, "Internal server error.")
            }
            Error::Unavailable(detail) => {
                crate::log::line(format!("shieldconex: {detail}"));
                (503, 7503, "Service unavailable.")
            }
        };
        let body = Body {
            uuid: ids.uuid_v4(),
            success: matches!(self, Error::Invalid(_)).then_some(false),
            error_code: code,
            message,
            errors: match self {
                Error::Invalid(problems) => Some(&problems.0),
                _ => None,
            },
        };
        let mut response = super::json_response(status, &body);
        match self {
            Error::Unauthorized => {
                response = response.with_header("WWW-Authenticate", "Basic realm=\"ShieldConex\"");
            }
            Error::MethodNotAllowed(allowed) => {
                response = response.with_header("Allow", allowed);
            }
            _ => {}
        }
        response
    }
}

/// ShieldConex's body for a bare status (an injected fault, a handler that panicked):
/// the vendor's shape, with `7000 + status` as its code.
pub fn for_status(ids: &Ids, status: u16) -> Response {
    let body = serde_json::json!({"uuid": ids.uuid_v4(), "errorCode": 7000 + u32::from(status),
        "message": format!("{}.", crate::flavours::reason(status))});
    Response::json(status, &body)
}

impl From<crate::db::Error> for Error {
    fn from(e: crate::db::Error) -> Self {
        match e {
            crate::db::Error::Unavailable(why) => Error::Unavailable(why),
            e => Error::Internal(e.to_string()),
        }
    }
}

/// A body that is not JSON is invalid data like any other (409), except one over the limit.
impl From<JsonError> for Error {
    fn from(e: JsonError) -> Self {
        match e {
            JsonError::TooLarge => Error::PayloadTooLarge,
            JsonError::Unreadable => {
                invalid("body", INVALID, "The request body could not be read.")
            }
            JsonError::Empty => invalid("body", REQUIRED, "A JSON request body is required."),
            JsonError::Malformed(detail) => invalid(
                "body",
                INVALID,
                format!("The request body is not valid JSON: {detail}."),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(e: &Error) -> serde_json::Value {
        serde_json::from_slice(&e.render(&Ids::new(None)).body).unwrap()
    }

    #[test]
    fn vendor_bodies_with_a_fresh_uuid() {
        let a = body(&Error::NotFound);
        assert_eq!(a["errorCode"], 7404);
        assert_eq!(a["message"], "Requested resource cannot be found.");
        assert_ne!(a["uuid"], body(&Error::NotFound)["uuid"]);
        assert_eq!(Error::Forbidden.render(&Ids::new(None)).status, 403);
        assert!(a.get("success").is_none());
    }

    #[test]
    fn invalid_data_lists_each_attribute_once() {
        let mut p = Problems::default();
        p.add("name", REQUIRED, "name is required.");
        p.add("name", INVALID, "ignored: the first problem wins");
        p.add("contact.email", INVALID, "bad");
        let e = Error::Invalid(p);
        assert_eq!(e.render(&Ids::new(None)).status, 409);
        let b = body(&e);
        assert_eq!(b["success"], false);
        assert_eq!(b["errorCode"], 7409);
        assert_eq!(b["errors"]["name"]["errorCode"], 7400);
        assert_eq!(b["errors"]["name"]["attribute"], "name");
        assert_eq!(b["errors"]["contact.email"]["message"], "bad");
    }
}
