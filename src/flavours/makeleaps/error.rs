//! MakeLeaps' two error dialects, mapped to HTTP in this one place.
//!
//! The OAuth2 endpoints (`/user/oauth2/...`) answer as RFC 6749 §5.2 says, in a bare body:
//! `{"error": "invalid_client"}` with 401 and `WWW-Authenticate: Bearer, error="invalid_client"`
//! (recorded real traffic, docs/makeleaps.md). The API (`/api/...`) is a Django REST Framework app,
//! so its errors are DRF's bodies inside MakeLeaps' envelope (docs/makeleaps.md; our choice):
//! `{"meta": {"status": 404}, "response": {"detail": "Not found."}}`, and a 400 carries
//! per-field messages: `{"meta": {...}, "response": {"contacts": ["This field is required."]}}`.
//! The wording of every message is DRF's own, so client code matching on it keeps working.

use serde_json::{json, Value};

use crate::http::{JsonError, Response};

#[derive(Debug)]
pub enum Error {
    // ---- OAuth2 endpoints: bare RFC 6749 bodies ----
    /// 401: missing or wrong client credentials.
    InvalidClient,
    /// 400: a required OAuth2 parameter is missing.
    InvalidRequest(&'static str),
    /// 400: a grant type this server does not know.
    UnsupportedGrantType,
    /// 400: a grant type OAuth2 knows, but MakeLeaps' API applications may not use.
    UnauthorizedClient,
    /// 405 from a plain Django view: no body, just `Allow` (the router adds it).
    OAuthMethodNotAllowed,

    // ---- API: DRF bodies inside the envelope ----
    /// 401: no `Authorization: Bearer` header.
    NotAuthenticated,
    /// 401: a bearer token that is unknown, expired or revoked.
    InvalidToken,
    /// 404: no such path, or a record that is not the caller's (never leak existence).
    NotFound,
    /// 404: DRF's answer to a page number past the last page or not a number.
    InvalidPage,
    /// 405, with the methods the path does allow (the router adds `Allow`).
    MethodNotAllowed(String),
    /// 415: a body that is not JSON.
    UnsupportedMediaType(String),
    /// 400: a body that claims to be JSON and is not.
    ParseError(String),
    /// 413: a body over 1 MiB.
    PayloadTooLarge,
    /// 400 with DRF's per-field messages (an object keyed by field).
    Invalid(Value),
    /// 500: logged with its detail; the client sees only DRF's generic message.
    Internal(String),
    /// 503: the database did not answer in time (PostgreSQL); logged with its detail.
    Unavailable(String),
}

impl Error {
    /// A 400 for one field and one message, e.g. `{"client_external_id": ["..."]}`.
    pub fn field(name: &str, message: &str) -> Error {
        Error::Invalid(json!({ name: [message] }))
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::InvalidClient | Error::NotAuthenticated | Error::InvalidToken => 401,
            Error::InvalidRequest(_)
            | Error::UnsupportedGrantType
            | Error::UnauthorizedClient
            | Error::ParseError(_)
            | Error::Invalid(_) => 400,
            Error::NotFound | Error::InvalidPage => 404,
            Error::OAuthMethodNotAllowed | Error::MethodNotAllowed(_) => 405,
            Error::PayloadTooLarge => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::Internal(_) => 500,
            Error::Unavailable(_) => 503,
        }
    }

    pub fn render(&self) -> Response {
        let status = self.status();
        let oauth = |error: &str, description: Option<&str>| {
            let mut body = json!({ "error": error });
            if let Some(d) = description {
                body["error_description"] = json!(d);
            }
            Response::json(status, &body)
                .with_header("Cache-Control", "no-store")
                .with_header("Pragma", "no-cache")
        };
        let detail = |text: &str| envelope_error(status, json!({ "detail": text }));
        match self {
            Error::InvalidClient => oauth("invalid_client", None)
                .with_header("WWW-Authenticate", "Bearer, error=\"invalid_client\""),
            Error::InvalidRequest(description) => oauth("invalid_request", Some(description)),
            Error::UnsupportedGrantType => oauth("unsupported_grant_type", None),
            Error::UnauthorizedClient => oauth("unauthorized_client", None),
            Error::OAuthMethodNotAllowed => Response::empty(405),
            Error::NotAuthenticated => detail("Authentication credentials were not provided.")
                .with_header("WWW-Authenticate", "Bearer realm=\"api\""),
            Error::InvalidToken => {
                detail("Invalid token.").with_header("WWW-Authenticate", "Bearer realm=\"api\"")
            }
            Error::NotFound => detail("Not found."),
            Error::InvalidPage => detail("Invalid page."),
            Error::MethodNotAllowed(method) => detail(&format!("Method \"{method}\" not allowed.")),
            Error::UnsupportedMediaType(media) => {
                detail(&format!("Unsupported media type \"{media}\" in request."))
            }
            Error::ParseError(why) => detail(&format!("JSON parse error - {why}")),
            Error::PayloadTooLarge => detail("Request body is larger than 1 MiB."),
            Error::Invalid(fields) => envelope_error(status, fields.clone()),
            Error::Internal(why) => {
                crate::log::line(format!("makeleaps: internal error: {why}"));
                detail("A server error occurred.")
            }
            Error::Unavailable(why) => {
                crate::log::line(format!("makeleaps: {why}"));
                detail("Service temporarily unavailable, try again later.")
                    .with_header("Retry-After", "1")
            }
        }
    }
}

/// MakeLeaps' envelope around an error body: only `status` in `meta`.
fn envelope_error(status: u16, response: Value) -> Response {
    Response::json(
        status,
        &json!({"meta": {"status": status}, "response": response}),
    )
}

/// MakeLeaps' body for a bare status (an injected fault, a handler that panicked): DRF's
/// `detail` in the envelope.
pub fn for_status(status: u16) -> Response {
    envelope_error(
        status,
        json!({"detail": format!("{}.", crate::flavours::reason(status))}),
    )
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
            JsonError::Unreadable => Error::ParseError("the body could not be read".into()),
            // DRF parses an empty body as no data at all; callers treat that as `{}` before
            // getting here, so this is only reached if one forgets.
            JsonError::Empty => Error::ParseError("Expecting value: line 1 column 1".into()),
            JsonError::Malformed(why) => Error::ParseError(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Response) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn oauth_errors_are_bare_and_api_errors_enveloped() {
        let r = Error::InvalidClient.render();
        assert_eq!(r.status, 401);
        assert_eq!(body(&r), json!({"error": "invalid_client"}));
        assert_eq!(
            r.header("WWW-Authenticate"),
            Some("Bearer, error=\"invalid_client\"")
        );
        let r = Error::MethodNotAllowed("PATCH".into()).render();
        assert_eq!(
            body(&r),
            json!({"meta": {"status": 405}, "response": {"detail": "Method \"PATCH\" not allowed."}})
        );
        let r = Error::field("contacts", "This field is required.").render();
        assert_eq!(r.status, 400);
        assert_eq!(
            body(&r)["response"],
            json!({"contacts": ["This field is required."]})
        );
    }
}
