//! MX's error format: `{"error": "message"}` (the only MX error shape published, from its SSO
//! API) with the status codes of MX's platform error table (docs/mx.md).

use serde_json::json;

use crate::http::{JsonError, Response};

#[derive(Debug)]
pub enum Error {
    /// 401: missing, malformed or wrong Basic credentials.
    Unauthorized,
    /// 404: no such path. MX also answers 404 to a POST without a JSON Content-Type.
    NotFound,
    WrongContentType,
    /// 405, with the methods the path does allow.
    MethodNotAllowed(String),
    /// 406: the Accept header names another API version.
    NotAcceptable,
    /// 400: malformed JSON, a missing field, a wrong type.
    BadRequest(String),
    /// 413: a body over the limit.
    PayloadTooLarge,
    /// 422: well-formed but unusable data (an e-mail that is not an address, overlong values).
    Unprocessable(String),
    /// 500: logged with its detail; the client sees only a generic message.
    Internal(String),
    /// 503: the database did not answer in time (PostgreSQL); logged with its detail.
    Unavailable(String),
}

impl Error {
    pub fn render(&self) -> Response {
        let (status, message) = match self {
            Error::Unauthorized => (401, "Unauthorized".to_string()),
            Error::NotFound => (404, "Not Found".to_string()),
            Error::WrongContentType => (
                404,
                "Not Found: POST requests need Content-Type: application/json".to_string(),
            ),
            Error::MethodNotAllowed(allowed) => {
                (405, format!("Method Not Allowed (allowed: {allowed})"))
            }
            Error::NotAcceptable => (
                406,
                "Not Acceptable: the request didn't specify a valid API version; \
                 send Accept: application/vnd.mx.provisioning.v1+json"
                    .to_string(),
            ),
            Error::BadRequest(m) => (400, m.clone()),
            Error::PayloadTooLarge => {
                (413, "Payload Too Large: the body is over 1 MiB".to_string())
            }
            Error::Unprocessable(m) => (422, m.clone()),
            Error::Internal(detail) => {
                crate::log::line(format!("mx: internal error: {detail}"));
                (500, "Internal Server Error".to_string())
            }
            Error::Unavailable(detail) => {
                crate::log::line(format!("mx: {detail}"));
                (503, "Service Unavailable".to_string())
            }
        };
        let mut response = Response::json(status, &json!({ "error": message }));
        match self {
            Error::Unauthorized => {
                response = response.with_header("WWW-Authenticate", "Basic realm=\"MX\"");
            }
            Error::MethodNotAllowed(allowed) => {
                response = response.with_header("Allow", allowed);
            }
            _ => {}
        }
        response
    }
}

/// MX's body for a bare status (an injected fault, a handler that panicked).
pub fn for_status(status: u16) -> Response {
    Response::json(status, &json!({"error": crate::flavours::reason(status)}))
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
            JsonError::Empty => {
                Error::BadRequest("the request body is empty; client is required".into())
            }
            JsonError::Malformed(detail) => {
                Error::BadRequest(format!("the request body is not valid JSON: {detail}"))
            }
        }
    }
}
