//! Unit tests of the Raindrop config and event mapping. Transport behaviour (retries, 413,
//! Retry-After, privacy canaries) is covered for every destination by the conformance suite.

use std::sync::Arc;

use broadcast_core::ingest::normalise;
use broadcast_core::text::TRUNCATION_MARKER;
use broadcast_core::{ExportTrace, PrivacyMode, Trace};
use serde_json::{json, Value};

use crate::config::{validate, RaindropConfig};
use crate::encoder::encode;

const LIMIT: usize = 1_000_000;

fn config() -> RaindropConfig {
    validate(&json!({"write_key": "rk_test_0123456789", "base_url": "http://127.0.0.1:9"}))
        .unwrap_or_else(|error| panic!("test config invalid: {error}"))
}

fn trace(envelope: Value) -> Arc<Trace> {
    let received_at = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:05Z")
        .map(|date| date.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    match normalise(&envelope, received_at) {
        Ok(normalised) => Arc::new(normalised.trace),
        Err(error) => panic!("test envelope rejected: {error}"),
    }
}

fn event_of(trace: &Arc<Trace>, privacy: PrivacyMode, limit: usize) -> Value {
    let export: ExportTrace = privacy.apply(trace);
    let encoded = encode(&config(), &export, limit).unwrap_or_else(|error| panic!("encode failed: {error}"));
    assert!(encoded.bytes.len() <= limit, "event of {} bytes over {limit}", encoded.bytes.len());
    serde_json::from_slice(&encoded.bytes).unwrap_or_else(|error| panic!("event is not JSON: {error}"))
}

fn chat(messages: Value, message: Value, usage: Value) -> Value {
    json!({
        "user": "user-0001",
        "session_id": "sess-0001",
        "started_at": "2026-01-01T00:00:00.250Z",
        "ended_at": "2026-01-01T00:00:01Z",
        "request": {"model": "gpt-4o-mini", "messages": messages},
        "response": {"id": "chatcmpl-1", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": message, "finish_reason": if message.get("tool_calls").is_some() { "tool_calls" } else { "stop" }}],
            "usage": usage},
        "status": 200
    })
}

#[test]
fn config_requires_write_key() {
    let error = validate(&json!({"base_url": "https://api.raindrop.ai"})).err();
    assert_eq!(error.map(|error| error.field), Some("write_key".to_string()));
}

#[test]
fn config_rejects_bad_project_slug() {
    let error = validate(&json!({"write_key": "rk_x", "project_id": "My_Project"})).err();
    let Some(error) = error else {
        panic!("an upper-case slug must be rejected");
    };
    assert_eq!(error.field, "project_id");
    assert!(error.message.contains("My_Project"), "{error}");
}

#[test]
fn config_accepts_valid_slug() {
    let config = validate(&json!({"write_key": "rk_x", "project_id": "support-bot-2"}));
    assert_eq!(config.ok().and_then(|config| config.project_id), Some("support-bot-2".into()));
}

#[test]
fn config_strips_v1_from_base_url() {
    let config = validate(&json!({"write_key": "rk_x", "base_url": "https://api.raindrop.ai/v1/"}));
    let endpoint = config.map(|config| config.endpoint("v1/events/track")).unwrap_or_default();
    assert_eq!(endpoint, "https://api.raindrop.ai/v1/events/track");
}

#[test]
fn config_default_base_url() {
    let config = validate(&json!({"write_key": "rk_x"}));
    let endpoint = config.map(|config| config.endpoint("v1/events/track")).unwrap_or_default();
    assert_eq!(endpoint, "https://api.raindrop.ai/v1/events/track");
}

#[test]
fn config_rejects_non_http_url() {
    let error = validate(&json!({"write_key": "rk_x", "base_url": "ftp://example.com"})).err();
    assert_eq!(error.map(|error| error.field), Some("base_url".to_string()));
}

#[test]
fn config_errors_never_quote_write_key() {
    let error = validate(&json!({"write_key": "rk live secret 42"})).err();
    let message = error.map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains("write_key"), "{message}");
    assert!(!message.contains("secret 42"), "{message}");
}

#[test]
fn config_unknown_key_lists_known() {
    let error = validate(&json!({"write_key": "rk_x", "writekey": "rk_y"})).err();
    let message = error.map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains("writekey"), "{message}");
    assert!(message.contains("known keys"), "{message}");
}

