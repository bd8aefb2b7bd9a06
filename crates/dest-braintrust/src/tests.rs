//! Braintrust tests: config validation, the headers it sends, and the exact requests (golden
//! files, reviewed against Braintrust's documentation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::BraintrustDestination;

fn invalid_field(config: serde_json::Value) -> String {
    match BraintrustDestination::validate(&config) {
        Ok(_) => panic!("config {config} must be rejected"),
        Err(error) => error.field,
    }
}

#[test]
fn config_requires_project_id() {
    assert_eq!(invalid_field(json!({"api_key": "k"})), "project_id");
    assert_eq!(invalid_field(json!({"api_key": "k", "project_id": ""})), "project_id");
}

#[test]
fn config_default_endpoint() {
    let config = BraintrustDestination::validate(&json!({"api_key": "k", "project_id": "p"})).expect("valid");
    assert_eq!(config.target.url.as_str(), "https://api.braintrust.dev/otel/v1/traces");
}

#[tokio::test]
async fn export_sends_receiver_headers() {
    let server = CaptureServer::start(200).await;
    let config = BraintrustDestination::validate(&BraintrustDestination::example_config(&server.url())).expect("example config valid");
    let destination = BraintrustDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/otel/v1/traces");
    for (name, value) in [("authorization", "Bearer sk-bt-example"), ("x-bt-parent", "project_id:4f8a0c1e-proj"), ("content-type", "application/x-protobuf")] {
        assert_eq!(request.headers.get(name).map(String::as_str), Some(value), "header {name}");
    }
    assert_eq!(BraintrustDestination::decode_request(&request.body).map(|events| events.len()), Ok(1));
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<BraintrustDestination>(PrivacyMode::Off).await);
}
