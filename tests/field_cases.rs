//! Ingest-level checks of failure modes that trace-broadcasting tools have hit in the field.
//!
//! The cases cover content-part arrays, null content beside tool calls, reasoning tokens,
//! usage in a trailing stream chunk, numbers sent as strings, multi-byte text, error traces
//! and credentials in nested metadata. Each input is written inline with neutral placeholders.

use std::str::FromStr;

use broadcast_core::ingest::{normalise, split_envelopes, Normalised};
use broadcast_core::{ContentPart, Outcome, Role};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

fn received_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:10Z")
        .map(|time| time.with_timezone(&Utc))
        .expect("valid timestamp literal")
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("case input is valid JSON")
}

fn normalised(text: &str) -> Normalised {
    normalise(&parse(text), received_at())
        .unwrap_or_else(|error| panic!("case input rejected: {error}"))
}

fn decimal(text: &str) -> Option<Decimal> {
    Some(Decimal::from_str(text).expect("valid decimal literal"))
}

const FC01_CONTENT_PARTS: &str = r#"{
  "trace_id": "trc-fc01", "user_id": "user-0001", "session_id": "sess-0001",
  "provider": "openai", "model": "gpt-4o-mini",
  "request": {"model": "gpt-4o-mini", "messages": [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": [
      {"type": "text", "text": "Describe this picture."},
      {"type": "image_url", "image_url": {"url": "https://example.com/img/placeholder.png", "detail": "low"}},
      {"type": "text", "text": "Answer in one line."},
      {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}
    ]}
  ]},
  "response": {"id": "chatcmpl-fc01", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "A placeholder picture."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 95, "completion_tokens": 6, "total_tokens": 101}},
  "cost_usd": 0.0000179, "latency_ms": 812, "finish_reason": "stop", "metadata": {}
}"#;

#[test]
fn fc01_content_parts_array() {
    let normalised = normalised(FC01_CONTENT_PARTS);
    let trace = &normalised.trace;
    assert!(
        normalised.warnings.is_empty(),
        "warnings: {:?}",
        normalised.warnings
    );

    let user = &trace.input.messages[1];
    assert_eq!(user.role, Role::User);
    assert_eq!(
        user.text().as_deref(),
        Some("Describe this picture.\nAnswer in one line.")
    );
    assert_eq!(user.content.len(), 4);
    assert_eq!(
        user.content[1],
        ContentPart::Image {
            url: Some("https://example.com/img/placeholder.png".to_string()),
            media_type: None,
            inline_bytes: None,
            detail: Some("low".to_string()),
        }
    );
    assert_eq!(
        user.content[3],
        ContentPart::Audio {
            format: Some("wav".to_string()),
            inline_bytes: Some(12)
        }
    );
    assert_eq!(
        user.content[3].placeholder().as_deref(),
        Some("[input_audio wav, 12 B]")
    );

    let serialised = serde_json::to_string(trace).expect("trace serialises");
    assert!(
        !serialised.contains("UklGRiQAAABXQVZF"),
        "audio base64 reached the trace"
    );
    assert!(
        !serialised.contains("[{'type'"),
        "a language debug dump reached the trace"
    );

    assert_eq!(
        trace.input.messages[0].text().as_deref(),
        Some("You are a helpful assistant.")
    );
    assert_eq!(trace.output.text.as_deref(), Some("A placeholder picture."));
    assert_eq!(trace.ids.trace_id, "trc-fc01");
    assert_eq!(trace.user_id.as_deref(), Some("user-0001"));
    assert_eq!(trace.session_id.as_deref(), Some("sess-0001"));
    assert_eq!(trace.cost_usd, decimal("0.0000179"));
    assert_eq!(trace.timing.duration_ms(), Some(812));
}

