//! Reading request bodies and queries the ShieldConex way: every attribute is checked, and
//! every problem is recorded under the attribute's path (`contact.userName`) so that one 409
//! names all of them at once.
//!
//! A body attribute is `Absent`, `Null` or `Set`: PATCH changes only what is present
//! (OpenAPI: "an object containing the properties that are to be changed will suffice").
//! Unknown attributes are ignored, as are read-only ones a client echoes back (`id`,
//! `created`, ...); the vendor's PATCH, for instance, sends the whole contact.

use serde_json::{Map, Value};

use super::error::{invalid, Error, Problems, INVALID, REQUIRED};
use super::roles;
use super::rules;
use crate::conformance::{refuse_at, warn_at};
use crate::http::{json_body, Request};

/// The longest `take` accepted; past it a list would hold too much in memory at once.
pub const MAX_TAKE: i64 = 1000;

/// One attribute of a body.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    Absent,
    Null,
    /// An empty string where a name is needed: missing, as null is, but not a null.
    Blank,
    Set(T),
    /// Present but unusable; the problem is already recorded.
    Invalid,
}

impl<T> Field<T> {
    pub fn is_present(&self) -> bool {
        !matches!(self, Field::Absent)
    }

    /// The value of an attribute the request must carry; records 7400 when it is missing.
    /// A null is a deviation too (`shieldconex.null`); with `--lenient` it is taken as left
    /// out, which a required attribute cannot be, so the 7400 stands either way.
    pub fn required(self, attr: &str, problems: &mut Problems) -> Option<T> {
        match self {
            Field::Set(v) => Some(v),
            Field::Invalid => None,
            Field::Absent | Field::Null | Field::Blank => {
                if matches!(self, Field::Null) {
                    let _ = refuse_at(&rules::NULL, attr);
                }
                problems.add(attr, REQUIRED, format!("{attr} is required."));
                None
            }
        }
    }

    /// The value of an attribute that may be left out but not set to null (nor blank); with
    /// `--lenient` a null is taken as left out.
    pub fn not_null(self, attr: &str, problems: &mut Problems) -> Option<T> {
        match self {
            Field::Set(v) => Some(v),
            Field::Absent | Field::Invalid => None,
            Field::Null if !refuse_at(&rules::NULL, attr) => None,
            Field::Null | Field::Blank => {
                problems.add(attr, INVALID, format!("{attr} cannot be null."));
                None
            }
        }
    }

    /// Absent stays `None`; null or a value becomes `Some(Option)` (a nullable attribute).
    pub fn nullable(self) -> Option<Option<T>> {
        match self {
            Field::Absent | Field::Invalid => None,
            Field::Null | Field::Blank => Some(None),
            Field::Set(v) => Some(Some(v)),
        }
    }
}

/// A reference to a partner or client: by id, by name, or (optimally, as the vendor puts it) both,
/// which must then name the same record.
#[derive(Debug, Clone, PartialEq)]
pub struct Ref {
    pub id: Option<i64>,
    pub name: Option<String>,
    /// A query parameter's one value, which may be either (`?partner=792`): `id` is tried
    /// first, then `name`.
    pub id_or_name: bool,
}

/// The request body as a JSON object; a body that is not one is a 409 on `body`.
pub fn object(req: &Request) -> Result<Map<String, Value>, Error> {
    // Another media type is refused; none at all is accepted (noted), since how the vendor
    // reads a body without one is unknown.
    if req.header("Content-Type").is_none() {
        crate::conformance::warn(&super::rules::CONTENT_TYPE_MISSING);
    } else if !req.content_type_is("application/json")
        && crate::conformance::refuse(&super::rules::CONTENT_TYPE)
    {
        return Err(invalid(
            "body",
            INVALID,
            "The request body must be sent as Content-Type: application/json.",
        ));
    }
    match json_body(req)? {
        Value::Object(map) => Ok(map),
        _ => Err(invalid(
            "body",
            INVALID,
            "The request body must be a JSON object.",
        )),
    }
}

fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Reads the attributes of one JSON object, recording problems under `prefix.key`.
pub struct Reader<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Reader<'a> {
    pub fn new(map: &'a Map<String, Value>, prefix: &'a str) -> Reader<'a> {
        Reader { map, prefix }
    }

    pub fn attr(&self, key: &str) -> String {
        path(self.prefix, key)
    }

    fn raw(&self, key: &str) -> Field<&'a Value> {
        match self.map.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(v) => Field::Set(v),
        }
    }

    /// A string of at most `max` characters, trimmed; blank counts as missing when `required`.
    pub fn text(&self, key: &str, max: usize, problems: &mut Problems) -> Field<String> {
        let attr = self.attr(key);
        match self.raw(key) {
            Field::Set(Value::String(s)) => {
                let s = s.trim();
                if s.chars().count() > max {
                    problems.add(
                        &attr,
                        INVALID,
                        format!("{attr} must be at most {max} characters."),
                    );
                    Field::Invalid
                } else {
                    Field::Set(s.to_string())
                }
            }
            Field::Set(_) => wrong_type(&attr, "a string", problems),
            Field::Null => Field::Null,
            _ => Field::Absent,
        }
    }

    /// Like `text`, but an empty string counts as missing (names, user fields).
    pub fn name(&self, key: &str, max: usize, problems: &mut Problems) -> Field<String> {
        match self.text(key, max, problems) {
            Field::Set(s) if s.is_empty() => Field::Blank,
            other => other,
        }
    }

    pub fn boolean(&self, key: &str, problems: &mut Problems) -> Field<bool> {
        let attr = self.attr(key);
        match self.raw(key) {
            Field::Set(Value::Bool(b)) => Field::Set(*b),
            Field::Set(_) => wrong_type(&attr, "a boolean", problems),
            Field::Null => Field::Null,
            _ => Field::Absent,
        }
    }

    /// An integer; ids in bodies are int64 (docs/shieldconex.md). A string of digits is
    /// accepted, and recorded (`shieldconex.numeric_string`).
    pub fn integer(&self, key: &str, problems: &mut Problems) -> Field<i64> {
        let attr = self.attr(key);
        match self.raw(key) {
            Field::Set(v) => match (v.as_i64(), v.as_str().and_then(digits)) {
                (Some(n), _) => Field::Set(n),
                (None, Some(n)) => {
                    warn_at(&rules::NUMERIC_STRING, &attr);
                    Field::Set(n)
                }
                (None, None) => wrong_type(&attr, "an integer", problems),
            },
            Field::Null => Field::Null,
            _ => Field::Absent,
        }
    }

    /// A nested object, read with its own prefix.
    pub fn nested(&self, key: &str, problems: &mut Problems) -> Field<&'a Map<String, Value>> {
        let attr = self.attr(key);
        match self.raw(key) {
            Field::Set(Value::Object(map)) => Field::Set(map),
            Field::Set(_) => wrong_type(&attr, "an object", problems),
            Field::Null => Field::Null,
            _ => Field::Absent,
        }
    }

    /// A `{id, name}` reference (PartnerReference, ClientReference): either may be given.
    pub fn reference(&self, key: &str, problems: &mut Problems) -> Field<Ref> {
        let attr = self.attr(key);
        let map = match self.nested(key, problems) {
            Field::Set(map) => map,
            Field::Null => return Field::Null,
            Field::Absent => return Field::Absent,
            Field::Invalid | Field::Blank => return Field::Invalid,
        };
        let inner = Reader::new(map, &attr);
        let id = inner.integer("id", problems);
        let name = inner.text("name", 255, problems);
        if problems.has(&inner.attr("id")) || problems.has(&inner.attr("name")) {
            return Field::Invalid;
        }
        let r = Ref {
            id: match id {
                Field::Set(n) => Some(n),
                _ => None,
            },
            name: match name {
                Field::Set(s) if !s.is_empty() => Some(s),
                _ => None,
            },
            id_or_name: false,
        };
        if r.id.is_none() && r.name.is_none() {
            problems.add(&attr, REQUIRED, format!("{attr} needs an id or a name."));
            return Field::Invalid;
        }
        Field::Set(r)
    }

    /// A `UserReference` (`{"id": N}`, other keys ignored), as a PATCH's `contact`: it may
    /// be left out, not set to null.
    pub fn user_reference(&self, key: &str, problems: &mut Problems) -> Option<i64> {
        let attr = self.attr(key);
        match self.nested(key, problems) {
            Field::Set(map) => Reader::new(map, &attr)
                .integer("id", problems)
                .required(&format!("{attr}.id"), problems),
            field => field.not_null(&attr, problems).and(None),
        }
    }

    /// A user role: `{"name": "Client Admin"}` (UserRoleReference) or the bare string
    /// (UserCreateInline), in either spelling of the docs.
    pub fn role(&self, key: &str, problems: &mut Problems) -> Field<&'static str> {
        let attr = self.attr(key);
        let name = match self.raw(key) {
            Field::Set(Value::String(s)) => s.as_str(),
            Field::Set(Value::Object(map)) => match map.get("name") {
                Some(Value::String(s)) => s.as_str(),
                other => {
                    // `{"name": null}` and `{"name": 5}` are a null and a type; no name at
                    // all is only missing.
                    let name = format!("{attr}.name");
                    let deviation = match other {
                        None => None,
                        Some(Value::Null) => Some(&rules::NULL),
                        Some(_) => Some(&rules::TYPE),
                    };
                    if deviation.is_some_and(|rule| !refuse_at(rule, &name)) {
                        return Field::Absent;
                    }
                    problems.add(
                        &attr,
                        REQUIRED,
                        format!("{name} is required and must be a string."),
                    );
                    return Field::Invalid;
                }
            },
            Field::Set(_) if !refuse_at(&rules::TYPE, &attr) => return Field::Absent,
            Field::Set(_) => {
                problems.add(
                    &attr,
                    INVALID,
                    format!("{attr} must be an object with a name."),
                );
                return Field::Invalid;
            }
            Field::Null => return Field::Null,
            Field::Absent | Field::Invalid | Field::Blank => return Field::Absent,
        };
        match roles::canonical(name) {
            Some(role) => {
                if !roles::is_spelt_as_documented(name) {
                    warn_at(&rules::NAME_CASE, &attr);
                }
                Field::Set(role)
            }
            None => {
                problems.add(
                    &attr,
                    INVALID,
                    format!("{attr} must be one of: {}.", roles::ROLES.join(", ")),
                );
                Field::Invalid
            }
        }
    }
}

