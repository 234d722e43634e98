//! The vendor's create form ("Create a client"): its table of fields as data, and the
//! validation that reports every violation at once, per field.
//!
//! The rules are the vendor's "Pattern" column and no stricter (docs/nueve09.md): lengths in
//! characters, "N digits" as ASCII digits only, e-mails with no pattern (the seed's own
//! example carries a scraped `"[email protected]"`), `state` from the States Catalog.
//! Tolerances where the seed is loose: values are trimmed; an optional field that is `null`
//! or blank counts as left out; digit fields may come as JSON numbers (the seed's example
//! sends `"contact_telephone_country_code": 52` although the table says string); `available`
//! may be a number or a decimal string, exact to the cent.

use serde_json::{Map, Value};

use super::{money, rules, states};
use super::{Error, FieldErrors};
use crate::conformance::{refuse_at, warn_at};

/// What a field's value must look like (the vendor's "Pattern" column).
#[derive(Clone, Copy, Debug)]
pub enum Pattern {
    /// `min-max characters`.
    Chars(usize, usize),
    /// `N digits` (or `min-max digits`), ASCII digits only.
    Digits(usize, usize),
    /// No pattern in the seed: any non-blank text up to 254 characters (RFC 5321's limit).
    Email,
    /// A state of the States Catalog, by code or name; kept as its code.
    State,
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub required: bool,
    pub pattern: Pattern,
}

const fn required(name: &'static str, pattern: Pattern) -> Field {
    Field {
        name,
        required: true,
        pattern,
    }
}

const fn optional(name: &'static str, pattern: Pattern) -> Field {
    Field {
        name,
        required: false,
        pattern,
    }
}

use Pattern::{Chars, Digits, Email, State};

/// The text fields of the vendor's table, in its order, each kept as it is in the
/// `n09_accounts` column of the same name. `available` (money) and `api_key_password` (only
/// its hash is kept) are read apart.
pub const COLUMNS: [Field; 34] = [
    required("name", Chars(5, 30)),
    required("alias", Chars(3, 10)),
    required("email", Email),
    required("phone", Digits(10, 10)),
    required("mobile_phone", Digits(10, 10)),
    required("rfc", Chars(10, 13)),
    required("street", Chars(1, 20)),
    required("ext_street_number", Chars(1, 5)),
    optional("int_street_number", Chars(1, 5)),
    required("suburb", Chars(1, 25)),
    required("township", Chars(1, 25)),
    required("city", Chars(1, 25)),
    required("state", State),
    required("postal_code", Digits(5, 5)),
    required("contact_name", Chars(1, 12)),
    optional("contact_second_name", Chars(1, 12)),
    required("contact_surname", Chars(1, 12)),
    optional("contact_second_surname", Chars(1, 12)),
    required("contact_email", Email),
    required("contact_telephone_country_code", Digits(2, 3)),
    required("contact_telephone", Digits(10, 10)),
    required("contact_mobile_phone_country_code", Digits(2, 3)),
    required("contact_mobile_phone", Digits(10, 10)),
    optional("legal_representative_name", Chars(1, 12)),
    optional("legal_representative_second_name", Chars(1, 12)),
    optional("legal_representative_surname", Chars(1, 12)),
    optional("legal_representative_second_surname", Chars(1, 12)),
    optional("legal_representative_email", Email),
    optional("legal_representative_telephone_country_code", Digits(2, 3)),
    optional("legal_representative_telephone", Digits(10, 10)),
    optional(
        "legal_representative_mobile_phone_country_code",
        Digits(2, 3),
    ),
    optional("legal_representative_mobile_phone", Digits(10, 10)),
    required("api_key_name", Chars(5, 30)),
    optional("api_key_description", Chars(1, 30)),
];

const PASSWORD: Field = required("api_key_password", Chars(1, 30));
const EMAIL_MAX_CHARS: usize = 254;

/// A create form that passed validation. No `Debug`: it holds the password in the clear.
pub struct Form {
    /// Aligned with `COLUMNS`: the trimmed value (a state's code), `None` when left out.
    values: Vec<Option<String>>,
    pub available_cents: i64,
    pub api_key_password: String,
}

impl Form {
    /// Reads and validates the body of `POST /clients` (`body` parsed from `raw`): 400 when
    /// it is not an object, 422 with every field that breaks its pattern.
    pub fn from_json(body: &Value, raw: &[u8]) -> Result<Form, Error> {
        let Some(map) = body.as_object() else {
            let _ = refuse_at(&rules::TYPE, "body");
            return Err(Error::BadRequest(
                "the request body must be a JSON object with the fields of a client".into(),
            ));
        };
        let mut errors = FieldErrors::new();
        let mut note = |field: &str, message: &str| {
            errors.insert(field.to_string(), vec![message.to_string()]);
        };
        let mut values = Vec::with_capacity(COLUMNS.len());
        for field in &COLUMNS {
            match field.read(map) {
                Ok(value) => values.push(value),
                Err(message) => {
                    note(field.name, &message);
                    values.push(None);
                }
            }
        }
        let available = available(raw);
        if let Err(message) = available {
            note("available", message);
        }
        let password = PASSWORD.read(map);
        if let Err(message) = &password {
            note(PASSWORD.name, message);
        }
        match (available, password) {
            (Ok(available_cents), Ok(Some(api_key_password))) if errors.is_empty() => Ok(Form {
                values,
                available_cents,
                api_key_password,
            }),
            _ => Err(Error::Invalid(errors)),
        }
    }