#[test]
fn event_core_fields() {
    let trace = trace(chat(
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]),
        json!({"role": "assistant", "content": "Hi"}),
        json!({"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}),
    ));
    let event = event_of(&trace, PrivacyMode::Off, LIMIT);
    assert_eq!(event["event_id"], json!(trace.ids.generation_id));
    assert_eq!(event["user_id"], "user-0001");
    assert_eq!(event["event"], "ai_generation");
    assert_eq!(event["timestamp"], "2026-01-01T00:00:00.250Z");
    assert_eq!(event["ai_data"]["model"], "gpt-4o-mini");
    assert_eq!(event["ai_data"]["input"], "Hello");
    assert_eq!(event["ai_data"]["output"], "Hi");
    assert_eq!(event["ai_data"]["convo_id"], "sess-0001");
    let properties = &event["properties"];
    assert_eq!(properties["model"], "gpt-4o-mini");
    assert_eq!(properties["provider"], "openai");
    assert_eq!(properties["prompt_tokens"], 8);
    assert_eq!(properties["completion_tokens"], 2);
    assert_eq!(properties["total_tokens"], 10);
    assert_eq!(properties["duration_ms"], 750);
    assert_eq!(properties["finish_reason"], "stop");
    assert_eq!(properties["status"], "ok");
    assert_eq!(properties["trace_id"], json!(trace.ids.trace_id));
    assert!(properties.get("total_cost").is_none(), "no cost was given, so none is sent");
}

#[test]
fn user_fallback_when_absent() {
    let mut envelope = chat(json!([{"role": "user", "content": "Hi"}]), json!({"role": "assistant", "content": "Yo"}), json!({}));
    envelope.as_object_mut().map(|object| object.remove("user"));
    let event = event_of(&trace(envelope), PrivacyMode::Off, LIMIT);
    assert_eq!(event["user_id"], "anonymous");
}

#[test]
fn multipart_input_joins_text() {
    // A message whose content is an array of parts, including an image and inline audio.
    let trace = trace(chat(
        json!([{"role": "user", "content": [
            {"type": "text", "text": "Describe this picture."},
            {"type": "image_url", "image_url": {"url": "https://example.com/img/placeholder.png", "detail": "low"}},
            {"type": "text", "text": "Answer in one line."},
            {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}
        ]}]),
        json!({"role": "assistant", "content": "A placeholder picture."}),
        json!({"prompt_tokens": 95, "completion_tokens": 6, "total_tokens": 101}),
    ));
    let event = event_of(&trace, PrivacyMode::Off, LIMIT);
    assert_eq!(event["ai_data"]["input"], "Describe this picture.\nAnswer in one line.");
    let text = event.to_string();
    assert!(!text.contains("UklGRiQAAABXQVZF"), "base64 leaked into the event");
    assert!(!text.contains("[{'type'"), "a debug dump of the parts leaked into the event");
}

#[test]
fn tool_calls_summarised_as_output() {
    let trace = trace(chat(
        json!([{"role": "user", "content": "Weather in CITY_A and CITY_B?"},
               {"role": "assistant", "content": null, "tool_calls": [{"id": "call_001", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"CITY_A\"}"}}]},
               {"role": "tool", "tool_call_id": "call_001", "content": "{\"temp_c\": 21}"}]),
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_002", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"CITY_B\"}"}}]}),
        json!({"prompt_tokens": 88, "completion_tokens": 17, "total_tokens": 105}),
    ));
    let event = event_of(&trace, PrivacyMode::Off, LIMIT);
    assert_eq!(event["ai_data"]["output"], "get_weather({\"city\":\"CITY_B\"})");
    assert_eq!(event["ai_data"]["input"], "Weather in CITY_A and CITY_B?");
    assert_eq!(event["properties"]["finish_reason"], "tool_calls");
    assert_eq!(event["properties"]["tool_calls"], json!(["get_weather"]));
    let text = event.to_string();
    assert!(!text.contains("\"null\""), "{text}");
    assert!(!text.contains("None"), "{text}");
}

#[test]
fn reasoning_tokens_kept_apart() {
    let trace = trace(chat(
        json!([{"role": "user", "content": "What is 6 x 7?"}]),
        json!({"role": "assistant", "content": "42", "reasoning_content": "PLACEHOLDER-REASONING: six times seven equals forty-two."}),
        json!({"prompt_tokens": 20, "completion_tokens": 130, "total_tokens": 150, "completion_tokens_details": {"reasoning_tokens": 120}}),
    ));
    let event = event_of(&trace, PrivacyMode::Off, LIMIT);
    assert_eq!(event["ai_data"]["output"], "42");
    assert_eq!(event["properties"]["completion_tokens"], 130);
    assert_eq!(event["properties"]["reasoning_tokens"], 120);
    assert!(!event.to_string().contains("PLACEHOLDER-REASONING"), "reasoning text joined the event");
}