const FC04_NULL_CONTENT_TOOL_CALLS: &str = r#"{
  "trace_id": "trc-fc04", "user_id": "user-0001", "session_id": "sess-0001",
  "provider": "openai", "model": "gpt-4o-mini",
  "request": {"model": "gpt-4o-mini",
    "tools": [{"type": "function", "function": {"name": "get_weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "messages": [
      {"role": "user", "content": "Weather in CITY_A and CITY_B?"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_001", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"CITY_A\"}"}}]},
      {"role": "tool", "tool_call_id": "call_001", "content": "{\"temp_c\": 21}"}
    ]},
  "response": {"id": "chatcmpl-fc04", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_002", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"CITY_B\"}"}}]},
      "finish_reason": "tool_calls"}],
    "usage": {"prompt_tokens": 88, "completion_tokens": 17, "total_tokens": 105}},
  "cost_usd": 0.0000234, "latency_ms": 700, "finish_reason": "tool_calls", "metadata": {}
}"#;

#[test]
fn fc04_null_content_tool_calls() {
    let trace = normalised(FC04_NULL_CONTENT_TOOL_CALLS).trace;

    assert_eq!(trace.output.text, None);
    assert_eq!(trace.output.tool_calls.len(), 1);
    let call = &trace.output.tool_calls[0];
    assert_eq!(call.id.as_deref(), Some("call_002"));
    assert_eq!(call.name, "get_weather");
    assert_eq!(
        call.arguments_json(),
        Some(serde_json::json!({"city": "CITY_B"}))
    );
    assert_eq!(
        trace.output.text_or_tool_summary().as_deref(),
        Some("get_weather({\"city\":\"CITY_B\"})")
    );
    assert_eq!(trace.finish_reason.as_deref(), Some("tool_calls"));

    let assistant = &trace.input.messages[1];
    assert!(
        assistant.content.is_empty(),
        "null content gives no parts, not a \"null\" text"
    );
    assert_eq!(assistant.tool_calls[0].id.as_deref(), Some("call_001"));
    let tool = &trace.input.messages[2];
    assert_eq!(tool.role, Role::Tool);
    assert_eq!(tool.tool_call_id.as_deref(), Some("call_001"));
    assert_eq!(tool.text().as_deref(), Some("{\"temp_c\": 21}"));

    assert_eq!(trace.input.tools[0].name, "get_weather");
    assert!(trace.input.tools[0].parameters.is_some());
}

const FC05_REASONING_TOKENS: &str = r#"{
  "trace_id": "trc-fc05", "user_id": "user-0001", "session_id": "sess-0001",
  "provider": "openai-compatible", "model": "reasoning-model-x",
  "request": {"model": "reasoning-model-x", "messages": [{"role": "user", "content": "What is 6 x 7?"}]},
  "response": {"id": "chatcmpl-fc05", "object": "chat.completion", "created": 1767225600, "model": "reasoning-model-x",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "42",
      "reasoning_content": "PLACEHOLDER-REASONING: six times seven equals forty-two."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 130, "total_tokens": 150,
      "completion_tokens_details": {"reasoning_tokens": 120}}},
  "cost_usd": 0.00031, "latency_ms": 4100, "finish_reason": "stop", "metadata": {}
}"#;

#[test]
fn fc05_reasoning_kept_separate() {
    let trace = normalised(FC05_REASONING_TOKENS).trace;

    assert_eq!(trace.usage.completion_tokens, Some(130));
    assert_eq!(trace.usage.reasoning_tokens, Some(120));
    assert_eq!(trace.usage.prompt_tokens, Some(20));
    assert_eq!(trace.usage.total_tokens, Some(150));
    assert_eq!(trace.output.text.as_deref(), Some("42"));
    assert_eq!(
        trace.output.reasoning.as_deref(),
        Some("PLACEHOLDER-REASONING: six times seven equals forty-two.")
    );
    assert_eq!(trace.cost_usd, decimal("0.00031"));
    assert_eq!(trace.model.provider.as_deref(), Some("openai-compatible"));
}

