//! Normalises every recorded request/response pair of the real corpus and checks facts taken
//! from specific recordings.
//!
//! The corpus is read from `BROADCAST_CORPUS_DIR` when set, else from `shared/corpus/real`
//! next to the workspace. A missing or empty directory fails the tests: they never pass
//! without data. The corpus is only read.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use broadcast_core::ingest::normalise;
use broadcast_core::{ContentPart, Outcome, ProviderApi, Role, Trace};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

/// Base64-looking runs at least this long must not reach a trace.
const MAX_BASE64_RUN: usize = 200;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("BROADCAST_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/real"),
    }
}

/// Returns every `*.json` file of the corpus, sorted; panics when there are none.
fn corpus_files() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let entries = fs::read_dir(&dir).unwrap_or_else(|error| {
        panic!(
            "cannot read the corpus directory {} ({error}); set BROADCAST_CORPUS_DIR to the folder of recorded *.json pairs",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.json files in the corpus directory {}",
        dir.display()
    );
    files
}

fn received_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .map(|time| time.with_timezone(&Utc))
        .expect("valid timestamp literal")
}

fn load_path(path: &Path) -> Value {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

fn load(name: &str) -> Value {
    load_path(&corpus_dir().join(name))
}

fn trace_of(name: &str) -> Trace {
    match normalise(&load(name), received_at()) {
        Ok(normalised) => normalised.trace,
        Err(error) => panic!("{name} failed to normalise: {error}"),
    }
}

fn decimal(text: &str) -> Option<Decimal> {
    Some(Decimal::from_str(text).expect("valid decimal literal"))
}

/// Returns runs of base64 characters longer than [`MAX_BASE64_RUN`] that use at least 16
/// distinct characters, so long runs of one letter (a recorded "aaaa…" prompt) do not count.
fn base64_runs(text: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut current = String::new();
    for character in text.chars().chain(std::iter::once(' ')) {
        if character.is_ascii_alphanumeric() || matches!(character, '+' | '/' | '=' | '_' | '-') {
            current.push(character);
            continue;
        }
        let distinct: BTreeSet<char> = current.chars().collect();
        if current.len() > MAX_BASE64_RUN && distinct.len() >= 16 {
            runs.push(current.clone());
        }
        current.clear();
    }
    runs
}

/// Writes `value` as JSON with the keys of every object in reverse order.
fn reversed_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .rev()
                .map(|(key, child)| {
                    format!("{}:{}", Value::String(key.clone()), reversed_json(child))
                })
                .collect();
            format!("{{{}}}", entries.join(","))
        }
        Value::Array(items) => {
            let entries: Vec<String> = items.iter().map(reversed_json).collect();
            format!("[{}]", entries.join(","))
        }
        other => other.to_string(),
    }
}

