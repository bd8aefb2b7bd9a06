//! HTTP calls to Datadog: the LLM Observability spans intake and the key validation.

use std::time::Duration;

use broadcast_core::{ConnectionError, EncodedEvent, ExportOutcome, FailureReason};
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use crate::config::DatadogConfig;

const API_KEY_HEADER: &str = "DD-API-KEY";
const SPANS_PATH: &str = "api/intake/llm-obs/v1/trace/spans";

/// Oldest span the intake accepts, by its start time.
pub const MAX_SPAN_AGE: Duration = Duration::from_secs(24 * 3600);

/// Builds the intake body: `{"data": {"type": "span", "attributes": {"ml_app": …, "spans": [spans]}}}`.
pub fn request_body(config: &DatadogConfig, events: &[EncodedEvent]) -> Vec<u8> {
    let ml_app = Value::from(config.ml_app.clone()).to_string();
    let mut body = format!("{{\"data\":{{\"type\":\"span\",\"attributes\":{{\"ml_app\":{ml_app},\"spans\":[").into_bytes();
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&event.bytes);
    }
    body.extend_from_slice(b"]}}}");
    body
}

/// Start time of an encoded span, in nanoseconds since the epoch.
fn start_ns(event: &EncodedEvent) -> Option<i64> {
    serde_json::from_slice::<Value>(&event.bytes).ok()?.get("start_ns")?.as_i64()
}

/// Sends spans to the intake and classifies the response.
///
/// The intake rejects spans that started more than [`MAX_SPAN_AGE`] ago. Such spans are still
/// sent, since the intake is the judge of its own rule (and the clock here may be off). A
/// 4xx response is permanent, and the failure reason then names the spans' age; a 429 or 5xx
/// is retried within the engine's usual attempt and time limits, like any other.
pub async fn send_spans(
    http: &reqwest::Client,
    config: &DatadogConfig,
    events: &[EncodedEvent],
    max_request_bytes: usize,
) -> ExportOutcome {
    let body = request_body(config, events);
    if body.len() > max_request_bytes && events.len() > 1 {
        return ExportOutcome::TooLarge {
            reason: FailureReason::new(None, format!("request of {} bytes is over {max_request_bytes}", body.len())),
        };
    }
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let oldest_ns = now_ns.saturating_sub(MAX_SPAN_AGE.as_nanos() as i64);
    let too_old = events.iter().filter(|event| start_ns(event).is_some_and(|start| start < oldest_ns)).count();

    let request = http
        .post(config.endpoint(SPANS_PATH))
        .header(API_KEY_HEADER, config.api_key.expose())
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    let outcome = sink_support::http::export(request).await;
    if too_old == 0 {
        return outcome;
    }
    let age_note = format!(
        "{too_old} of {} spans started more than 24 h ago, which Datadog's LLM Observability intake rejects",
        events.len()
    );
    match outcome {
        ExportOutcome::Permanent { reason } => ExportOutcome::Permanent {
            reason: FailureReason::new(reason.http_status, format!("{}; {age_note}", reason.message)),
        },
        other => other,
    }
}

/// Checks the API key with `GET /api/v1/validate`, which returns 200 `{"valid": true}` or 403.
pub async fn test_connection(http: &reqwest::Client, config: &DatadogConfig) -> Result<(), ConnectionError> {
    let host = config.api_base.host_str().unwrap_or_default().to_string();
    let request = http.get(config.endpoint("api/v1/validate")).header(API_KEY_HEADER, config.api_key.expose());
    let answer = sink_support::http::probe(request, "Datadog", &host).await?;
    sink_support::http::probe_result(&answer, "Datadog", "check api_key and that site matches the key's Datadog site")?;
    // A 2xx response without `"valid": false` passes, since some proxies return an empty body.
    let valid = serde_json::from_slice::<Value>(&answer.body).ok().and_then(|body| body.get("valid").cloned());
    if valid == Some(json!(false)) {
        return Err(ConnectionError::new(
            broadcast_core::ConnectionErrorKind::Unauthorized,
            format!("Datadog answered HTTP {} with \"valid\": false; check api_key", answer.status),
        ));
    }
    Ok(())
}