const FC06_TRAILING_USAGE_CHUNK: &str = r#"{
  "trace_id": "trc-fc06", "user_id": "user-0001", "session_id": "sess-0001",
  "provider": "openrouter", "model": "vendor-x/model-y",
  "request": {"model": "vendor-x/model-y", "stream": true, "stream_options": {"include_usage": true},
    "messages": [{"role": "user", "content": "Say hello."}]},
  "stream_chunks": [
    {"id": "gen-fc06", "object": "chat.completion.chunk", "created": 1767225600, "model": "vendor-x/model-y",
     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello"}, "finish_reason": null}]},
    {"id": "gen-fc06", "object": "chat.completion.chunk", "created": 1767225600, "model": "vendor-x/model-y",
     "choices": [{"index": 0, "delta": {"content": " there"}, "finish_reason": null}]},
    {"id": "gen-fc06", "object": "chat.completion.chunk", "created": 1767225600, "model": "vendor-x/model-y",
     "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": null},
    {"id": "gen-fc06", "object": "chat.completion.chunk", "created": 1767225600, "model": "vendor-x/model-y",
     "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14, "cost": 0.000021}}
  ],
  "latency_ms": 640, "metadata": {}
}"#;

#[test]
fn fc06_stream_trailing_usage() {
    let envelopes = split_envelopes(FC06_TRAILING_USAGE_CHUNK.as_bytes()).expect("body splits");
    assert_eq!(envelopes.len(), 1, "one stream is one envelope");
    let trace = normalise(&envelopes[0], received_at())
        .expect("case input is valid")
        .trace;

    assert!(trace.streamed);
    assert_eq!(trace.output.text.as_deref(), Some("Hello there"));
    assert_eq!(trace.finish_reason.as_deref(), Some("stop"));
    assert_eq!(trace.usage.prompt_tokens, Some(11));
    assert_eq!(trace.usage.completion_tokens, Some(3));
    assert_eq!(trace.usage.total_tokens, Some(14));
    assert_eq!(trace.cost_usd, decimal("0.000021"));
    assert_eq!(trace.ids.response_id.as_deref(), Some("gen-fc06"));
    assert_eq!(trace.model.served.as_deref(), Some("vendor-x/model-y"));
    assert_eq!(trace.timing.duration_ms(), Some(640));
}

const FC07_COST_VARIANTS: &str = r#"[
  {"trace_id": "trc-fc07-a", "user_id": "user-0001", "model": "gpt-4o-mini",
   "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
   "response": {"id": "chatcmpl-fc07a", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
     "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9, "cost": "0.00042"}},
   "cost_usd": "0.00042", "latency_ms": 400, "finish_reason": "stop", "metadata": {}},
  {"trace_id": "trc-fc07-b", "user_id": "user-0001", "model": "gpt-4o-mini",
   "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
   "response": {"id": "chatcmpl-fc07b", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
     "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9}},
   "cost_usd": null, "latency_ms": 400, "finish_reason": "stop", "metadata": {}},
  {"trace_id": "trc-fc07-c", "user_id": "user-0001", "model": "gpt-4o-mini",
   "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
   "response": {"id": "chatcmpl-fc07c", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
     "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": "9"}},
   "cost_usd": "n/a", "latency_ms": "400", "finish_reason": "stop", "metadata": {}}
]"#;

fn fc07_variant(index: usize) -> Normalised {
    let envelopes = split_envelopes(FC07_COST_VARIANTS.as_bytes()).expect("body splits");
    assert_eq!(envelopes.len(), 3);
    normalise(&envelopes[index], received_at())
        .unwrap_or_else(|error| panic!("variant {index} rejected: {error}"))
}

#[test]
fn fc07_cost_string_read() {
    let normalised = fc07_variant(0);
    assert_eq!(normalised.trace.cost_usd, decimal("0.00042"));
    assert!(
        normalised.warnings.is_empty(),
        "warnings: {:?}",
        normalised.warnings
    );

    // The string cost inside `usage` is read too when the envelope gives none.
    let mut without_override = parse(FC07_COST_VARIANTS)[0].clone();
    without_override["cost_usd"] = Value::Null;
    let trace = normalise(&without_override, received_at())
        .expect("variant is valid")
        .trace;
    assert_eq!(trace.cost_usd, decimal("0.00042"));
}

#[test]
fn fc07_cost_null_absent() {
    let normalised = fc07_variant(1);
    assert_eq!(normalised.trace.cost_usd, None);
    assert!(
        normalised.warnings.is_empty(),
        "warnings: {:?}",
        normalised.warnings
    );
    let serialised = serde_json::to_value(&normalised.trace).expect("trace serialises");
    assert!(
        serialised.get("cost_usd").is_none(),
        "a null cost is left out, not sent as 0 or null"
    );
}

#[test]
fn fc07_strings_coerced_junk_warned() {
    let normalised = fc07_variant(2);
    let trace = &normalised.trace;
    assert_eq!(trace.usage.total_tokens, Some(9));
    assert_eq!(trace.timing.duration_ms(), Some(400));
    assert_eq!(trace.cost_usd, None);
    assert_eq!(
        normalised.warnings.len(),
        1,
        "warnings: {:?}",
        normalised.warnings
    );
    assert_eq!(normalised.warnings[0].field, "cost_usd");
    assert!(normalised.warnings[0].message.contains("\"n/a\""));
    assert_eq!(trace.ids.trace_id, "trc-fc07-c");
}

const FC10_MULTIBYTE_TEXT: &str = r#"{
  "trace_id": "trc-fc10", "user_id": "user-0001", "session_id": "sess-0001",
  "provider": "openai", "model": "gpt-4o-mini",
  "request": {"model": "gpt-4o-mini", "messages": [
    {"role": "user", "content": "abcdefghijklmno🙂 tail text"},
    {"role": "user", "content": "abcdefghijklmnoé and more"}
  ]},
  "response": {"id": "chatcmpl-fc10", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "数据已收到，谢谢！🙂"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 22, "completion_tokens": 9, "total_tokens": 31}},
  "cost_usd": 0.0000087, "latency_ms": 430, "finish_reason": "stop", "metadata": {}
}"#;

