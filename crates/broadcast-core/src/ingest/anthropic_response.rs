//! Anthropic Messages responses, whole or streamed as server-sent events.
//!
//! `stop_reason` is mapped to the OpenAI finish reasons: `end_turn` and `stop_sequence` to
//! `stop`, `max_tokens` to `length`, `tool_use` to `tool_calls`. Any other value is kept as
//! it is, and the original is always kept as the native finish reason. Text blocks are
//! concatenated into the output text, `thinking` blocks into the reasoning, and `tool_use`
//! blocks become tool calls.
//! In a stream, `message_start` carries the id, model and input usage, `message_delta` the stop
//! reason and final output usage, and an `error` event fails the trace.

use serde_json::{Map, Value};

use super::anthropic_request::tool_use_call;
use super::coerce::{as_filled_text, as_text};
use super::error::{IngestError, Warnings};
use super::response::{non_empty, ResponseSummary};
use super::status::{read_body_error, read_error_value};
use super::stream::{chunk_object, is_done_sentinel};
use super::usage::{finish_anthropic_usage, merge_usage, read_anthropic_usage};
use crate::model::ToolCall;

/// Maps an Anthropic `stop_reason` to the finish reason used across APIs.
pub(crate) fn map_stop_reason(stop_reason: &str) -> String {
    match stop_reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        other => other,
    }
    .to_string()
}

/// Reads a whole Anthropic Messages response body (or an `{"type": "error"}` body).
pub(crate) fn read_anthropic_response(
    body: &Map<String, Value>,
    warnings: &mut Warnings,
) -> ResponseSummary {
    let mut usage = read_anthropic_usage(body.get("usage"), "response.usage", warnings);
    finish_anthropic_usage(&mut usage);
    let mut summary = ResponseSummary {
        id: as_filled_text(body.get("id")).map(str::to_string),
        model: as_filled_text(body.get("model")).map(str::to_string),
        usage,
        error: read_body_error(body.get("error")),
        ..ResponseSummary::default()
    };
    set_stop_reason(&mut summary, body.get("stop_reason"));

    let mut text = String::new();
    let mut reasoning = String::new();
    for block in body
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(as_text(block.get("text")).unwrap_or("")),
            Some("thinking") => {
                push_paragraph(&mut reasoning, as_text(block.get("thinking")).unwrap_or(""))
            }
            Some("tool_use") | Some("server_tool_use") => {
                summary.output.tool_calls.push(tool_use_call(block))
            }
            _ => {}
        }
    }
    summary.output.text = non_empty(text);
    summary.output.reasoning = non_empty(reasoning);
    summary
}

/// Assembles Anthropic stream events (JSON path `field`).
pub(crate) fn assemble_anthropic_stream(
    events: &[Value],
    field: &str,
    warnings: &mut Warnings,
) -> Result<ResponseSummary, IngestError> {
    let mut summary = ResponseSummary {
        streamed: true,
        ..ResponseSummary::default()
    };
    let mut blocks: Vec<Block> = Vec::new();

    for (position, event) in events.iter().enumerate() {
        if is_done_sentinel(event) {
            continue;
        }
        let event_field = format!("{field}[{position}]");
        let object = chunk_object(event, &event_field)?;
        match as_text(object.get("type")).unwrap_or("") {
            "message_start" => {
                let message = object.get("message");
                let text = |key: &str| {
                    message
                        .and_then(|message| as_filled_text(message.get(key)))
                        .map(str::to_string)
                };
                summary.id = summary.id.take().or(text("id"));
                summary.model = summary.model.take().or(text("model"));
                let usage_field = format!("{event_field}.message.usage");
                let usage = read_anthropic_usage(
                    message.and_then(|message| message.get("usage")),
                    &usage_field,
                    warnings,
                );
                merge_usage(&mut summary.usage, usage);
            }
            "content_block_start" => {
                let index = object.get("index").and_then(Value::as_u64);
                blocks.push(Block::start(index, object.get("content_block")));
            }
            "content_block_delta" => {
                let index = object.get("index").and_then(Value::as_u64);
                let block = blocks.iter_mut().rev().find(|block| block.index == index);
                if let (Some(block), Some(delta)) = (block, object.get("delta")) {
                    block.apply(delta);
                }
            }
            "message_delta" => {
                let delta = object.get("delta");
                set_stop_reason(
                    &mut summary,
                    delta.and_then(|delta| delta.get("stop_reason")),
                );
                let usage = read_anthropic_usage(
                    object.get("usage"),
                    &format!("{event_field}.usage"),
                    warnings,
                );
                merge_usage(&mut summary.usage, usage);
            }
            "error" => {
                let error = object.get("error").map(read_error_value);
                summary.error = error.or_else(|| Some(read_error_value(event)));
            }
            // `ping`, `content_block_stop` and `message_stop` carry nothing to keep.
            _ => {}
        }
    }

    finish_anthropic_usage(&mut summary.usage);
    let mut text = String::new();
    let mut reasoning = String::new();
    for block in blocks {
        match block.kind {
            BlockKind::Text => text.push_str(&block.text),
            BlockKind::Thinking => push_paragraph(&mut reasoning, &block.text),
            BlockKind::ToolUse(mut call) => {
                // Streamed arguments replace the empty `input` of `content_block_start`.
                if let Some(arguments) = block.partial_json {
                    call.arguments = Some(arguments);
                }
                summary.output.tool_calls.push(call);
            }
            BlockKind::Other => {}
        }
    }
    summary.output.text = non_empty(text);
    summary.output.reasoning = non_empty(reasoning);
    Ok(summary)
}

