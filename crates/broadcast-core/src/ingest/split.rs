//! Splitting an ingest body into envelopes.
//!
//! A body is one JSON object, a JSON array of objects, or NDJSON (one object per line, blank
//! lines skipped). A body that parses as one JSON value is never read as NDJSON, so a
//! pretty-printed object spanning many lines is one envelope. Errors name the array index
//! (`[3]`) or the 1-based line (`line 4`); a body that is not JSON at all is `<body>`.

use serde_json::Value;

use super::error::IngestError;

/// Field name used in errors about the body as a whole.
pub const BODY_FIELD: &str = "<body>";

/// Splits an ingest body into envelopes: one JSON object, a JSON array of objects, or NDJSON
/// (one object per line, blank lines skipped). Errors name the line or index.
pub fn split_envelopes(body: &[u8]) -> Result<Vec<Value>, IngestError> {
    let body = body
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|error| {
        IngestError::invalid_text(
            BODY_FIELD,
            &String::from_utf8_lossy(body),
            format!("the body is not valid UTF-8 ({error}); send JSON encoded as UTF-8"),
        )
    })?;
    if text.trim().is_empty() {
        return Err(IngestError::invalid_text(
            BODY_FIELD,
            "",
            "the body is empty; send one JSON object, a JSON array of objects or NDJSON",
        ));
    }

    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => check_array(items),
        Ok(Value::Object(object)) => Ok(vec![Value::Object(object)]),
        Ok(other) => Err(IngestError::invalid(
            BODY_FIELD,
            &other,
            "expected a JSON object, a JSON array of objects or NDJSON",
        )),
        Err(whole_error) => {
            if looks_like_ndjson(text) {
                split_lines(text)
            } else {
                Err(IngestError::invalid_text(
                    BODY_FIELD,
                    text,
                    format!("the body is not valid JSON ({whole_error}); send one JSON object, a JSON array of objects or NDJSON"),
                ))
            }
        }
    }
}

fn check_array(items: Vec<Value>) -> Result<Vec<Value>, IngestError> {
    for (position, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(IngestError::invalid(
                format!("[{position}]"),
                item,
                "every element of the array must be an envelope object",
            ));
        }
    }
    Ok(items)
}

/// Returns whether the first non-blank line is a complete JSON value on its own.
fn looks_like_ndjson(text: &str) -> bool {
    text.lines()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| serde_json::from_str::<Value>(line).is_ok())
}

fn split_lines(text: &str) -> Result<Vec<Value>, IngestError> {
    let mut envelopes = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let field = format!("line {}", index + 1);
        match serde_json::from_str::<Value>(line) {
            Ok(value @ Value::Object(_)) => envelopes.push(value),
            Ok(other) => {
                return Err(IngestError::invalid(field, &other, "every NDJSON line must be an envelope object"))
            }
            Err(error) => {
                return Err(IngestError::invalid_text(
                    field,
                    line,
                    format!("the line is not valid JSON ({error}); put exactly one envelope object on each line"),
                ))
            }
        }
    }
    Ok(envelopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_object_and_pretty_object() {
        assert_eq!(
            split_envelopes(br#"{"request": {}}"#).map(|items| items.len()),
            Ok(1)
        );
        assert_eq!(
            split_envelopes(b"{\n  \"request\": {}\n}\n").map(|items| items.len()),
            Ok(1)
        );
    }

    #[test]
    fn array_of_objects() {
        assert_eq!(
            split_envelopes(br#"[{"a": 1}, {"b": 2}]"#).map(|items| items.len()),
            Ok(2)
        );
    }

    #[test]
    fn array_element_not_object_named() {
        let error = split_envelopes(br#"[{"a": 1}, {"b": 2}, {"c": 3}, 4]"#)
            .expect_err("4 is not an envelope");
        assert_eq!(error.field, "[3]");
        assert_eq!(error.value, "4");
    }

    #[test]
    fn ndjson_skips_blank_lines() {
        let body = b"{\"a\": 1}\n\n{\"b\": 2}\r\n   \n{\"c\": 3}\n";
        assert_eq!(split_envelopes(body).map(|items| items.len()), Ok(3));
    }

    #[test]
    fn ndjson_bad_line_named() {
        let body = b"{\"a\": 1}\n{\"b\": 2}\n\n{\"c\": oops}\n";
        let error = split_envelopes(body).expect_err("line 4 is not JSON");
        assert_eq!(error.field, "line 4");
        assert_eq!(error.value, "{\"c\": oops}");
    }

    #[test]
    fn ndjson_non_object_line_named() {
        let error =
            split_envelopes(b"{\"a\": 1}\n[1]\n").expect_err("an array line is not an envelope");
        assert_eq!(error.field, "line 2");
    }

    #[test]
    fn not_json_rejected() {
        let error = split_envelopes(b"hello world").expect_err("not JSON");
        assert_eq!(error.field, BODY_FIELD);
        assert_eq!(error.value, "hello world");
        let error = split_envelopes(b"   ").expect_err("empty");
        assert!(error.message.contains("empty"));
        let error = split_envelopes(b"\"text\"").expect_err("a string is not an envelope");
        assert_eq!(error.field, BODY_FIELD);
        let error = split_envelopes(b"\xff\xfe").expect_err("not UTF-8");
        assert!(error.message.contains("UTF-8"));
    }
}
