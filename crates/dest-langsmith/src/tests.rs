//! LangSmith tests: config validation, the headers it sends, and the exact requests (golden
//! files, reviewed against LangSmith's documentation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::LangsmithDestination;

fn invalid_field(config: serde_json::Value) -> String {
    match LangsmithDestination::validate(&config) {
        Ok(_) => panic!("config {config} must be rejected"),
        Err(error) => error.field,
    }
}

#[test]
fn config_requires_api_key() {
    assert_eq!(invalid_field(json!({"project": "p"})), "api_key");
    assert_eq!(invalid_field(json!({"api_key": " "})), "api_key");
}

#[test]
fn config_defaults() {
    let config = LangsmithDestination::validate(&json!({"api_key": "lsv2_pt_1"})).expect("valid");
    assert_eq!(config.target.url.as_str(), "https://api.smith.langchain.com/otel/v1/traces");
    let project = config.target.headers.iter().find(|(name, _)| name == "langsmith-project").map(|(_, value)| value.expose().to_string());
    assert_eq!(project.as_deref(), Some("default"));
}

#[test]
fn run_types_set() {
    let config = LangsmithDestination::validate(&json!({"api_key": "lsv2_pt_1"})).expect("valid");
    assert_eq!(config.options.span_kind_attribute, Some(("langsmith.span.kind", "llm", "chain")));
    assert!(config.options.legacy_names);
}

#[tokio::test]
async fn export_sends_receiver_headers() {
    let server = CaptureServer::start(200).await;
    let config = LangsmithDestination::validate(&LangsmithDestination::example_config(&server.url())).expect("example config valid");
    let destination = LangsmithDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/otel/v1/traces");
    for (name, value) in [("x-api-key", "lsv2_pt_example"), ("langsmith-project", "llm-gateway"), ("x-tenant-id", "ws-1234"), ("content-type", "application/x-protobuf")] {
        assert_eq!(request.headers.get(name).map(String::as_str), Some(value), "header {name}");
    }
    assert_eq!(LangsmithDestination::decode_request(&request.body).map(|events| events.len()), Ok(1));
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<LangsmithDestination>(PrivacyMode::Off).await);
}
