//! Non-streamed responses in the OpenAI chat and legacy completions shapes, and the summary
//! that every response reader (streamed or not, any API) produces.
//!
//! Only the first choice (`index` 0, else the first listed) is read. Reasoning text never joins
//! the output text. It comes from `reasoning` (OpenRouter, Groq, Ollama), else
//! `reasoning_content` (DeepSeek and others), else the readable `reasoning_details` entries,
//! and Mistral `thinking` content parts. Encrypted reasoning is skipped.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::coerce::{as_filled_text, as_text};
use super::error::Warnings;
use super::request::{read_function_call, read_tool_calls};
use super::status::{read_body_error, ProviderError};
use super::usage::read_openai_usage;
use crate::model::{Output, Usage};

/// The fields of a trace that come from the response.
#[derive(Debug, Default)]
pub(crate) struct ResponseSummary {
    /// The provider's response id (`chatcmpl-…`, `gen-…`, `msg_…`).
    pub(crate) id: Option<String>,
    pub(crate) model: Option<String>,
    /// The serving provider named in the response (OpenRouter's `provider`).
    pub(crate) provider: Option<String>,
    /// Unix seconds from the response's `created`.
    pub(crate) created: Option<i64>,
    pub(crate) output: Output,
    pub(crate) finish_reason: Option<String>,
    pub(crate) native_finish_reason: Option<String>,
    pub(crate) usage: Usage,
    pub(crate) cost: Option<Decimal>,
    pub(crate) error: Option<ProviderError>,
    pub(crate) streamed: bool,
}

/// Reads a non-streamed OpenAI chat or completions response body.
pub(crate) fn read_openai_response(
    body: &Map<String, Value>,
    warnings: &mut Warnings,
) -> ResponseSummary {
    let (usage, cost) = read_openai_usage(body.get("usage"), "response.usage", warnings);
    let mut summary = ResponseSummary {
        id: as_filled_text(body.get("id")).map(str::to_string),
        model: as_filled_text(body.get("model")).map(str::to_string),
        provider: as_filled_text(body.get("provider")).map(str::to_string),
        created: body.get("created").and_then(unix_seconds),
        usage,
        cost,
        error: read_body_error(body.get("error")),
        ..ResponseSummary::default()
    };

    let Some(choice) = first_choice(body.get("choices")) else {
        return summary;
    };
    summary.finish_reason = reason_text(choice.get("finish_reason"));
    summary.native_finish_reason = reason_text(choice.get("native_finish_reason"));

    if let Some(message) = choice.get("message").and_then(Value::as_object) {
        // NOTE: reasoning that a provider writes inline as `<think>…</think>` in the content
        // (Groq `reasoning_format: "raw"`, DeepSeek-R1 on some hosts) stays in the output text.
        let mut text = String::new();
        let mut reasoning = String::new();
        append_content(message.get("content"), &mut text, &mut reasoning);
        summary.output.text = non_empty(text);
        summary.output.reasoning = message_reasoning(message).or(non_empty(reasoning));
        summary.output.tool_calls = read_tool_calls(message.get("tool_calls"));
        summary
            .output
            .tool_calls
            .extend(read_function_call(message.get("function_call")));
    } else if let Some(text) = as_text(choice.get("text")) {
        // The legacy completions shape: `choices[].text`.
        summary.output.text = non_empty(text.to_string());
    }
    summary
}

/// Returns the choice with `index` 0, else the first choice.
pub(crate) fn first_choice(choices: Option<&Value>) -> Option<&Map<String, Value>> {
    let choices = choices?.as_array()?;
    let indexed = choices
        .iter()
        .filter_map(Value::as_object)
        .find(|choice| choice.get("index").and_then(Value::as_u64) == Some(0));
    indexed.or_else(|| choices.iter().find_map(Value::as_object))
}

