//! Unit tests of the PostHog config and event mapping. The batch contract is checked against
//! a scripted endpoint in the workspace tests (`tests/contracts.rs`).

use std::sync::Arc;

use broadcast_core::ingest::normalise;
use broadcast_core::{PrivacyMode, Trace};
use serde_json::{json, Value};

use crate::config::validate;
use crate::encoder::{cap_depth, encode};

fn trace(user: Option<&str>, trace_fields: Value) -> Arc<Trace> {
    let mut envelope = json!({
        "session_id": "sess-0001",
        "started_at": "2026-03-01T10:00:00.250Z",
        "ended_at": "2026-03-01T10:00:01.500Z",
        "trace": trace_fields,
        "request": {"model": "gpt-4o-mini", "temperature": 0.2, "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "PLACEHOLDER-PROMPT-3c1d"}]},
        "response": {"id": "chatcmpl-1", "object": "chat.completion", "created": 1772359200, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "PLACEHOLDER-ANSWER-9e2b"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8, "prompt_tokens_details": {"cached_tokens": 2}}},
        "status": 200
    });
    if let Some(user) = user {
        envelope["user"] = json!(user);
    }
    match normalise(&envelope, chrono::Utc::now()) {
        Ok(normalised) => Arc::new(normalised.trace),
        Err(error) => panic!("test envelope rejected: {error}"),
    }
}

fn event_of(trace: &Arc<Trace>, privacy: PrivacyMode) -> Value {
    let encoded = encode(&privacy.apply(trace), 1_000_000).unwrap_or_else(|error| panic!("{error}"));
    serde_json::from_slice(&encoded.bytes).unwrap_or_else(|error| panic!("event is not JSON: {error}"))
}

#[test]
fn generation_properties() {
    let trace = trace(Some("user-0001"), json!({"trace_name": "checkout", "generation_name": "answer"}));
    let event = event_of(&trace, PrivacyMode::Off);
    assert_eq!(event["event"], "$ai_generation");
    assert_eq!(event["uuid"], json!(trace.ids.generation_id));
    assert_eq!(event["distinct_id"], "user-0001");
    assert_eq!(event["timestamp"], "2026-03-01T10:00:00.250Z");
    let properties = &event["properties"];
    assert_eq!(properties["$ai_model"], "gpt-4o-mini");
    assert_eq!(properties["$ai_provider"], "openai");
    assert_eq!(properties["$ai_input"][0], json!({"role": "system", "content": "Be brief."}));
    assert_eq!(properties["$ai_input"][1]["content"], "PLACEHOLDER-PROMPT-3c1d");
    assert_eq!(properties["$ai_output_choices"][0]["content"], "PLACEHOLDER-ANSWER-9e2b");
    assert_eq!(properties["$ai_input_tokens"], 5);
    assert_eq!(properties["$ai_output_tokens"], 3);
    assert_eq!(properties["$ai_cache_read_input_tokens"], 2);
    assert_eq!(properties["$ai_latency"], 1.25);
    assert_eq!(properties["$ai_trace_id"], json!(trace.ids.trace_id));
    assert_eq!(properties["$ai_span_name"], "answer");
    assert_eq!(properties["$ai_session_id"], "sess-0001");
    assert_eq!(properties["$ai_http_status"], 200);
    assert_eq!(properties["$ai_is_error"], false);
    assert_eq!(properties["$ai_temperature"], 0.2);
    assert_eq!(properties["trace_name"], "checkout");
    assert!(properties.get("$process_person_profile").is_none());
}

#[test]
fn anonymous_event_without_person() {
    let event = event_of(&trace(None, json!({})), PrivacyMode::Off);
    assert_eq!(event["distinct_id"], "sess-0001");
    assert_eq!(event["properties"]["$process_person_profile"], false);
}

#[test]
fn metadata_prefixed_and_depth_capped() {
    let trace = trace(Some("u"), json!({"feature": "vision", "deep": {"a": {"b": {"c": {"d": 1}}}, "list": [[[1]]]}}));
    let properties = event_of(&trace, PrivacyMode::Off)["properties"].clone();
    assert_eq!(properties["metadata_feature"], "vision");
    assert_eq!(properties["metadata_deep"]["a"]["b"], json!({"c": "[truncated]"}));
    assert_eq!(properties["metadata_deep"]["list"], json!([["[truncated]"]]));
}

#[test]
fn depth_cap_keeps_three_levels() {
    let three_levels = json!({"a": {"b": {"c": 1}}});
    assert_eq!(cap_depth(&three_levels, 1), three_levels);
    assert_eq!(cap_depth(&json!({"a": {"b": {"c": {"d": 1}}}}), 1), json!({"a": {"b": {"c": "[truncated]"}}}));
}

#[test]
fn privacy_event_has_no_content() {
    let event = event_of(&trace(Some("u"), json!({})), PrivacyMode::On);
    let text = event.to_string();
    assert!(!text.contains("PLACEHOLDER-PROMPT-3c1d"), "{text}");
    assert!(!text.contains("PLACEHOLDER-ANSWER-9e2b"), "{text}");
    assert!(event["properties"].get("$ai_input").is_none());
    assert_eq!(event["properties"]["$ai_input_tokens"], 5);
}

#[test]
fn config_regions() {
    let eu = validate(&json!({"api_key": "phc_x", "region": "eu"})).map(|config| config.endpoint("batch/"));
    assert_eq!(eu.ok().as_deref(), Some("https://eu.i.posthog.com/batch/"));
    let us = validate(&json!({"api_key": "phc_x"})).map(|config| config.endpoint("batch/"));
    assert_eq!(us.ok().as_deref(), Some("https://us.i.posthog.com/batch/"));
    let error = validate(&json!({"api_key": "phc_x", "region": "ap"})).err();
    assert_eq!(error.map(|error| error.field), Some("region".to_string()));
}

#[test]
fn config_rejects_personal_key() {
    let error = validate(&json!({"api_key": "phx_personal"})).err();
    assert_eq!(error.map(|error| error.field), Some("api_key".to_string()));
}

#[test]
fn config_rejects_region_and_host() {
    let error = validate(&json!({"api_key": "phc_x", "region": "eu", "host": "https://ph.example.com"})).err();
    assert_eq!(error.map(|error| error.field), Some("host".to_string()));
}