/// A wrong type: refused as a 409 on the attribute (`shieldconex.type`), or with `--lenient`
/// taken as left out.
fn wrong_type<T>(attr: &str, what: &str, problems: &mut Problems) -> Field<T> {
    if !refuse_at(&rules::TYPE, attr) {
        return Field::Absent;
    }
    problems.add(attr, INVALID, format!("{attr} must be {what}."));
    Field::Invalid
}

/// The value of a string of at most 19 digits (an int64 written as text).
fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An id in a path: at most 20 digits (the OpenAPI document declares an integer, the type of
/// the answers' ids); anything else finds nothing (404, as a path that names no record),
/// and is recorded as a wrong type. Leading zeros find the record, and are recorded.
pub fn path_id(segment: &str) -> Result<i64, Error> {
    // Digits only: `parse` alone would take `+744`; too many digits overflow and fail it.
    let id = if segment.bytes().all(|b| b.is_ascii_digit()) {
        segment.parse::<i64>().ok()
    } else {
        None
    };
    let Some(id) = id else {
        let _ = refuse_at(&rules::TYPE, &format!("path id {segment:.40}"));
        return Err(Error::NotFound);
    };
    if segment.len() > 1 && segment.starts_with('0') {
        warn_at(&rules::PADDED_ID, &format!("path id {segment:.40}"));
    }
    Ok(id)
}

/// `take` (default 10) and `skip` (default 0) of a list call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paging {
    pub take: i64,
    pub skip: i64,
}

