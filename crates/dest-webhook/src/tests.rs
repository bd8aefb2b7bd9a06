//! Webhook tests: config validation, the request it sends (golden file), the idempotency
//! header, and the connection test rules.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, ConnectionErrorKind, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::WebhookDestination;

fn build(config: serde_json::Value) -> WebhookDestination {
    let config = WebhookDestination::validate(&config).unwrap_or_else(|error| panic!("config invalid: {error}"));
    WebhookDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)))
}

#[test]
fn config_requires_url() {
    let error = WebhookDestination::validate(&json!({})).err().expect("url is required");
    assert_eq!(error.field, "url");
}

#[test]
fn config_rejects_other_methods() {
    let error = WebhookDestination::validate(&json!({"url": "https://example.com/hook", "method": "GET"})).err();
    assert!(error.is_some_and(|error| error.message.contains("GET")), "GET must be rejected");
}

#[test]
fn config_rejects_reserved_and_bad_headers() {
    let reserved = json!({"url": "https://example.com/hook", "headers": {"Idempotency-Key": "x"}});
    assert_eq!(WebhookDestination::validate(&reserved).err().map(|error| error.field), Some("headers".into()));
    let broken = json!({"url": "https://example.com/hook", "headers": {"X-Secret": "line\nbreak-s3cr3t"}});
    let error = WebhookDestination::validate(&broken).err().expect("a line break is rejected");
    assert!(!error.message.contains("s3cr3t"), "header value quoted: {error}");
}

#[test]
fn config_rejects_url_with_credentials() {
    let error = WebhookDestination::validate(&json!({"url": "https://user:pw-s3cr3t@example.com/hook"})).err().expect("rejected");
    assert_eq!(error.field, "url");
    assert!(!error.message.contains("s3cr3t"));
}

#[test]
fn config_error_hides_wrongly_typed_secret() {
    let error = WebhookDestination::validate(&json!({"url": "https://example.com/hook", "authorization": 123456789})).err();
    assert!(error.is_some_and(|error| !error.message.contains("123456789")));
}

#[tokio::test]
async fn export_sends_idempotency_key() {
    let server = CaptureServer::start(200).await;
    let destination = build(WebhookDestination::example_config(&server.url()));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].headers.get("idempotency-key"), Some(&trace.ids.generation_id));
    assert_eq!(requests[0].headers.get("authorization").map(String::as_str), Some("Bearer example-webhook-token"));
    assert_eq!(requests[0].headers.get("content-type").map(String::as_str), Some("application/json"));
    assert_eq!(requests[0].method, "POST");
}

#[tokio::test]
async fn put_method_used() {
    let server = CaptureServer::start(200).await;
    let destination = build(json!({"url": format!("{}/hook", server.url()), "method": "PUT"}));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    destination.export(&[event]).await;
    assert_eq!(server.requests()[0].method, "PUT");
}

#[tokio::test]
async fn connection_test_accepts_400() {
    let server = CaptureServer::start(400).await;
    let destination = build(WebhookDestination::example_config(&server.url()));
    destination.test_connection().await.expect("400 passes the connection test");
    let requests = server.requests();
    assert_eq!(requests[0].headers.get("x-test-connection").map(String::as_str), Some("true"));
    assert_eq!(WebhookDestination::decode_request(&requests[0].body).map(|events| events.len()), Ok(0));
}

#[tokio::test]
async fn connection_test_rejects_404() {
    let server = CaptureServer::start(404).await;
    let destination = build(WebhookDestination::example_config(&server.url()));
    let error = destination.test_connection().await.err().expect("404 fails");
    assert_eq!(error.kind, ConnectionErrorKind::Rejected);
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<WebhookDestination>(PrivacyMode::Off).await);
    check_golden(&directory, "requests-privacy", &capture_requests::<WebhookDestination>(PrivacyMode::On).await);
}