#[test]
fn cost_sent_as_number() {
    let mut envelope = chat(json!([{"role": "user", "content": "Hi"}]), json!({"role": "assistant", "content": "Hello"}), json!({"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9, "cost": "0.00042"}));
    envelope["provider_api"] = json!("openrouter");
    let event = event_of(&trace(envelope), PrivacyMode::Off, LIMIT);
    assert_eq!(event["properties"]["total_cost"], json!(0.00042));
}

#[test]
fn custom_metadata_forwarded_as_is() {
    let mut envelope = chat(json!([{"role": "user", "content": "Hi"}]), json!({"role": "assistant", "content": "Hello"}), json!({}));
    envelope["trace"] = json!({"trace_name": "checkout", "feature": "vision-demo", "tier": 3, "model": "spoofed"});
    let event = event_of(&trace(envelope), PrivacyMode::Off, LIMIT);
    let properties = &event["properties"];
    assert_eq!(properties["feature"], "vision-demo");
    assert_eq!(properties["tier"], 3);
    assert_eq!(properties["trace_name"], "checkout");
    assert_eq!(properties["model"], "gpt-4o-mini", "built-in properties win a clash");
}

#[test]
fn privacy_mode_drops_input_and_output() {
    let trace = trace(chat(
        json!([{"role": "user", "content": "PLACEHOLDER-PROMPT-5a9e"}]),
        json!({"role": "assistant", "content": "PLACEHOLDER-ANSWER-11aa"}),
        json!({"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}),
    ));
    let event = event_of(&trace, PrivacyMode::On, LIMIT);
    let text = event.to_string();
    assert!(!text.contains("PLACEHOLDER-PROMPT-5a9e"), "{text}");
    assert!(!text.contains("PLACEHOLDER-ANSWER-11aa"), "{text}");
    assert!(event.get("ai_data").is_none(), "Raindrop rejects an ai_data without input and output");
    assert_eq!(event["properties"]["convo_id"], "sess-0001");
    assert_eq!(event["properties"]["privacy_mode"], true);
    assert_eq!(event["properties"]["prompt_tokens"], 9);
}

#[test]
fn oversized_event_shrunk_not_dropped() {
    let big = "A".repeat(3_000_000);
    let mut envelope = chat(
        json!([{"role": "user", "content": format!("What is in this image? {big}")}]),
        json!({"role": "assistant", "content": "A grey square."}),
        json!({"prompt_tokens": 1120, "completion_tokens": 5, "total_tokens": 1125}),
    );
    envelope["trace"] = json!({"feature": "vision-demo"});
    let event = event_of(&trace(envelope), PrivacyMode::Off, LIMIT);
    let input = event["ai_data"]["input"].as_str().unwrap_or_default();
    assert!(input.starts_with("What is in this image? AAAA"), "input start lost");
    assert!(input.ends_with(TRUNCATION_MARKER), "input not marked as cut");
    assert_eq!(event["ai_data"]["output"], "A grey square.");
    assert_eq!(event["properties"]["truncated"], true);
    assert_eq!(event["properties"]["feature"], "vision-demo");
    assert_eq!(event["properties"]["prompt_tokens"], 1120);
}

#[test]
fn truncation_respects_char_boundaries() {
    // The limit falls inside a 4-byte emoji and, for the output, inside CJK characters.
    let text = format!("abcdefghijklmno🙂 tail text {}", "x".repeat(2_000));
    let trace = trace(chat(
        json!([{"role": "user", "content": text}]),
        json!({"role": "assistant", "content": "数据已收到，谢谢！🙂".repeat(300)}),
        json!({}),
    ));
    let unshrunk = event_of(&trace, PrivacyMode::Off, LIMIT).to_string().len();
    for limit in [unshrunk - 100, unshrunk - 1_500, unshrunk - 3_000] {
        let event = event_of(&trace, PrivacyMode::Off, limit);
        let output = event["ai_data"]["output"].as_str().unwrap_or_default();
        assert!(output.starts_with("数据已收到"), "output start lost at limit {limit}");
    }
}

#[test]
fn unknown_duration_left_out() {
    let mut envelope = chat(json!([{"role": "user", "content": "Hi"}]), json!({"role": "assistant", "content": "Yo"}), json!({}));
    let object = envelope.as_object_mut().expect("envelope is an object");
    object.remove("started_at");
    object.remove("ended_at");
    let event = event_of(&trace(envelope), PrivacyMode::Off, LIMIT);
    assert!(event["properties"].get("duration_ms").is_none(), "{}", event["properties"]);
    assert_eq!(event["timestamp"], "2026-01-01T00:00:00.000Z", "the response's created time dates the event");
}

#[test]
fn privacy_mode_drops_tool_summary() {
    let trace = trace(chat(
        json!([{"role": "user", "content": "Weather?"}]),
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"X\"}"}}]}),
        json!({}),
    ));
    let event = event_of(&trace, PrivacyMode::On, LIMIT);
    assert!(event.get("ai_data").is_none(), "privacy mode sends neither input nor output: {event}");
    assert_eq!(event["properties"]["tool_calls"], json!(["get_weather"]));
}