    /// The value of a field of `COLUMNS`; `None` when left out.
    pub fn get(&self, name: &str) -> Option<&str> {
        let index = COLUMNS.iter().position(|f| f.name == name)?;
        self.values[index].as_deref()
    }

    /// (column, value) for every field of `COLUMNS`, for the insert.
    pub fn columns(&self) -> impl Iterator<Item = (&'static str, Option<&str>)> + '_ {
        COLUMNS
            .iter()
            .zip(&self.values)
            .map(|(field, value)| (field.name, value.as_deref()))
    }
}

/// `available` in cents, or what is wrong. A null is noted (`nueve09.null`), a decimal
/// string accepted and noted (`nueve09.numeric_string`), another type refused
/// (`nueve09.type`); with `--lenient` a null or another type is taken as left out.
fn available(raw: &[u8]) -> Result<i64, &'static str> {
    let text = match money::raw_field(raw, "available") {
        None => return Err("is required"),
        Some(text) => text,
    };
    let trimmed = text.get().trim();
    if trimmed == "null" {
        let _ = refuse_at(&rules::NULL, "available");
        return Err("is required");
    }
    let amount = money::from_raw(text);
    let is_string = trimmed.starts_with('"');
    match amount {
        Err(money::AmountError::NotANumber) if !refuse_at(&rules::TYPE, "available") => {
            Err("is required")
        }
        Err(e) => Err(e.message()),
        Ok(cents) => {
            if is_string {
                warn_at(&rules::NUMERIC_STRING, "available");
            }
            Ok(cents)
        }
    }
}

impl Field {
    /// The field's trimmed value, `None` for an optional field left out, or what is wrong.
    /// A null where a value is required, and a value of another type, are noted; with
    /// `--lenient` another type is taken as left out.
    fn read(&self, form: &Map<String, Value>) -> Result<Option<String>, String> {
        let text = match form.get(self.name) {
            None => None,
            Some(Value::Null) => {
                if self.required {
                    let _ = refuse_at(&rules::NULL, self.name);
                }
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_string()),
            // Not a deviation: the vendor's own example sends a country code as a number.
            Some(Value::Number(n)) if matches!(self.pattern, Digits(..)) => Some(n.to_string()),
            Some(_) if refuse_at(&rules::TYPE, self.name) => return Err("must be a string".into()),
            Some(_) => None,
        };
        let text = match text {
            Some(text) if !text.is_empty() => text,
            Some(_) if self.required => return Err("can't be blank".into()),
            None if self.required => return Err("is required".into()),
            Some(_) => {
                warn_at(&rules::BLANK_OPTIONAL, self.name);
                return Ok(None);
            }
            None => return Ok(None),
        };
        let chars = text.chars().count();
        match self.pattern {
            Chars(min, max) if chars < min || chars > max => Err(if min == max {
                format!("must be {min} characters")
            } else {
                format!("must be {min}-{max} characters")
            }),
            Digits(min, max)
                if chars < min || chars > max || !text.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Err(if min == max {
                    format!("must be {min} digits")
                } else {
                    format!("must be {min}-{max} digits")
                })
            }
            Email if chars > EMAIL_MAX_CHARS => {
                Err(format!("must be at most {EMAIL_MAX_CHARS} characters"))
            }
            State => {
                let code = states::code_of(&text).ok_or(
                    "must be a state of the States Catalog (GET /catalogs/states), e.g. CDMX",
                )?;
                if !states::is_listed_as(&text) {
                    warn_at(&rules::NAME_CASE, self.name);
                }
                Ok(Some(code.to_string()))
            }
            _ => Ok(Some(text)),
        }
    }
}

/// True when `rfc` follows SAT's pattern: 3 (company) or 4 (person) letters, a yymmdd date,
/// and a 3-character homoclave. The vendor only promises 10-13 characters, so a mismatch is
/// accepted (and logged), not refused (docs/nueve09.md).
pub fn looks_like_rfc(rfc: &str) -> bool {
    let chars: Vec<char> = rfc.chars().flat_map(char::to_uppercase).collect();
    let letters = chars
        .iter()
        .take_while(|c| c.is_ascii_uppercase() || **c == 'Ñ' || **c == '&')
        .count();
    if !(3..=4).contains(&letters) || chars.len() != letters + 9 {
        return false;
    }
    let (date, homoclave) = chars[letters..].split_at(6);
    date.iter().all(char::is_ascii_digit)
        && homoclave
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_pattern() {
        assert!(looks_like_rfc("AAMM9001010A1"));
        assert!(looks_like_rfc("ABC900101XY9"));
        assert!(looks_like_rfc("ñaño900101xy9"));
        assert!(!looks_like_rfc("AAMM90010A1"));
        assert!(!looks_like_rfc("1234567890"));
    }
}
