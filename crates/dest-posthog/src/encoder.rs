//! Mapping a trace to one `$ai_generation` event, shrunk to fit PostHog's event size limit.
//!
//! | trace | event |
//! |---|---|
//! | generation id | `uuid` (stable across retries) |
//! | user, else the session, else the trace id | `distinct_id`; without a user, `$process_person_profile` is false |
//! | start time | `timestamp` |
//! | model, provider | `$ai_model`, `$ai_provider` |
//! | system prompt and messages | `$ai_input` (`[{role, content}]`) |
//! | completion and tool calls | `$ai_output_choices` |
//! | tokens | `$ai_input_tokens`, `$ai_output_tokens`, `$ai_cache_read_input_tokens`, `$ai_cache_creation_input_tokens`, `$ai_reasoning_tokens` |
//! | duration, time to first token | `$ai_latency`, `$ai_time_to_first_token` (seconds) |
//! | cost | `$ai_total_cost_usd` |
//! | trace id, generation span, its parent, generation name | `$ai_trace_id`, `$ai_span_id`, `$ai_parent_id`, `$ai_span_name` |
//! | session | `$ai_session_id` |
//! | HTTP status, error | `$ai_http_status`, `$ai_is_error`, `$ai_error` |
//! | trace name | `trace_name` |
//! | custom metadata | `metadata_<key>`, nested at most 3 levels deep |

use broadcast_core::{EncodeError, EncodedEvent, ExportTrace, Outcome};
use chrono::SecondsFormat;
use serde_json::{json, Map, Value};
use sink_support::content::{decimal_number, input_messages, output_message, seconds};

/// Deepest nesting kept in a custom property value; a deeper object or array becomes
/// [`TRUNCATED`].
const MAX_METADATA_DEPTH: usize = 3;
const TRUNCATED: &str = "[truncated]";

/// Encodes `trace` as one event of at most `max_event_bytes` bytes.
///
/// # Errors
/// [`EncodeError`] when the event cannot be cut small enough.
pub fn encode(trace: &ExportTrace, max_event_bytes: usize) -> Result<EncodedEvent, EncodeError> {
    let mut event = event(trace);
    let (mut bytes, truncated) =
        sink_support::fit_json(&mut event, max_event_bytes.saturating_sub(32)).map_err(|error| EncodeError(error.to_string()))?;
    if truncated {
        if let Some(properties) = event.get_mut("properties").and_then(Value::as_object_mut) {
            properties.insert("truncated".into(), Value::Bool(true));
        }
        bytes = serde_json::to_vec(&event).map_err(|error| EncodeError(error.to_string()))?;
    }
    Ok(EncodedEvent {
        generation_id: trace.ids.generation_id.clone(),
        bytes,
        truncated,
    })
}

fn event(trace: &ExportTrace) -> Value {
    let user = trace.user_id.as_deref().filter(|user| !user.trim().is_empty());
    let distinct_id = user
        .or(trace.session_id.as_deref())
        .unwrap_or(&trace.ids.trace_id)
        .to_string();
    let mut properties = properties(trace);
    if user.is_none() {
        properties.insert("$process_person_profile".into(), json!(false));
    }
    json!({
        "event": "$ai_generation",
        "uuid": trace.ids.generation_id,
        "distinct_id": distinct_id,
        "timestamp": trace.timing.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "properties": properties,
    })
}

fn properties(trace: &ExportTrace) -> Map<String, Value> {
    let mut properties = Map::new();
    for (key, value) in &trace.metadata {
        properties.insert(format!("metadata_{key}"), cap_depth(value, 1));
    }
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            properties.insert(key.to_string(), value);
        }
    };
    put("$ai_model", trace.model.name().map(Value::from));
    put("$ai_provider", trace.model.provider.clone().map(Value::from));
    let input = input_messages(trace);
    put("$ai_input", (!input.is_empty()).then_some(Value::Array(input)));
    put("$ai_output_choices", output_message(trace).map(|message| json!([message])));

    let usage = &trace.usage;
    put("$ai_input_tokens", usage.prompt_tokens.map(Value::from));
    put("$ai_output_tokens", usage.completion_tokens.map(Value::from));
    put("$ai_cache_read_input_tokens", usage.cached_tokens.map(Value::from));
    put("$ai_cache_creation_input_tokens", usage.cache_creation_tokens.map(Value::from));
    put("$ai_reasoning_tokens", usage.reasoning_tokens.map(Value::from));
    put("$ai_latency", trace.timing.duration_ms().map(|ms| json!(seconds(ms))));
    put("$ai_time_to_first_token", trace.timing.time_to_first_token_ms().map(|ms| json!(seconds(ms))));
    put("$ai_total_cost_usd", trace.cost_usd.and_then(decimal_number));
    put("$ai_stream", Some(Value::from(trace.streamed)));

    put("$ai_trace_id", Some(Value::from(trace.ids.trace_id.clone())));
    put("$ai_span_id", Some(Value::from(trace.ids.generation_span_id.clone())));
    let parent = trace.ids.span_id.clone().unwrap_or_else(|| trace.ids.root_span_id.clone());
    put("$ai_parent_id", Some(Value::from(parent)));
    put("$ai_span_name", trace.names.generation_name.clone().map(Value::from));
    put("$ai_session_id", trace.session_id.clone().map(Value::from));
    put("trace_name", trace.names.trace_name.clone().map(Value::from));
    put("span_name", trace.names.span_name.clone().map(Value::from));

    put("$ai_http_status", trace.status.http_status.map(Value::from));
    let is_error = trace.status.outcome == Outcome::Error;
    put("$ai_is_error", Some(Value::from(is_error)));
    if is_error {
        let error = trace
            .status
            .error_message
            .clone()
            .or_else(|| trace.status.error_code.clone())
            .or_else(|| trace.status.error_type.clone())
            .unwrap_or_else(|| "error".to_string());
        put("$ai_error", Some(Value::from(error)));
    }
    put("finish_reason", trace.finish_reason.clone().map(Value::from));
    put("$ai_temperature", trace.parameters.get("temperature").cloned());
    put("$ai_max_tokens", trace.parameters.get("max_tokens").cloned());
    if !trace.input.tools.is_empty() {
        put("$ai_tools", serde_json::to_value(&trace.input.tools).ok());
    }
    put("api_key_name", trace.api_key_name.clone().map(Value::from));
    put("privacy_mode", Some(Value::from(trace.content_redacted)));
    properties
}

/// Copies `value`, replacing any object or array deeper than [`MAX_METADATA_DEPTH`] levels by
/// [`TRUNCATED`]. `depth` is the level of `value` itself, 1 for a property's own value.
pub fn cap_depth(value: &Value, depth: usize) -> Value {
    match value {
        Value::Object(_) | Value::Array(_) if depth > MAX_METADATA_DEPTH => Value::from(TRUNCATED),
        Value::Object(map) => Value::Object(map.iter().map(|(key, value)| (key.clone(), cap_depth(value, depth + 1))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(|item| cap_depth(item, depth + 1)).collect()),
        other => other.clone(),
    }
}
