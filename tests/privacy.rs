//! Privacy mode and credential scrubbing on the wire, on the field cases where redaction
//! usually leaks: error messages, tool arguments and results, and nested metadata.

use std::time::Duration;

use broadcast_core::PrivacyMode;
use broadcast_tests::{
    fast_settings, registry, spec_for, start_engine, trace_of, wait_until_idle, FakeEndpoint,
    ScriptedResponse,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Delivers one envelope to a privacy-mode and a normal Raindrop destination and returns the
/// request bodies each received.
async fn deliver(envelope: serde_json::Value) -> (String, String) {
    let registry = registry();
    let private = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let open = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let specs = vec![
        spec_for(&registry, "raindrop", "private", &private, PrivacyMode::On),
        spec_for(&registry, "raindrop", "open", &open, PrivacyMode::Off),
    ];
    let engine = start_engine(&registry, specs, fast_settings());
    engine.ingest(vec![trace_of(&envelope)]).await.expect("trace queued");
    wait_until_idle(&engine, WAIT).await;
    engine.shutdown(None).await;
    let body = |endpoint: &FakeEndpoint| endpoint.requests().iter().map(|request| request.body_text()).collect::<String>();
    (body(&private), body(&open))
}

#[tokio::test]
async fn error_and_tool_text_never_leak() {
    let (private, open) = deliver(json!({
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
    }))
    .await;

    for canary in ["PLACEHOLDER-PROMPT-7f3a", "PLACEHOLDER-ID-000-00-0000", "PLACEHOLDER-FILE-CONTENTS-9b2c"] {
        assert!(!private.contains(canary), "{canary} leaked in privacy mode: {private}");
    }
    assert!(private.contains("\"http_status\":400"), "the error status is kept: {private}");
    assert!(private.contains("context_length_exceeded"), "the error code is kept: {private}");
    assert!(private.contains("\"status\":\"error\""), "the trace is still an error: {private}");
    assert!(open.contains("PLACEHOLDER-PROMPT-7f3a"), "without privacy mode the content is sent: {open}");
}

#[tokio::test]
async fn nested_metadata_scrubbed() {
    let (private, open) = deliver(json!({
        "trace_id": "trc-fc17", "user_id": "user-0001", "session_id": "sess-0001",
        "provider": "openai", "model": "gpt-4o-mini",
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "PLACEHOLDER-PROMPT-5a9e"}]},
        "response": {"id": "chatcmpl-fc17", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "PLACEHOLDER-ANSWER-11aa"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}},
        "cost_usd": 0.0000038, "latency_ms": 600, "finish_reason": "stop",
        "metadata": {"guardrail": {
            "name": "tool-permission",
            "result": "allowed",
            "messages": [{"role": "user", "content": "PLACEHOLDER-PROMPT-5a9e"}],
            "request_body": {"messages": [{"role": "user", "content": "PLACEHOLDER-PROMPT-5a9e"}]},
            "raw_headers": {"authorization": "Bearer sk-PLACEHOLDER-TOKEN-0000", "x-api-key": "PLACEHOLDER-KEY-1111",
                "cookie": "session=PLACEHOLDER-COOKIE", "user-agent": "client/1.0"}
        }}
    }))
    .await;

    assert!(!private.contains("PLACEHOLDER-PROMPT-5a9e"), "{private}");
    assert!(!private.contains("PLACEHOLDER-ANSWER-11aa"), "{private}");
    for body in [&private, &open] {
        for secret in ["sk-PLACEHOLDER-TOKEN-0000", "PLACEHOLDER-KEY-1111", "PLACEHOLDER-COOKIE"] {
            assert!(!body.contains(secret), "{secret} leaked: {body}");
        }
        assert!(body.contains("client/1.0"), "user-agent is kept: {body}");
        assert!(body.contains("tool-permission"), "guardrail name is kept: {body}");
        assert!(body.contains("\"result\":\"allowed\""), "guardrail result is kept: {body}");
    }
    assert!(open.contains("PLACEHOLDER-ANSWER-11aa"), "without privacy mode the answer is sent: {open}");
}
