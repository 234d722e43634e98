//! Money. Nueve09 sends and shows amounts in pesos as JSON floats (`"available": 22814.55`, the
//! vendor's documentation and the login example); we keep them as integer cents and never do
//! arithmetic on floats. An amount is read from the number's decimal text as the client wrote
//! it, so `1000.55` is exactly 100055 cents and `10.555` is refused rather than rounded; so are
//! `100.00000000000000000001` and `1e-400`, which a float would take for 100 and 0.

use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::Value;

/// The largest amount accepted: a trillion pesos (15 digits of cents), far below `i64::MAX`
/// and within the 15 significant digits a JSON float carries exactly.
pub const MAX_CENTS: i64 = 100_000_000_000_000;

/// Why a text or JSON value is not an amount of money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountError {
    NotANumber,
    Negative,
    /// More than two decimals that are not zero.
    TooPrecise,
    TooLarge,
}

impl AmountError {
    /// The message for the field's entry in a validation error.
    pub fn message(self) -> &'static str {
        match self {
            AmountError::NotANumber => "must be a number",
            AmountError::Negative => "must not be negative",
            AmountError::TooPrecise => "must have at most 2 decimals",
            AmountError::TooLarge => "must be at most 1000000000000",
        }
    }
}

/// Pesos as decimal text (`1000`, `1000.5`, `22814.55`, `1.5e3`) → cents.
pub fn parse_cents(text: &str) -> Result<i64, AmountError> {
    let text = text.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => {
            let exponent: i64 = rest[i + 1..].parse().map_err(|_| AmountError::NotANumber)?;
            (&rest[..i], exponent)
        }
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(AmountError::NotANumber);
    }
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(0);
    }
    if negative {
        return Err(AmountError::Negative);
    }
    // `digits` × 10^shift is the amount in cents.
    let shift = exponent
        .checked_sub(frac.len() as i64)
        .and_then(|s| s.checked_add(2))
        .ok_or(AmountError::TooLarge)?;
    let cents_text = if shift < 0 {
        let drop = usize::try_from(-shift).unwrap_or(usize::MAX);
        if drop >= digits.len() || !digits[digits.len() - drop..].bytes().all(|b| b == b'0') {
            // `digits` has no leading zero, so dropping all of it would drop a non-zero digit.
            return Err(AmountError::TooPrecise);
        }
        digits[..digits.len() - drop].to_string()
    } else {
        if (digits.len() as i64).saturating_add(shift) > 15 {
            return Err(AmountError::TooLarge);
        }
        format!("{digits}{}", "0".repeat(shift as usize))
    };
    match cents_text.parse::<i64>() {
        Ok(cents) if cents <= MAX_CENTS => Ok(cents),
        _ => Err(AmountError::TooLarge),
    }
}

/// A JSON amount as sent: a number, read from its own text, or the same in a string
/// (`"1000.50"`). Parsed into a `Value`, a number would already be a float (serde_json keeps
/// no number's text without its `arbitrary_precision` feature, which would change every
/// flavour's numbers), so the text comes from the body again, as a `RawValue`.
pub fn from_raw(raw: &RawValue) -> Result<i64, AmountError> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        let string: String = serde_json::from_str(text).map_err(|_| AmountError::NotANumber)?;
        return parse_cents(&string);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Number(_)) => parse_cents(text),
        _ => Err(AmountError::NotANumber),
    }
}

/// The top-level field `name` of a JSON object as written in `body` (the last of that name,
/// as in the parsed value), for `from_raw`; `None` when absent or when `body` is not an
/// object.
pub fn raw_field<'a>(body: &'a [u8], name: &str) -> Option<&'a RawValue> {
    let fields: HashMap<String, &RawValue> = serde_json::from_slice(body).ok()?;
    fields.get(name).copied()
}

/// Cents → the JSON number the vendor shows: `2281455` → `22814.55`, and whole pesos as an
/// integer, `100000` → `1000`, as the vendor's create answer shows `"available": 1000`.
pub fn to_json(cents: i64) -> Value {
    if cents % 100 == 0 {
        return Value::from(cents / 100);
    }
    // Exact below 2^53 cents: the division is correctly rounded, and the nearest double to
    // n/100 prints back as n/100.
    Value::from(cents as f64 / 100.0)
}

/// Cents → `22814.55`, for messages.
pub fn display(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The value parser of `--nueve09-min-balance` (pesos, e.g. `500` or `99.50`).
pub fn parse_min_balance(text: &str) -> Result<i64, String> {
    parse_cents(text).map_err(|e| format!("{text:?} is not an amount in pesos: it {}", e.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_amounts_exactly() {
        assert_eq!(parse_cents("1000"), Ok(100_000));
        assert_eq!(parse_cents("22814.55"), Ok(2_281_455));
        assert_eq!(parse_cents("0.1"), Ok(10));
        assert_eq!(parse_cents("1000.500"), Ok(100_050));
        assert_eq!(parse_cents("1.5e3"), Ok(150_000));
        assert_eq!(parse_cents("25e-2"), Ok(25));
        assert_eq!(parse_cents("0"), Ok(0));
        assert_eq!(parse_cents("-0.00"), Ok(0));
        assert_eq!(parse_cents(".5"), Ok(50));
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        assert_eq!(parse_cents("10.555"), Err(AmountError::TooPrecise));
        assert_eq!(parse_cents("1e-3"), Err(AmountError::TooPrecise));
        assert_eq!(parse_cents("-1"), Err(AmountError::Negative));
        assert_eq!(parse_cents("1e13"), Err(AmountError::TooLarge));
        assert_eq!(
            parse_cents("1e999999999999999999999"),
            Err(AmountError::NotANumber)
        );
        assert_eq!(
            parse_cents("9".repeat(40).as_str()),
            Err(AmountError::TooLarge)
        );
        for text in ["", ".", "abc", "1,5", "1.2.3", "e5", "0x10", "1 000"] {
            assert_eq!(parse_cents(text), Err(AmountError::NotANumber), "{text}");
        }
    }

    #[test]
    fn json_amounts_are_read_as_written() {
        let raw: Vec<Box<RawValue>> =
            serde_json::from_str(r#"[1000, 22814.55, 0.29, 1154.1, "99.5", true, null]"#).unwrap();
        let cents: Vec<_> = raw.iter().map(|v| from_raw(v)).collect();
        assert_eq!(
            cents,
            vec![
                Ok(100_000),
                Ok(2_281_455),
                Ok(29),
                Ok(115_410),
                Ok(9_950),
                Err(AmountError::NotANumber),
                Err(AmountError::NotANumber)
            ]
        );
        let body = br#"{"available": 100.00000000000000000001, "other": 1e-400}"#;
        let available = raw_field(body, "available").unwrap();
        assert_eq!(from_raw(available), Err(AmountError::TooPrecise));
        let other = raw_field(body, "other").unwrap();
        assert_eq!(from_raw(other), Err(AmountError::TooPrecise));
        let twice = br#"{"available": 1, "available": 2.5}"#;
        assert_eq!(from_raw(raw_field(twice, "available").unwrap()), Ok(250));
        assert!(raw_field(b"[1]", "available").is_none());
        assert_eq!(to_json(2_281_455).to_string(), "22814.55");
        assert_eq!(to_json(100_000).to_string(), "1000");
        assert_eq!(to_json(115_410).to_string(), "1154.1");
        assert_eq!(display(5), "0.05");
    }
}
