//! HTTP calls to S3: `PutObject` for each trace, and the probe write of the connection test.

use broadcast_core::outcome::quote_body;
use broadcast_core::{ConnectionError, ConnectionErrorKind, EncodedEvent, ExportOutcome, FailureReason};
use reqwest::Url;
use serde_json::Value;

use crate::config::S3Config;
use crate::encoder::{batch_key, object_key, KeyParts};
use crate::sigv4::{self, RequestToSign};

const CONTENT_TYPE_JSON: &str = "application/json";
const CONTENT_TYPE_NDJSON: &str = "application/x-ndjson";

/// Sends one signed request and returns the response, or the transport failure.
pub async fn signed(
    http: &reqwest::Client,
    config: &S3Config,
    method: &str,
    url: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> Result<sink_support::http::Answer, ExportOutcome> {
    let parsed = Url::parse(url).map_err(|error| ExportOutcome::Permanent {
        reason: FailureReason::new(None, format!("object URL is invalid: {error}")),
    })?;
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if let Some(content_type) = content_type {
        extra.push(("content-type", content_type));
    }
    let to_sign = RequestToSign {
        method,
        url: &parsed,
        headers: &extra,
        payload: &body,
    };
    let headers = sigv4::sign(&to_sign, &config.credentials, &config.region, "s3", chrono::Utc::now());
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut request = http.request(method, parsed).body(body);
    for (name, value) in extra.iter().map(|(name, value)| (name.to_string(), value.to_string())).chain(headers) {
        request = request.header(name, value);
    }
    sink_support::http::send(request).await
}

/// Writes each event as its own object. The engine gives one event per request. Should it
/// give more, they are written in order and the first failure is returned, which is safe
/// because writes are idempotent.
pub async fn put_objects(http: &reqwest::Client, config: &S3Config, events: &[EncodedEvent]) -> ExportOutcome {
    for event in events {
        let outcome = put_object(http, config, event).await;
        if outcome != ExportOutcome::Delivered {
            return outcome;
        }
    }
    ExportOutcome::Delivered
}

/// Writes every event into one newline-delimited object keyed by the first trace. The same
/// events in the same order always give the same key and body, so a retry overwrites it.
pub async fn put_batch(http: &reqwest::Client, config: &S3Config, events: &[EncodedEvent]) -> ExportOutcome {
    let Some(first) = events.first() else {
        return ExportOutcome::Delivered;
    };
    let parts = serde_json::from_slice::<Value>(&first.bytes)
        .map_err(|error| error.to_string())
        .and_then(|object| KeyParts::from_object(&object));
    let parts = match parts {
        Ok(parts) => parts,
        Err(message) => {
            return ExportOutcome::Permanent {
                reason: FailureReason::new(None, format!("encoded trace is unreadable: {message}")),
            }
        }
    };
    let window_secs = config.batching.map(|batching| batching.window.as_secs()).unwrap_or(1);
    let key = batch_key(config, &parts, window_secs);
    let mut body = Vec::with_capacity(events.iter().map(|event| event.bytes.len() + 1).sum());
    for event in events {
        body.extend_from_slice(&event.bytes);
        body.push(b'\n');
    }
    let url = config.object_url(&key);
    match signed(http, config, "PUT", &url, body, Some(CONTENT_TYPE_NDJSON)).await {
        Ok(answer) => answer.classify(),
        Err(outcome) => outcome,
    }
}

async fn put_object(http: &reqwest::Client, config: &S3Config, event: &EncodedEvent) -> ExportOutcome {
    let parts = serde_json::from_slice::<Value>(&event.bytes)
        .map_err(|error| error.to_string())
        .and_then(|object| KeyParts::from_object(&object));
    let parts = match parts {
        Ok(parts) => parts,
        Err(message) => {
            return ExportOutcome::Permanent {
                reason: FailureReason::new(None, format!("encoded trace is unreadable: {message}")),
            }
        }
    };
    let key = object_key(config, &parts);
    let url = config.object_url(&key);
    match signed(http, config, "PUT", &url, event.bytes.clone(), Some(CONTENT_TYPE_JSON)).await {
        Ok(answer) => answer.classify(),
        Err(outcome) => outcome,
    }
}

/// Writes an empty probe object under the prefix and deletes it again.
///
/// A rejected write fails the test, naming `s3:PutObject`. A rejected delete passes it, since
/// writing is all that delivery needs, and logs that the probe object was left behind and
/// `s3:DeleteObject` is missing.
pub async fn test_connection(http: &reqwest::Client, config: &S3Config) -> Result<(), ConnectionError> {
    let key = probe_key(config);
    let url = config.object_url(&key);
    let host = config.endpoint.host_str().unwrap_or_default().to_string();

    let put = signed(http, config, "PUT", &url, Vec::new(), Some("text/plain"))
        .await
        .map_err(|outcome| unreachable(&host, &outcome))?;
    if !(200..300).contains(&put.status) {
        return Err(put_failure(config, &key, &put));
    }

    match signed(http, config, "DELETE", &url, Vec::new(), None).await {
        Ok(answer) if (200..300).contains(&answer.status) => {}
        Ok(answer) => tracing::warn!(
            bucket = %config.bucket,
            key = %key,
            http_status = answer.status,
            s3_error = %error_code(&answer.body).unwrap_or_default(),
            "The S3 connection test wrote its probe object but could not delete it; grant s3:DeleteObject or delete the object by hand."
        ),
        Err(outcome) => tracing::warn!(
            bucket = %config.bucket,
            key = %key,
            reason = ?outcome,
            "The S3 connection test wrote its probe object but the delete request failed; the object may be left behind."
        ),
    }
    Ok(())
}

fn probe_key(config: &S3Config) -> String {
    let name = format!(".broadcast-connection-test-{}", uuid::Uuid::new_v4());
    if config.prefix.is_empty() {
        name
    } else {
        format!("{}/{name}", config.prefix)
    }
}

fn unreachable(host: &str, outcome: &ExportOutcome) -> ConnectionError {
    let reason = match outcome {
        ExportOutcome::Retry { reason, .. } | ExportOutcome::Permanent { reason } | ExportOutcome::TooLarge { reason } => {
            reason.message.clone()
        }
        ExportOutcome::Delivered => String::new(),
    };
    ConnectionError::new(
        ConnectionErrorKind::Unreachable,
        format!("connection to S3 at {host} failed: {reason}; check endpoint, region and the network"),
    )
}

fn put_failure(config: &S3Config, key: &str, answer: &sink_support::http::Answer) -> ConnectionError {
    let status = answer.status;
    let code = error_code(&answer.body);
    let bucket = &config.bucket;
    match (status, code.as_deref()) {
        (_, Some("InvalidAccessKeyId")) => ConnectionError::new(
            ConnectionErrorKind::Unauthorized,
            format!("S3 does not know the access key (HTTP {status}: InvalidAccessKeyId); check access_key_id"),
        ),
        (_, Some("SignatureDoesNotMatch")) => ConnectionError::new(
            ConnectionErrorKind::Unauthorized,
            format!("S3 rejected the request signature (HTTP {status}: SignatureDoesNotMatch); check secret_access_key and region"),
        ),
        (_, Some("ExpiredToken" | "InvalidToken")) => ConnectionError::new(
            ConnectionErrorKind::Unauthorized,
            format!("S3 rejected the session token (HTTP {status}); renew session_token"),
        ),
        (_, Some("NoSuchBucket")) => ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("bucket `{bucket}` does not exist (HTTP {status}: NoSuchBucket); check bucket, region and endpoint"),
        ),
        (401 | 403, _) => ConnectionError::new(
            ConnectionErrorKind::Unauthorized,
            format!(
                "S3 denied writing the probe object `{key}` (HTTP {status}{}); the credentials need s3:PutObject on arn:aws:s3:::{bucket}/*",
                code.map(|code| format!(": {code}")).unwrap_or_default()
            ),
        ),
        (500..=599, _) => ConnectionError::new(
            ConnectionErrorKind::ServerError,
            format!("S3 answered HTTP {status}: {}; try again later", quote_body(&answer.body)),
        ),
        _ => ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("S3 rejected writing the probe object `{key}` (HTTP {status}: {})", quote_body(&answer.body)),
        ),
    }
}

/// Extracts the `<Code>` of an S3 XML error body.
fn error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    Some(text[start..end].to_string())
}
