//! Nueve09's errors, and the two envelopes they are rendered in.
//!
//! Nueve09 answers in different envelopes per endpoint (docs/nueve09.md): the login endpoint
//! (Rails + devise-jwt style) says `{"status": {"code", "message"}, "data"}`, the rest of the
//! API (create client) says `{"success", "code", "message", "data"}`. No error body
//! is published, so ours follow each envelope: a failed create is
//! `{"success": false, "code": 422, "message": "Validation error", "data": {"errors":
//! {"rfc": ["must be 10-13 characters"]}}}`, a failed login
//! `{"status": {"code": 401, "message": "Invalid api_key or password."}, "data": null}`.
//! The router picks the envelope per route; this file maps every error to its status once.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::money;
use crate::http::{JsonError, Response};

/// Which body an error is rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// `POST /auth/login`: `{"status": {"code", "message"}, "data": null}`.
    Login,
    /// Everything else: `{"success": false, "code", "message", "data"}`.
    Api,
}

/// Messages per field, as Rails reports them: `{"rfc": ["must be 10-13 characters"]}`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug)]
pub enum Error {
    /// 401: no bearer token, or one that is malformed, forged, expired, or whose account is
    /// gone. The reason goes into `WWW-Authenticate` (RFC 6750), not the body.
    Unauthorized(&'static str),
    /// 401 at login: no account with that api_key, or the wrong password.
    InvalidCredentials,
    /// 404: no such path, or no such sub-client of the caller.
    NotFound,
    /// 405, with the methods the path does allow.
    MethodNotAllowed(String),
    /// 400: the body is not JSON, or not the shape the endpoint reads.
    BadRequest(String),
    /// 413: a body over the limit.
    PayloadTooLarge,
    /// 422: fields that break the vendor's patterns, all of them at once.
    Invalid(FieldErrors),
    /// 409: alias, RFC or API-key name already used by another sub-client of the caller.
    Duplicate(FieldErrors),
    /// 422 with code 1001: the caller's `available` cannot fund the new sub-client.
    InsufficientBalance {
        available_cents: i64,
        requested_cents: i64,
        floor_cents: i64,
    },
    /// 500: logged with its detail; the client sees only a generic message.
    Internal(String),
    /// 503: the database did not answer in time (PostgreSQL); logged with its detail.
    Unavailable(String),
}

/// The application code of an insufficient balance (docs/nueve09.md; our choice).
pub const INSUFFICIENT_BALANCE_CODE: i64 = 1001;

impl Error {
    /// One field, one message: `Error::invalid("page", "must be a positive integer")`.
    pub fn invalid(field: &str, message: &str) -> Error {
        Error::Invalid(FieldErrors::from([(
            field.to_string(),
            vec![message.to_string()],
        )]))
    }

    pub fn render(&self, envelope: Envelope) -> Response {
        let (status, code, message, data) = match self {
            Error::Unauthorized(_) => (401, 401, "Unauthorized".to_string(), Value::Null),
            Error::InvalidCredentials => (
                401,
                401,
                "Invalid api_key or password.".to_string(),
                Value::Null,
            ),
            Error::NotFound => (404, 404, "Not found".to_string(), Value::Null),
            Error::MethodNotAllowed(allowed) => (
                405,
                405,
                format!("Method not allowed (allowed: {allowed})"),
                Value::Null,
            ),
            Error::BadRequest(m) => (400, 400, m.clone(), Value::Null),
            Error::PayloadTooLarge => (
                413,
                413,
                "Payload too large: the body is over 1 MiB".to_string(),
                Value::Null,
            ),
            Error::Invalid(errors) => (
                422,
                422,
                "Validation error".to_string(),
                json!({ "errors": errors }),
            ),
            Error::Duplicate(errors) => (
                409,
                409,
                "Already exists".to_string(),
                json!({ "errors": errors }),
            ),
            Error::InsufficientBalance {
                available_cents,
                requested_cents,
                floor_cents,
            } => (
                422,
                INSUFFICIENT_BALANCE_CODE,
                "Insufficient balance".to_string(),
                json!({"errors": {"available": [format!(
                    "{} exceeds what the account can fund: available {}, minimum balance {}",
                    money::display(*requested_cents),
                    money::display(*available_cents),
                    money::display(*floor_cents),
                )]}}),
            ),
            Error::Internal(detail) => {
                crate::log::line(format!("nueve09: internal error: {detail}"));
                (500, 500, "Internal server error".to_string(), Value::Null)
            }
            Error::Unavailable(detail) => {
                crate::log::line(format!("nueve09: {detail}"));
                (503, 503, "Service unavailable".to_string(), Value::Null)
            }
        };
        let body = match envelope {
            Envelope::Login => {
                json!({"status": {"code": status, "message": message}, "data": null})
            }
            Envelope::Api => {
                json!({"success": false, "code": code, "message": message, "data": data})
            }
        };
        let mut response = Response::json(status, &body);
        match self {
            Error::Unauthorized(reason) => {
                let challenge = format!(
                    "Bearer realm=\"nueve09\", error=\"invalid_token\", error_description=\"{reason}\""
                );
                response = response.with_header("WWW-Authenticate", &challenge);
            }
            Error::MethodNotAllowed(allowed) => {
                response = response.with_header("Allow", allowed);
            }
            _ => {}
        }
        response
    }
}

/// Nueve09's body for a bare status (an injected fault, a handler that panicked), in the
/// create envelope.
pub fn for_status(status: u16) -> Response {
    let body = json!({"success": false, "code": status,
        "message": crate::flavours::reason(status), "data": null});
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

impl From<JsonError> for Error {
    fn from(e: JsonError) -> Self {
        match e {
            JsonError::TooLarge => Error::PayloadTooLarge,
            JsonError::Unreadable => Error::BadRequest("the request body could not be read".into()),
            JsonError::Empty => Error::BadRequest("the request body is empty".into()),
            JsonError::Malformed(detail) => {
                Error::BadRequest(format!("the request body is not valid JSON: {detail}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn each_envelope_has_its_shape() {
        let login = Error::InvalidCredentials.render(Envelope::Login);
        assert_eq!(login.status, 401);
        assert_eq!(
            body(&login),
            json!({"status": {"code": 401, "message": "Invalid api_key or password."}, "data": null})
        );
        let api = Error::invalid("rfc", "must be 10-13 characters").render(Envelope::Api);
        assert_eq!(api.status, 422);
        assert_eq!(
            body(&api),
            json!({"success": false, "code": 422, "message": "Validation error",
                   "data": {"errors": {"rfc": ["must be 10-13 characters"]}}})
        );
        let unauthorized = Error::Unauthorized("the token has expired").render(Envelope::Api);
        assert_eq!(
            body(&unauthorized),
            json!({"success": false, "code": 401, "message": "Unauthorized", "data": null})
        );
        assert!(unauthorized
            .header("WWW-Authenticate")
            .unwrap()
            .contains("expired"));
    }

    #[test]
    fn insufficient_balance_names_the_field_and_the_amounts() {
        let e = Error::InsufficientBalance {
            available_cents: 1_000,
            requested_cents: 2_000,
            floor_cents: 0,
        };
        let b = body(&e.render(Envelope::Api));
        assert_eq!(b["code"], 1001);
        let message = b["data"]["errors"]["available"][0].as_str().unwrap();
        assert!(
            message.contains("20.00") && message.contains("10.00"),
            "{message}"
        );
    }
}
