//! Caller-supplied trace fields: the five special `trace` keys, custom metadata, user and
//! session.
//!
//! `trace`, `user` and `session_id` may come from the request body (OpenRouter's convention)
//! or from the envelope; the envelope wins. For the special keys the order is: envelope
//! `trace`, then the top-level `trace_id` alias, then the request's `trace`. Custom metadata
//! is the top-level `metadata` object overlaid with the non-special `trace` keys (request's,
//! then envelope's), and every credential key in it is redacted at any depth.

use serde_json::{Map, Value};

use super::coerce::read_string;
use super::envelope::Envelope;
use super::error::Warnings;
use super::redact::{is_credential_key, redact_credentials, REDACTED};
use crate::model::{ProviderApi, TraceNames};

/// The special `trace` keys, in snake_case and in the accepted camelCase form.
const SPECIAL_KEYS: [(&str, &str); 5] = [
    ("trace_id", "traceId"),
    ("trace_name", "traceName"),
    ("span_name", "spanName"),
    ("generation_name", "generationName"),
    ("parent_span_id", "parentSpanId"),
];

/// The caller's ids, names and custom metadata.
#[derive(Debug, Default)]
pub(crate) struct TraceFields {
    pub(crate) trace_id: Option<String>,
    pub(crate) parent_span_id: Option<String>,
    pub(crate) names: TraceNames,
    pub(crate) metadata: Map<String, Value>,
}

/// Merges the `trace` objects and `metadata` of the envelope and request.
pub(crate) fn read_trace_fields(envelope: &Envelope<'_>, warnings: &mut Warnings) -> TraceFields {
    let body_trace = match envelope.request.get("trace") {
        None | Some(Value::Null) => None,
        Some(Value::Object(trace)) => Some(trace),
        Some(other) => {
            warnings.dropped("request.trace", other, "expected a JSON object");
            None
        }
    };

    let mut merged = Map::new();
    if let Some(trace) = body_trace {
        overlay(&mut merged, trace);
    }
    if let Some(trace_id) = &envelope.trace_id {
        merged.insert("trace_id".to_string(), Value::String(trace_id.clone()));
    }
    if let Some(trace) = envelope.trace {
        overlay(&mut merged, trace);
    }

    let mut special = |key: &str| read_string(merged.get(key), &format!("trace.{key}"), warnings);
    let trace_id = special("trace_id");
    let parent_span_id = special("parent_span_id");
    let names = TraceNames {
        trace_name: special("trace_name"),
        span_name: special("span_name"),
        generation_name: special("generation_name"),
    };

    let mut metadata = envelope.metadata.cloned().unwrap_or_default();
    for (key, value) in merged {
        if !SPECIAL_KEYS.iter().any(|(snake, _)| *snake == key) {
            metadata.insert(key, value);
        }
    }
    redact_map(&mut metadata);

    TraceFields {
        trace_id,
        parent_span_id,
        names,
        metadata,
    }
}

/// Returns the end user: the envelope's `user` (or `user_id`), else the request's `user`,
/// else for Anthropic requests `metadata.user_id`.
pub(crate) fn resolve_user(
    envelope: &Envelope<'_>,
    api: ProviderApi,
    warnings: &mut Warnings,
) -> Option<String> {
    if let Some(user) = &envelope.user {
        return Some(user.clone());
    }
    let request = envelope.request;
    if let Some(user) = read_string(request.get("user"), "request.user", warnings) {
        return Some(user);
    }
    if api != ProviderApi::AnthropicMessages {
        return None;
    }
    let metadata_user = request
        .get("metadata")
        .and_then(|metadata| metadata.get("user_id"));
    read_string(metadata_user, "request.metadata.user_id", warnings)
}

/// Returns the session: the envelope's `session_id`, else the request's.
pub(crate) fn resolve_session(envelope: &Envelope<'_>, warnings: &mut Warnings) -> Option<String> {
    envelope.session_id.clone().or_else(|| {
        read_string(
            envelope.request.get("session_id"),
            "request.session_id",
            warnings,
        )
    })
}

/// Inserts the entries of `trace` into `merged`, with camelCase special keys renamed to
/// snake_case. A snake_case key wins over its camelCase form within one object.
fn overlay(merged: &mut Map<String, Value>, trace: &Map<String, Value>) {
    for (snake, camel) in SPECIAL_KEYS {
        if let Some(value) = trace.get(snake).or_else(|| trace.get(camel)) {
            merged.insert(snake.to_string(), value.clone());
        }
    }
    for (key, value) in trace {
        let is_special = SPECIAL_KEYS
            .iter()
            .any(|(snake, camel)| key == snake || key == camel);
        if !is_special {
            merged.insert(key.clone(), value.clone());
        }
    }
}

/// Redacts credential keys at the top level of `map` and at any depth below it.
fn redact_map(map: &mut Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        if is_credential_key(key) {
            *value = Value::String(REDACTED.to_string());
        } else {
            redact_credentials(value);
        }
    }
}
