//! Lenient readers for optional scalar fields.
//!
//! Gateways send numbers as JSON numbers or as numeric strings (`"9"`, `"0.00042"`). Every
//! reader here treats `null` and an absent field as `None`, never as zero. A value that cannot
//! be read is dropped with one [`IngestWarning`](super::IngestWarning), so a bad optional number
//! never rejects a trace.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Number, Value};

use super::error::Warnings;

/// Reads a non-negative integer such as a token count.
///
/// Accepts JSON integers, floats with no fractional part (`9.0`) and numeric strings.
pub(crate) fn read_u64(value: Option<&Value>, field: &str, warnings: &mut Warnings) -> Option<u64> {
    let value = present(value)?;
    let parsed = match value {
        Value::Number(number) => number_to_u64(number),
        Value::String(text) => parse_u64_text(text.trim()),
        _ => None,
    };
    if parsed.is_none() {
        warnings.dropped(field, value, "expected a non-negative integer");
    }
    parsed
}

/// Reads a duration in milliseconds; fractions are rounded to the nearest millisecond.
pub(crate) fn read_millis(
    value: Option<&Value>,
    field: &str,
    warnings: &mut Warnings,
) -> Option<i64> {
    let value = present(value)?;
    let parsed = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    // The upper bound (about 31 years) keeps the later date arithmetic from overflowing.
    match parsed {
        Some(millis) if millis.is_finite() && (0.0..1.0e12).contains(&millis) => {
            Some(millis.round() as i64)
        }
        _ => {
            warnings.dropped(
                field,
                value,
                "expected a non-negative number of milliseconds",
            );
            None
        }
    }
}

/// Reads an amount of money as an exact decimal.
///
/// A JSON number is parsed from its shortest text form, so `0.00042` stays `0.00042` and the
/// exponent form `4.14e-05` becomes `0.0000414`.
pub(crate) fn read_decimal(
    value: Option<&Value>,
    field: &str,
    warnings: &mut Warnings,
) -> Option<Decimal> {
    let value = present(value)?;
    let parsed = match value {
        Value::Number(number) => parse_decimal(&number.to_string()),
        Value::String(text) => parse_decimal(text.trim()),
        _ => None,
    };
    if parsed.is_none() {
        warnings.dropped(field, value, "expected a decimal number");
    }
    parsed
}

/// Reads an identifier or name: a string, or a number written out as text.
///
/// Empty strings count as absent because no destination can use an empty id.
pub(crate) fn read_string(
    value: Option<&Value>,
    field: &str,
    warnings: &mut Warnings,
) -> Option<String> {
    let value = present(value)?;
    match value {
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) | Value::Null => {
            warnings.dropped(field, value, "expected a string");
            None
        }
    }
}

/// Returns the string value of `value` without warnings; other types give `None`.
pub(crate) fn as_text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

/// Returns the string value of `value` unless it is empty; some OpenAI-compatible servers send
/// `""` for fields they do not fill (Snowflake Cortex sends `"id": ""`).
pub(crate) fn as_filled_text(value: Option<&Value>) -> Option<&str> {
    as_text(value).filter(|text| !text.is_empty())
}

/// Returns a code that providers send as a string or as a number (`"rate_limit"`, `429`).
pub(crate) fn code_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Parses decimal text, with or without an exponent.
pub(crate) fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.is_empty() {
        return None;
    }
    if text.contains(['e', 'E']) {
        return Decimal::from_scientific(&text.to_ascii_lowercase()).ok();
    }
    Decimal::from_str(text).ok()
}

/// Returns `None` for an absent field and for `null`.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|value| !value.is_null())
}

fn number_to_u64(number: &Number) -> Option<u64> {
    if let Some(integer) = number.as_u64() {
        return Some(integer);
    }
    let float = number.as_f64()?;
    float_to_u64(float)
}

fn parse_u64_text(text: &str) -> Option<u64> {
    if let Ok(integer) = text.parse::<u64>() {
        return Some(integer);
    }
    float_to_u64(text.parse::<f64>().ok()?)
}

