//! The request side of a trace: messages and tool definitions in the OpenAI chat shape, the
//! legacy completions `prompt`, and dispatch to the Anthropic reader.

use serde_json::{Map, Value};

use super::anthropic_request;
use super::coerce::{as_filled_text, as_text};
use super::content::read_content;
use super::error::IngestError;
use crate::model::{ContentPart, Input, Message, ProviderApi, Role, ToolCall, ToolDefinition};

/// Reads the input of `request` (already checked to be an object) for the given API shape.
pub(crate) fn read_input(
    api: ProviderApi,
    request: &Map<String, Value>,
) -> Result<Input, IngestError> {
    let tools = read_tool_definitions(request);
    match api {
        ProviderApi::AnthropicMessages => anthropic_request::read_input(request, tools),
        ProviderApi::OpenaiCompletions if !request.contains_key("messages") => Ok(Input {
            system: Vec::new(),
            messages: read_prompt(request.get("prompt")),
            tools,
        }),
        _ => Ok(Input {
            system: Vec::new(),
            messages: read_chat_messages(request.get("messages"))?,
            tools,
        }),
    }
}

/// Checks that `messages` is an array of objects and returns it; absent or null gives `None`.
pub(crate) fn messages_array(value: Option<&Value>) -> Result<Option<&Vec<Value>>, IngestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(messages)) => Ok(Some(messages)),
        Some(other) => Err(IngestError::invalid(
            "request.messages",
            other,
            "expected an array of message objects; send the request body as the provider received it",
        )),
    }
}

/// Returns the message at `position` as an object, or an error naming its path.
pub(crate) fn message_object(
    message: &Value,
    position: usize,
) -> Result<&Map<String, Value>, IngestError> {
    message.as_object().ok_or_else(|| {
        IngestError::invalid(
            format!("request.messages[{position}]"),
            message,
            "expected a message object with `role` and `content`",
        )
    })
}

/// Returns the `role` of a message, or an error naming its path.
pub(crate) fn message_role(
    message: &Map<String, Value>,
    position: usize,
) -> Result<Role, IngestError> {
    let field = format!("request.messages[{position}].role");
    match message.get("role") {
        Some(Value::String(role)) => Ok(Role::parse(role)),
        Some(other) => Err(IngestError::invalid(
            field,
            other,
            "expected the role as a string such as \"user\"",
        )),
        None => Err(IngestError::missing(
            field,
            "every message needs a `role` such as \"user\"",
        )),
    }
}

/// Reads OpenAI-shape chat messages.
fn read_chat_messages(value: Option<&Value>) -> Result<Vec<Message>, IngestError> {
    let Some(messages) = messages_array(value)? else {
        return Ok(Vec::new());
    };
    let mut read = Vec::with_capacity(messages.len());
    for (position, message) in messages.iter().enumerate() {
        let object = message_object(message, position)?;
        let role = message_role(object, position)?;
        let content = read_content(
            object.get("content"),
            &format!("request.messages[{position}].content"),
        )?;
        let mut tool_calls = read_tool_calls(object.get("tool_calls"));
        tool_calls.extend(read_function_call(object.get("function_call")));
        read.push(Message {
            role,
            content,
            tool_calls,
            tool_call_id: as_text(object.get("tool_call_id")).map(str::to_string),
            name: as_text(object.get("name")).map(str::to_string),
        });
    }
    Ok(read)
}

/// Reads the legacy completions `prompt`: a string, an array of strings, or token arrays.
fn read_prompt(prompt: Option<&Value>) -> Vec<Message> {
    let mut content = Vec::new();
    match prompt {
        Some(Value::String(text)) => content.push(ContentPart::Text { text: text.clone() }),
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(text) => content.push(ContentPart::Text { text: text.clone() }),
                    // A prompt of token ids has no text to show.
                    _ => content.push(ContentPart::Other {
                        kind: "token_ids".to_string(),
                    }),
                }
            }
        }
        _ => {}
    }
    if content.is_empty() {
        return Vec::new();
    }
    vec![Message {
        role: Role::User,
        content,
        tool_calls: Vec::new(),
        tool_call_id: None,
        name: None,
    }]
}

/// Reads OpenAI `tool_calls`: `[{id, type, function: {name, arguments}}]`.
///
/// Calls without a function name are kept with an empty name, and `arguments` sent as a JSON
/// object (some OpenAI-compatible servers do) are kept as compact JSON text.
pub(crate) fn read_tool_calls(value: Option<&Value>) -> Vec<ToolCall> {
    let Some(calls) = value.and_then(Value::as_array) else {
        return Vec::new();
    };
    calls
        .iter()
        .filter_map(Value::as_object)
        .map(|call| {
            let function = call.get("function").and_then(Value::as_object);
            ToolCall {
                id: as_filled_text(call.get("id")).map(str::to_string),
                name: function
                    .and_then(|function| as_text(function.get("name")))
                    .unwrap_or("")
                    .to_string(),
                arguments: function.and_then(|function| arguments_text(function.get("arguments"))),
            }
        })
        .collect()
}

