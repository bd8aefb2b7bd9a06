//! End-to-end unit tests of `normalise`: rejected envelopes and edge cases across readers.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

use super::*;
use crate::model::{ContentPart, Outcome};

fn received() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:10Z")
        .map(|time| time.with_timezone(&Utc))
        .expect("valid timestamp literal")
}

fn ok(envelope: Value) -> Normalised {
    normalise(&envelope, received()).expect("envelope is valid")
}

fn rejected(envelope: Value) -> IngestError {
    normalise(&envelope, received()).expect_err("envelope is invalid")
}

fn chat() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
}

#[test]
fn non_object_envelope_rejected() {
    let error = rejected(json!([1, 2]));
    assert_eq!(error.field, "<body>");
    assert_eq!(error.value, "[1,2]");
}

#[test]
fn missing_request_rejected() {
    let error = rejected(json!({"response": {}}));
    assert_eq!(error.field, "request");
    assert_eq!(error.value, "<missing>");
    assert!(error
        .to_string()
        .starts_with("invalid `request` (value: <missing>): "));
}

#[test]
fn request_not_object_rejected() {
    let error = rejected(json!({"request": "POST /v1/chat"}));
    assert_eq!(error.field, "request");
    assert_eq!(error.value, "\"POST /v1/chat\"");
}

#[test]
fn status_text_rejected_numeric_string_read() {
    let error = rejected(json!({"request": chat(), "status": "teapot"}));
    assert_eq!(error.field, "status");
    assert_eq!(error.value, "\"teapot\"");
    assert!(error.message.contains("100 to 599"));
    let read = ok(json!({"request": chat(), "status": "429"}));
    assert_eq!(read.trace.status.http_status, Some(429));
    assert_eq!(read.trace.status.outcome, Outcome::Error);
}

#[test]
fn account_id_not_string_rejected() {
    let error = rejected(json!({"request": chat(), "account_id": 42}));
    assert_eq!(error.field, "account_id");
    assert_eq!(error.value, "42");
    assert_eq!(ok(json!({"request": chat()})).trace.account_id, "default");
}

#[test]
fn bad_provider_api_lists_allowed() {
    let error = rejected(json!({"request": chat(), "provider_api": "bedrock"}));
    assert_eq!(error.field, "provider_api");
    assert_eq!(error.value, "\"bedrock\"");
    for name in [
        "openrouter",
        "openai-chat",
        "openai-compatible-chat",
        "azure-openai-chat",
        "anthropic-messages",
        "openai-completions",
    ] {
        assert!(error.message.contains(name), "message lists {name}");
    }
}

#[test]
fn bad_timestamp_rejected_with_field() {
    let error = rejected(json!({"request": chat(), "first_token_at": "yesterday"}));
    assert_eq!(error.field, "first_token_at");
    assert_eq!(error.value, "\"yesterday\"");
    assert!(error.message.contains("RFC 3339"));
    let error = rejected(json!({"request": chat(), "ended_at": 1767225600}));
    assert_eq!(error.field, "ended_at");
}

#[test]
fn response_array_rejected() {
    let error = rejected(json!({"request": chat(), "response": [1]}));
    assert_eq!(error.field, "response");
    assert!(error.message.contains("stream_chunks"));
}

#[test]
fn stream_chunks_not_array_rejected() {
    let error = rejected(json!({"request": chat(), "response": {"stream_chunks": {"id": "x"}}}));
    assert_eq!(error.field, "response.stream_chunks");
}

#[test]
fn text_response_becomes_error() {
    let read =
        ok(json!({"request": chat(), "response": "<html>Bad Gateway</html>", "status": 502}));
    assert_eq!(read.trace.status.outcome, Outcome::Error);
    assert_eq!(read.trace.status.http_status, Some(502));
    assert_eq!(
        read.trace.status.error_message.as_deref(),
        Some("<html>Bad Gateway</html>")
    );
}

