//! The OTLP/JSON form of the messages, as the OTLP specification defines it: lowerCamelCase
//! keys, ids as lowercase hex, enums as integers, 64-bit integers as decimal strings, and
//! fields at their default value left out.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::ids::to_hex;
use crate::proto::{any_value, AnyValue, Event, KeyValue, ResourceSpans, Span};

pub fn resource_spans(message: &ResourceSpans) -> Value {
    let mut object = Map::new();
    if let Some(resource) = &message.resource {
        object.insert("resource".into(), json!({"attributes": key_values(&resource.attributes)}));
    }
    let scope_spans: Vec<Value> = message
        .scope_spans
        .iter()
        .map(|scope_spans| {
            let mut object = Map::new();
            if let Some(scope) = &scope_spans.scope {
                let mut scope_object = Map::new();
                scope_object.insert("name".into(), json!(scope.name));
                if !scope.version.is_empty() {
                    scope_object.insert("version".into(), json!(scope.version));
                }
                if !scope.attributes.is_empty() {
                    scope_object.insert("attributes".into(), key_values(&scope.attributes));
                }
                object.insert("scope".into(), Value::Object(scope_object));
            }
            object.insert("spans".into(), Value::Array(scope_spans.spans.iter().map(span).collect()));
            if !scope_spans.schema_url.is_empty() {
                object.insert("schemaUrl".into(), json!(scope_spans.schema_url));
            }
            Value::Object(object)
        })
        .collect();
    object.insert("scopeSpans".into(), Value::Array(scope_spans));
    if !message.schema_url.is_empty() {
        object.insert("schemaUrl".into(), json!(message.schema_url));
    }
    Value::Object(object)
}

fn span(span: &Span) -> Value {
    let mut object = Map::new();
    object.insert("traceId".into(), json!(to_hex(&span.trace_id)));
    object.insert("spanId".into(), json!(to_hex(&span.span_id)));
    if !span.trace_state.is_empty() {
        object.insert("traceState".into(), json!(span.trace_state));
    }
    if !span.parent_span_id.is_empty() {
        object.insert("parentSpanId".into(), json!(to_hex(&span.parent_span_id)));
    }
    if span.flags != 0 {
        object.insert("flags".into(), json!(span.flags));
    }
    object.insert("name".into(), json!(span.name));
    object.insert("kind".into(), json!(span.kind));
    object.insert("startTimeUnixNano".into(), json!(span.start_time_unix_nano.to_string()));
    object.insert("endTimeUnixNano".into(), json!(span.end_time_unix_nano.to_string()));
    object.insert("attributes".into(), key_values(&span.attributes));
    if !span.events.is_empty() {
        object.insert("events".into(), Value::Array(span.events.iter().map(event).collect()));
    }
    if let Some(status) = &span.status {
        let mut status_object = Map::new();
        if !status.message.is_empty() {
            status_object.insert("message".into(), json!(status.message));
        }
        if status.code != 0 {
            status_object.insert("code".into(), json!(status.code));
        }
        object.insert("status".into(), Value::Object(status_object));
    }
    Value::Object(object)
}

fn event(event: &Event) -> Value {
    json!({
        "timeUnixNano": event.time_unix_nano.to_string(),
        "name": event.name,
        "attributes": key_values(&event.attributes),
    })
}

fn key_values(values: &[KeyValue]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|pair| {
                let value = pair.value.as_ref().map(any_value).unwrap_or_else(|| json!({}));
                json!({"key": pair.key, "value": value})
            })
            .collect(),
    )
}

fn any_value(value: &AnyValue) -> Value {
    match &value.value {
        None => json!({}),
        Some(any_value::Value::StringValue(text)) => json!({"stringValue": text}),
        Some(any_value::Value::BoolValue(flag)) => json!({"boolValue": flag}),
        Some(any_value::Value::IntValue(integer)) => json!({"intValue": integer.to_string()}),
        Some(any_value::Value::DoubleValue(number)) => {
            // JSON has no NaN or infinity; OTLP/JSON writes them as strings.
            if number.is_finite() {
                json!({"doubleValue": number})
            } else {
                json!({"doubleValue": number.to_string()})
            }
        }
        Some(any_value::Value::ArrayValue(array)) => {
            json!({"arrayValue": {"values": array.values.iter().map(any_value).collect::<Vec<_>>()}})
        }
        Some(any_value::Value::KvlistValue(list)) => json!({"kvlistValue": {"values": key_values(&list.values)}}),
        Some(any_value::Value::BytesValue(bytes)) => {
            json!({"bytesValue": base64::engine::general_purpose::STANDARD.encode(bytes)})
        }
    }
}