#[test]
fn fc10_multibyte_text_kept_whole() {
    let trace = normalised(FC10_MULTIBYTE_TEXT).trace;
    assert_eq!(
        trace.input.messages[0].text().as_deref(),
        Some("abcdefghijklmno🙂 tail text")
    );
    assert_eq!(
        trace.input.messages[1].text().as_deref(),
        Some("abcdefghijklmnoé and more")
    );
    assert_eq!(trace.output.text.as_deref(), Some("数据已收到，谢谢！🙂"));

    let serialised = serde_json::to_string(&trace).expect("trace serialises");
    let round_trip: broadcast_core::Trace =
        serde_json::from_str(&serialised).expect("trace deserialises");
    assert_eq!(round_trip, trace);
}

const FC15_ERROR_WITHOUT_RESPONSE: &str = r#"{
  "trace_id": "trc-fc15", "user_id": "user-0001", "session_id": "sess-0001",
  "provider": "openai", "model": "gpt-4o-mini",
  "request": {"model": "gpt-4o-mini", "messages": [
    {"role": "user", "content": "PLACEHOLDER-PROMPT-7f3a look up record"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_9", "type": "function",
      "function": {"name": "lookup", "arguments": "{\"ssn\":\"PLACEHOLDER-ID-000-00-0000\"}"}}]},
    {"role": "tool", "tool_call_id": "call_9", "content": "ERROR: cannot open PLACEHOLDER-FILE-CONTENTS-9b2c"}
  ]},
  "response": null,
  "error": {"status": 400, "type": "invalid_request_error", "code": "context_length_exceeded",
    "message": "Request too long; first message was: 'PLACEHOLDER-PROMPT-7f3a look up record'"},
  "cost_usd": 0, "latency_ms": 210, "finish_reason": "error",
  "metadata": {"last_tool_error": "stderr: PLACEHOLDER-FILE-CONTENTS-9b2c"}
}"#;

