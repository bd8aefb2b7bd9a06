//! Anthropic Messages requests: top-level `system` and block-shaped messages.
//!
//! The trace model follows the OpenAI message shape, so blocks are mapped onto it:
//! - `tool_use` blocks in an assistant message become its tool calls, with the compact JSON
//!   of `input` as arguments.
//! - Each `tool_result` block in a user message becomes its own message with role `tool` and
//!   `tool_call_id` set, placed where the block was.
//! - The other blocks of that user message stay in user messages, in order around the tool
//!   results.

use serde_json::{Map, Value};

use super::coerce::as_text;
use super::content::{read_content, read_part};
use super::error::IngestError;
use super::request::{message_object, message_role, messages_array};
use crate::model::{ContentPart, Input, Message, Role, ToolCall, ToolDefinition};

/// Reads the input of an Anthropic Messages request.
pub(crate) fn read_input(
    request: &Map<String, Value>,
    tools: Vec<ToolDefinition>,
) -> Result<Input, IngestError> {
    let system = read_content(request.get("system"), "request.system")?;
    let mut messages = Vec::new();
    if let Some(items) = messages_array(request.get("messages"))? {
        for (position, message) in items.iter().enumerate() {
            let object = message_object(message, position)?;
            let role = message_role(object, position)?;
            read_message(object, role, position, &mut messages)?;
        }
    }
    Ok(Input {
        system,
        messages,
        tools,
    })
}

/// Appends one Anthropic message to `messages`, split around its `tool_result` blocks.
fn read_message(
    object: &Map<String, Value>,
    role: Role,
    position: usize,
    messages: &mut Vec<Message>,
) -> Result<(), IngestError> {
    let field = format!("request.messages[{position}].content");
    let blocks = match object.get("content") {
        Some(Value::Array(blocks)) => blocks,
        other => {
            // A string (or null) content has no blocks to map.
            messages.push(plain_message(role, read_content(other, &field)?));
            return Ok(());
        }
    };

    let mut current = plain_message(role.clone(), Vec::new());
    for (index, block) in blocks.iter().enumerate() {
        let block_field = format!("{field}[{index}]");
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "tool_use" | "server_tool_use" => current.tool_calls.push(tool_use_call(block)),
            "tool_result" => {
                if !current.content.is_empty() || !current.tool_calls.is_empty() {
                    messages.push(std::mem::replace(
                        &mut current,
                        plain_message(role.clone(), Vec::new()),
                    ));
                }
                messages.push(tool_result_message(block, &block_field)?);
            }
            _ => {
                if let Some(part) = read_part(block, &block_field)? {
                    current.content.push(part);
                }
            }
        }
    }
    // An empty block list still records that the turn happened.
    if !current.content.is_empty() || !current.tool_calls.is_empty() || blocks.is_empty() {
        messages.push(current);
    }
    Ok(())
}

/// Maps a `tool_use` block to a tool call; `input` becomes its compact JSON arguments.
pub(crate) fn tool_use_call(block: &Value) -> ToolCall {
    ToolCall {
        id: as_text(block.get("id")).map(str::to_string),
        name: as_text(block.get("name")).unwrap_or("").to_string(),
        arguments: block
            .get("input")
            .filter(|input| !input.is_null())
            .map(Value::to_string),
    }
}

/// Maps a `tool_result` block to a message with role `tool`.
fn tool_result_message(block: &Value, field: &str) -> Result<Message, IngestError> {
    let content = read_content(block.get("content"), &format!("{field}.content"))?;
    Ok(Message {
        role: Role::Tool,
        content,
        tool_calls: Vec::new(),
        tool_call_id: as_text(block.get("tool_use_id")).map(str::to_string),
        name: None,
    })
}

fn plain_message(role: Role, content: Vec<ContentPart>) -> Message {
    Message {
        role,
        content,
        tool_calls: Vec::new(),
        tool_call_id: None,
        name: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(request: Value) -> Input {
        let object = request.as_object().cloned().unwrap_or_default();
        read_input(&object, Vec::new()).expect("valid Anthropic request")
    }

    #[test]
    fn system_blocks_and_string() {
        let from_string = input(json!({"system": "Be brief.", "messages": []}));
        assert_eq!(
            from_string.system,
            vec![ContentPart::Text {
                text: "Be brief.".into()
            }]
        );
        let from_blocks = input(
            json!({"system": [{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}}], "messages": []}),
        );
        assert_eq!(
            from_blocks.system,
            vec![ContentPart::Text { text: "A".into() }]
        );
    }

    #[test]
    fn tool_use_and_results_split() {
        let read = input(json!({"messages": [
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"name": "Alice"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "alice is 30"},
                {"type": "text", "text": "And Bob?"}]}
        ]}));
        assert_eq!(read.messages.len(), 3);
        assert_eq!(read.messages[0].role, Role::Assistant);
        assert_eq!(read.messages[0].text().as_deref(), Some("Checking."));
        assert_eq!(
            read.messages[0].tool_calls[0].arguments.as_deref(),
            Some("{\"name\":\"Alice\"}")
        );
        assert_eq!(read.messages[1].role, Role::Tool);
        assert_eq!(read.messages[1].tool_call_id.as_deref(), Some("toolu_1"));
        assert_eq!(read.messages[1].text().as_deref(), Some("alice is 30"));
        assert_eq!(read.messages[2].role, Role::User);
        assert_eq!(read.messages[2].text().as_deref(), Some("And Bob?"));
    }

    #[test]
    fn thinking_block_kept_by_name() {
        let read = input(json!({"messages": [{"role": "assistant", "content": [
            {"type": "thinking", "thinking": "secret plan", "signature": "sig"},
            {"type": "text", "text": "Hi"}]}]}));
        assert_eq!(
            read.messages[0].content[0],
            ContentPart::Other {
                kind: "thinking".into()
            }
        );
        assert_eq!(read.messages[0].text().as_deref(), Some("Hi"));
    }

    #[test]
    fn tool_result_with_image_block() {
        let read = input(json!({"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}}]}]}]}));
        assert_eq!(read.messages.len(), 1);
        assert!(matches!(
            read.messages[0].content[0],
            ContentPart::Image {
                inline_bytes: Some(3),
                ..
            }
        ));
    }
}
