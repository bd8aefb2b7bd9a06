//! Mapping a trace to one LLM Observability span, shrunk to fit the span size limit.
//!
//! | trace | span |
//! |---|---|
//! | generation span id (16 hex digits) | `span_id`, as a decimal number |
//! | trace id | `trace_id` |
//! | caller's parent span id, else `undefined` (a root span) | `parent_id` |
//! | generation name, else span name, else trace name, else the model | `name` |
//! | start, duration | `start_ns`, `duration` (nanoseconds) |
//! | session | `session_id` |
//! | `service:{ml_app}`, user, API key name, custom scalar metadata | `tags` (`key:value`) |
//! | system prompt and messages; output message | `meta.input.messages`, `meta.output.messages` |
//! | model, provider, temperature, max tokens, cost, finish reason, custom metadata | `meta.metadata` |
//! | error type and message | `meta.error`, `status: error` |
//! | tokens, time to first token (seconds) | `metrics` |

use broadcast_core::{EncodeError, EncodedEvent, ExportTrace, Outcome};
use serde_json::{json, Map, Value};
use sink_support::content::{decimal_number, input_messages, output_message, seconds};

use crate::config::DatadogConfig;

/// Maximum tag length in characters; longer tags are cut.
const MAX_TAG_CHARS: usize = 200;

/// Encodes `trace` as one span of at most `max_event_bytes` bytes.
///
/// # Errors
/// [`EncodeError`] when the span cannot be cut small enough.
pub fn encode(config: &DatadogConfig, trace: &ExportTrace, max_event_bytes: usize) -> Result<EncodedEvent, EncodeError> {
    let mut span = span(config, trace);
    let (bytes, truncated) =
        sink_support::fit_json(&mut span, max_event_bytes).map_err(|error| EncodeError(error.to_string()))?;
    Ok(EncodedEvent {
        generation_id: trace.ids.generation_id.clone(),
        bytes,
        truncated,
    })
}

fn span(config: &DatadogConfig, trace: &ExportTrace) -> Value {
    let ids = &trace.ids;
    let name = trace
        .names
        .generation_name
        .as_deref()
        .or(trace.names.span_name.as_deref())
        .or(trace.names.trace_name.as_deref())
        .or(trace.model.name())
        .unwrap_or("llm");
    let start_ns = trace.timing.started_at.timestamp_nanos_opt().unwrap_or_default();
    // The intake requires a duration; an unknown one is sent as 0.
    let duration_ns = trace.timing.duration_ms().unwrap_or(0) as f64 * 1_000_000.0;

    let mut span = Map::new();
    span.insert("name".into(), json!(name));
    span.insert("span_id".into(), json!(decimal_id(&ids.generation_span_id)));
    span.insert("trace_id".into(), json!(ids.trace_id));
    span.insert("parent_id".into(), json!(ids.parent_span_id.as_deref().unwrap_or("undefined")));
    span.insert("start_ns".into(), json!(start_ns));
    span.insert("duration".into(), json!(duration_ns));
    span.insert("status".into(), json!(if trace.status.outcome == Outcome::Error { "error" } else { "ok" }));
    if let Some(session) = &trace.session_id {
        span.insert("session_id".into(), json!(session));
    }
    span.insert("tags".into(), Value::Array(tags(config, trace)));
    span.insert("meta".into(), meta(trace));
    span.insert("metrics".into(), metrics(trace));
    Value::Object(span)
}

/// Converts a 16-hex-digit span id to the decimal form Datadog's examples use; any other id as given.
pub fn decimal_id(id: &str) -> String {
    if id.len() == 16 {
        if let Ok(number) = u64::from_str_radix(id, 16) {
            return number.to_string();
        }
    }
    id.to_string()
}

fn tag(key: &str, value: &str) -> Value {
    let text = format!("{key}:{value}");
    Value::from(text.chars().take(MAX_TAG_CHARS).collect::<String>())
}

fn tags(config: &DatadogConfig, trace: &ExportTrace) -> Vec<Value> {
    let mut tags = vec![tag("service", &config.ml_app), tag("source", "broadcast")];
    if let Some(user) = &trace.user_id {
        tags.push(tag("user_id", user));
    }
    if let Some(name) = &trace.api_key_name {
        tags.push(tag("api_key_name", name));
    }
    for (key, value) in &trace.metadata {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            _ => continue,
        };
        tags.push(tag(key, &text));
    }
    tags
}

fn meta(trace: &ExportTrace) -> Value {
    let mut meta = Map::new();
    meta.insert("kind".into(), json!("llm"));
    let input = input_messages(trace);
    if !input.is_empty() {
        meta.insert("input".into(), json!({"messages": input}));
    }
    if let Some(message) = output_message(trace) {
        meta.insert("output".into(), json!({"messages": [message]}));
    }
    let mut metadata = Map::new();
    for (key, value) in &trace.metadata {
        // `meta.metadata` takes scalar values; nested custom metadata travels as JSON text.
        let scalar = match value {
            Value::Object(_) | Value::Array(_) => Value::from(value.to_string()),
            other => other.clone(),
        };
        metadata.insert(key.clone(), scalar);
    }
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            metadata.insert(key.to_string(), value);
        }
    };
    put("model_name", trace.model.name().map(Value::from));
    put("model_provider", trace.model.provider.clone().map(Value::from));
    put("temperature", trace.parameters.get("temperature").cloned());
    put("max_tokens", trace.parameters.get("max_tokens").cloned());
    put("cost_usd", trace.cost_usd.and_then(decimal_number));
    put("finish_reason", trace.finish_reason.clone().map(Value::from));
    put("http_status", trace.status.http_status.map(Value::from));
    put("trace_name", trace.names.trace_name.clone().map(Value::from));
    put("span_name", trace.names.span_name.clone().map(Value::from));
    put("generation_id", Some(Value::from(trace.ids.generation_id.clone())));
    put("streamed", Some(Value::from(trace.streamed)));
    put("privacy_mode", Some(Value::from(trace.content_redacted)));
    meta.insert("metadata".into(), Value::Object(metadata));
    if trace.status.outcome == Outcome::Error {
        let mut error = Map::new();
        error.insert(
            "type".into(),
            json!(trace.status.error_type.clone().or_else(|| trace.status.error_code.clone()).unwrap_or_else(|| "error".into())),
        );
        if let Some(message) = &trace.status.error_message {
            error.insert("message".into(), json!(message));
        }
        meta.insert("error".into(), Value::Object(error));
    }
    Value::Object(meta)
}

fn metrics(trace: &ExportTrace) -> Value {
    let mut metrics = Map::new();
    let usage = &trace.usage;
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            metrics.insert(key.to_string(), value);
        }
    };
    put("input_tokens", usage.prompt_tokens.map(Value::from));
    put("output_tokens", usage.completion_tokens.map(Value::from));
    put("total_tokens", usage.total().map(Value::from));
    put("cache_read_input_tokens", usage.cached_tokens.map(Value::from));
    put("reasoning_output_tokens", usage.reasoning_tokens.map(Value::from));
    put("time_to_first_token", trace.timing.time_to_first_token_ms().map(|ms| json!(seconds(ms))));
    Value::Object(metrics)
}
