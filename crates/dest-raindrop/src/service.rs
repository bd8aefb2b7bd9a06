//! HTTP calls to Raindrop: sending events and testing the connection.

use broadcast_core::outcome::{classify_http_status, classify_transport_error, quote_body};
use broadcast_core::{ConnectionError, ConnectionErrorKind, EncodedEvent, ExportOutcome};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};

use crate::config::RaindropConfig;

const PROJECT_HEADER: &str = "X-Raindrop-Project-Id";

/// Builds the `events/track` body: a JSON array of the encoded events.
pub fn request_body(events: &[EncodedEvent]) -> Vec<u8> {
    let size = events.iter().map(|event| event.bytes.len() + 1).sum::<usize>() + 2;
    let mut body = Vec::with_capacity(size);
    body.push(b'[');
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&event.bytes);
    }
    body.push(b']');
    body
}

/// Sends events with `POST {base_url}/v1/events/track` and classifies the answer.
pub async fn send_events(
    http: &reqwest::Client,
    config: &RaindropConfig,
    events: &[EncodedEvent],
) -> ExportOutcome {
    let mut request = http
        .post(config.endpoint("v1/events/track"))
        .header(AUTHORIZATION, format!("Bearer {}", config.write_key.expose()))
        .header(CONTENT_TYPE, "application/json")
        .body(request_body(events));
    if let Some(project) = &config.project_id {
        request = request.header(PROJECT_HEADER, project);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return classify_transport_error(&error),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let body = response.bytes().await.unwrap_or_default();
    classify_http_status(status, retry_after.as_deref(), &body, chrono::Utc::now())
}

/// Checks the write key without creating data: an empty OTLP export to `/v1/traces`, which an
/// OTLP receiver accepts as a no-op. It sends no project header, because Raindrop creates a
/// project for any slug it has not seen.
pub async fn test_connection(
    http: &reqwest::Client,
    config: &RaindropConfig,
) -> Result<(), ConnectionError> {
    let url = config.endpoint("v1/traces");
    let response = http
        .post(&url)
        .header(AUTHORIZATION, format!("Bearer {}", config.write_key.expose()))
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"resourceSpans":[]}"#)
        .send()
        .await
        .map_err(|error| {
            let host = config.base_url.host_str().unwrap_or_default();
            let cause = if error.is_timeout() { "timed out" } else { "failed" };
            ConnectionError::new(
                ConnectionErrorKind::Unreachable,
                format!("connection to Raindrop at {host} {cause}: {}; check base_url and the network", broadcast_core::outcome::without_url(&error)),
            )
        })?;
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    match status {
        200..=299 => Ok(()),
        401 | 403 => Err(ConnectionError::new(
            ConnectionErrorKind::Unauthorized,
            format!("Raindrop rejected the write key (HTTP {status}); check write_key"),
        )),
        404 | 405 => Err(ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("{url} answered HTTP {status}; check that base_url points at the Raindrop API"),
        )),
        500..=599 => Err(ConnectionError::new(
            ConnectionErrorKind::ServerError,
            format!("Raindrop answered HTTP {status}: {}; try again later", quote_body(&body)),
        )),
        _ => Err(ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("Raindrop answered HTTP {status}: {}", quote_body(&body)),
        )),
    }
}
