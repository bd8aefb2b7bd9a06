//! Mapping a trace to one Raindrop `events/track` event, shrunk to fit the event size limit.
//!
//! | trace | event |
//! |---|---|
//! | generation id | `event_id` (stable across retries and re-sends) |
//! | user, else the config's `default_user_id` | `user_id` |
//! | start time | `timestamp`, RFC 3339 UTC with milliseconds |
//! | model | `ai_data.model` and property `model` |
//! | latest user message's text | `ai_data.input` |
//! | completion text, else a summary of the tool calls | `ai_data.output` |
//! | session id | `ai_data.convo_id` |
//! | tokens, cost, timing, finish reason, status, names | properties (see [`properties`]) |
//! | custom metadata | properties under their own keys; built-in properties win a clash |
//!
//! Raindrop rejects an `ai_data` whose `input` and `output` are both empty. When a trace has
//! neither (always in privacy mode, or an error before any output with no user text), the event carries
//! no `ai_data`, and `model` and `convo_id` travel as properties.

use broadcast_core::text::truncate_with_marker;
use broadcast_core::{EncodeError, EncodedEvent, ExportTrace, Outcome};
use chrono::SecondsFormat;
use serde_json::{json, Map, Value};

use crate::config::RaindropConfig;

/// Smallest size a text field is cut to while shrinking an event.
const MIN_FIELD_BYTES: usize = 256;

/// Most shrinking rounds before giving up on an event.
const MAX_SHRINK_ROUNDS: usize = 64;

/// Encodes `trace` as one event of at most `max_event_bytes` bytes.
///
/// # Errors
/// [`EncodeError`] when the event cannot be made small enough, which takes custom metadata
/// of hundreds of thousands of small values.
pub fn encode(
    config: &RaindropConfig,
    trace: &ExportTrace,
    max_event_bytes: usize,
) -> Result<EncodedEvent, EncodeError> {
    let mut event = event(config, trace);
    let mut bytes = to_bytes(&event)?;
    let mut truncated = false;
    let mut rounds = 0;
    while bytes.len() > max_event_bytes {
        rounds += 1;
        if rounds > MAX_SHRINK_ROUNDS || !shrink_largest_text(&mut event, bytes.len() - max_event_bytes) {
            return Err(EncodeError(format!(
                "event is {} bytes after shrinking every text field, over Raindrop's limit of {max_event_bytes}",
                bytes.len()
            )));
        }
        truncated = true;
        bytes = to_bytes(&event)?;
    }
    if truncated {
        if let Some(properties) = event.get_mut("properties").and_then(Value::as_object_mut) {
            properties.insert("truncated".into(), Value::Bool(true));
        }
        bytes = to_bytes(&event)?;
    }
    Ok(EncodedEvent {
        generation_id: trace.ids.generation_id.clone(),
        bytes,
        truncated,
    })
}

fn to_bytes(event: &Value) -> Result<Vec<u8>, EncodeError> {
    serde_json::to_vec(event).map_err(|error| EncodeError(error.to_string()))
}

fn event(config: &RaindropConfig, trace: &ExportTrace) -> Value {
    let mut event = Map::new();
    event.insert("event_id".into(), json!(trace.ids.generation_id));
    let user_id = trace
        .user_id
        .as_deref()
        .filter(|user| !user.trim().is_empty())
        .unwrap_or(&config.default_user_id);
    event.insert("user_id".into(), json!(user_id));
    event.insert("event".into(), json!(config.event_name));
    event.insert(
        "timestamp".into(),
        json!(trace.timing.started_at.to_rfc3339_opts(SecondsFormat::Millis, true)),
    );

    let input = input_text(trace);
    // In privacy mode `input` and `output` are left out whole, even a summary of tool calls
    // whose arguments the filter removed; the called tools' names stay in `tool_calls`.
    let input = input.filter(|_| !trace.content_redacted);
    let output = trace
        .output
        .text_or_tool_summary()
        .filter(|text| !text.is_empty() && !trace.content_redacted);
    let mut properties = properties(trace);
    if input.is_some() || output.is_some() {
        let mut ai_data = Map::new();
        if let Some(model) = trace.model.name() {
            ai_data.insert("model".into(), json!(model));
        }
        if let Some(input) = input {
            ai_data.insert("input".into(), json!(input));
        }
        if let Some(output) = output {
            ai_data.insert("output".into(), json!(output));
        }
        if let Some(session) = &trace.session_id {
            ai_data.insert("convo_id".into(), json!(session));
        }
        event.insert("ai_data".into(), Value::Object(ai_data));
    } else if let Some(session) = &trace.session_id {
        properties.insert("convo_id".into(), json!(session));
    }
    event.insert("properties".into(), Value::Object(properties));
    Value::Object(event)
}

/// The latest user message as text: its text parts, or placeholders for its other parts when
/// it has no text (an image-only message).
fn input_text(trace: &ExportTrace) -> Option<String> {
    if let Some(text) = trace.input.latest_user_text().filter(|text| !text.is_empty()) {
        return Some(text);
    }
    let message = trace
        .input
        .messages
        .iter()
        .rev()
        .find(|message| message.role == broadcast_core::Role::User)?;
    let placeholders: Vec<String> = message.content.iter().filter_map(|part| part.placeholder()).collect();
    if placeholders.is_empty() {
        None
    } else {
        Some(placeholders.join("\n"))
    }
}

