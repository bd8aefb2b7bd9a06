//! Unit tests of the Datadog config and span mapping. The intake contract is checked against
//! a scripted endpoint in the workspace tests (`tests/contracts.rs`).

use std::sync::Arc;

use broadcast_core::ingest::normalise;
use broadcast_core::{PrivacyMode, Trace};
use serde_json::{json, Value};

use crate::config::{validate, DatadogConfig};
use crate::encoder::{decimal_id, encode};

fn config() -> DatadogConfig {
    validate(&json!({"api_key": "dd-key", "ml_app": "support-bot"})).unwrap_or_else(|error| panic!("{error}"))
}

fn trace(status: u16) -> Arc<Trace> {
    let response = if status == 200 {
        json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1772359200, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "PLACEHOLDER-ANSWER-9e2b"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})
    } else {
        json!({"error": {"message": "PLACEHOLDER-PROMPT-3c1d is too long", "type": "invalid_request_error", "code": "context_length_exceeded"}})
    };
    let envelope = json!({
        "user": "user-0001",
        "session_id": "sess-0001",
        "started_at": "2026-03-01T10:00:00.250Z",
        "ended_at": "2026-03-01T10:00:01.500Z",
        "trace": {"feature": "vision", "nested": {"a": 1}},
        "request": {"model": "gpt-4o-mini", "temperature": 0.2, "messages": [{"role": "user", "content": "PLACEHOLDER-PROMPT-3c1d"}]},
        "response": response,
        "status": status
    });
    match normalise(&envelope, chrono::Utc::now()) {
        Ok(normalised) => Arc::new(normalised.trace),
        Err(error) => panic!("test envelope rejected: {error}"),
    }
}

fn span_of(trace: &Arc<Trace>, privacy: PrivacyMode) -> Value {
    let encoded = encode(&config(), &privacy.apply(trace), 1_000_000).unwrap_or_else(|error| panic!("{error}"));
    serde_json::from_slice(&encoded.bytes).unwrap_or_else(|error| panic!("span is not JSON: {error}"))
}

#[test]
fn llm_span_fields() {
    let trace = trace(200);
    let span = span_of(&trace, PrivacyMode::Off);
    assert_eq!(span["span_id"], json!(decimal_id(&trace.ids.generation_span_id)));
    assert_eq!(span["trace_id"], json!(trace.ids.trace_id));
    assert_eq!(span["parent_id"], "undefined");
    assert_eq!(span["start_ns"], json!(1_772_359_200_250_000_000_i64));
    assert_eq!(span["duration"], json!(1_250_000_000.0));
    assert_eq!(span["status"], "ok");
    assert_eq!(span["session_id"], "sess-0001");
    let tags = span["tags"].as_array().cloned().unwrap_or_default();
    for expected in ["service:support-bot", "user_id:user-0001", "feature:vision"] {
        assert!(tags.contains(&json!(expected)), "{expected} missing from {tags:?}");
    }
    assert_eq!(span["meta"]["kind"], "llm");
    assert_eq!(span["meta"]["input"]["messages"][0], json!({"role": "user", "content": "PLACEHOLDER-PROMPT-3c1d"}));
    assert_eq!(span["meta"]["output"]["messages"][0]["content"], "PLACEHOLDER-ANSWER-9e2b");
    assert_eq!(span["meta"]["metadata"]["model_name"], "gpt-4o-mini");
    assert_eq!(span["meta"]["metadata"]["model_provider"], "openai");
    assert_eq!(span["meta"]["metadata"]["temperature"], 0.2);
    assert_eq!(span["meta"]["metadata"]["nested"], "{\"a\":1}", "metadata values must be scalars");
    assert_eq!(span["metrics"], json!({"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}));
}

#[test]
fn error_span() {
    let span = span_of(&trace(400), PrivacyMode::Off);
    assert_eq!(span["status"], "error");
    assert_eq!(span["meta"]["error"]["type"], "invalid_request_error");
    assert_eq!(span["meta"]["error"]["message"], "PLACEHOLDER-PROMPT-3c1d is too long");
}

#[test]
fn privacy_span_has_no_content() {
    for status in [200, 400] {
        let span = span_of(&trace(status), PrivacyMode::On);
        let text = span.to_string();
        assert!(!text.contains("PLACEHOLDER-PROMPT-3c1d"), "{text}");
        assert!(!text.contains("PLACEHOLDER-ANSWER-9e2b"), "{text}");
        assert!(span["meta"].get("input").is_none());
    }
}

#[test]
fn decimal_span_ids() {
    assert_eq!(decimal_id("00000000000000ff"), "255");
    assert_eq!(decimal_id("not-hex"), "not-hex");
}

#[test]
fn config_sites() {
    let eu = validate(&json!({"api_key": "k", "ml_app": "app", "site": "datadoghq.eu"}));
    assert_eq!(eu.map(|config| config.endpoint("api/v1/validate")).ok().as_deref(), Some("https://api.datadoghq.eu/api/v1/validate"));
    let gov = validate(&json!({"api_key": "k", "ml_app": "app", "site": "ddog-gov.com"})).err();
    assert_eq!(gov.map(|error| error.field), Some("site".to_string()));
}

#[test]
fn config_ml_app_rules() {
    for bad in ["Support-Bot", "a__b", "app_", "", "with space"] {
        let error = validate(&json!({"api_key": "k", "ml_app": bad})).err();
        assert_eq!(error.map(|error| error.field), Some("ml_app".to_string()), "{bad:?} accepted");
    }
    assert!(validate(&json!({"api_key": "k", "ml_app": "team/support-bot:v2.1"})).is_ok());
}
