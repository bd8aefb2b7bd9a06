//! Assembly of an OpenAI-shape chat stream (`chat.completion.chunk` objects) into one response.
//!
//! Invariants:
//! - One stream gives one summary, however many finish or usage chunks it has.
//! - Text and reasoning deltas of choice 0 are concatenated in chunk order.
//! - Tool-call deltas are grouped by their `index` (else their `id`), and their argument
//!   fragments are concatenated.
//! - A value that is null or absent in a later chunk never clears an earlier one: the finish
//!   reason, the usage counts and the cost keep the last value actually sent. Usage may come
//!   in a trailing chunk with `choices: []`, or (Groq) under `x_groq.usage`.
//! - A chunk with an `error` member, or one sent as an SSE `event: error`, marks the stream as
//!   failed with that error's message, type and code.

use serde_json::{Map, Value};

use super::coerce::as_text;
use super::error::{IngestError, Warnings};
use super::request::arguments_text;
use super::response::{
    append_content, message_reasoning, non_empty, reason_text, unix_seconds, ResponseSummary,
};
use super::status::{read_body_error, read_error_value};
use super::usage::{merge_usage, read_openai_usage};
use crate::model::ToolCall;

/// Assembles `chunks` (JSON path `field`), with the SSE event name of each chunk when known.
pub(crate) fn assemble_openai_stream(
    chunks: &[Value],
    event_names: &[Option<String>],
    field: &str,
    warnings: &mut Warnings,
) -> Result<ResponseSummary, IngestError> {
    let mut summary = ResponseSummary {
        streamed: true,
        ..ResponseSummary::default()
    };
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = ToolCallAssembler::default();

    for (position, chunk) in chunks.iter().enumerate() {
        if is_done_sentinel(chunk) {
            continue;
        }
        let chunk_field = format!("{field}[{position}]");
        let object = chunk_object(chunk, &chunk_field)?;
        let is_error_event = event_names.get(position).and_then(Option::as_deref) == Some("error");

        take_first(&mut summary.id, as_text(object.get("id")));
        take_first(&mut summary.model, as_text(object.get("model")));
        take_first(&mut summary.provider, as_text(object.get("provider")));
        if summary.created.is_none() {
            summary.created = object.get("created").and_then(unix_seconds);
        }

        if let Some(error) = read_body_error(object.get("error")) {
            summary.error = Some(error);
        } else if is_error_event {
            summary.error = Some(read_error_value(chunk));
        }

        let usage_value = object
            .get("usage")
            .filter(|usage| !usage.is_null())
            .or_else(|| object.get("x_groq").and_then(|groq| groq.get("usage")));
        let (usage, cost) =
            read_openai_usage(usage_value, &format!("{chunk_field}.usage"), warnings);
        merge_usage(&mut summary.usage, usage);
        if cost.is_some() {
            summary.cost = cost;
        }

        let Some(choice) = stream_choice(object.get("choices")) else {
            continue;
        };
        if let Some(reason) = reason_text(choice.get("finish_reason")) {
            summary.finish_reason = Some(reason);
        }
        if let Some(reason) = reason_text(choice.get("native_finish_reason")) {
            summary.native_finish_reason = Some(reason);
        }
        if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
            append_content(delta.get("content"), &mut text, &mut reasoning);
            if let Some(piece) = message_reasoning(delta) {
                reasoning.push_str(&piece);
            }
            tool_calls.add_deltas(delta);
        }
    }

    summary.output.text = non_empty(text);
    summary.output.reasoning = non_empty(reasoning);
    summary.output.tool_calls = tool_calls.finish();
    Ok(summary)
}

/// Returns whether the chunk is the `[DONE]` end marker, which some recorders keep as a chunk.
pub(crate) fn is_done_sentinel(chunk: &Value) -> bool {
    chunk.as_str().is_some_and(|text| text.trim() == "[DONE]")
}

/// Returns the stream chunk as an object, or an error naming its position.
pub(crate) fn chunk_object<'a>(
    chunk: &'a Value,
    field: &str,
) -> Result<&'a Map<String, Value>, IngestError> {
    chunk.as_object().ok_or_else(|| {
        IngestError::invalid(
            field,
            chunk,
            "expected a parsed stream chunk object (the JSON after `data:`), in stream order",
        )
    })
}

