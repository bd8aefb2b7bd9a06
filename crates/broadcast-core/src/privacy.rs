//! The privacy filter: the one place where privacy mode is applied.
//!
//! A destination only ever receives an [`ExportTrace`], and the only way to make one is
//! [`PrivacyMode::apply`]. A destination in privacy mode therefore cannot read content even by
//! mistake: the engine hands it nothing else.
//!
//! Privacy mode removes all content and keeps what is needed to count, cost and time requests:
//!
//! - removed: input messages and system prompt, output text, reasoning, tool call arguments,
//!   tool results, tool descriptions and schemas, and the provider's error message (it often
//!   echoes the prompt);
//! - kept: ids, names, model, provider, tool names, tokens, cost, timing, finish reason, status
//!   (outcome, HTTP status, error type and code) and custom metadata;
//! - custom metadata is kept, but any string in it that repeats content (a copy of a prompt or
//!   a tool output that a gateway put there) is replaced by [`REDACTED`], and so is any value
//!   under a key that conventionally carries content (`messages`, `prompt`, `input`, …).

use std::collections::HashSet;
use std::ops::Deref;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::model::{ContentPart, Trace};

/// What replaces a removed value.
pub const REDACTED: &str = "[REDACTED]";

/// Metadata keys whose object, array or string value is treated as content in privacy mode.
const CONTENT_KEYS: &[&str] = &[
    "messages",
    "message",
    "prompt",
    "prompts",
    "completion",
    "completions",
    "input",
    "inputs",
    "output",
    "outputs",
    "content",
    "contents",
    "request_body",
    "response_body",
    "body",
];

/// Shortest word of content that marks a metadata string as a copy of content. Shorter words
/// ("record", "lookup") are too common to tell a copy from a coincidence.
const MIN_DISTINCTIVE_WORD_CHARS: usize = 8;

/// A destination's privacy setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivacyMode {
    /// Send everything.
    #[default]
    Off,
    /// Send no prompt, completion or other content.
    On,
}

impl PrivacyMode {
    pub fn from_flag(privacy_mode: bool) -> Self {
        if privacy_mode {
            PrivacyMode::On
        } else {
            PrivacyMode::Off
        }
    }

    /// Returns the trace as this destination may see it.
    pub fn apply(self, trace: &Arc<Trace>) -> ExportTrace {
        match self {
            PrivacyMode::Off => ExportTrace(Arc::clone(trace)),
            PrivacyMode::On => ExportTrace(Arc::new(strip_content(trace))),
        }
    }
}

/// A trace that passed the privacy filter: the only form in which destinations receive traces.
#[derive(Debug, Clone)]
pub struct ExportTrace(Arc<Trace>);

impl Deref for ExportTrace {
    type Target = Trace;

    fn deref(&self) -> &Trace {
        &self.0
    }
}

fn strip_content(trace: &Trace) -> Trace {
    let distinctive = distinctive_content(trace);
    let mut stripped = trace.clone();

    stripped.input.system.clear();
    stripped.input.messages.clear();
    for tool in &mut stripped.input.tools {
        tool.description = None;
        tool.parameters = None;
    }
    stripped.output.text = None;
    stripped.output.reasoning = None;
    for call in &mut stripped.output.tool_calls {
        call.arguments = None;
    }
    stripped.status.error_message = None;

    let mut metadata = Value::Object(std::mem::take(&mut stripped.metadata));
    scrub_value(&mut metadata, &distinctive);
    if let Value::Object(map) = metadata {
        stripped.metadata = map;
    }
    stripped.content_redacted = true;
    stripped
}

/// Every content string of the trace, and its distinctive words.
struct DistinctiveContent {
    texts: Vec<String>,
    words: HashSet<String>,
}

fn distinctive_content(trace: &Trace) -> DistinctiveContent {
    let mut texts: Vec<String> = Vec::new();
    let push_parts = |parts: &[ContentPart], texts: &mut Vec<String>| {
        for part in parts {
            match part {
                ContentPart::Text { text } => texts.push(text.clone()),
                ContentPart::Image { url: Some(url), .. } => texts.push(url.clone()),
                ContentPart::File { url: Some(url), .. } => texts.push(url.clone()),
                _ => {}
            }
        }
    };
    push_parts(&trace.input.system, &mut texts);
    for message in &trace.input.messages {
        push_parts(&message.content, &mut texts);
        texts.extend(message.tool_calls.iter().filter_map(|call| call.arguments.clone()));
    }
    texts.extend(trace.output.text.clone());
    texts.extend(trace.output.reasoning.clone());
    texts.extend(trace.output.tool_calls.iter().filter_map(|call| call.arguments.clone()));
    texts.extend(trace.status.error_message.clone());

    let words = texts
        .iter()
        .flat_map(|text| split_words(text))
        .filter(|word| word.chars().count() >= MIN_DISTINCTIVE_WORD_CHARS)
        .map(str::to_string)
        .collect();
    DistinctiveContent { texts, words }
}

fn split_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|character: char| {
        character.is_whitespace() || "\"'`()[]{},;:<>".contains(character)
    })
    .filter(|word| !word.is_empty())
}