fn set_stop_reason(summary: &mut ResponseSummary, stop_reason: Option<&Value>) {
    if let Some(reason) = as_text(stop_reason).filter(|reason| !reason.is_empty()) {
        summary.finish_reason = Some(map_stop_reason(reason));
        summary.native_finish_reason = Some(reason.to_string());
    }
}

/// Appends `piece` to `text`, separated by a blank line from earlier thinking blocks.
fn push_paragraph(text: &mut String, piece: &str) {
    if piece.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(piece);
}

/// One content block of a stream, filled by its deltas.
struct Block {
    index: Option<u64>,
    kind: BlockKind,
    text: String,
    /// `input_json_delta` fragments of a tool-use block, if any arrived.
    partial_json: Option<String>,
}

enum BlockKind {
    Text,
    Thinking,
    ToolUse(ToolCall),
    Other,
}

impl Block {
    fn start(index: Option<u64>, content_block: Option<&Value>) -> Block {
        let text_of = |key: &str| {
            content_block
                .and_then(|block| as_text(block.get(key)))
                .unwrap_or("")
                .to_string()
        };
        let (kind, text) = match content_block.and_then(|block| as_text(block.get("type"))) {
            Some("text") => (BlockKind::Text, text_of("text")),
            Some("thinking") => (BlockKind::Thinking, text_of("thinking")),
            Some("tool_use") | Some("server_tool_use") => {
                let block = content_block.unwrap_or(&Value::Null);
                (BlockKind::ToolUse(tool_use_call(block)), String::new())
            }
            _ => (BlockKind::Other, String::new()),
        };
        Block {
            index,
            kind,
            text,
            partial_json: None,
        }
    }

    fn apply(&mut self, delta: &Value) {
        let piece = |key: &str| as_text(delta.get(key)).unwrap_or("");
        match as_text(delta.get("type")) {
            Some("text_delta") => self.text.push_str(piece("text")),
            Some("thinking_delta") => self.text.push_str(piece("thinking")),
            Some("input_json_delta") => {
                self.partial_json
                    .get_or_insert_with(String::new)
                    .push_str(piece("partial_json"));
            }
            // `signature_delta` and `citations_delta` carry nothing readable.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stop_reasons_mapped() {
        assert_eq!(map_stop_reason("end_turn"), "stop");
        assert_eq!(map_stop_reason("max_tokens"), "length");
        assert_eq!(map_stop_reason("tool_use"), "tool_calls");
        assert_eq!(map_stop_reason("stop_sequence"), "stop");
        assert_eq!(map_stop_reason("refusal"), "refusal");
    }

    #[test]
    fn stream_tool_use_arguments_assembled() {
        let mut warnings = Warnings::default();
        let events = json!([
            {"type": "message_start", "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 10, "output_tokens": 1}}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"name\":"}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "\"Bob\"}"}},
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}},
            {"type": "message_stop"}
        ]);
        let events = events.as_array().cloned().unwrap_or_default();
        let summary = assemble_anthropic_stream(&events, "response.stream_chunks", &mut warnings)
            .expect("valid stream");
        assert_eq!(
            summary.output.tool_calls[0].arguments.as_deref(),
            Some("{\"name\":\"Bob\"}")
        );
        assert_eq!(summary.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(summary.native_finish_reason.as_deref(), Some("tool_use"));
        assert_eq!(summary.usage.prompt_tokens, Some(10));
        assert_eq!(summary.usage.completion_tokens, Some(20));
        assert_eq!(summary.usage.total_tokens, Some(30));
    }

    #[test]
    fn stream_error_event_fails() {
        let mut warnings = Warnings::default();
        let events = vec![
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ];
        let summary = assemble_anthropic_stream(&events, "s", &mut warnings).expect("valid stream");
        let error = summary.error.expect("stream failed");
        assert_eq!(error.error_type.as_deref(), Some("overloaded_error"));
    }
}
