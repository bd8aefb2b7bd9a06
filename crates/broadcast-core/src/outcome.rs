//! Classified results of `export` and `test_connection`, and the HTTP rules that produce them.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// What happened to one export request. The engine acts on it: it never has to look at HTTP
/// status codes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportOutcome {
    /// The destination accepted every event in the request.
    Delivered,
    /// A transient failure: send the same events again later. `after` is the delay the
    /// destination asked for (`Retry-After`); the engine pauses the whole destination for it.
    Retry {
        after: Option<Duration>,
        reason: FailureReason,
    },
    /// The request was too large (HTTP 413): split it and send the halves.
    TooLarge { reason: FailureReason },
    /// The destination rejected the events for good (a bad key, a malformed event): record
    /// them as failed with the reason and do not send them again.
    Permanent { reason: FailureReason },
}

/// A short, loggable description of a failure. It never contains a secret or trace content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureReason {
    /// The HTTP status, when the destination sent a response.
    pub http_status: Option<u16>,
    pub message: String,
}

impl FailureReason {
    pub fn new(http_status: Option<u16>, message: impl Into<String>) -> Self {
        FailureReason {
            http_status,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.http_status {
            Some(status) => write!(formatter, "HTTP {status}: {}", self.message),
            None => formatter.write_str(&self.message),
        }
    }
}

/// Why a connection test failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectionError {
    pub kind: ConnectionErrorKind,
    /// What failed and what to check, for the person who configured the destination.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionErrorKind {
    /// The destination rejected the credentials (HTTP 401 or 403).
    Unauthorized,
    /// The destination rejected the config in another way (a wrong project or path).
    Rejected,
    /// The destination could not be reached or timed out.
    Unreachable,
    /// The destination returned a server error.
    ServerError,
}

impl ConnectionError {
    pub fn new(kind: ConnectionErrorKind, message: impl Into<String>) -> Self {
        ConnectionError {
            kind,
            message: message.into(),
        }
    }
}

/// Longest `Retry-After` the engine honours; a longer value is capped so that a misbehaving
/// server cannot park a destination for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Maximum bytes of a response body quoted in a failure reason.
pub const MAX_QUOTED_BODY_BYTES: usize = 256;

/// Classifies an HTTP response the common way: 2xx delivered; 413 too large; 408, 429 and 5xx
/// retried (honouring `Retry-After`); every other status permanent.
pub fn classify_http_status(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> ExportOutcome {
    let reason = FailureReason::new(Some(status), quote_body(body));
    match status {
        200..=299 => ExportOutcome::Delivered,
        413 => ExportOutcome::TooLarge { reason },
        408 | 429 | 500..=599 => ExportOutcome::Retry {
            after: retry_after.and_then(|value| parse_retry_after(value, now)),
            reason,
        },
        _ => ExportOutcome::Permanent { reason },
    }
}

/// Classifies a transport error (no HTTP response) as retryable.
pub fn classify_transport_error(error: &reqwest::Error) -> ExportOutcome {
    let message = if error.is_timeout() {
        "request timed out".to_string()
    } else if error.is_connect() {
        format!("connection failed: {}", without_url(error))
    } else {
        format!("request failed: {}", without_url(error))
    };
    ExportOutcome::Retry {
        after: None,
        reason: FailureReason::new(None, message),
    }
}

/// Parses `Retry-After` as delay seconds or an HTTP date, capped at [`MAX_RETRY_AFTER`].
/// Returns `None` for a value in neither form.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let date: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
        (date - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// Returns the start of a response body as text, for failure reasons.
pub fn quote_body(body: &[u8]) -> String {
    if body.is_empty() {
        return "empty response body".to_string();
    }
    let text = String::from_utf8_lossy(body);
    let quoted = crate::text::truncate_with_marker(text.trim(), MAX_QUOTED_BODY_BYTES);
    quoted.replace(['\n', '\r'], " ")
}

/// Describes a reqwest error without its URL, which may carry credentials in a query string.
pub fn without_url(error: &reqwest::Error) -> String {
    let mut error_text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = source {
        error_text = current.to_string();
        source = current.source();
    }
    error_text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .map(|date| date.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("2", now()), Some(Duration::from_secs(2)));
    }

    #[test]
    fn retry_after_http_date() {
        let delay = parse_retry_after("Thu, 01 Jan 2026 00:00:03 GMT", now());
        assert_eq!(delay, Some(Duration::from_secs(3)));
    }

    #[test]
    fn retry_after_capped() {
        assert_eq!(parse_retry_after("86400", now()), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn retry_after_junk_ignored() {
        assert_eq!(parse_retry_after("soon", now()), None);
    }

    #[test]
    fn status_classes() {
        let classify = |status| classify_http_status(status, None, b"", now());
        assert_eq!(classify(204), ExportOutcome::Delivered);
        assert!(matches!(classify(413), ExportOutcome::TooLarge { .. }));
        assert!(matches!(classify(429), ExportOutcome::Retry { .. }));
        assert!(matches!(classify(503), ExportOutcome::Retry { .. }));
        assert!(matches!(classify(400), ExportOutcome::Permanent { .. }));
        assert!(matches!(classify(401), ExportOutcome::Permanent { .. }));
    }

    #[test]
    fn retry_after_kept_on_429() {
        let outcome = classify_http_status(429, Some("2"), b"slow down", now());
        let ExportOutcome::Retry { after, reason } = outcome else {
            panic!("429 must be retried, got {outcome:?}");
        };
        assert_eq!(after, Some(Duration::from_secs(2)));
        assert_eq!(reason.http_status, Some(429));
        assert_eq!(reason.message, "slow down");
    }
}