#[test]
fn body_trace_and_envelope_override() {
    let request = json!({"model": "m", "messages": [], "user": "body-user", "session_id": "body-session",
        "trace": {"trace_id": "body-trace", "trace_name": "body-name", "feature": "body", "team": "a"}});
    let read = ok(json!({"request": request, "user": "env-user",
        "trace": {"traceName": "env-name", "spanName": "step", "parentSpanId": "abc", "feature": "env", "count": 3}}));
    let trace = read.trace;
    assert_eq!(trace.user_id.as_deref(), Some("env-user"));
    assert_eq!(trace.session_id.as_deref(), Some("body-session"));
    assert_eq!(trace.ids.trace_id, "body-trace");
    assert_eq!(trace.names.trace_name.as_deref(), Some("env-name"));
    assert_eq!(trace.names.span_name.as_deref(), Some("step"));
    assert_eq!(trace.ids.parent_span_id.as_deref(), Some("abc"));
    assert!(trace.ids.span_id.is_some());
    assert_eq!(trace.metadata["feature"], json!("env"));
    assert_eq!(trace.metadata["team"], json!("a"));
    assert_eq!(trace.metadata["count"], json!(3));
    assert!(!trace.metadata.contains_key("trace_name"));
    assert!(!trace.metadata.contains_key("spanName"));
}

#[test]
fn span_id_absent_without_span_name() {
    let read = ok(json!({"request": chat()}));
    assert_eq!(read.trace.ids.span_id, None);
    assert_eq!(read.trace.ids.trace_id.len(), 32);
}

#[test]
fn aliases_trace_id_metadata_model() {
    let read = ok(
        json!({"request": {"messages": []}, "trace_id": "trc-1", "user_id": "u-1", "model": "alias-model",
        "metadata": {"feature": "meta", "shared": "meta"}, "trace": {"shared": "trace"}}),
    );
    let trace = read.trace;
    assert_eq!(trace.ids.trace_id, "trc-1");
    assert_eq!(trace.user_id.as_deref(), Some("u-1"));
    assert_eq!(trace.model.requested.as_deref(), Some("alias-model"));
    assert_eq!(trace.metadata["feature"], json!("meta"));
    assert_eq!(trace.metadata["shared"], json!("trace"));
}

#[test]
fn anthropic_metadata_user_id() {
    let request = json!({"model": "claude", "max_tokens": 10, "metadata": {"user_id": "anthropic-user"}, "messages": []});
    let read = ok(json!({"provider_api": "anthropic-messages", "request": request.clone()}));
    assert_eq!(read.trace.user_id.as_deref(), Some("anthropic-user"));
    let openai = ok(json!({"provider_api": "openai-chat", "request": request}));
    assert_eq!(openai.trace.user_id, None);
}

#[test]
fn metadata_not_object_warns() {
    let read = ok(json!({"request": chat(), "metadata": "feature=x"}));
    assert_eq!(read.warnings.len(), 1);
    assert_eq!(read.warnings[0].field, "metadata");
    assert!(read.trace.metadata.is_empty());
}

#[test]
fn provider_derivation_rules() {
    let provider = |api: &str| {
        ok(json!({"provider_api": api, "request": chat()}))
            .trace
            .model
            .provider
    };
    assert_eq!(provider("openai-chat").as_deref(), Some("openai"));
    assert_eq!(provider("azure-openai-chat").as_deref(), Some("azure"));
    assert_eq!(provider("anthropic-messages").as_deref(), Some("anthropic"));
    assert_eq!(provider("openai-compatible-chat"), None);
    assert_eq!(provider("openrouter"), None);
    let overridden =
        ok(json!({"provider": "Groq", "provider_api": "openai-chat", "request": chat()}));
    assert_eq!(overridden.trace.model.provider.as_deref(), Some("Groq"));
}

