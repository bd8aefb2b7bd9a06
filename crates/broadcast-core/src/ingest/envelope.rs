//! Reading and checking the envelope's own fields, before any provider body is interpreted.
//!
//! Structural fields are checked strictly and reject the envelope: `account_id`,
//! `provider_api`, `request`, `response` (and its `stream_chunks`), `status` and the three
//! timestamps. Every other
//! optional field that cannot be read is dropped with a warning, so the trace is kept.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::coerce::{read_decimal, read_millis, read_string};
use super::error::{IngestError, Warnings};
use super::status::{http_status_of, read_error_value, ProviderError};
use crate::model::ProviderApi;

/// Account used when the envelope names none.
pub const DEFAULT_ACCOUNT_ID: &str = "default";

/// The envelope's fields, checked and read, with the request and response still raw.
pub(crate) struct Envelope<'a> {
    pub(crate) account_id: String,
    pub(crate) provider_api: Option<ProviderApi>,
    pub(crate) request: &'a Map<String, Value>,
    pub(crate) response: ResponseBody<'a>,
    pub(crate) http_status: Option<u16>,
    /// The envelope's own `error` object, sent when there is no response body.
    pub(crate) error: Option<ProviderError>,
    pub(crate) api_key_hash: Option<String>,
    pub(crate) api_key_name: Option<String>,
    pub(crate) provider: Option<String>,
    /// `user`, else the `user_id` alias.
    pub(crate) user: Option<String>,
    pub(crate) session_id: Option<String>,
    /// The `trace` object, if it is one.
    pub(crate) trace: Option<&'a Map<String, Value>>,
    /// The top-level `trace_id` alias.
    pub(crate) trace_id: Option<String>,
    /// The top-level `metadata` object, if it is one.
    pub(crate) metadata: Option<&'a Map<String, Value>>,
    /// The top-level `model` alias, used when the request names no model.
    pub(crate) model: Option<String>,
    pub(crate) cost_usd: Option<Decimal>,
    /// Used only when the response gives no finish reason.
    pub(crate) finish_reason: Option<String>,
    pub(crate) timing: TimingInput,
}

/// The response as sent: a body, a stream of parsed chunks, plain text, or nothing.
pub(crate) enum ResponseBody<'a> {
    None,
    Body(&'a Map<String, Value>),
    /// A non-JSON body (such as an HTML error page) sent as a JSON string.
    Text(&'a str),
    Stream {
        chunks: &'a [Value],
        /// The SSE `event:` name of each chunk, when the recorder kept them.
        event_names: Vec<Option<String>>,
        /// JSON path of the chunk array, for error messages.
        field: &'static str,
    },
}

/// The timing fields as sent.
#[derive(Debug, Default)]
pub(crate) struct TimingInput {
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) first_token_at: Option<DateTime<Utc>>,
    pub(crate) ended_at: Option<DateTime<Utc>>,
    pub(crate) latency_ms: Option<i64>,
    pub(crate) first_token_ms: Option<i64>,
}

/// Reads the envelope's fields; rejects it when a structural field is invalid.
pub(crate) fn read_envelope<'a>(
    envelope: &'a Map<String, Value>,
    warnings: &mut Warnings,
) -> Result<Envelope<'a>, IngestError> {
    let account_id = read_account_id(envelope.get("account_id"))?;
    let provider_api = read_provider_api(envelope.get("provider_api"))?;
    let request = read_request(envelope.get("request"))?;
    let response = read_response(envelope, warnings)?;
    let http_status = read_status(envelope.get("status"))?;
    let timing = TimingInput {
        started_at: read_timestamp(envelope.get("started_at"), "started_at")?,
        first_token_at: read_timestamp(envelope.get("first_token_at"), "first_token_at")?,
        ended_at: read_timestamp(envelope.get("ended_at"), "ended_at")?,
        latency_ms: read_millis(envelope.get("latency_ms"), "latency_ms", warnings),
        first_token_ms: read_millis(envelope.get("first_token_ms"), "first_token_ms", warnings),
    };

    let mut text = |key: &str| read_string(envelope.get(key), key, warnings);
    let api_key_hash = text("api_key_hash");
    let api_key_name = text("api_key_name");
    let provider = text("provider");
    let user = text("user").or_else(|| text("user_id"));
    let session_id = text("session_id");
    let trace_id = text("trace_id");
    let model = text("model");
    let finish_reason = text("finish_reason");

    Ok(Envelope {
        account_id,
        provider_api,
        request,
        response,
        http_status,
        error: envelope
            .get("error")
            .filter(|error| !error.is_null())
            .map(read_error_value),
        api_key_hash,
        api_key_name,
        provider,
        user,
        session_id,
        trace: optional_object(envelope.get("trace"), "trace", warnings),
        trace_id,
        metadata: optional_object(envelope.get("metadata"), "metadata", warnings),
        model,
        cost_usd: read_decimal(envelope.get("cost_usd"), "cost_usd", warnings),
        finish_reason,
        timing,
    })
}

