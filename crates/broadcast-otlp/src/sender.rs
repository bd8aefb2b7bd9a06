//! The OTLP/HTTP sender: one export request, classified by the OTLP specification's rules.
//!
//! - 2xx: delivered. A `partial_success` with rejected spans is logged and not retried, as the
//!   specification requires; the trace still counts as delivered because the receiver took
//!   the request and resending it cannot change its answer.
//! - 413: too large, so the engine splits the request.
//! - 429, 502, 503, 504: retried, honouring `Retry-After`. A transport error is retried too.
//! - any other status, 400 and 500 included: permanent.

use broadcast_core::outcome::{classify_transport_error, parse_retry_after, quote_body, without_url};
use broadcast_core::{ConnectionError, ConnectionErrorKind, EncodedEvent, ExportOutcome, FailureReason, Secret};
use prost::Message as _;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;

use crate::proto::ExportTraceServiceResponse;
use crate::request::{compress, empty_body, request_body};
use crate::{Compression, Encoding};

/// OTLP target of a destination: URL, method, encoding, compression and headers.
#[derive(Debug, Clone)]
pub struct OtlpTarget {
    /// Name for people, used in error messages.
    pub display_name: &'static str,
    /// The full traces URL, such as `https://host/v1/traces`.
    pub url: reqwest::Url,
    pub method: Method,
    pub encoding: Encoding,
    pub compression: Compression,
    /// Every header sent with each request. Values are secrets because custom headers
    /// usually carry credentials.
    pub headers: Vec<(reqwest::header::HeaderName, Secret)>,
    /// Fix hint shown when the receiver rejects the credentials, such as "check api_key".
    pub credential_hint: &'static str,
}

impl OtlpTarget {
    /// `host[:port]/path` of the URL, for messages: no scheme, query or credentials.
    pub fn location(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}{}", self.url.path()),
            None => format!("{host}{}", self.url.path()),
        }
    }

    fn request(&self, http: &reqwest::Client, method: Method, body: Vec<u8>) -> reqwest::RequestBuilder {
        let content_type = match self.encoding {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        };
        let mut request = http.request(method, self.url.clone()).header(CONTENT_TYPE, content_type);
        if self.compression == Compression::Gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.expose());
        }
        request.body(body)
    }
}

