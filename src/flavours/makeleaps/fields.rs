//! Reading request fields the way DRF serializers do, with DRF's messages, so a 400 looks
//! like MakeLeaps' own: `{"family_name": ["This field is required."]}`. Errors of one object
//! are collected together (DRF reports every bad field at once, not just the first).

use serde_json::{json, Map, Value};

use super::rules;
use crate::conformance::{refuse_at, warn_at};

pub const REQUIRED: &str = "This field is required.";
pub const NOT_NULL: &str = "This field may not be null.";
pub const NOT_BLANK: &str = "This field may not be blank.";
pub const NOT_A_STRING: &str = "Not a valid string.";
pub const NOT_EMPTY_LIST: &str = "This list may not be empty.";

/// The longest text any field takes. Our choice: MakeLeaps publishes no limits; Django's usual.
pub const MAX_TEXT: usize = 255;

/// Python's name for the type of a JSON value, as DRF's messages print it.
pub fn py_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The body of a nested object that is not an object: `{"non_field_errors": [...]}`. The
/// wrong type is noted on `field` (`makeleaps.type`).
pub fn not_a_dict(field: &str, value: &Value) -> Value {
    let _ = refuse_at(&rules::TYPE, field);
    json!({"non_field_errors": [format!(
        "Invalid data. Expected a dictionary, but got {}.",
        py_type(value)
    )]})
}

/// The message for a list that is not a list; the wrong type is noted on `field`.
pub fn not_a_list(field: &str, value: &Value) -> String {
    let _ = refuse_at(&rules::TYPE, field);
    format!(
        "Expected a list of items but got type \"{}\".",
        py_type(value)
    )
}

/// The errors of one object, keyed by field; empty when the object is valid.
#[derive(Debug, Default)]
pub struct Errors(Map<String, Value>);

impl Errors {
    /// Adds a message to a field's list.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let entry = self
            .0
            .entry(field.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.into()));
        }
    }

    /// Sets a field's error to a nested value (an object's errors, or a list of them).
    pub fn nest(&mut self, field: &str, errors: Value) {
        self.0.insert(field.to_string(), errors);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    /// `Ok(value)` when nothing was added, else the errors as a JSON object.
    pub fn finish<T>(self, value: T) -> Result<T, Value> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self.into_value())
        }
    }
}

/// What a text field accepts.
#[derive(Clone, Copy)]
pub struct Text {
    pub required: bool,
    pub allow_blank: bool,
    pub max: usize,
}

impl Text {
    pub const REQUIRED: Text = Text {
        required: true,
        allow_blank: false,
        max: MAX_TEXT,
    };
    pub const OPTIONAL: Text = Text {
        required: false,
        allow_blank: true,
        max: MAX_TEXT,
    };
}

/// A null where a field takes none: noted (`makeleaps.null` on `field`), and the message to
/// answer with.
pub fn not_null(field: &str) -> &'static str {
    let _ = refuse_at(&rules::NULL, field);
    NOT_NULL
}

/// Reads a text field like DRF's `CharField`: numbers are taken as their text (and noted),
/// surrounding whitespace is trimmed, null and blank follow the rule. `None` when absent and
/// optional; on error the message is added to `errors` and `None` returned. With
/// `--lenient`, a null that is not taken or a value of another type counts as absent.
pub fn text(
    object: &Map<String, Value>,
    name: &str,
    rule: Text,
    errors: &mut Errors,
) -> Option<String> {
    let given = match object.get(name) {
        Some(Value::Null)
            if (rule.required || !rule.allow_blank) && !refuse_at(&rules::NULL, name) =>
        {
            None
        }
        Some(Value::Array(_) | Value::Object(_) | Value::Bool(_))
            if !refuse_at(&rules::TYPE, name) =>
        {
            None
        }
        given => given,
    };
    let value = match given {
        None if rule.required => {
            errors.add(name, REQUIRED);
            return None;
        }
        None => return None,
        Some(Value::Null) if rule.required || !rule.allow_blank => {
            errors.add(name, NOT_NULL);
            return None;
        }
        // An optional, blank-allowing field given as null means "no value".
        Some(Value::Null) => return Some(String::new()),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => {
            warn_at(&rules::NUMBER_AS_TEXT, name);
            n.to_string()
        }
        Some(_) => {
            errors.add(name, NOT_A_STRING);
            return None;
        }
    };
    if value.is_empty() && !rule.allow_blank {
        errors.add(name, NOT_BLANK);
        return None;
    }
    if value.chars().count() > rule.max {
        errors.add(
            name,
            format!(
                "Ensure this field has no more than {} characters.",
                rule.max
            ),
        );
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_follow_drf() {
        let object =
            json!({"a": "  x ", "b": "", "c": 7, "d": [1], "e": null, "f": "y".repeat(256)});
        let object = object.as_object().unwrap();
        let mut errors = Errors::default();
        assert_eq!(
            text(object, "a", Text::REQUIRED, &mut errors).as_deref(),
            Some("x")
        );
        assert_eq!(text(object, "b", Text::REQUIRED, &mut errors), None);
        assert_eq!(
            text(object, "c", Text::OPTIONAL, &mut errors).as_deref(),
            Some("7")
        );
        assert_eq!(text(object, "d", Text::OPTIONAL, &mut errors), None);
        assert_eq!(
            text(object, "e", Text::OPTIONAL, &mut errors).as_deref(),
            Some("")
        );
        assert_eq!(text(object, "f", Text::OPTIONAL, &mut errors), None);
        assert_eq!(text(object, "g", Text::REQUIRED, &mut errors), None);
        assert_eq!(text(object, "h", Text::OPTIONAL, &mut errors), None);
        assert_eq!(
            errors.into_value(),
            json!({
                "b": [NOT_BLANK],
                "d": [NOT_A_STRING],
                "f": ["Ensure this field has no more than 255 characters."],
                "g": [REQUIRED],
            })
        );
    }

    #[test]
    fn python_type_names() {
        assert_eq!(py_type(&json!([])), "list");
        assert_eq!(py_type(&json!(1.5)), "float");
        assert_eq!(
            not_a_dict("x", &json!("x")),
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]})
        );
    }
}
