//! Detection of the API shape when the envelope has no `provider_api`.
//!
//! Rules, first match wins:
//! 1. Anthropic Messages, when one of these holds:
//!    - the response has `type` `"message"`, or `"error"` as Anthropic error bodies do;
//!    - the first stream event has `type` `"message_start"`;
//!    - the request has a top-level `system` and `max_tokens`, and every message has role
//!      `user` or `assistant`, no OpenAI-only part types and no `tool_calls`.
//! 2. OpenRouter: the response (or the first stream chunk) has an id starting with `gen-` or a
//!    string `provider`.
//! 3. Legacy completions: the request has `prompt` and no `messages`.
//! 4. Otherwise OpenAI chat.

use serde_json::{Map, Value};

use super::envelope::ResponseBody;
use crate::model::ProviderApi;

/// Content part types that only the OpenAI chat shape uses.
const OPENAI_ONLY_PARTS: [&str; 4] = ["image_url", "input_audio", "file", "video_url"];

/// Detects the API shape from the request and response.
pub(crate) fn sniff_provider_api(
    request: &Map<String, Value>,
    response: &ResponseBody<'_>,
) -> ProviderApi {
    let first_object = match response {
        ResponseBody::Body(body) => Some(*body),
        ResponseBody::Stream { chunks, .. } => chunks.iter().find_map(Value::as_object),
        ResponseBody::None | ResponseBody::Text(_) => None,
    };

    let response_type = first_object
        .and_then(|object| object.get("type"))
        .and_then(Value::as_str);
    if matches!(response_type, Some("message" | "error" | "message_start"))
        || has_anthropic_request_shape(request)
    {
        return ProviderApi::AnthropicMessages;
    }

    if let Some(object) = first_object {
        let gen_id = object
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| id.starts_with("gen-"));
        let names_provider = object.get("provider").is_some_and(Value::is_string);
        if gen_id || names_provider {
            return ProviderApi::Openrouter;
        }
    }

    if request.contains_key("prompt") && !request.contains_key("messages") {
        return ProviderApi::OpenaiCompletions;
    }
    ProviderApi::OpenaiChat
}

fn has_anthropic_request_shape(request: &Map<String, Value>) -> bool {
    if !request.contains_key("system") || !request.contains_key("max_tokens") {
        return false;
    }
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return false;
    };
    messages.iter().all(is_anthropic_message)
}

fn is_anthropic_message(message: &Value) -> bool {
    let role = message.get("role").and_then(Value::as_str);
    if !matches!(role, Some("user" | "assistant")) || message.get("tool_calls").is_some() {
        return false;
    }
    match message.get("content") {
        Some(Value::String(_)) => true,
        Some(Value::Array(blocks)) => blocks.iter().all(|block| {
            let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
            !OPENAI_ONLY_PARTS.contains(&kind)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sniff(request: Value, response: Value) -> ProviderApi {
        let request = request.as_object().cloned().unwrap_or_default();
        match response.as_object() {
            Some(body) => sniff_provider_api(&request, &ResponseBody::Body(body)),
            None => sniff_provider_api(&request, &ResponseBody::None),
        }
    }

    #[test]
    fn anthropic_by_response_type() {
        assert_eq!(
            sniff(json!({"messages": []}), json!({"type": "message"})),
            ProviderApi::AnthropicMessages
        );
    }

    #[test]
    fn anthropic_by_request_shape() {
        let request = json!({"system": "s", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]});
        assert_eq!(sniff(request, Value::Null), ProviderApi::AnthropicMessages);
    }

    #[test]
    fn anthropic_by_stream_start() {
        let chunks = vec![json!({"type": "message_start", "message": {}})];
        let request = Map::new();
        let body = ResponseBody::Stream {
            chunks: &chunks,
            event_names: Vec::new(),
            field: "stream_chunks",
        };
        assert_eq!(
            sniff_provider_api(&request, &body),
            ProviderApi::AnthropicMessages
        );
    }

    #[test]
    fn system_message_list_is_not_anthropic() {
        let request = json!({"system": "s", "max_tokens": 10, "messages": [{"role": "system", "content": "x"}]});
        assert_eq!(sniff(request, Value::Null), ProviderApi::OpenaiChat);
    }

    #[test]
    fn openrouter_by_gen_id_or_provider() {
        assert_eq!(
            sniff(json!({"messages": []}), json!({"id": "gen-1"})),
            ProviderApi::Openrouter
        );
        assert_eq!(
            sniff(
                json!({"messages": []}),
                json!({"id": "x", "provider": "Google"})
            ),
            ProviderApi::Openrouter
        );
    }

    #[test]
    fn completions_by_prompt() {
        assert_eq!(
            sniff(json!({"prompt": "hi"}), Value::Null),
            ProviderApi::OpenaiCompletions
        );
        assert_eq!(
            sniff(json!({"messages": []}), Value::Null),
            ProviderApi::OpenaiChat
        );
    }
}
