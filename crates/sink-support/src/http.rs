//! Sending one export request and classifying the response the common way.

use broadcast_core::outcome::{classify_http_status, classify_transport_error};
use broadcast_core::ExportOutcome;
use reqwest::header::RETRY_AFTER;

/// The status, `Retry-After` and body of a response.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    /// Classifies the response with
    /// [`classify_http_status`](broadcast_core::outcome::classify_http_status).
    pub fn classify(&self) -> ExportOutcome {
        classify_http_status(self.status, self.retry_after.as_deref(), &self.body, chrono::Utc::now())
    }
}

/// Sends `request` and reads the whole response.
///
/// # Errors
/// The classified transport error (always a retry) when no response came.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Answer, ExportOutcome> {
    let response = request.send().await.map_err(|error| classify_transport_error(&error))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let body = match response.bytes().await {
        Ok(body) => body.to_vec(),
        Err(error) => return Err(classify_transport_error(&error)),
    };
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// Sends `request` and classifies the response the common way.
pub async fn export(request: reqwest::RequestBuilder) -> ExportOutcome {
    match send(request).await {
        Ok(answer) => answer.classify(),
        Err(outcome) => outcome,
    }
}

/// Sends a connection-test request; a transport failure becomes an `Unreachable` error naming
/// `vendor` and `host`.
///
/// # Errors
/// [`ConnectionError`](broadcast_core::ConnectionError) when no response came.
pub async fn probe(
    request: reqwest::RequestBuilder,
    vendor: &str,
    host: &str,
) -> Result<Answer, broadcast_core::ConnectionError> {
    send(request).await.map_err(|outcome| {
        let reason = match outcome {
            ExportOutcome::Retry { reason, .. } => reason.message,
            other => format!("{other:?}"),
        };
        broadcast_core::ConnectionError::new(
            broadcast_core::ConnectionErrorKind::Unreachable,
            format!("connection to {vendor} at {host} failed: {reason}; check the endpoint and the network"),
        )
    })
}

/// Turns a connection-test response into the usual result: 2xx passes, 401 and 403 are a rejected
/// credential (naming `credential_hint`), 5xx a server error, anything else a rejected config.
///
/// # Errors
/// [`ConnectionError`](broadcast_core::ConnectionError) for any answer but 2xx.
pub fn probe_result(answer: &Answer, vendor: &str, credential_hint: &str) -> Result<(), broadcast_core::ConnectionError> {
    use broadcast_core::outcome::quote_body;
    use broadcast_core::{ConnectionError, ConnectionErrorKind};
    let status = answer.status;
    match status {
        200..=299 => Ok(()),
        401 | 403 => Err(ConnectionError::new(
            ConnectionErrorKind::Unauthorized,
            format!("{vendor} rejected the credentials (HTTP {status}); {credential_hint}"),
        )),
        500..=599 => Err(ConnectionError::new(
            ConnectionErrorKind::ServerError,
            format!("{vendor} answered HTTP {status}: {}; try again later", quote_body(&answer.body)),
        )),
        _ => Err(ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("{vendor} answered HTTP {status}: {}", quote_body(&answer.body)),
        )),
    }
}