/// Reads the legacy `function_call: {name, arguments}`. A call without a name is a blank
/// placeholder (Snowflake Cortex sends `{"name": "", "arguments": ""}`) and gives `None`.
pub(crate) fn read_function_call(value: Option<&Value>) -> Option<ToolCall> {
    let call = value?.as_object()?;
    let name = as_filled_text(call.get("name"))?;
    Some(ToolCall {
        id: None,
        name: name.to_string(),
        arguments: arguments_text(call.get("arguments")),
    })
}

/// Returns tool arguments as text: strings as given, other JSON compacted, null as `None`.
pub(crate) fn arguments_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// Reads tool definitions: OpenAI `tools[].function`, legacy `functions[]` and Anthropic
/// `tools[]` with `input_schema`. Built-in tools without a function (`{"type":
/// "openrouter:web_search"}`) are named by their `name`, else their `type`.
fn read_tool_definitions(request: &Map<String, Value>) -> Vec<ToolDefinition> {
    let tools = request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let functions = request
        .get("functions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    tools
        .chain(functions)
        .filter_map(Value::as_object)
        .filter_map(|tool| {
            let function = tool
                .get("function")
                .and_then(Value::as_object)
                .unwrap_or(tool);
            let name = as_text(function.get("name")).or(as_text(tool.get("type")))?;
            let parameters = function
                .get("parameters")
                .or(function.get("input_schema"))
                .filter(|schema| !schema.is_null())
                .cloned();
            Some(ToolDefinition {
                name: name.to_string(),
                description: as_text(function.get("description")).map(str::to_string),
                parameters,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(request: Value) -> Result<Input, IngestError> {
        let object = request.as_object().cloned().unwrap_or_default();
        read_input(ProviderApi::OpenaiChat, &object)
    }

    #[test]
    fn assistant_null_content_with_tool_calls() {
        let read = input(json!({"messages": [
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"A\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\": 21}"}
        ]}))
        .expect("valid request");
        assert!(read.messages[0].content.is_empty());
        assert_eq!(read.messages[0].tool_calls[0].name, "get_weather");
        assert_eq!(
            read.messages[0].tool_calls[0].arguments.as_deref(),
            Some("{\"city\":\"A\"}")
        );
        assert_eq!(read.messages[1].role, Role::Tool);
        assert_eq!(read.messages[1].tool_call_id.as_deref(), Some("call_1"));
        assert_eq!(read.messages[1].text().as_deref(), Some("{\"temp_c\": 21}"));
    }

    #[test]
    fn legacy_function_call_and_functions() {
        let read = input(json!({
            "functions": [{"name": "lookup", "description": "Find", "parameters": {"type": "object"}}],
            "messages": [{"role": "assistant", "content": null, "function_call": {"name": "lookup", "arguments": "{}"}},
                         {"role": "function", "name": "lookup", "content": "found"}]
        }))
        .expect("valid request");
        assert_eq!(read.tools[0].name, "lookup");
        assert_eq!(read.tools[0].description.as_deref(), Some("Find"));
        assert_eq!(read.messages[0].tool_calls[0].name, "lookup");
        assert_eq!(read.messages[0].tool_calls[0].id, None);
        assert_eq!(read.messages[1].role, Role::Tool);
        assert_eq!(read.messages[1].name.as_deref(), Some("lookup"));
    }

    #[test]
    fn builtin_tool_named_by_type() {
        let read = input(json!({"tools": [{"type": "openrouter:web_search", "parameters": {"max_uses": 1}}], "messages": []}))
            .expect("valid request");
        assert_eq!(read.tools[0].name, "openrouter:web_search");
    }

    #[test]
    fn messages_not_array_rejected() {
        let error =
            input(json!({"messages": "hello"})).expect_err("a string is not a message list");
        assert_eq!(error.field, "request.messages");
        assert_eq!(error.value, "\"hello\"");
        assert!(error.message.contains("array"));
    }

    #[test]
    fn message_not_object_rejected() {
        let error = input(json!({"messages": [{"role": "user", "content": "a"}, 3]}))
            .expect_err("3 is not a message");
        assert_eq!(error.field, "request.messages[1]");
        assert_eq!(error.value, "3");
    }

    #[test]
    fn message_without_role_rejected() {
        let error = input(json!({"messages": [{"content": "a"}]})).expect_err("role is required");
        assert_eq!(error.field, "request.messages[0].role");
        assert_eq!(error.value, "<missing>");
    }

    #[test]
    fn completions_prompt_array_read() {
        let object = json!({"prompt": ["안녕", "두 번째"]});
        let read = read_input(
            ProviderApi::OpenaiCompletions,
            object.as_object().expect("object literal"),
        )
        .expect("valid request");
        assert_eq!(read.messages.len(), 1);
        assert_eq!(read.messages[0].text().as_deref(), Some("안녕\n두 번째"));
    }
}
