//! The trace model: one LLM generation as a gateway saw it.
//!
//! The shape follows an OpenTelemetry trace: a trace (named by `trace_name`), an optional
//! intermediate span (`span_name`) and the generation itself (`generation_name`). Every id a
//! destination needs is derived once, at ingest, and stored with the trace, so a retry or a
//! re-send of the same trace carries the same ids.
//!
//! Content fields (messages, output, reasoning, tool arguments and results, error text) are the
//! ones the privacy filter removes; everything else is metadata that every destination may see.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One normalised LLM request/response pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub ids: TraceIds,
    pub names: TraceNames,
    pub account_id: String,
    /// The end user (`user` in OpenAI-style requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_name: Option<String>,
    pub model: ModelInfo,
    pub input: Input,
    /// Request parameters such as `temperature`, `max_tokens` and `top_p`, with their JSON types.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
    pub output: Output,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// The upstream provider's own finish reason, when it differs in form (OpenRouter, Anthropic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_finish_reason: Option<String>,
    pub usage: Usage,
    /// Cost of the request in US dollars, kept as a decimal so that no float rounding creeps in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<Decimal>,
    pub timing: Timing,
    pub streamed: bool,
    pub status: Status,
    /// Custom metadata: every `trace` key that is not one of the five special ones.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// Set by the privacy filter; destinations can state it in what they send.
    #[serde(default)]
    pub content_redacted: bool,
}

/// Identifiers of the trace, its spans and the generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceIds {
    /// The caller's `trace.trace_id` when given, otherwise 32 lowercase hex digits derived from
    /// the envelope.
    pub trace_id: String,
    /// A UUID derived from the envelope: the same envelope always gets the same id.
    pub generation_id: String,
    /// 16 hex digits, derived.
    pub root_span_id: String,
    /// 16 hex digits, derived; present only when `span_name` was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// 16 hex digits, derived.
    pub generation_span_id: String,
    /// The caller's `trace.parent_span_id`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// The provider's response id (`chatcmpl-…`, `gen-…`, `msg_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
}

/// Names the caller gave through the special `trace` keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceNames {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_name: Option<String>,
}

/// Which model was asked for, which one answered, and who served it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<String>,
    /// The provider that served the request (`openai`, `anthropic`, `Google`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The API shape of the recorded bodies.
    pub provider_api: ProviderApi,
}

impl ModelInfo {
    /// Returns the served model, or the requested one when the response named none.
    pub fn name(&self) -> Option<&str> {
        self.served.as_deref().or(self.requested.as_deref())
    }
}

/// The API shape of a request/response pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderApi {
    #[default]
    Openrouter,
    OpenaiChat,
    OpenaiCompatibleChat,
    AzureOpenaiChat,
    AnthropicMessages,
    /// The legacy `/v1/completions` shape (`prompt` in, `choices[].text` out).
    OpenaiCompletions,
}

impl ProviderApi {
    pub const ALL: [ProviderApi; 6] = [
        ProviderApi::Openrouter,
        ProviderApi::OpenaiChat,
        ProviderApi::OpenaiCompatibleChat,
        ProviderApi::AzureOpenaiChat,
        ProviderApi::AnthropicMessages,
        ProviderApi::OpenaiCompletions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderApi::Openrouter => "openrouter",
            ProviderApi::OpenaiChat => "openai-chat",
            ProviderApi::OpenaiCompatibleChat => "openai-compatible-chat",
            ProviderApi::AzureOpenaiChat => "azure-openai-chat",
            ProviderApi::AnthropicMessages => "anthropic-messages",
            ProviderApi::OpenaiCompletions => "openai-completions",
        }
    }

    pub fn parse(text: &str) -> Option<ProviderApi> {
        ProviderApi::ALL.into_iter().find(|api| api.as_str() == text)
    }
}

/// What the model was given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// System instructions given outside the message list (Anthropic's `system`). System
    /// messages inside `messages` stay there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<ContentPart>,
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Tool definitions offered to the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
}

impl Input {
    /// Returns the text of the latest message with role `user`, its text parts joined by
    /// newlines, or `None` when no user message has text.
    pub fn latest_user_text(&self) -> Option<String> {
        self.messages
            .iter()
            .rev()
            .filter(|message| message.role == Role::User)
            .find_map(|message| message.text())
    }
}

/// The role of a message author.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
    /// Any other role string, kept as given.
    #[serde(untagged)]
    Other(String),
}

impl Role {
    pub fn parse(text: &str) -> Role {
        match text {
            "system" => Role::System,
            "developer" => Role::Developer,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" | "function" => Role::Tool,
            other => Role::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Other(other) => other,
        }
    }
}

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: Vec<ContentPart>,
    /// Tool calls an assistant message made (OpenAI `tool_calls`, Anthropic `tool_use` blocks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool result: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    /// Returns the text parts joined by newlines, or `None` when there are none.
    pub fn text(&self) -> Option<String> {
        join_text(&self.content)
    }
}

