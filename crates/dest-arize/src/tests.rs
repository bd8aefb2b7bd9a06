//! Arize AX tests: config validation, the headers it sends, and the exact requests (golden
//! files, reviewed against Arize AX's documentation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::ArizeDestination;

fn invalid_field(config: serde_json::Value) -> String {
    match ArizeDestination::validate(&config) {
        Ok(_) => panic!("config {config} must be rejected"),
        Err(error) => error.field,
    }
}

#[test]
fn config_requires_space_and_project() {
    assert_eq!(invalid_field(json!({"api_key": "k", "project_name": "p"})), "space_id");
    assert_eq!(invalid_field(json!({"api_key": "k", "space_id": "s"})), "project_name");
}

#[test]
fn config_accepts_model_id_alias() {
    let config = ArizeDestination::validate(&json!({"api_key": "k", "space_id": "s", "model_id": "proj"})).expect("valid");
    assert_eq!(config.target.url.as_str(), "https://otlp.arize.com/v1/traces");
    assert_eq!(config.options.flavour, broadcast_otlp::Flavour::OpenInference);
}

#[tokio::test]
async fn export_sends_receiver_headers() {
    let server = CaptureServer::start(200).await;
    let config = ArizeDestination::validate(&ArizeDestination::example_config(&server.url())).expect("example config valid");
    let destination = ArizeDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/traces");
    for (name, value) in [("authorization", "ak-example"), ("api_key", "ak-example"), ("arize-space-id", "U3BhY2U6MTIz"), ("space_id", "U3BhY2U6MTIz"), ("arize-interface", "otel"), ("content-type", "application/x-protobuf")] {
        assert_eq!(request.headers.get(name).map(String::as_str), Some(value), "header {name}");
    }
    assert_eq!(ArizeDestination::decode_request(&request.body).map(|events| events.len()), Ok(1));
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<ArizeDestination>(PrivacyMode::Off).await);
}