#[test]
fn fc15_error_object_trace() {
    let trace = normalised(FC15_ERROR_WITHOUT_RESPONSE).trace;

    assert_eq!(trace.status.outcome, Outcome::Error);
    assert_eq!(trace.status.http_status, Some(400));
    assert_eq!(
        trace.status.error_type.as_deref(),
        Some("invalid_request_error")
    );
    assert_eq!(
        trace.status.error_code.as_deref(),
        Some("context_length_exceeded")
    );
    assert!(trace
        .status
        .error_message
        .as_deref()
        .is_some_and(|message| message.starts_with("Request too long")));
    assert_eq!(trace.finish_reason.as_deref(), Some("error"));
    assert_eq!(trace.cost_usd, Some(Decimal::ZERO));
    assert_eq!(trace.output.text, None);
    assert_eq!(trace.timing.duration_ms(), Some(210));

    // Content stays in its content fields, where the privacy filter finds it.
    let assistant = &trace.input.messages[1];
    assert_eq!(
        assistant.tool_calls[0].arguments.as_deref(),
        Some("{\"ssn\":\"PLACEHOLDER-ID-000-00-0000\"}")
    );
    assert_eq!(
        trace.input.messages[2].tool_call_id.as_deref(),
        Some("call_9")
    );
    assert_eq!(
        trace.metadata["last_tool_error"],
        "stderr: PLACEHOLDER-FILE-CONTENTS-9b2c"
    );
}

const FC17_NESTED_METADATA: &str = r#"{
  "trace_id": "trc-fc17", "user_id": "user-0001", "session_id": "sess-0001",
  "provider": "openai", "model": "gpt-4o-mini",
  "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "PLACEHOLDER-PROMPT-5a9e"}]},
  "response": {"id": "chatcmpl-fc17", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "PLACEHOLDER-ANSWER-11aa"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}},
  "cost_usd": 0.0000038, "latency_ms": 600, "finish_reason": "stop",
  "metadata": {
    "guardrail": {
      "name": "tool-permission",
      "result": "allowed",
      "messages": [{"role": "user", "content": "PLACEHOLDER-PROMPT-5a9e"}],
      "request_body": {"messages": [{"role": "user", "content": "PLACEHOLDER-PROMPT-5a9e"}]},
      "raw_headers": {"authorization": "Bearer sk-PLACEHOLDER-TOKEN-0000", "x-api-key": "PLACEHOLDER-KEY-1111",
        "cookie": "session=PLACEHOLDER-COOKIE", "user-agent": "client/1.0"}
    }
  }
}"#;

#[test]
fn fc17_metadata_credentials_redacted() {
    let trace = normalised(FC17_NESTED_METADATA).trace;
    let guardrail = &trace.metadata["guardrail"];
    let headers = &guardrail["raw_headers"];

    assert_eq!(headers["authorization"], "[REDACTED]");
    assert_eq!(headers["x-api-key"], "[REDACTED]");
    assert_eq!(headers["cookie"], "[REDACTED]");
    assert_eq!(headers["user-agent"], "client/1.0");
    assert_eq!(guardrail["name"], "tool-permission");
    assert_eq!(guardrail["result"], "allowed");

    let serialised = serde_json::to_string(&trace).expect("trace serialises");
    for secret in [
        "sk-PLACEHOLDER-TOKEN-0000",
        "PLACEHOLDER-KEY-1111",
        "PLACEHOLDER-COOKIE",
    ] {
        assert!(!serialised.contains(secret), "{secret} reached the trace");
    }
}

#[test]
fn fc17_credential_key_variants_redacted() {
    let mut envelope = parse(FC17_NESTED_METADATA);
    envelope["metadata"] = serde_json::json!({
        "langfuse_secret_key": "PLACEHOLDER-SECRET",
        "config": {"openaiApiKey": "PLACEHOLDER-API-KEY", "nested": [{"access_token": "PLACEHOLDER-ACCESS"}]},
        "max_tokens": 256,
        "prompt_tokens": 9,
    });
    envelope["trace"] =
        serde_json::json!({"client_secret": "PLACEHOLDER-CLIENT", "feature": "checkout"});
    let trace = normalise(&envelope, received_at())
        .expect("case input is valid")
        .trace;

    assert_eq!(trace.metadata["langfuse_secret_key"], "[REDACTED]");
    assert_eq!(trace.metadata["config"]["openaiApiKey"], "[REDACTED]");
    assert_eq!(
        trace.metadata["config"]["nested"][0]["access_token"],
        "[REDACTED]"
    );
    assert_eq!(trace.metadata["client_secret"], "[REDACTED]");
    assert_eq!(trace.metadata["max_tokens"], 256);
    assert_eq!(trace.metadata["prompt_tokens"], 9);
    assert_eq!(trace.metadata["feature"], "checkout");
}
