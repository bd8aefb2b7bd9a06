//! Provider error objects and the outcome of a trace.
//!
//! A trace is an error when any of these holds:
//! - the HTTP status is 400 or more;
//! - the response body has an `error` member (OpenAI, OpenRouter, Groq, and Anthropic's
//!   `{"type": "error"}` bodies);
//! - a stream chunk had one;
//! - the envelope's own `error` object is set.

use serde_json::Value;

use super::coerce::{as_text, code_text};
use crate::model::{Outcome, Status};

/// The machine fields and message of a provider error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProviderError {
    pub(crate) error_type: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    /// An HTTP status given inside the error (`status`, `status_code`), if any.
    pub(crate) status: Option<u16>,
}

impl ProviderError {
    /// Fills the fields that `self` lacks from `other`.
    pub(crate) fn or(self, other: ProviderError) -> ProviderError {
        ProviderError {
            error_type: self.error_type.or(other.error_type),
            code: self.code.or(other.code),
            message: self.message.or(other.message),
            status: self.status.or(other.status),
        }
    }
}

/// Reads the `error` member of a response body or stream chunk: an object
/// `{message, type, code}` or a bare message string. Returns `None` when there is none.
pub(crate) fn read_body_error(error: Option<&Value>) -> Option<ProviderError> {
    let error = error.filter(|error| !error.is_null())?;
    Some(read_error_value(error))
}

/// Reads an error value: an object with `message`, `type`, `code` and `status` (or
/// `status_code`), or a message string. Any other JSON is kept as compact text in the message.
pub(crate) fn read_error_value(error: &Value) -> ProviderError {
    match error {
        Value::Object(object) => ProviderError {
            error_type: as_text(object.get("type")).map(str::to_string),
            code: code_text(object.get("code")),
            message: as_text(object.get("message")).map(str::to_string),
            status: object
                .get("status")
                .or(object.get("status_code"))
                .and_then(http_status_of),
        },
        Value::String(message) => ProviderError {
            message: Some(message.clone()),
            ..ProviderError::default()
        },
        other => ProviderError {
            message: Some(other.to_string()),
            ..ProviderError::default()
        },
    }
}

/// Returns an HTTP status from a number (`400`, `400.0`) or numeric string in 100..=599.
pub(crate) fn http_status_of(value: &Value) -> Option<u16> {
    let number = match value {
        Value::Number(number) => number.as_u64().or_else(|| {
            let float = number.as_f64()?;
            (float.fract() == 0.0 && (0.0..1000.0).contains(&float)).then_some(float as u64)
        }),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    }?;
    u16::try_from(number)
        .ok()
        .filter(|status| (100..=599).contains(status))
}

/// Builds the trace status from the HTTP status and any provider error.
pub(crate) fn build_status(http_status: Option<u16>, error: Option<ProviderError>) -> Status {
    let failed_http = http_status.is_some_and(|status| status >= 400);
    let http_status = http_status.or(error.as_ref().and_then(|error| error.status));
    match error {
        Some(error) => Status {
            outcome: Outcome::Error,
            http_status,
            error_type: error.error_type,
            error_code: error.code,
            error_message: error.message,
        },
        None => Status {
            outcome: if failed_http {
                Outcome::Error
            } else {
                Outcome::Ok
            },
            http_status,
            ..Status::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_error_body_read() {
        let error = read_body_error(Some(&json!({"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key", "param": null})))
            .expect("body has an error");
        assert_eq!(error.message.as_deref(), Some("bad key"));
        assert_eq!(error.error_type.as_deref(), Some("invalid_request_error"));
        assert_eq!(error.code.as_deref(), Some("invalid_api_key"));
    }

    #[test]
    fn numeric_code_becomes_text() {
        let error = read_body_error(Some(&json!({"message": "No auth", "code": 401})))
            .expect("body has an error");
        assert_eq!(error.code.as_deref(), Some("401"));
    }

    #[test]
    fn status_400_without_body_error_is_error() {
        let status = build_status(Some(429), None);
        assert_eq!(status.outcome, Outcome::Error);
        assert_eq!(status.http_status, Some(429));
    }

    #[test]
    fn body_error_with_200_is_error() {
        let status = build_status(Some(200), read_body_error(Some(&json!("overloaded"))));
        assert_eq!(status.outcome, Outcome::Error);
        assert_eq!(status.error_message.as_deref(), Some("overloaded"));
    }

    #[test]
    fn http_status_range_checked() {
        assert_eq!(http_status_of(&json!("400")), Some(400));
        assert_eq!(http_status_of(&json!(429.0)), Some(429));
        assert_eq!(http_status_of(&json!(429.5)), None);
        assert_eq!(http_status_of(&json!(70000)), None);
        assert_eq!(http_status_of(&json!(42)), None);
    }
}
