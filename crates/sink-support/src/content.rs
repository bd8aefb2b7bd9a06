//! Trace content as chat messages with string content, the shape LLM-analytics APIs take.

use broadcast_core::{ContentPart, ExportTrace, Message, ToolCall};
use serde_json::{json, Map, Value};

/// Returns the text of `parts`: text parts joined by newlines, other parts as short placeholders
/// (`[image https://…]`, `[input_audio wav, 12 B]`). `None` when there are no parts.
pub fn parts_text(parts: &[ContentPart]) -> Option<String> {
    let pieces: Vec<String> = parts
        .iter()
        .map(|part| match part {
            ContentPart::Text { text } => text.clone(),
            other => other.placeholder().unwrap_or_default(),
        })
        .filter(|piece| !piece.is_empty())
        .collect();
    (!pieces.is_empty()).then(|| pieces.join("\n"))
}

fn tool_calls_json(calls: &[ToolCall]) -> Value {
    Value::Array(
        calls
            .iter()
            .map(|call| {
                json!({
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                })
            })
            .collect(),
    )
}

fn message_json(message: &Message) -> Value {
    let mut object = Map::new();
    object.insert("role".into(), json!(message.role.as_str()));
    object.insert("content".into(), json!(parts_text(&message.content).unwrap_or_default()));
    if !message.tool_calls.is_empty() {
        object.insert("tool_calls".into(), tool_calls_json(&message.tool_calls));
    }
    if let Some(id) = &message.tool_call_id {
        object.insert("tool_call_id".into(), json!(id));
    }
    if let Some(name) = &message.name {
        object.insert("name".into(), json!(name));
    }
    Value::Object(object)
}

/// Returns the input as messages `{role, content}`: the separate system prompt first, then the
/// conversation. Empty in privacy mode.
pub fn input_messages(trace: &ExportTrace) -> Vec<Value> {
    let mut messages = Vec::new();
    if let Some(system) = parts_text(&trace.input.system) {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.extend(trace.input.messages.iter().map(message_json));
    messages
}

/// Returns the assistant message the model produced, or `None` when it produced neither text nor
/// tool calls (an error, or privacy mode with no tool calls).
pub fn output_message(trace: &ExportTrace) -> Option<Value> {
    let output = &trace.output;
    if output.text.is_none() && output.tool_calls.is_empty() {
        return None;
    }
    let mut object = Map::new();
    object.insert("role".into(), json!("assistant"));
    object.insert("content".into(), json!(output.text.clone().unwrap_or_default()));
    if !output.tool_calls.is_empty() {
        object.insert("tool_calls".into(), tool_calls_json(&output.tool_calls));
    }
    Some(Value::Object(object))
}

/// Converts milliseconds to seconds.
pub fn seconds(milliseconds: i64) -> f64 {
    milliseconds as f64 / 1000.0
}

/// Converts a decimal to a JSON number, or `None` when it does not fit an `f64`.
pub fn decimal_number(value: broadcast_core::Decimal) -> Option<Value> {
    value.to_string().parse::<f64>().ok().and_then(|number| serde_json::Number::from_f64(number).map(Value::Number))
}