#[test]
fn corpus_every_file_normalises() {
    let mut failures = Vec::new();
    for path in corpus_files() {
        if let Err(error) = normalise(&load_path(&path), received_at()) {
            failures.push(format!("{}: {error}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "files that failed to normalise:\n{}",
        failures.join("\n")
    );
}

#[test]
fn corpus_every_trace_names_model() {
    for path in corpus_files() {
        let trace = normalise(&load_path(&path), received_at())
            .expect("corpus file normalises")
            .trace;
        assert!(
            trace.model.name().is_some(),
            "{} has no served or requested model",
            path.display()
        );
    }
}

#[test]
fn corpus_provider_api_kept() {
    for path in corpus_files() {
        let envelope = load_path(&path);
        let declared = envelope["provider_api"]
            .as_str()
            .and_then(ProviderApi::parse);
        let trace = normalise(&envelope, received_at())
            .expect("corpus file normalises")
            .trace;
        assert_eq!(
            Some(trace.model.provider_api),
            declared,
            "{}",
            path.display()
        );
    }
}

#[test]
fn corpus_http_errors_are_error_traces() {
    let mut checked = 0;
    for path in corpus_files() {
        let envelope = load_path(&path);
        let Some(status) = envelope["status"].as_u64().filter(|status| *status >= 400) else {
            continue;
        };
        let trace = normalise(&envelope, received_at())
            .expect("corpus file normalises")
            .trace;
        assert_eq!(trace.status.outcome, Outcome::Error, "{}", path.display());
        assert_eq!(
            trace.status.http_status.map(u64::from),
            Some(status),
            "{}",
            path.display()
        );
        assert!(
            trace.status.error_message.is_some(),
            "{} has no error message",
            path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 10,
        "expected at least 10 recorded 4xx responses, found {checked}"
    );
}

#[test]
fn corpus_ids_deterministic() {
    for path in corpus_files() {
        let envelope = load_path(&path);
        let first = normalise(&envelope, received_at())
            .expect("corpus file normalises")
            .trace
            .ids;
        let later = normalise(&envelope, Utc::now())
            .expect("corpus file normalises")
            .trace
            .ids;
        assert_eq!(first, later, "{}: ids changed between runs", path.display());

        // serde_json keeps object keys sorted unless its `preserve_order` feature is enabled;
        // this check guards the ids for the day a dependency enables it.
        let reordered: Value =
            serde_json::from_str(&reversed_json(&envelope)).expect("reversed JSON parses");
        let reordered_ids = normalise(&reordered, received_at())
            .expect("corpus file normalises")
            .trace
            .ids;
        assert_eq!(
            first,
            reordered_ids,
            "{}: ids depend on key order",
            path.display()
        );
    }
}

#[test]
fn corpus_ids_distinct_per_file() {
    let mut generation_ids = BTreeSet::new();
    for path in corpus_files() {
        let trace = normalise(&load_path(&path), received_at())
            .expect("corpus file normalises")
            .trace;
        assert!(
            generation_ids.insert(trace.ids.generation_id.clone()),
            "{}: duplicate generation id",
            path.display()
        );
    }
}

#[test]
fn corpus_no_base64_in_traces() {
    for path in corpus_files() {
        let envelope = load_path(&path);
        let trace = normalise(&envelope, received_at())
            .expect("corpus file normalises")
            .trace;
        let serialised = serde_json::to_string(&trace).expect("trace serialises");
        let runs = base64_runs(&serialised);
        assert!(
            runs.is_empty(),
            "{}: base64 run of {} chars in the trace",
            path.display(),
            runs[0].len()
        );

        let input_text = serde_json::to_string(&envelope["request"]).expect("request serialises");
        for run in base64_runs(&input_text) {
            assert!(
                !serialised.contains(&run[..100]),
                "{}: request base64 copied into the trace",
                path.display()
            );
        }
    }
}

#[test]
fn plain_openai_chat() {
    let trace = trace_of("pydantic-ai-openai-001.json");
    assert_eq!(
        trace.output.text.as_deref(),
        Some("The capital of France is Paris.")
    );
    assert_eq!(trace.finish_reason.as_deref(), Some("stop"));
    assert_eq!(trace.usage.prompt_tokens, Some(14));
    assert_eq!(trace.usage.completion_tokens, Some(7));
    assert_eq!(trace.usage.total_tokens, Some(21));
    assert_eq!(trace.model.requested.as_deref(), Some("gpt-4o"));
    assert_eq!(trace.model.served.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(trace.model.provider.as_deref(), Some("openai"));
    assert_eq!(
        trace.ids.response_id.as_deref(),
        Some("chatcmpl-Bu8vBIrB8kIWKRyTcpEEPncjhHtMU")
    );
    assert!(!trace.streamed);
    assert_eq!(trace.status.outcome, Outcome::Ok);
}

#[test]
fn system_message_stays_in_messages() {
    let trace = trace_of("pydantic-ai-openai-002.json");
    assert_eq!(trace.input.messages[0].role, Role::System);
    assert_eq!(
        trace.input.messages[0].text().as_deref(),
        Some("You are a helpful assistant.")
    );
    assert_eq!(
        trace.input.latest_user_text().as_deref(),
        Some("What is the capital of France?")
    );
    assert_eq!(trace.parameters["n"], serde_json::json!(1));
}

#[test]
fn error_404_model_not_found() {
    let trace = trace_of("pydantic-ai-openai-026.json");
    assert_eq!(trace.status.outcome, Outcome::Error);
    assert_eq!(trace.status.http_status, Some(404));
    assert_eq!(
        trace.status.error_type.as_deref(),
        Some("invalid_request_error")
    );
    assert_eq!(trace.status.error_code.as_deref(), Some("model_not_found"));
    assert_eq!(
        trace.status.error_message.as_deref(),
        Some("The model `gpt-5.2-proo` does not exist or you do not have access to it.")
    );
    assert_eq!(trace.model.requested.as_deref(), Some("gpt-5.2-proo"));
}

#[test]
fn error_anthropic_401() {
    let trace = trace_of("dd-trace-py-anthropic-001.json");
    assert_eq!(trace.status.outcome, Outcome::Error);
    assert_eq!(trace.status.http_status, Some(401));
    assert_eq!(
        trace.status.error_type.as_deref(),
        Some("authentication_error")
    );
    assert_eq!(
        trace.status.error_message.as_deref(),
        Some("invalid x-api-key")
    );
    assert!(
        !trace.input.system.is_empty(),
        "Anthropic top-level system is kept"
    );
}

#[test]
fn error_openrouter_numeric_code() {
    let trace = trace_of("crewai-openrouter-001.json");
    assert_eq!(trace.status.http_status, Some(401));
    assert_eq!(trace.status.error_code.as_deref(), Some("401"));
    assert_eq!(
        trace.status.error_message.as_deref(),
        Some("No cookie auth credentials found")
    );
}

#[test]
fn tool_call_with_null_content() {
    let trace = trace_of("dd-trace-py-openai-003.json");
    assert_eq!(trace.output.text, None);
    assert_eq!(trace.output.tool_calls.len(), 1);
    assert_eq!(trace.output.tool_calls[0].name, "add");
    assert_eq!(
        trace.output.tool_calls[0].arguments.as_deref(),
        Some("{\"a\": 1, \"b\": 2}")
    );
    assert_eq!(trace.finish_reason.as_deref(), Some("tool_calls"));
    assert!(!trace.input.tools.is_empty());
}

#[test]
fn tool_call_without_arguments_key() {
    let trace = trace_of("pydantic-ai-openrouter-002.json");
    assert_eq!(
        trace.output.text.as_deref(),
        Some("I'll search for education content for you.")
    );
    assert_eq!(trace.output.tool_calls[0].name, "find_education_content");
    assert_eq!(trace.output.tool_calls[0].arguments, None);
    assert_eq!(trace.model.provider.as_deref(), Some("Google"));
}

#[test]
fn stream_parallel_tool_calls() {
    let trace = trace_of("openllmetry-openai-002.json");
    assert!(trace.streamed);
    let calls = &trace.output.tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].id.as_deref(),
        Some("call_cCPjAyfwTzboEKjVlqFrArNF")
    );
    assert_eq!(calls[0].name, "get_current_weather");
    assert_eq!(
        calls[0].arguments.as_deref(),
        Some("{\"location\": \"San Francisco\"}")
    );
    assert_eq!(
        calls[1].arguments.as_deref(),
        Some("{\"location\": \"Boston\"}")
    );
    assert_eq!(trace.finish_reason.as_deref(), Some("tool_calls"));
}

#[test]
fn stream_openrouter_trailing_usage_chunk() {
    let trace = trace_of("pydantic-ai-openrouter-030.json");
    assert!(trace.streamed);
    assert_eq!(trace.output.text.as_deref(), Some("Hello!"));
    assert_eq!(trace.finish_reason.as_deref(), Some("stop"));
    assert_eq!(trace.usage.prompt_tokens, Some(254));
    assert_eq!(trace.usage.completion_tokens, Some(5));
    assert_eq!(trace.usage.total_tokens, Some(259));
    assert_eq!(trace.cost_usd, decimal("0.000837"));
    assert_eq!(trace.model.provider.as_deref(), Some("Amazon Bedrock"));
}

#[test]
fn stream_cost_exponent_form() {
    let trace = trace_of("llm-openrouter-openrouter-004.json");
    assert_eq!(
        trace.output.text.as_deref(),
        Some("The current LLM version is 0.0+test.")
    );
    assert_eq!(trace.cost_usd, decimal("0.0000516"));
    assert_eq!(trace.usage.total_tokens, Some(87));
    let assistant = &trace.input.messages[1];
    assert_eq!(assistant.role, Role::Assistant);
    assert!(assistant.content.is_empty());
    assert!(!assistant.tool_calls.is_empty());
    assert_eq!(trace.input.messages[2].role, Role::Tool);
    assert!(trace.input.messages[2].tool_call_id.is_some());
}

#[test]
fn stream_openai_usage_after_nulls() {
    let trace = trace_of("dd-trace-py-openai-007.json");
    assert_eq!(trace.usage.prompt_tokens, Some(1420));
    assert_eq!(trace.usage.completion_tokens, Some(100));
    assert_eq!(trace.usage.cached_tokens, Some(1280));
    assert_eq!(trace.finish_reason.as_deref(), Some("length"));
}

#[test]
fn stream_groq_error_event() {
    let trace = trace_of("pydantic-ai-groq-005.json");
    assert!(trace.streamed);
    assert_eq!(trace.status.outcome, Outcome::Error);
    assert_eq!(trace.status.http_status, Some(200));
    assert_eq!(
        trace.status.error_type.as_deref(),
        Some("invalid_request_error")
    );
    assert_eq!(trace.status.error_code.as_deref(), Some("tool_use_failed"));
    let message = trace.status.error_message.as_deref().unwrap_or("");
    assert!(
        message.starts_with("Tool call validation failed"),
        "message: {message}"
    );
    assert!(trace
        .output
        .reasoning
        .as_deref()
        .is_some_and(|reasoning| reasoning.starts_with("We need to call")));
}

#[test]
fn stream_openrouter_error_chunk() {
    let trace = trace_of("pydantic-ai-openrouter-006.json");
    assert_eq!(trace.status.outcome, Outcome::Error);
    assert_eq!(
        trace.status.error_message.as_deref(),
        Some("Token limit reached")
    );
    assert_eq!(trace.status.error_code.as_deref(), Some("400"));
    assert_eq!(trace.finish_reason.as_deref(), Some("length"));
    assert_eq!(trace.cost_usd, Some(Decimal::ZERO));
    assert_eq!(trace.usage.reasoning_tokens, Some(11));
}

#[test]
fn reasoning_openrouter_kept_apart() {
    let trace = trace_of("dd-trace-py-openrouter-003.json");
    let text = trace.output.text.as_deref().unwrap_or("");
    let reasoning = trace.output.reasoning.as_deref().unwrap_or("");
    assert!(text.starts_with("The capital of France is **Paris**."));
    assert!(reasoning.starts_with("The user is asking a straightforward question"));
    assert!(!text.contains(reasoning));
    assert_eq!(trace.usage.completion_tokens, Some(164));
    assert_eq!(trace.usage.reasoning_tokens, Some(46));
    assert_eq!(trace.native_finish_reason.as_deref(), Some("end_turn"));
    assert_eq!(trace.cost_usd, Some(Decimal::ZERO));
    assert_eq!(trace.model.provider.as_deref(), Some("Anthropic"));
}

#[test]
fn reasoning_encrypted_details_skipped() {
    let trace = trace_of("pydantic-ai-openrouter-012.json");
    let reasoning = trace.output.reasoning.as_deref().unwrap_or("");
    assert!(reasoning.starts_with("**Structuring Voltaire"));
    assert!(!reasoning.contains("gAAAA"));
    assert_eq!(trace.usage.reasoning_tokens, Some(704));
    assert_eq!(trace.usage.completion_tokens, Some(1457));
}

#[test]
fn reasoning_content_deepseek() {
    let trace = trace_of("pydantic-ai-deepseek-001.json");
    let reasoning = trace.output.reasoning.as_deref().unwrap_or("");
    assert!(reasoning.starts_with("Okay, the user is asking how to cross the street."));
    let text = trace.output.text.as_deref().unwrap_or("");
    assert!(text.starts_with("Crossing the street safely involves careful observation"));
    assert!(!text.contains("Okay, the user is asking"));
    assert_eq!(trace.usage.completion_tokens, Some(789));
    assert_eq!(trace.usage.reasoning_tokens, Some(415));
}

#[test]
fn reasoning_mistral_thinking_stream() {
    let trace = trace_of("pydantic-ai-mistral-002.json");
    let text = trace.output.text.as_deref().unwrap_or("");
    assert!(text.starts_with("To cross the street safely, follow these steps:"));
    assert_eq!(text.len(), 607);
    assert!(trace
        .output
        .reasoning
        .as_deref()
        .is_some_and(|reasoning| reasoning.starts_with("Okay, the user")));
    assert_eq!(trace.usage.total_tokens, Some(242));
}

#[test]
fn anthropic_thinking_and_tool_use() {
    let trace = trace_of("pydantic-ai-anthropic-004.json");
    assert_eq!(trace.model.provider_api, ProviderApi::AnthropicMessages);
    assert_eq!(trace.usage.prompt_tokens, Some(398));
    assert_eq!(trace.usage.completion_tokens, Some(155));
    assert_eq!(trace.usage.total_tokens, Some(553));
    assert_eq!(trace.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(trace.native_finish_reason.as_deref(), Some("tool_use"));
    assert_eq!(trace.output.tool_calls[0].name, "get_user_country");
    assert_eq!(trace.output.tool_calls[0].arguments.as_deref(), Some("{}"));
    assert!(trace.output.reasoning.as_deref().is_some_and(
        |reasoning| reasoning.starts_with("The user is asking about the largest city")
    ));
    assert!(trace
        .output
        .text
        .as_deref()
        .is_some_and(|text| text.starts_with("I'll help you find the largest city")));
    assert_eq!(trace.model.provider.as_deref(), Some("anthropic"));
}

#[test]
fn anthropic_tool_results_split() {
    let trace = trace_of("pydantic-ai-anthropic-003.json");
    let tool_messages: Vec<_> = trace
        .input
        .messages
        .iter()
        .filter(|message| message.role == Role::Tool)
        .collect();
    assert_eq!(tool_messages.len(), 4);
    assert_eq!(
        tool_messages[0].tool_call_id.as_deref(),
        Some("toolu_0167cfEnoQaPviGdVXA95zcu")
    );
    assert_eq!(
        tool_messages[0].text().as_deref(),
        Some("alice is bob's wife")
    );
    assert_eq!(trace.input.messages[1].tool_calls.len(), 4);
    assert_eq!(trace.input.tools[0].name, "retrieve_entity_info");
    assert!(trace.input.tools[0].parameters.is_some());
    assert_eq!(trace.finish_reason.as_deref(), Some("stop"));
    assert_eq!(trace.native_finish_reason.as_deref(), Some("end_turn"));
}

#[test]
fn anthropic_cache_read_tokens() {
    let envelope = load("pydantic-ai-anthropic-006.json");
    let usage = &envelope["response"]["usage"];
    let trace = trace_of("pydantic-ai-anthropic-006.json");
    let cache_read = usage["cache_read_input_tokens"].as_u64();
    assert!(cache_read.is_some_and(|tokens| tokens > 0));
    assert_eq!(trace.usage.cached_tokens, cache_read);
    let input = usage["input_tokens"]
        .as_u64()
        .expect("recorded input tokens");
    let output = usage["output_tokens"]
        .as_u64()
        .expect("recorded output tokens");
    assert_eq!(trace.usage.total_tokens, Some(input + output));
}

#[test]
fn anthropic_stream_assembled() {
    let trace = trace_of("pydantic-ai-anthropic-005.json");
    assert!(trace.streamed);
    assert!(trace.output.text.as_deref().is_some_and(
        |text| text.starts_with("Here are the basic steps for safely crossing the street:")
    ));
    assert!(trace
        .output
        .reasoning
        .as_deref()
        .is_some_and(|reasoning| reasoning
            .starts_with("This is a straightforward question about pedestrian safety.")));
    assert_eq!(trace.usage.prompt_tokens, Some(43));
    assert_eq!(trace.usage.completion_tokens, Some(282));
    assert_eq!(trace.usage.total_tokens, Some(325));
    assert_eq!(trace.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        trace.model.served.as_deref(),
        Some("claude-sonnet-4-20250514")
    );
    assert_eq!(
        trace.ids.response_id.as_deref(),
        Some("msg_01ALwQ87pTS7hH1PjSdC9wJD")
    );
}

#[test]
fn completions_korean_prompt() {
    let trace = trace_of("dd-trace-py-openai-005.json");
    assert_eq!(trace.model.provider_api, ProviderApi::OpenaiCompletions);
    assert_eq!(
        trace.input.latest_user_text().as_deref(),
        Some("안녕,\n 지금 몇 시야?")
    );
    assert!(trace
        .output
        .text
        .as_deref()
        .is_some_and(|text| text.starts_with("\n안녕하세요. 저는 인공지능 언어모델입니다.")));
    assert_eq!(trace.usage.prompt_tokens, Some(13));
    assert_eq!(trace.usage.completion_tokens, Some(73));
    assert_eq!(trace.usage.total_tokens, Some(86));
    assert_eq!(
        trace.model.served.as_deref(),
        Some("gpt-3.5-turbo-instruct:20230824-v2")
    );
    assert_eq!(trace.parameters["max_tokens"], serde_json::json!(256));
}

#[test]
fn multimodal_audio_size_only() {
    let trace = trace_of("pydantic-ai-openai-014.json");
    let part = &trace.input.messages[0].content[1];
    // The recorded blob is a 256-character base64 prefix, so 192 decoded bytes.
    assert_eq!(
        part,
        &ContentPart::Audio {
            format: Some("mp3".to_string()),
            inline_bytes: Some(192)
        }
    );
}

#[test]
fn multimodal_pdf_file_size_only() {
    let trace = trace_of("pydantic-ai-openai-015.json");
    let part = &trace.input.messages[0].content[1];
    assert_eq!(
        part,
        &ContentPart::File {
            filename: Some("filename.pdf".to_string()),
            media_type: Some("application/pdf".to_string()),
            url: None,
            inline_bytes: Some(192),
        }
    );
}

#[test]
fn multimodal_http_image_kept() {
    let trace = trace_of("dd-trace-py-openai-002.json");
    let content = &trace.input.messages[0].content;
    assert_eq!(
        content[0],
        ContentPart::Text {
            text: "What\u{2019}s in this image?".to_string()
        }
    );
    assert!(
        matches!(&content[1], ContentPart::Image { url: Some(url), inline_bytes: None, .. } if url.starts_with("https://upload.wikimedia.org/"))
    );
    assert_eq!(
        trace.parameters["max_completion_tokens"],
        serde_json::json!(256)
    );
}

#[test]
fn multimodal_inline_png_dropped() {
    let trace = trace_of("llm-openrouter-openrouter-002.json");
    let image = trace.input.messages[0]
        .content
        .iter()
        .find(|part| matches!(part, ContentPart::Image { .. }))
        .expect("image part kept");
    assert!(
        matches!(image, ContentPart::Image { url: None, media_type: Some(media), inline_bytes: Some(bytes), .. } if media == "image/png" && *bytes > 0)
    );
}

#[test]
fn blank_provider_fields_ignored() {
    // Snowflake Cortex fills unused fields with "" and sends an empty legacy `function_call`.
    let trace = trace_of("pydantic-ai-snowflake-001.json");
    assert_eq!(trace.ids.response_id, None);
    assert_eq!(trace.finish_reason, None);
    assert_eq!(trace.output.text, None);
    assert_eq!(trace.output.tool_calls.len(), 1);
    assert_eq!(
        trace.output.tool_calls[0].summary(),
        "get_weather({\"city\":\"Mexico City\"})"
    );
}

#[test]
fn request_user_field_read() {
    let envelope = load("pydantic-ai-openai-003.json");
    let trace = trace_of("pydantic-ai-openai-003.json");
    assert!(envelope["request"]["user"].is_string());
    assert_eq!(
        trace.user_id.as_deref(),
        envelope["request"]["user"].as_str()
    );
}