/// Returns the delta-carrying choice 0 of a chunk, or `None` for usage-only chunks.
fn stream_choice(choices: Option<&Value>) -> Option<&Map<String, Value>> {
    choices?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .find(|choice| choice.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
}

fn take_first(slot: &mut Option<String>, value: Option<&str>) {
    if slot.is_none() {
        *slot = value.filter(|value| !value.is_empty()).map(str::to_string);
    }
}

/// Tool calls under assembly, in order of first appearance.
#[derive(Default)]
struct ToolCallAssembler {
    calls: Vec<PartialCall>,
}

struct PartialCall {
    index: Option<u64>,
    id: Option<String>,
    name: String,
    arguments: Option<String>,
}

impl ToolCallAssembler {
    /// Adds the `tool_calls` (and legacy `function_call`) deltas of one chunk.
    fn add_deltas(&mut self, delta: &Map<String, Value>) {
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call.get("index").and_then(Value::as_u64);
            let id = as_text(call.get("id")).filter(|id| !id.is_empty());
            let position = self.position_for(index, id);
            let function = call.get("function");
            self.apply(position, id, function);
        }
        if let Some(function) = delta
            .get("function_call")
            .filter(|function| function.is_object())
        {
            let position = self.position_for(Some(0), None);
            self.apply(position, None, Some(function));
        }
    }

    /// Finds the call a delta belongs to: the latest call with the same `index` (unless both
    /// carry different ids), else the one with the same `id`, else the last call when the delta
    /// has neither. Otherwise a new call starts. The id check keeps calls apart when a server
    /// numbers several complete calls with the same `index`.
    fn position_for(&mut self, index: Option<u64>, id: Option<&str>) -> usize {
        let found = match (index, id) {
            (Some(index), _) => self.calls.iter().rposition(|call| {
                let same_id = match (id, call.id.as_deref()) {
                    (Some(new), Some(existing)) => new == existing,
                    _ => true,
                };
                call.index == Some(index) && same_id
            }),
            (None, Some(id)) => self
                .calls
                .iter()
                .position(|call| call.id.as_deref() == Some(id)),
            (None, None) => self.calls.len().checked_sub(1),
        };
        found.unwrap_or_else(|| {
            self.calls.push(PartialCall {
                index,
                id: None,
                name: String::new(),
                arguments: None,
            });
            self.calls.len() - 1
        })
    }

    fn apply(&mut self, position: usize, id: Option<&str>, function: Option<&Value>) {
        let Some(call) = self.calls.get_mut(position) else {
            return;
        };
        if call.id.is_none() {
            call.id = id.map(str::to_string);
        }
        if let Some(name) = function.and_then(|function| as_text(function.get("name"))) {
            // Some servers repeat the name in every delta; it is set once, not concatenated.
            if call.name.is_empty() {
                call.name = name.to_string();
            }
        }
        if let Some(fragment) =
            function.and_then(|function| arguments_text(function.get("arguments")))
        {
            call.arguments
                .get_or_insert_with(String::new)
                .push_str(&fragment);
        }
    }

    fn finish(self) -> Vec<ToolCall> {
        self.calls
            .into_iter()
            .map(|call| ToolCall {
                id: call.id,
                name: call.name,
                arguments: call.arguments,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assemble(chunks: Value) -> ResponseSummary {
        let mut warnings = Warnings::default();
        let chunks = chunks.as_array().cloned().unwrap_or_default();
        assemble_openai_stream(&chunks, &[], "response.stream_chunks", &mut warnings)
            .expect("valid stream")
    }

    #[test]
    fn tool_call_fragments_joined_by_index() {
        let summary = assemble(json!([
            {"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": "call_a", "function": {"name": "get_weather", "arguments": ""}},
                {"index": 1, "id": "call_b", "function": {"name": "get_time", "arguments": "{\"tz"}}]}}]},
            {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}}]},
            {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": "\":\"UTC\"}"}}]}}]},
            {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}, "finish_reason": "tool_calls"}]}
        ]));
        let calls = &summary.output.tool_calls;
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].id.as_deref(), Some("call_a"));
        assert_eq!(calls[0].arguments.as_deref(), Some("{\"city\":\"Paris\"}"));
        assert_eq!(calls[1].name, "get_time");
        assert_eq!(calls[1].arguments.as_deref(), Some("{\"tz\":\"UTC\"}"));
        assert_eq!(summary.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn same_index_different_ids_split() {
        let summary = assemble(json!([
            {"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": "call_a", "function": {"name": "first", "arguments": "{}"}}]}}]},
            {"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": "call_b", "function": {"name": "second", "arguments": "{\"x\":"}}]}}]},
            {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]}
        ]));
        let calls = &summary.output.tool_calls;
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].summary(), "first({})");
        assert_eq!(calls[1].summary(), "second({\"x\":1})");
    }

    #[test]
    fn finish_reason_not_cleared_by_null() {
        let summary = assemble(json!([
            {"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "length"}]},
            {"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": null}]}
        ]));
        assert_eq!(summary.finish_reason.as_deref(), Some("length"));
    }

    #[test]
    fn groq_usage_under_x_groq() {
        let summary = assemble(json!([
            {"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"}],
             "x_groq": {"usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}}
        ]));
        assert_eq!(summary.usage.total_tokens, Some(4));
    }

    #[test]
    fn error_event_without_error_member() {
        let mut warnings = Warnings::default();
        let chunks = vec![
            json!({"choices": []}),
            json!({"message": "boom", "type": "server_error"}),
        ];
        let names = vec![None, Some("error".to_string())];
        let summary =
            assemble_openai_stream(&chunks, &names, "s", &mut warnings).expect("valid stream");
        let error = summary.error.expect("stream failed");
        assert_eq!(error.message.as_deref(), Some("boom"));
        assert_eq!(error.error_type.as_deref(), Some("server_error"));
    }

    #[test]
    fn non_object_chunk_rejected_with_position() {
        let mut warnings = Warnings::default();
        let chunks = vec![json!({"choices": []}), json!("[DONE]"), json!(42)];
        let error = assemble_openai_stream(&chunks, &[], "response.stream_chunks", &mut warnings)
            .expect_err("42 is not a chunk");
        assert_eq!(error.field, "response.stream_chunks[2]");
        assert_eq!(error.value, "42");
    }
}