/// Appends message or delta `content` to `text`, and Mistral `thinking` parts to `reasoning`.
///
/// Content is a string, or an array of parts whose text parts are concatenated as they are
/// (they are pieces of one output). Null and other types add nothing.
pub(crate) fn append_content(content: Option<&Value>, text: &mut String, reasoning: &mut String) {
    match content {
        Some(Value::String(piece)) => text.push_str(piece),
        Some(Value::Array(parts)) => {
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") | Some("output_text") => {
                        text.push_str(as_text(part.get("text")).unwrap_or(""));
                    }
                    Some("thinking") => append_thinking(part.get("thinking"), reasoning),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Appends the text of a thinking part, which is a string or (Mistral) an array of text parts.
fn append_thinking(thinking: Option<&Value>, reasoning: &mut String) {
    match thinking {
        Some(Value::String(piece)) => reasoning.push_str(piece),
        Some(Value::Array(parts)) => {
            for part in parts {
                reasoning.push_str(as_text(part.get("text")).unwrap_or(""));
            }
        }
        _ => {}
    }
}

/// Returns the reasoning text of a message or delta: `reasoning`, else `reasoning_content`,
/// else the readable `reasoning_details` entries concatenated. Empty text counts as none.
pub(crate) fn message_reasoning(message: &Map<String, Value>) -> Option<String> {
    let direct = as_text(message.get("reasoning"))
        .filter(|text| !text.is_empty())
        .or_else(|| as_text(message.get("reasoning_content")).filter(|text| !text.is_empty()));
    if let Some(text) = direct {
        return Some(text.to_string());
    }
    non_empty(reasoning_details_text(message.get("reasoning_details")))
}

/// Concatenates `reasoning.text` texts and `reasoning.summary` summaries; encrypted entries
/// (`reasoning.encrypted`, signatures) are opaque and skipped.
fn reasoning_details_text(details: Option<&Value>) -> String {
    let mut text = String::new();
    for detail in details.and_then(Value::as_array).into_iter().flatten() {
        let piece = match detail.get("type").and_then(Value::as_str) {
            Some("reasoning.text") => as_text(detail.get("text")),
            Some("reasoning.summary") => as_text(detail.get("summary")),
            _ => None,
        };
        text.push_str(piece.unwrap_or(""));
    }
    text
}

/// Returns a finish reason. Null and the empty string (Snowflake Cortex sends `""`) count as
/// absent.
pub(crate) fn reason_text(value: Option<&Value>) -> Option<String> {
    as_filled_text(value).map(str::to_string)
}

/// Returns unix seconds from a number (integer or float).
pub(crate) fn unix_seconds(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|seconds| seconds.is_finite())
            .map(|seconds| seconds as i64)
    })
}

pub(crate) fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(body: Value) -> ResponseSummary {
        let mut warnings = Warnings::default();
        read_openai_response(body.as_object().expect("object literal"), &mut warnings)
    }

    #[test]
    fn reasoning_content_kept_apart() {
        let summary = read(json!({"choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "42", "reasoning_content": "6 x 7"}}]}));
        assert_eq!(summary.output.text.as_deref(), Some("42"));
        assert_eq!(summary.output.reasoning.as_deref(), Some("6 x 7"));
        assert_eq!(summary.finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn reasoning_details_skip_encrypted() {
        let summary = read(
            json!({"choices": [{"message": {"content": "A", "reasoning": null, "reasoning_details": [
            {"type": "reasoning.summary", "summary": "plan"},
            {"type": "reasoning.encrypted", "data": "gAAAA"}]}}]}),
        );
        assert_eq!(summary.output.reasoning.as_deref(), Some("plan"));
    }

    #[test]
    fn mistral_thinking_parts_to_reasoning() {
        let summary = read(json!({"choices": [{"message": {"content": [
            {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
            {"type": "text", "text": "Answer"}]}}]}));
        assert_eq!(summary.output.text.as_deref(), Some("Answer"));
        assert_eq!(summary.output.reasoning.as_deref(), Some("hmm"));
    }

    #[test]
    fn empty_finish_reason_is_none() {
        let summary = read(json!({"choices": [{"finish_reason": "", "message": {"content": ""}}]}));
        assert_eq!(summary.finish_reason, None);
        assert_eq!(summary.output.text, None);
    }

    #[test]
    fn completions_text_read() {
        let summary = read(
            json!({"choices": [{"text": "\n안녕하세요", "index": 0, "finish_reason": "stop"}]}),
        );
        assert_eq!(summary.output.text.as_deref(), Some("\n안녕하세요"));
    }
}