/// Sends `events` in one request, with `extra_headers` besides the target's own, and
/// classifies the response.
pub async fn export(
    http: &reqwest::Client,
    target: &OtlpTarget,
    events: &[EncodedEvent],
    extra_headers: &[(&str, String)],
) -> ExportOutcome {
    let body = match compress(request_body(events, target.encoding), target.compression) {
        Ok(body) => body,
        Err(error) => return ExportOutcome::Permanent { reason: FailureReason::new(None, format!("gzip failed: {error}")) },
    };
    let mut request = target.request(http, target.method.clone(), body);
    for (name, value) in extra_headers {
        request = request.header(*name, value);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return classify_transport_error(&error),
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().get(RETRY_AFTER).and_then(|value| value.to_str().ok()).map(str::to_string);
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    let body = response.bytes().await.unwrap_or_default();
    let outcome = classify_otlp_status(status, retry_after.as_deref(), &body, chrono::Utc::now());
    if outcome == ExportOutcome::Delivered {
        if let Some((rejected, message)) = partial_success(&body, is_json) {
            tracing::warn!(
                destination = target.display_name,
                rejected_spans = rejected,
                receiver_message = %message,
                events = events.len(),
                "receiver accepted the request but rejected some spans; they are not sent again"
            );
        }
    }
    outcome
}

/// Classifies an OTLP/HTTP response: 2xx delivered, 413 too large, 429/502/503/504 retried with
/// `Retry-After`, everything else permanent.
pub fn classify_otlp_status(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> ExportOutcome {
    let reason = FailureReason::new(Some(status), quote_body(body));
    match status {
        200..=299 => ExportOutcome::Delivered,
        413 => ExportOutcome::TooLarge { reason },
        429 | 502 | 503 | 504 => ExportOutcome::Retry {
            after: retry_after.and_then(|value| parse_retry_after(value, now)),
            reason,
        },
        _ => ExportOutcome::Permanent { reason },
    }
}

/// Returns the rejected span count and message of a `partial_success` response, when spans
/// were rejected.
pub fn partial_success(body: &[u8], is_json: bool) -> Option<(i64, String)> {
    if body.is_empty() {
        return None;
    }
    let (rejected, message) = if is_json {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let partial = value.get("partialSuccess")?;
        let rejected = match partial.get("rejectedSpans") {
            Some(serde_json::Value::String(text)) => text.parse().ok()?,
            Some(number) => number.as_i64()?,
            None => 0,
        };
        let message = partial.get("errorMessage").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
        (rejected, message)
    } else {
        let response = ExportTraceServiceResponse::decode(body).ok()?;
        let partial = response.partial_success?;
        (partial.rejected_spans, partial.error_message)
    };
    (rejected > 0).then(|| (rejected, quote_body(message.as_bytes())))
}

/// Connection test policy for a response that is neither 2xx nor 401/403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyRequestPolicy {
    /// Only 2xx passes.
    Strict,
    /// 400 passes too: some receivers reject an empty export as malformed, and that answer
    /// still proves the URL and the credentials were accepted.
    AcceptBadRequest,
}

/// Sends an empty export request (no spans, so nothing shows up in the receiver) and reports
/// whether the endpoint and credentials work.
///
/// # Errors
/// [`ConnectionError`]: `Unauthorized` on 401/403, `Unreachable` on a transport error,
/// `ServerError` on 5xx, `Rejected` otherwise.
pub async fn test_empty_export(
    http: &reqwest::Client,
    target: &OtlpTarget,
    extra_headers: &[(&str, &str)],
    policy: EmptyRequestPolicy,
) -> Result<(), ConnectionError> {
    let body = compress(empty_body(target.encoding), target.compression)
        .map_err(|error| ConnectionError::new(ConnectionErrorKind::Rejected, format!("gzip failed: {error}")))?;
    let mut request = target.request(http, target.method.clone(), body);
    for (name, value) in extra_headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.map_err(|error| unreachable(target, &error))?;
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    match (status, policy) {
        (200..=299, _) | (400, EmptyRequestPolicy::AcceptBadRequest) => Ok(()),
        _ => Err(connection_error(target, status, &body)),
    }
}

/// Builds the transport error of a connection test, without the URL, which may carry
/// credentials.
pub fn unreachable(target: &OtlpTarget, error: &reqwest::Error) -> ConnectionError {
    let cause = if error.is_timeout() { "timed out" } else { "failed" };
    ConnectionError::new(
        ConnectionErrorKind::Unreachable,
        format!(
            "connection to {} at {} {cause}: {}; check the endpoint and the network",
            target.display_name,
            target.location(),
            without_url(error)
        ),
    )
}

/// Classifies the response of a failed connection test.
pub fn connection_error(target: &OtlpTarget, status: u16, body: &[u8]) -> ConnectionError {
    let name = target.display_name;
    match status {
        401 | 403 => ConnectionError::new(
            ConnectionErrorKind::Unauthorized,
            format!("{name} rejected the credentials (HTTP {status}); {}", target.credential_hint),
        ),
        404 | 405 => ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("{} returned HTTP {status}; check that the endpoint is the receiver's OTLP traces URL", target.location()),
        ),
        500..=599 => ConnectionError::new(
            ConnectionErrorKind::ServerError,
            format!("{name} returned HTTP {status}: {}; try again later", quote_body(body)),
        ),
        _ => ConnectionError::new(ConnectionErrorKind::Rejected, format!("{name} returned HTTP {status}: {}", quote_body(body))),
    }
}