fn read_account_id(value: Option<&Value>) -> Result<String, IngestError> {
    match value {
        None | Some(Value::Null) => Ok(DEFAULT_ACCOUNT_ID.to_string()),
        Some(Value::String(account)) if !account.trim().is_empty() => Ok(account.clone()),
        Some(other) => Err(IngestError::invalid(
            "account_id",
            other,
            "expected a non-empty string; omit the field to use the account \"default\"",
        )),
    }
}

fn read_provider_api(value: Option<&Value>) -> Result<Option<ProviderApi>, IngestError> {
    let allowed = || {
        let names: Vec<&str> = ProviderApi::ALL.iter().map(|api| api.as_str()).collect();
        format!(
            "expected one of {}, or omit the field to detect it from the bodies",
            names.join(", ")
        )
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value @ Value::String(name)) => ProviderApi::parse(name)
            .map(Some)
            .ok_or_else(|| IngestError::invalid("provider_api", value, allowed())),
        Some(other) => Err(IngestError::invalid("provider_api", other, allowed())),
    }
}

fn read_request(value: Option<&Value>) -> Result<&Map<String, Value>, IngestError> {
    match value {
        Some(Value::Object(request)) => Ok(request),
        None | Some(Value::Null) => Err(IngestError::missing(
            "request",
            "every envelope needs `request`, the provider request body as a JSON object",
        )),
        Some(other) => Err(IngestError::invalid(
            "request",
            other,
            "expected the provider request body as a JSON object",
        )),
    }
}

fn read_response<'a>(
    envelope: &'a Map<String, Value>,
    warnings: &mut Warnings,
) -> Result<ResponseBody<'a>, IngestError> {
    let top_level_chunks = envelope
        .get("stream_chunks")
        .filter(|chunks| !chunks.is_null());
    let response = match envelope.get("response") {
        None | Some(Value::Null) => {
            return match top_level_chunks {
                Some(chunks) => stream_body(chunks, None, "stream_chunks"),
                None => Ok(ResponseBody::None),
            };
        }
        Some(Value::Object(response)) => response,
        Some(Value::String(text)) => return Ok(ResponseBody::Text(text)),
        Some(other) => {
            return Err(IngestError::invalid(
                "response",
                other,
                "expected the provider response body as a JSON object, or {\"stream_chunks\": [...]} for a stream",
            ))
        }
    };
    if top_level_chunks.is_some() {
        warnings.note("stream_chunks", "ignored because `response` is also set");
    }
    match response.get("stream_chunks") {
        Some(chunks) => stream_body(
            chunks,
            response.get("sse_event_names"),
            "response.stream_chunks",
        ),
        None => Ok(ResponseBody::Body(response)),
    }
}

fn stream_body<'a>(
    chunks: &'a Value,
    event_names: Option<&'a Value>,
    field: &'static str,
) -> Result<ResponseBody<'a>, IngestError> {
    let Value::Array(chunks) = chunks else {
        return Err(IngestError::invalid(
            field,
            chunks,
            "expected an array of the parsed `data:` objects of the stream, in order",
        ));
    };
    let event_names = event_names
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .map(|name| name.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(ResponseBody::Stream {
        chunks,
        event_names,
        field,
    })
}

fn read_status(value: Option<&Value>) -> Result<Option<u16>, IngestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(status) => http_status_of(status).map(Some).ok_or_else(|| {
            IngestError::invalid(
                "status",
                status,
                "expected the HTTP status of the provider response as a number from 100 to 599, such as 200",
            )
        }),
    }
}

fn read_timestamp(
    value: Option<&Value>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, IngestError> {
    let fix = "expected an RFC 3339 timestamp such as \"2026-01-01T00:00:00Z\"";
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value @ Value::String(text)) => DateTime::parse_from_rfc3339(text.trim())
            .map(|time| Some(time.with_timezone(&Utc)))
            .map_err(|error| IngestError::invalid(field, value, format!("{error}; {fix}"))),
        Some(other) => Err(IngestError::invalid(field, other, fix)),
    }
}

fn optional_object<'a>(
    value: Option<&'a Value>,
    field: &str,
    warnings: &mut Warnings,
) -> Option<&'a Map<String, Value>> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::Object(object)) => Some(object),
        Some(other) => {
            warnings.dropped(field, other, "expected a JSON object");
            None
        }
    }
}
