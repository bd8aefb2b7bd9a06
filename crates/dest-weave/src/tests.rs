//! W&B Weave tests: config validation, the headers it sends, and the exact requests (golden
//! files, reviewed against W&B Weave's documentation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::WeaveDestination;

fn invalid_field(config: serde_json::Value) -> String {
    match WeaveDestination::validate(&config) {
        Ok(_) => panic!("config {config} must be rejected"),
        Err(error) => error.field,
    }
}

#[test]
fn config_requires_entity_and_project() {
    assert_eq!(invalid_field(json!({"api_key": "k", "project": "p"})), "entity");
    assert_eq!(invalid_field(json!({"api_key": "k", "entity": "e"})), "project");
    assert_eq!(invalid_field(json!({"api_key": "k", "entity": "a/b", "project": "p"})), "entity");
}

#[test]
fn config_protobuf_and_resource() {
    let config = WeaveDestination::validate(&json!({"api_key": "k", "entity": "e", "project": "p"})).expect("valid");
    assert_eq!(config.target.url.as_str(), "https://trace.wandb.ai/otel/v1/traces");
    assert_eq!(config.target.encoding, broadcast_otlp::Encoding::Protobuf);
    let keys: Vec<&str> = config.options.resource_attributes.iter().map(|pair| pair.key.as_str()).collect();
    assert_eq!(keys, ["wandb.entity", "wandb.project"]);
}

#[tokio::test]
async fn export_sends_receiver_headers() {
    let server = CaptureServer::start(200).await;
    let config = WeaveDestination::validate(&WeaveDestination::example_config(&server.url())).expect("example config valid");
    let destination = WeaveDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/otel/v1/traces");
    for (name, value) in [("wandb-api-key", "wandb-example-key"), ("project_id", "acme/llm-gateway"), ("content-type", "application/x-protobuf")] {
        assert_eq!(request.headers.get(name).map(String::as_str), Some(value), "header {name}");
    }
    assert_eq!(WeaveDestination::decode_request(&request.body).map(|events| events.len()), Ok(1));
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<WeaveDestination>(PrivacyMode::Off).await);
}