fn float_to_u64(float: f64) -> Option<u64> {
    // Integers above 2^53 (about 9.0e15) are not exact in an f64, so larger floats are rejected.
    let exact = float.is_finite() && float >= 0.0 && float.fract() == 0.0 && float <= 9.0e15;
    exact.then_some(float as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn u64_reads_numbers_and_numeric_strings() {
        let mut warnings = Warnings::default();
        assert_eq!(read_u64(Some(&json!(9)), "n", &mut warnings), Some(9));
        assert_eq!(read_u64(Some(&json!("9")), "n", &mut warnings), Some(9));
        assert_eq!(
            read_u64(Some(&json!(" 400 ")), "n", &mut warnings),
            Some(400)
        );
        assert_eq!(read_u64(Some(&json!(12.0)), "n", &mut warnings), Some(12));
        assert!(warnings.0.is_empty());
    }

    #[test]
    fn u64_null_and_absent_are_none_without_warning() {
        let mut warnings = Warnings::default();
        assert_eq!(read_u64(Some(&Value::Null), "n", &mut warnings), None);
        assert_eq!(read_u64(None, "n", &mut warnings), None);
        assert!(warnings.0.is_empty());
    }

    #[test]
    fn u64_junk_dropped_with_warning() {
        for junk in [
            json!("n/a"),
            json!(-3),
            json!(1.5),
            json!(true),
            json!({"a": 1}),
        ] {
            let mut warnings = Warnings::default();
            assert_eq!(
                read_u64(Some(&junk), "usage.total_tokens", &mut warnings),
                None
            );
            assert_eq!(warnings.0.len(), 1, "one warning for {junk}");
            assert_eq!(warnings.0[0].field, "usage.total_tokens");
        }
    }

    #[test]
    fn decimal_keeps_exact_text() {
        let mut warnings = Warnings::default();
        let read =
            |value: Value, warnings: &mut Warnings| read_decimal(Some(&value), "c", warnings);
        assert_eq!(
            read(json!(0.00042), &mut warnings),
            Decimal::from_str("0.00042").ok()
        );
        assert_eq!(
            read(json!("0.00042"), &mut warnings),
            Decimal::from_str("0.00042").ok()
        );
        assert_eq!(
            read(json!(4.14e-05), &mut warnings),
            Decimal::from_str("0.0000414").ok()
        );
        assert_eq!(
            read(json!("1E-7"), &mut warnings),
            Decimal::from_str("0.0000001").ok()
        );
        assert_eq!(read(json!(0), &mut warnings), Some(Decimal::ZERO));
        assert!(warnings.0.is_empty());
    }

    #[test]
    fn decimal_junk_dropped_with_warning() {
        let mut warnings = Warnings::default();
        assert_eq!(
            read_decimal(Some(&json!("n/a")), "cost_usd", &mut warnings),
            None
        );
        assert_eq!(
            read_decimal(Some(&json!("")), "cost_usd", &mut warnings),
            None
        );
        assert_eq!(warnings.0.len(), 2);
        assert!(warnings.0[0].message.contains("\"n/a\""));
    }

    #[test]
    fn millis_rounds_and_rejects_negative() {
        let mut warnings = Warnings::default();
        assert_eq!(
            read_millis(Some(&json!("400")), "latency_ms", &mut warnings),
            Some(400)
        );
        assert_eq!(
            read_millis(Some(&json!(812.6)), "latency_ms", &mut warnings),
            Some(813)
        );
        assert!(warnings.0.is_empty());
        assert_eq!(
            read_millis(Some(&json!(-1)), "latency_ms", &mut warnings),
            None
        );
        assert_eq!(warnings.0.len(), 1);
    }

    #[test]
    fn string_reads_numbers_and_skips_empty() {
        let mut warnings = Warnings::default();
        assert_eq!(
            read_string(Some(&json!(42)), "user", &mut warnings).as_deref(),
            Some("42")
        );
        assert_eq!(read_string(Some(&json!("")), "user", &mut warnings), None);
        assert!(warnings.0.is_empty());
        assert_eq!(
            read_string(Some(&json!(["a"])), "user", &mut warnings),
            None
        );
        assert_eq!(warnings.0.len(), 1);
    }
}
