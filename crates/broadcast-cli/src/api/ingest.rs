//! `POST /v1/traces` and `GET /healthz`.
//!
//! A body with any invalid envelope is rejected whole (400, every error listed), so a client
//! never has to guess which part was accepted. The answer is 202 only once every trace is
//! durable in the queue; delivery happens afterwards, so no destination delays it.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use broadcast_core::ingest::{normalise, split_envelopes};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::ApiError;
use super::SharedState;

/// One envelope: a recorded LLM request/response pair (see docs/ingest.md).
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct EnvelopeDoc {
    account_id: Option<String>,
    provider_api: Option<String>,
    /// The provider request body as sent.
    request: Value,
    /// The provider response body, or `{"stream_chunks": [...]}` for a stream.
    response: Option<Value>,
    status: Option<u16>,
    started_at: Option<String>,
    first_token_at: Option<String>,
    ended_at: Option<String>,
    latency_ms: Option<u64>,
    first_token_ms: Option<u64>,
    api_key_hash: Option<String>,
    api_key_name: Option<String>,
    provider: Option<String>,
    user: Option<String>,
    session_id: Option<String>,
    /// Five special keys (trace_id, trace_name, span_name, generation_name, parent_span_id);
    /// every other key is custom metadata.
    trace: Option<Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct IngestAnswer {
    pub accepted: usize,
    /// Deliveries queued over all destinations.
    pub deliveries: usize,
    /// Optional values that could not be read and were left out.
    pub warnings: Vec<String>,
}

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn ingest(State(state): State<SharedState>, headers: HeaderMap, body: Bytes) -> Result<(StatusCode, Json<IngestAnswer>), ApiError> {
    let caller = state.tokens.caller(&headers)?;
    let mut envelopes = split_envelopes(&body).map_err(|error| ApiError::bad_request(error.to_string()))?;
    if envelopes.is_empty() {
        return Err(ApiError::bad_request("the request body contains no envelope; send one JSON object, an array of them, or NDJSON"));
    }
    let single = envelopes.len() == 1;
    let received_at = chrono::Utc::now();
    let mut traces = Vec::with_capacity(envelopes.len());
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (index, envelope) in envelopes.iter_mut().enumerate() {
        let position = if single { String::new() } else { format!("[{index}] ") };
        if let (Caller::Account(own), Some(object)) = (&caller, envelope.as_object_mut()) {
            object.entry("account_id").or_insert_with(|| Value::String(own.clone()));
        }
        match normalise(envelope, received_at) {
            Ok(normalised) => {
                if !caller.may_ingest(&normalised.trace.account_id) {
                    return Err(ApiError::forbidden(format!(
                        "{position}this token may not ingest for account `{}`",
                        normalised.trace.account_id
                    )));
                }
                warnings.extend(normalised.warnings.iter().map(|warning| format!("{position}{warning}")));
                traces.push(normalised.trace);
            }
            Err(error) => errors.push(format!("{position}{error}")),
        }
    }
    if let Some(first) = errors.first() {
        let mut error = ApiError::bad_request(if errors.len() == 1 {
            first.clone()
        } else {
            format!("{} envelopes are invalid; nothing was accepted: {}", errors.len(), errors.join("; "))
        });
        error.code = "invalid_input";
        return Err(error);
    }
    let count = traces.len();
    let receipt = state.engine.ingest(traces).await.map_err(|error| {
        tracing::error!(%error, "Cannot queue traces; returning 503 so the client retries.");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", format!("traces were not queued: {error}; retry the request"))
    })?;
    state.received_traces.fetch_add(count as u64, Ordering::Relaxed);
    state.received_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    Ok((
        StatusCode::ACCEPTED,
        Json(IngestAnswer {
            accepted: receipt.traces,
            deliveries: receipt.deliveries,
            warnings,
        }),
    ))
}
