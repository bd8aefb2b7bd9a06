//! Ingest normalisation: one gateway envelope in, one [`Trace`] out.
//!
//! # Envelope
//!
//! ```text
//! {"account_id": "acme",            optional, default "default"
//!  "provider_api": "openrouter",    optional: openrouter | openai-chat | openai-compatible-chat |
//!                                   azure-openai-chat | anthropic-messages | openai-completions;
//!                                   detected from the bodies when absent
//!  "request":  {...},               the provider request body as sent (required)
//!  "response": {...},               the provider response body, or {"stream_chunks": [...]} with
//!                                   the parsed `data:` objects of a stream in order (optionally
//!                                   with "sse_event_names": [name or null per chunk])
//!  "status": 200,                   HTTP status of the provider response
//!  "started_at", "first_token_at", "ended_at": RFC 3339 (or "latency_ms", "first_token_ms")
//!  "api_key_hash", "api_key_name", "provider", "user", "session_id", "trace": overrides}
//! ```
//!
//! `user`, `session_id` and `trace` are also read from the request body; the envelope value
//! wins. Five `trace` keys are special: `trace_id`, `trace_name`, `span_name`,
//! `generation_name` and `parent_span_id` (camelCase `traceId`, `traceName`, `spanName`,
//! `generationName` and `parentSpanId` are accepted too). Every other `trace` key is custom
//! metadata, kept with its JSON type. For Anthropic requests `metadata.user_id` is the user
//! when nothing else names one. Unknown envelope fields such as `source` and `notes` are
//! ignored and do not affect the derived ids.
//!
//! # Aliases
//!
//! Gateways also send these top-level fields:
//! - `trace_id`: same as `trace.trace_id` (which wins when both are set).
//! - `user_id`: same as `user` (which wins when both are set).
//! - `metadata`: an object merged into the custom metadata; `trace` keys win on conflict.
//! - `model`: the requested model when the request has no `model`.
//! - `cost_usd`: the cost, overriding any cost in the response.
//! - `finish_reason`: used only when the response gives none.
//! - `stream_chunks`: same as `response.stream_chunks`, used when `response` is absent or null.
//! - `error`: `{status, type, code, message}` with `response: null` describes a failed call.
//!
//! # Rules
//!
//! - Provider: the envelope's `provider`, else OpenRouter's `provider` in the response, else
//!   derived from the API shape. `openai-chat` and `openai-completions` give `openai`,
//!   `azure-openai-chat` gives `azure` and `anthropic-messages` gives `anthropic`. OpenRouter
//!   and other OpenAI-compatible servers give none, because the API shape does not name the
//!   vendor.
//! - Structural errors (no `request`, a `request` or message that is not an object,
//!   `messages` not an array, a bad `status`, `account_id`, `provider_api` or timestamp)
//!   reject the envelope with an [`IngestError`]. Optional values that cannot be read (junk
//!   numbers, a non-object `metadata`) are dropped with one [`IngestWarning`] each.
//! - Inline base64 data of image, audio, file and video parts is never stored: those parts
//!   keep only their media type and decoded size. Base64 inside plain text is kept as text.
//!   Credentials in metadata and parameters are replaced by `"[REDACTED]"` (see
//!   [`redact_credentials`]).
//! - Ids are a SHA-256 of the envelope with its keys sorted at every depth, without
//!   [`IGNORED_KEYS`] and never from the time of receipt, so a re-sent envelope keeps its ids.

mod anthropic_request;
mod anthropic_response;
mod coerce;
mod content;
mod envelope;
mod error;
mod ids;
mod params;
mod redact;
mod request;
mod response;
mod sniff;
mod split;
mod status;
mod stream;
mod timing;
mod trace_fields;
mod usage;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::{ModelInfo, ProviderApi, Trace, TraceIds};
use envelope::{read_envelope, Envelope, ResponseBody};
use error::Warnings;
use response::ResponseSummary;
use status::{build_status, ProviderError};

pub use envelope::DEFAULT_ACCOUNT_ID;
pub use error::{IngestError, IngestWarning, MAX_EXCERPT_BYTES};
pub use ids::IGNORED_KEYS;
pub use params::KNOWN_PARAMETERS;
pub use redact::{is_credential_key, redact_credentials, REDACTED};
pub use split::{split_envelopes, BODY_FIELD};

/// A normalised trace and what was dropped on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalised {
    pub trace: Trace,
    /// Optional values that could not be read and were left out of the trace.
    pub warnings: Vec<IngestWarning>,
}