/// Joins the text parts of `parts` with newlines; `None` when there is no text part.
pub fn join_text(parts: &[ContentPart]) -> Option<String> {
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    if texts.is_empty() {
        None
    } else {
        Some(texts.join("\n"))
    }
}

/// A typed piece of message content.
///
/// Inline binary data (base64 images, audio, files) is never kept: only its media type and its
/// decoded size in bytes, so that no destination can paste base64 into a text field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text {
        text: String,
    },
    Image {
        /// An http(s) URL; `None` for inline data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
        /// Size of the inline data after base64 decoding.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inline_bytes: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    Audio {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inline_bytes: Option<u64>,
    },
    File {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inline_bytes: Option<u64>,
    },
    /// A part type this version does not model (for example Anthropic `thinking` blocks in the
    /// history), kept by name only.
    Other {
        kind: String,
    },
}

impl ContentPart {
    /// Returns a short readable placeholder for a non-text part, such as
    /// `[input_audio wav, 12 B]`, for destinations that only take text.
    pub fn placeholder(&self) -> Option<String> {
        match self {
            ContentPart::Text { .. } => None,
            ContentPart::Image { url: Some(url), .. } => Some(format!("[image {url}]")),
            ContentPart::Image {
                media_type,
                inline_bytes,
                ..
            } => Some(describe_inline("image", media_type.as_deref(), *inline_bytes)),
            ContentPart::Audio {
                format,
                inline_bytes,
            } => Some(describe_inline("input_audio", format.as_deref(), *inline_bytes)),
            ContentPart::File {
                filename,
                media_type,
                inline_bytes,
                ..
            } => Some(describe_inline(
                "file",
                filename.as_deref().or(media_type.as_deref()),
                *inline_bytes,
            )),
            ContentPart::Other { kind } => Some(format!("[{kind}]")),
        }
    }
}

fn describe_inline(kind: &str, detail: Option<&str>, bytes: Option<u64>) -> String {
    let mut text = format!("[{kind}");
    if let Some(detail) = detail {
        text.push(' ');
        text.push_str(detail);
    }
    if let Some(bytes) = bytes {
        text.push_str(", ");
        text.push_str(&crate::text::human_bytes(bytes));
    }
    text.push(']');
    text
}

/// A tool the model was offered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of the tool's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// A call the model made to a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    /// The arguments exactly as the model produced them (usually a JSON object as text);
    /// `None` when the call carried no arguments at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

impl ToolCall {
    /// Returns the arguments parsed as JSON, or `None` when absent or not valid JSON.
    pub fn arguments_json(&self) -> Option<Value> {
        serde_json::from_str(self.arguments.as_deref()?).ok()
    }

    /// Returns a readable one-line summary such as `get_weather({"city":"Paris"})`.
    pub fn summary(&self) -> String {
        format!("{}({})", self.name, self.arguments.as_deref().unwrap_or(""))
    }
}

/// What the model produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The completion text of the first choice; `None` when the model produced no text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Reasoning or thinking text, kept apart from the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

impl Output {
    /// Returns the completion text, or when there is none a summary of the tool calls, one per
    /// line; `None` when there is neither.
    pub fn text_or_tool_summary(&self) -> Option<String> {
        if let Some(text) = self.text.as_deref().filter(|text| !text.is_empty()) {
            return Some(text.to_string());
        }
        if self.tool_calls.is_empty() {
            return None;
        }
        let lines: Vec<String> = self.tool_calls.iter().map(ToolCall::summary).collect();
        Some(lines.join("\n"))
    }
}

/// Token counts as the provider reported them. Completion tokens include reasoning tokens
/// when the provider counts them that way; nothing here is recomputed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    /// Prompt tokens read from the provider's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Prompt tokens written to the provider's cache (Anthropic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    /// Returns the total, or prompt plus completion when the provider gave no total.
    pub fn total(&self) -> Option<u64> {
        self.total_tokens.or_else(|| {
            Some(self.prompt_tokens?.checked_add(self.completion_tokens?)?)
        })
    }
}

/// When the request started, produced its first token and ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    /// False when the envelope gave no latency and not both start and end: the times are then
    /// an estimate of when the request happened, and the duration is unknown.
    #[serde(default = "duration_known_default")]
    pub duration_known: bool,
}

fn duration_known_default() -> bool {
    true
}

impl Timing {
    /// Returns the duration in milliseconds, or `None` when the envelope did not give it.
    pub fn duration_ms(&self) -> Option<i64> {
        if !self.duration_known {
            return None;
        }
        Some((self.ended_at - self.started_at).num_milliseconds().max(0))
    }

    pub fn time_to_first_token_ms(&self) -> Option<i64> {
        let first = self.first_token_at?;
        Some((first - self.started_at).num_milliseconds().max(0))
    }
}

/// Whether the request succeeded, and why not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The provider's error type, such as `invalid_request_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// The provider's error code, such as `context_length_exceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The provider's error message. It may echo content, so the privacy filter removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    #[default]
    Ok,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
        }
    }
}