/// The event's properties: custom metadata first, then the built-in ones, which win a clash.
///
/// Built-in properties: `model`, `requested_model`, `provider`, `total_cost`, `prompt_tokens`,
/// `completion_tokens`, `total_tokens`, `cached_tokens`, `reasoning_tokens`, the same tokens as
/// `ai.usage.*` (the names Raindrop's SDKs use), `duration_ms`, `time_to_first_token_ms`,
/// `finish_reason`, `native_finish_reason`, `status`, `http_status`, `error_type`,
/// `error_code`, `error_message`, `streamed`, `trace_id`, `trace_name`, `span_name`,
/// `generation_name`, `parent_span_id`, `response_id`, `session_id`, `api_key_name`,
/// `tool_calls` (names), `privacy_mode` and `$context`.
pub fn properties(trace: &ExportTrace) -> Map<String, Value> {
    let mut properties = trace.metadata.clone();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            properties.insert(key.to_string(), value);
        }
    };
    let model = trace.model.name().map(str::to_string);
    put("model", model.clone().map(Value::from));
    if trace.model.requested.is_some() && trace.model.requested != model {
        put("requested_model", trace.model.requested.clone().map(Value::from));
    }
    put("provider", trace.model.provider.clone().map(Value::from));
    put("total_cost", trace.cost_usd.and_then(decimal_number));

    let usage = &trace.usage;
    put("prompt_tokens", usage.prompt_tokens.map(Value::from));
    put("completion_tokens", usage.completion_tokens.map(Value::from));
    put("total_tokens", usage.total().map(Value::from));
    put("cached_tokens", usage.cached_tokens.map(Value::from));
    put("reasoning_tokens", usage.reasoning_tokens.map(Value::from));
    put("ai.usage.prompt_tokens", usage.prompt_tokens.map(Value::from));
    put("ai.usage.completion_tokens", usage.completion_tokens.map(Value::from));
    put("ai.usage.total_tokens", usage.total().map(Value::from));

    put("duration_ms", trace.timing.duration_ms().map(Value::from));
    put("time_to_first_token_ms", trace.timing.time_to_first_token_ms().map(Value::from));
    put("finish_reason", trace.finish_reason.clone().map(Value::from));
    put("native_finish_reason", trace.native_finish_reason.clone().map(Value::from));

    let status = &trace.status;
    put("status", Some(Value::from(status.outcome.as_str())));
    put("http_status", status.http_status.map(Value::from));
    if status.outcome == Outcome::Error {
        put("error_type", status.error_type.clone().map(Value::from));
        put("error_code", status.error_code.clone().map(Value::from));
        put("error_message", status.error_message.clone().map(Value::from));
    }
    put("streamed", Some(Value::from(trace.streamed)));

    put("trace_id", Some(Value::from(trace.ids.trace_id.clone())));
    put("trace_name", trace.names.trace_name.clone().map(Value::from));
    put("span_name", trace.names.span_name.clone().map(Value::from));
    put("generation_name", trace.names.generation_name.clone().map(Value::from));
    put("parent_span_id", trace.ids.parent_span_id.clone().map(Value::from));
    put("response_id", trace.ids.response_id.clone().map(Value::from));
    put("session_id", trace.session_id.clone().map(Value::from));
    put("api_key_name", trace.api_key_name.clone().map(Value::from));
    if !trace.output.tool_calls.is_empty() {
        let names: Vec<Value> = trace.output.tool_calls.iter().map(|call| Value::from(call.name.clone())).collect();
        put("tool_calls", Some(Value::Array(names)));
    }
    if trace.content_redacted {
        put("privacy_mode", Some(Value::Bool(true)));
    }
    put(
        "$context",
        Some(json!({"library": {"name": "broadcast", "version": env!("CARGO_PKG_VERSION")}})),
    );
    properties
}

/// A decimal as a JSON number; `None` only for a value out of `f64` range.
fn decimal_number(decimal: broadcast_core::Decimal) -> Option<Value> {
    let number: f64 = decimal.to_string().parse().ok()?;
    serde_json::Number::from_f64(number).map(Value::Number)
}

/// Cuts the largest string in `ai_data` or `properties` by at least `excess` bytes. Returns
/// `false` when no string is left to cut.
fn shrink_largest_text(event: &mut Value, excess: usize) -> bool {
    let mut largest: Option<&mut String> = None;
    if let Value::Object(event) = event {
        for (key, value) in event.iter_mut() {
            if key == "ai_data" || key == "properties" {
                collect_largest(value, &mut largest);
            }
        }
    }
    let Some(text) = largest else {
        return false;
    };
    if text.len() <= MIN_FIELD_BYTES {
        return false;
    }
    // Cut a little more than the excess, since JSON escapes can make a character cost more
    // than its UTF-8 bytes.
    let target = text.len().saturating_sub(excess + excess / 8 + 64).max(MIN_FIELD_BYTES);
    *text = truncate_with_marker(text, target).into_owned();
    true
}

fn collect_largest<'a>(value: &'a mut Value, largest: &mut Option<&'a mut String>) {
    match value {
        Value::String(text) => {
            if largest.as_ref().is_none_or(|current| text.len() > current.len()) {
                *largest = Some(text);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| collect_largest(item, largest)),
        Value::Object(map) => map.values_mut().for_each(|item| collect_largest(item, largest)),
        _ => {}
    }
}
