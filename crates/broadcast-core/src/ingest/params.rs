//! Request parameters: the sampling and control settings of a request, without its content.
//!
//! Only keys in [`KNOWN_PARAMETERS`] are copied, with their JSON types, because unknown request
//! keys can carry prompt text (OpenAI `prediction`, `instructions`) that the privacy filter
//! would not know to remove. Credential keys inside the copied values are redacted.

use serde_json::{Map, Value};

use super::redact::redact_credentials;

/// Request keys copied into [`Trace::parameters`](crate::model::Trace::parameters).
///
/// `messages`, `prompt`, `system`, `tools`, `functions`, `trace`, `user`, `session_id`,
/// `model` and `metadata` are read elsewhere or carry content, so they are not listed.
pub const KNOWN_PARAMETERS: &[&str] = &[
    // Sampling and length.
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "top_a",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "seed",
    "random_seed",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "stop",
    "stop_sequences",
    "n",
    "best_of",
    "echo",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    // Tools and output format.
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "modalities",
    "verbosity",
    // Reasoning.
    "reasoning",
    "reasoning_effort",
    "reasoning_format",
    "thinking",
    // Streaming and serving.
    "stream",
    "stream_options",
    "service_tier",
    "store",
    "prompt_cache_key",
    "prompt_cache_options",
    "cache_control",
    "web_search_options",
    "safe_prompt",
    "safety_model",
    // OpenRouter routing.
    "provider",
    "models",
    "route",
    "transforms",
    "plugins",
    "preset",
    "usage",
];

/// Copies the known parameters of `request`, skipping nulls, with credentials redacted.
pub(crate) fn read_parameters(request: &Map<String, Value>) -> Map<String, Value> {
    let mut parameters = Map::new();
    for key in KNOWN_PARAMETERS {
        if let Some(value) = request.get(*key).filter(|value| !value.is_null()) {
            let mut value = value.clone();
            redact_credentials(&mut value);
            parameters.insert((*key).to_string(), value);
        }
    }
    parameters
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn copies_known_and_skips_content() {
        let request = json!({
            "model": "m", "messages": [], "user": "u", "temperature": 0.7, "max_tokens": 256,
            "top_k": 40, "stop": ["\n"], "tool_choice": "auto", "reasoning": {"effort": "high"},
            "stream": true, "prediction": {"content": "draft"}, "seed": null,
        });
        let parameters = read_parameters(request.as_object().expect("object literal"));
        assert_eq!(parameters["temperature"], json!(0.7));
        assert_eq!(parameters["max_tokens"], json!(256));
        assert_eq!(parameters["top_k"], json!(40));
        assert_eq!(parameters["stop"], json!(["\n"]));
        assert_eq!(parameters["reasoning"], json!({"effort": "high"}));
        assert_eq!(parameters["stream"], json!(true));
        for skipped in ["model", "messages", "user", "prediction", "seed"] {
            assert!(
                !parameters.contains_key(skipped),
                "{skipped} should not be copied"
            );
        }
    }

    #[test]
    fn credentials_in_parameters_redacted() {
        let request = json!({"provider": {"order": ["a"], "api_key": "sk-1"}});
        let parameters = read_parameters(request.as_object().expect("object literal"));
        assert_eq!(parameters["provider"]["api_key"], json!("[REDACTED]"));
        assert_eq!(parameters["provider"]["order"], json!(["a"]));
    }
}