/// Normalises one envelope into a trace.
///
/// `received_at` is used only for timing when the envelope gives none; the ids do not depend
/// on it. Returns an error naming the field, value and fix when the envelope is malformed.
pub fn normalise(envelope: &Value, received_at: DateTime<Utc>) -> Result<Normalised, IngestError> {
    let object = envelope.as_object().ok_or_else(|| {
        IngestError::invalid(
            BODY_FIELD,
            envelope,
            "expected an envelope object with at least `request`",
        )
    })?;
    let mut warnings = Warnings::default();
    let fields = read_envelope(object, &mut warnings)?;

    let api = fields
        .provider_api
        .unwrap_or_else(|| sniff::sniff_provider_api(fields.request, &fields.response));
    let input = request::read_input(api, fields.request)?;
    let parameters = params::read_parameters(fields.request);
    let summary = read_response(api, &fields.response, &mut warnings)?;
    let trace_fields = trace_fields::read_trace_fields(&fields, &mut warnings);
    let user_id = trace_fields::resolve_user(&fields, api, &mut warnings);
    let session_id = trace_fields::resolve_session(&fields, &mut warnings);
    let timing =
        timing::resolve_timing(&fields.timing, summary.created, received_at, &mut warnings);

    let derived = ids::derive_ids(envelope);
    let ids = TraceIds {
        trace_id: trace_fields.trace_id.unwrap_or(derived.trace_id),
        generation_id: derived.generation_id,
        root_span_id: derived.root_span_id,
        span_id: trace_fields
            .names
            .span_name
            .is_some()
            .then_some(derived.span_id),
        generation_span_id: derived.generation_span_id,
        parent_span_id: trace_fields.parent_span_id,
        response_id: summary.id.clone(),
    };

    let model = ModelInfo {
        requested: request_model(&fields),
        served: summary.model.clone(),
        provider: fields
            .provider
            .clone()
            .or_else(|| summary.provider.clone())
            .or_else(|| provider_for_api(api).map(str::to_string)),
        provider_api: api,
    };
    let status = build_status(fields.http_status, error_of(&summary, &fields));

    let trace = Trace {
        ids,
        names: trace_fields.names,
        account_id: fields.account_id,
        user_id,
        session_id,
        api_key_hash: fields.api_key_hash,
        api_key_name: fields.api_key_name,
        model,
        input,
        parameters,
        output: summary.output,
        finish_reason: summary.finish_reason.or(fields.finish_reason),
        native_finish_reason: summary.native_finish_reason,
        usage: summary.usage,
        cost_usd: fields.cost_usd.or(summary.cost),
        timing,
        streamed: summary.streamed,
        status,
        metadata: trace_fields.metadata,
        content_redacted: false,
    };
    Ok(Normalised {
        trace,
        warnings: warnings.0,
    })
}

/// Reads the response body or assembles the stream, by API shape.
fn read_response(
    api: ProviderApi,
    response: &ResponseBody<'_>,
    warnings: &mut Warnings,
) -> Result<ResponseSummary, IngestError> {
    match response {
        ResponseBody::None => Ok(ResponseSummary::default()),
        ResponseBody::Text(text) => Ok(ResponseSummary {
            error: Some(ProviderError {
                message: Some((*text).to_string()),
                ..ProviderError::default()
            }),
            ..ResponseSummary::default()
        }),
        ResponseBody::Body(body) if api == ProviderApi::AnthropicMessages => {
            Ok(anthropic_response::read_anthropic_response(body, warnings))
        }
        ResponseBody::Body(body) => Ok(response::read_openai_response(body, warnings)),
        ResponseBody::Stream {
            chunks,
            event_names,
            field,
        } => {
            let first_type = chunks
                .iter()
                .find_map(|chunk| chunk.get("type"))
                .and_then(Value::as_str);
            if api == ProviderApi::AnthropicMessages || first_type == Some("message_start") {
                anthropic_response::assemble_anthropic_stream(chunks, field, warnings)
            } else {
                stream::assemble_openai_stream(chunks, event_names, field, warnings)
            }
        }
    }
}

/// Returns the response's error, with fields it lacks filled from the envelope's `error`.
fn error_of(summary: &ResponseSummary, fields: &Envelope<'_>) -> Option<ProviderError> {
    match (summary.error.clone(), fields.error.clone()) {
        (Some(response), Some(envelope)) => Some(response.or(envelope)),
        (response, envelope) => response.or(envelope),
    }
}

fn request_model(fields: &Envelope<'_>) -> Option<String> {
    let from_request = fields
        .request
        .get("model")
        .and_then(Value::as_str)
        .filter(|model| !model.is_empty());
    from_request
        .map(str::to_string)
        .or_else(|| fields.model.clone())
}

/// Returns the provider implied by an API shape, when the shape belongs to one vendor.
fn provider_for_api(api: ProviderApi) -> Option<&'static str> {
    match api {
        ProviderApi::OpenaiChat | ProviderApi::OpenaiCompletions => Some("openai"),
        ProviderApi::AzureOpenaiChat => Some("azure"),
        ProviderApi::AnthropicMessages => Some("anthropic"),
        ProviderApi::Openrouter | ProviderApi::OpenaiCompatibleChat => None,
    }
}