impl Paging {
    pub fn from_query(req: &Request, problems: &mut Problems) -> Paging {
        let mut read = |name: &str, default: i64, max: i64| match req.query_param(name) {
            None => default,
            Some(text) => match text.trim().parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => n,
                // Not an integer at all is a wrong type; with `--lenient`, the default.
                Err(_) if !refuse_at(&rules::TYPE, name) => default,
                _ => {
                    problems.add(
                        name,
                        INVALID,
                        format!("{name} must be an integer from 0 to {max}."),
                    );
                    default
                }
            },
        };
        let take = read("take", 10, MAX_TAKE);
        let skip = read("skip", 0, i64::from(i32::MAX));
        Paging { take, skip }
    }
}

/// A query parameter naming a partner or client by id or name (`?partner=792`,
/// `?partner=partnerName`): digits are tried as an id first, then as a name.
pub fn query_ref(req: &Request, name: &str, problems: &mut Problems) -> Option<Ref> {
    let value = req.query_param(name)?;
    let value = value.trim();
    if value.is_empty() {
        problems.add(name, REQUIRED, format!("{name} must not be empty."));
        return None;
    }
    if value.chars().count() > 255 {
        problems.add(
            name,
            INVALID,
            format!("{name} must be at most 255 characters."),
        );
        return None;
    }
    let id = (value.len() <= 19 && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse().ok())
        .flatten();
    Some(Ref {
        id,
        name: Some(value.to_string()),
        id_or_name: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reader_of(v: &Value) -> Reader<'_> {
        Reader::new(v.as_object().unwrap(), "")
    }

    #[test]
    fn fields_are_absent_null_or_set() {
        let v = json!({"a": "  x ", "b": null, "c": 5, "d": "7", "e": true, "long": "xyz"});
        let r = reader_of(&v);
        let mut p = Problems::default();
        assert_eq!(r.text("a", 10, &mut p), Field::Set("x".into()));
        assert_eq!(r.text("b", 10, &mut p), Field::Null);
        assert_eq!(r.text("zz", 10, &mut p), Field::Absent);
        assert_eq!(r.integer("c", &mut p), Field::Set(5));
        assert_eq!(r.integer("d", &mut p), Field::Set(7));
        assert_eq!(r.boolean("e", &mut p), Field::Set(true));
        assert!(p.is_empty());
        assert_eq!(r.text("long", 2, &mut p), Field::Invalid);
        assert_eq!(r.boolean("c", &mut p), Field::Invalid);
        assert!(p.has("long") && p.has("c"));
    }

    #[test]
    fn references_need_an_id_or_a_name() {
        let v =
            json!({"p": {"id": 792, "name": "partnerName"}, "q": {}, "r": {"name": "n"}, "s": 3});
        let r = reader_of(&v);
        let mut p = Problems::default();
        assert_eq!(
            r.reference("p", &mut p),
            Field::Set(Ref {
                id: Some(792),
                name: Some("partnerName".into()),
                id_or_name: false,
            })
        );
        assert_eq!(
            r.reference("r", &mut p),
            Field::Set(Ref {
                id: None,
                name: Some("n".into()),
                id_or_name: false,
            })
        );
        assert!(p.is_empty());
        assert_eq!(r.reference("q", &mut p), Field::Invalid);
        assert_eq!(r.reference("s", &mut p), Field::Invalid);
        assert!(p.has("q") && p.has("s"));
    }

    #[test]
    fn roles_as_object_or_string() {
        let v = json!({"a": {"name": "Client Administrator"}, "b": "Partner User", "c": {"name": "Boss"}});
        let r = reader_of(&v);
        let mut p = Problems::default();
        assert_eq!(r.role("a", &mut p), Field::Set("Client Admin"));
        assert_eq!(r.role("b", &mut p), Field::Set("Partner User"));
        assert_eq!(r.role("c", &mut p), Field::Invalid);
        assert!(p.has("c"));
    }

    #[test]
    fn path_ids() {
        assert_eq!(path_id("872").unwrap(), 872);
        assert_eq!(path_id("00872").unwrap(), 872);
        assert!(path_id("+872").is_err());
        assert!(path_id("").is_err());
        assert!(path_id("abc").is_err());
        assert!(path_id("123456789012345678901").is_err());
        assert!(path_id("99999999999999999999").is_err());
    }
}