fn scrub_value(value: &mut Value, content: &DistinctiveContent) {
    match value {
        Value::String(text) => {
            if repeats_content(text, content) {
                *text = REDACTED.to_string();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| scrub_value(item, content)),
        Value::Object(map) => scrub_map(map, content),
        _ => {}
    }
}

fn scrub_map(map: &mut Map<String, Value>, content: &DistinctiveContent) {
    for (key, value) in map.iter_mut() {
        let carries_content = CONTENT_KEYS.contains(&key.to_ascii_lowercase().as_str())
            && !matches!(value, Value::Null | Value::Bool(_) | Value::Number(_));
        if carries_content {
            *value = Value::String(REDACTED.to_string());
        } else {
            scrub_value(value, content);
        }
    }
}

fn repeats_content(text: &str, content: &DistinctiveContent) -> bool {
    let copied_whole = text.chars().count() >= MIN_DISTINCTIVE_WORD_CHARS
        && content.texts.iter().any(|source| source.contains(text));
    copied_whole || split_words(text).any(|word| content.words.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use serde_json::json;

    fn trace_with(metadata: Value) -> Arc<Trace> {
        let Value::Object(metadata) = metadata else {
            panic!("metadata must be an object");
        };
        Arc::new(Trace {
            ids: TraceIds {
                trace_id: "t".into(),
                generation_id: "g".into(),
                root_span_id: "r".into(),
                span_id: None,
                generation_span_id: "s".into(),
                parent_span_id: None,
                response_id: None,
            },
            names: TraceNames::default(),
            account_id: "acme".into(),
            user_id: Some("user-0001".into()),
            session_id: None,
            api_key_hash: None,
            api_key_name: None,
            model: ModelInfo::default(),
            input: Input {
                system: vec![ContentPart::Text {
                    text: "SYSTEM-PROMPT-TEXT".into(),
                }],
                messages: vec![Message {
                    role: Role::User,
                    content: vec![ContentPart::Text {
                        text: "PLACEHOLDER-PROMPT-7f3a look up record".into(),
                    }],
                    tool_calls: vec![],
                    tool_call_id: None,
                    name: None,
                }],
                tools: vec![ToolDefinition {
                    name: "lookup".into(),
                    description: Some("Looks up RECORD-DESCRIPTION".into()),
                    parameters: Some(json!({"type": "object"})),
                }],
            },
            parameters: Map::new(),
            output: Output {
                text: Some("ANSWER-TEXT-11aa".into()),
                reasoning: Some("REASONING-TEXT".into()),
                tool_calls: vec![ToolCall {
                    id: Some("call_9".into()),
                    name: "lookup".into(),
                    arguments: Some("{\"ssn\":\"PLACEHOLDER-ID-000\"}".into()),
                }],
            },
            finish_reason: Some("tool_calls".into()),
            native_finish_reason: None,
            usage: Usage::default(),
            cost_usd: None,
            timing: Timing::default(),
            streamed: false,
            status: Status {
                outcome: Outcome::Error,
                http_status: Some(400),
                error_type: Some("invalid_request_error".into()),
                error_code: Some("context_length_exceeded".into()),
                error_message: Some("first message was: 'PLACEHOLDER-PROMPT-7f3a'".into()),
            },
            metadata,
            content_redacted: false,
        })
    }

    #[test]
    fn privacy_off_passes_trace_through() {
        let trace = trace_with(json!({}));
        let exported = PrivacyMode::Off.apply(&trace);
        assert_eq!(&*exported, &*trace);
    }

    #[test]
    fn privacy_on_removes_every_content_field() {
        let trace = trace_with(json!({"feature": "vision-demo"}));
        let exported = PrivacyMode::On.apply(&trace);
        let body = serde_json::to_string(&*exported).unwrap_or_default();
        for canary in [
            "SYSTEM-PROMPT-TEXT",
            "PLACEHOLDER-PROMPT-7f3a",
            "RECORD-DESCRIPTION",
            "ANSWER-TEXT-11aa",
            "REASONING-TEXT",
            "PLACEHOLDER-ID-000",
        ] {
            assert!(!body.contains(canary), "{canary} leaked: {body}");
        }
        assert!(exported.content_redacted);
    }

    #[test]
    fn privacy_on_keeps_metadata_fields() {
        let trace = trace_with(json!({"feature": "vision-demo", "tier": 3}));
        let exported = PrivacyMode::On.apply(&trace);
        assert_eq!(exported.metadata.get("feature"), Some(&json!("vision-demo")));
        assert_eq!(exported.metadata.get("tier"), Some(&json!(3)));
        assert_eq!(exported.output.tool_calls[0].name, "lookup");
        assert_eq!(exported.status.http_status, Some(400));
        assert_eq!(exported.status.error_code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(exported.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn privacy_on_scrubs_content_copies_in_metadata() {
        let trace = trace_with(json!({
            "last_tool_error": "stderr: PLACEHOLDER-PROMPT-7f3a",
            "guardrail": {
                "name": "tool-permission",
                "result": "allowed",
                "messages": [{"role": "user", "content": "something else entirely"}],
                "note": "look up record"
            }
        }));
        let exported = PrivacyMode::On.apply(&trace);
        assert_eq!(exported.metadata["last_tool_error"], json!(REDACTED));
        assert_eq!(exported.metadata["guardrail"]["messages"], json!(REDACTED));
        assert_eq!(exported.metadata["guardrail"]["note"], json!(REDACTED));
        assert_eq!(exported.metadata["guardrail"]["name"], json!("tool-permission"));
        assert_eq!(exported.metadata["guardrail"]["result"], json!("allowed"));
    }
}
