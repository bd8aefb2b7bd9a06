//! HTTP calls to PostHog: the batch endpoint and the connection test.

use broadcast_core::{ConnectionError, EncodedEvent, ExportOutcome, FailureReason};
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::config::PostHogConfig;

/// Builds the `/batch/` body: `{"api_key": …, "historical_migration": false, "batch": [events]}`.
pub fn request_body(config: &PostHogConfig, events: &[EncodedEvent]) -> Vec<u8> {
    let head = json!({"api_key": config.api_key.expose(), "historical_migration": false}).to_string();
    let mut body = Vec::with_capacity(head.len() + events.iter().map(|event| event.bytes.len() + 1).sum::<usize>() + 16);
    body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    body.extend_from_slice(b",\"batch\":[");
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&event.bytes);
    }
    body.extend_from_slice(b"]}");
    body
}

/// Sends events with `POST {host}/batch/`. A body over `max_request_bytes` (the events fit,
/// but the key and framing push it over) returns `TooLarge` without sending, so the
/// engine splits it.
pub async fn send_batch(
    http: &reqwest::Client,
    config: &PostHogConfig,
    events: &[EncodedEvent],
    max_request_bytes: usize,
) -> ExportOutcome {
    let body = request_body(config, events);
    if body.len() > max_request_bytes && events.len() > 1 {
        return ExportOutcome::TooLarge {
            reason: FailureReason::new(None, format!("batch of {} bytes is over {max_request_bytes}", body.len())),
        };
    }
    let request = http
        .post(config.endpoint("batch/"))
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    sink_support::http::export(request).await
}

/// Checks the project API key with the flags endpoint. The capture endpoints return 200 even
/// for an unknown key, so they cannot tell. `/flags/` returns 401 for one, and writes no event.
pub async fn test_connection(http: &reqwest::Client, config: &PostHogConfig) -> Result<(), ConnectionError> {
    let host = config.host.host_str().unwrap_or_default().to_string();
    let body = json!({"api_key": config.api_key.expose(), "distinct_id": "broadcast-connection-test"});
    let request = http
        .post(format!("{}?v=2", config.endpoint("flags/")))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    let answer = sink_support::http::probe(request, "PostHog", &host).await?;
    sink_support::http::probe_result(&answer, "PostHog", "check api_key: it must be the project API key (phc_…) of this project")
}
