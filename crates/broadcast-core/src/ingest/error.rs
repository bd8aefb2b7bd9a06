//! The error that rejects an envelope and the warning that keeps it.
//!
//! An [`IngestError`] always names the field (a JSON path such as `request.messages[2].role`),
//! an excerpt of the offending value and what the caller should send instead. Excerpts are at
//! most [`MAX_EXCERPT_BYTES`] bytes, cut on a character boundary, so a rejected multi-megabyte
//! body never ends up whole in a log line.

use std::fmt;

use serde_json::Value;

use crate::text::truncate_with_marker;

/// Maximum length in bytes of the value excerpt in errors and warnings.
pub const MAX_EXCERPT_BYTES: usize = 80;

/// A rejected envelope: which field, what it contained, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}` (value: {value}): {message}")]
pub struct IngestError {
    /// JSON path of the field, such as `request.messages[2]`, or `<body>` for the whole body.
    pub field: String,
    /// A short excerpt of the value, at most [`MAX_EXCERPT_BYTES`] bytes.
    pub value: String,
    /// The problem and its fix, such as the value to send instead.
    pub message: String,
}

impl IngestError {
    /// Creates an error for a value that is present but has the wrong type or content.
    pub fn invalid(field: impl Into<String>, value: &Value, message: impl Into<String>) -> Self {
        IngestError {
            field: field.into(),
            value: excerpt(value),
            message: message.into(),
        }
    }

    /// Creates an error for a required field that is absent.
    pub fn missing(field: impl Into<String>, message: impl Into<String>) -> Self {
        IngestError {
            field: field.into(),
            value: "<missing>".to_string(),
            message: message.into(),
        }
    }

    /// Creates an error whose value is raw text, such as an unparsable NDJSON line.
    pub fn invalid_text(field: impl Into<String>, text: &str, message: impl Into<String>) -> Self {
        IngestError {
            field: field.into(),
            value: truncate_with_marker(text, MAX_EXCERPT_BYTES).into_owned(),
            message: message.into(),
        }
    }
}

/// A value that normalisation dropped or could not use, while keeping the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestWarning {
    /// JSON path of the field, such as `cost_usd`.
    pub field: String,
    /// The reason the value was dropped, with an excerpt of it.
    pub message: String,
}

impl fmt::Display for IngestWarning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "`{}`: {}", self.field, self.message)
    }
}

/// Warnings collected while normalising one envelope.
#[derive(Debug, Default)]
pub(crate) struct Warnings(pub(crate) Vec<IngestWarning>);

impl Warnings {
    /// Records that the value of `field` was dropped, naming the value and the reason.
    pub(crate) fn dropped(&mut self, field: &str, value: &Value, reason: &str) {
        self.0.push(IngestWarning {
            field: field.to_string(),
            message: format!("ignored value {}: {reason}", excerpt(value)),
        });
    }

    /// Records a free-form note about `field`.
    pub(crate) fn note(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(IngestWarning {
            field: field.to_string(),
            message: message.into(),
        });
    }
}

/// Returns compact JSON for `value`, cut to [`MAX_EXCERPT_BYTES`] bytes.
pub(crate) fn excerpt(value: &Value) -> String {
    let text = match value {
        Value::Object(_) | Value::Array(_) => {
            // Objects and arrays can be megabytes long, so only a bounded prefix is serialised.
            let mut buffer = BoundedBuffer::default();
            if serde_json::to_writer(&mut buffer, value).is_err() && buffer.bytes.is_empty() {
                return "<unprintable>".to_string();
            }
            String::from_utf8_lossy(&buffer.bytes).into_owned()
        }
        other => other.to_string(),
    };
    truncate_with_marker(&text, MAX_EXCERPT_BYTES).into_owned()
}

/// A writer that keeps the first bytes and then reports an error to stop serialisation early.
#[derive(Default)]
struct BoundedBuffer {
    bytes: Vec<u8>,
}

impl std::io::Write for BoundedBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        // Keep a little more than the excerpt so that the truncation marker is added.
        let room = (MAX_EXCERPT_BYTES * 2).saturating_sub(self.bytes.len());
        if room == 0 {
            return Err(std::io::Error::other("excerpt is full"));
        }
        let accepted = data.len().min(room);
        self.bytes.extend_from_slice(&data[..accepted]);
        Ok(accepted)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_names_field_value_and_fix() {
        let error = IngestError::invalid("status", &json!("abc"), "expected an HTTP status code");
        assert_eq!(
            error.to_string(),
            "invalid `status` (value: \"abc\"): expected an HTTP status code"
        );
    }

    #[test]
    fn excerpt_of_large_object_is_bounded() {
        let big = json!({"text": "x".repeat(10_000)});
        let text = excerpt(&big);
        assert!(
            text.len() <= MAX_EXCERPT_BYTES,
            "excerpt has {} bytes",
            text.len()
        );
        assert!(text.starts_with("{\"text\":\"xxx"));
    }

    #[test]
    fn excerpt_cuts_on_char_boundary() {
        let text = excerpt(&json!("🙂".repeat(100)));
        assert!(text.len() <= MAX_EXCERPT_BYTES);
        assert!(text.ends_with(crate::text::TRUNCATION_MARKER));
    }

    #[test]
    fn warning_display_names_field() {
        let mut warnings = Warnings::default();
        warnings.dropped("cost_usd", &json!("n/a"), "not a number");
        assert_eq!(
            warnings.0[0].to_string(),
            "`cost_usd`: ignored value \"n/a\": not a number"
        );
    }
}