#[test]
fn envelope_cost_overrides_response() {
    let response = json!({"choices": [], "usage": {"cost": 0.5}});
    let read = ok(json!({"request": chat(), "response": response.clone(), "cost_usd": "0.25"}));
    assert_eq!(read.trace.cost_usd, Decimal::from_str("0.25").ok());
    let fallback = ok(json!({"request": chat(), "response": response, "cost_usd": null}));
    assert_eq!(fallback.trace.cost_usd, Decimal::from_str("0.5").ok());
}

#[test]
fn envelope_finish_reason_only_as_fallback() {
    let response =
        json!({"choices": [{"index": 0, "message": {"content": "x"}, "finish_reason": "length"}]});
    let read = ok(json!({"request": chat(), "response": response, "finish_reason": "stop"}));
    assert_eq!(read.trace.finish_reason.as_deref(), Some("length"));
    let fallback = ok(json!({"request": chat(), "finish_reason": "stop"}));
    assert_eq!(fallback.trace.finish_reason.as_deref(), Some("stop"));
}

#[test]
fn parameters_exclude_content() {
    let request = json!({"model": "m", "messages": [], "temperature": 0.2, "max_completion_tokens": 9, "user": "u", "trace": {"a": 1}});
    let parameters = ok(json!({"request": request})).trace.parameters;
    assert_eq!(parameters["temperature"], json!(0.2));
    assert_eq!(parameters["max_completion_tokens"], json!(9));
    for key in ["model", "messages", "user", "trace"] {
        assert!(!parameters.contains_key(key), "{key} is not a parameter");
    }
}

#[test]
fn top_level_stream_chunks_assembled() {
    let read = ok(json!({"request": chat(), "stream_chunks": [
        {"id": "c1", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": "He"}}]},
        {"id": "c1", "choices": [{"index": 0, "delta": {"content": "y"}, "finish_reason": "stop"}]}]}));
    assert_eq!(read.trace.output.text.as_deref(), Some("Hey"));
    assert!(read.trace.streamed);
    assert_eq!(read.trace.model.served.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(read.trace.ids.response_id.as_deref(), Some("c1"));
}

#[test]
fn ids_independent_of_receipt_time() {
    let envelope = json!({"request": chat()});
    let first = normalise(&envelope, received()).expect("valid").trace.ids;
    let second = normalise(&envelope, Utc::now()).expect("valid").trace.ids;
    assert_eq!(first, second);
}

#[test]
fn inline_image_never_stored() {
    let data = "A".repeat(4000);
    let request = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{data}")}}]}]});
    let read = ok(json!({"request": request}));
    let serialised = serde_json::to_string(&read.trace).expect("trace serialises");
    assert!(!serialised.contains(&data[..100]));
    assert!(matches!(
        read.trace.input.messages[0].content[0],
        ContentPart::Image {
            inline_bytes: Some(3000),
            ..
        }
    ));
}

#[test]
fn latency_string_coerced_and_junk_warns() {
    let read = ok(json!({"request": chat(), "latency_ms": "400", "first_token_ms": "soon"}));
    assert_eq!(read.trace.timing.duration_ms(), Some(400));
    assert_eq!(read.warnings.len(), 1);
    assert_eq!(read.warnings[0].field, "first_token_ms");
}

#[test]
fn stream_later_null_usage_kept() {
    let read = ok(json!({"request": chat(), "response": {"stream_chunks": [
        {"id": "gen-1", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]},
        {"id": "gen-1", "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14, "cost": 0.000021}},
        {"id": "gen-1", "choices": [], "usage": null},
        {"id": "gen-1", "choices": [], "usage": {}}
    ]}}));
    assert_eq!(read.trace.usage.prompt_tokens, Some(11));
    assert_eq!(read.trace.usage.total_tokens, Some(14));
    assert_eq!(read.trace.cost_usd, Decimal::from_str("0.000021").ok());
    assert_eq!(read.trace.finish_reason.as_deref(), Some("stop"));
}
