//! Langfuse tests: config validation, the headers it sends, and the exact requests (golden
//! files, reviewed against Langfuse's documentation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::LangfuseDestination;

fn invalid_field(config: serde_json::Value) -> String {
    match LangfuseDestination::validate(&config) {
        Ok(_) => panic!("config {config} must be rejected"),
        Err(error) => error.field,
    }
}

#[test]
fn config_requires_both_keys() {
    assert_eq!(invalid_field(json!({"public_key": "pk-lf-1"})), "secret_key");
    assert_eq!(invalid_field(json!({"secret_key": "sk-lf-1"})), "public_key");
}

#[test]
fn config_catches_swapped_keys() {
    assert_eq!(invalid_field(json!({"public_key": "sk-lf-1", "secret_key": "pk-lf-1"})), "public_key");
}

#[test]
fn config_default_region_us() {
    let config = LangfuseDestination::validate(&json!({"public_key": "pk-lf-1", "secret_key": "sk-lf-1"})).expect("valid");
    assert_eq!(config.target.url.as_str(), "https://us.cloud.langfuse.com/api/public/otel/v1/traces");
}

#[test]
fn environment_and_release_promoted() {
    let mut trace = corpus_trace("pydantic-ai-openai-001.json");
    trace.metadata.insert("environment".into(), json!("staging"));
    trace.metadata.insert("release".into(), json!("v1.4.2"));
    let trace = PrivacyMode::Off.apply(&Arc::new(trace));
    let span_keys: Vec<String> = crate::config::environment_attributes(&trace).into_iter().map(|pair| pair.key).collect();
    assert_eq!(span_keys, ["langfuse.environment", "langfuse.release"]);
    let resource_keys: Vec<String> = crate::config::environment_resource(&trace).into_iter().map(|pair| pair.key).collect();
    assert_eq!(resource_keys, ["deployment.environment.name", "langfuse.environment", "langfuse.release"]);
}

#[tokio::test]
async fn connection_test_reads_projects() {
    let server = CaptureServer::start(200).await;
    let config = LangfuseDestination::validate(&LangfuseDestination::example_config(&server.url())).expect("valid");
    let destination = LangfuseDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    destination.test_connection().await.expect("200 passes");
    let request = server.requests().pop().expect("one request");
    assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", "/api/public/projects"));
}

#[tokio::test]
async fn export_sends_receiver_headers() {
    let server = CaptureServer::start(200).await;
    let config = LangfuseDestination::validate(&LangfuseDestination::example_config(&server.url())).expect("example config valid");
    let destination = LangfuseDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/public/otel/v1/traces");
    for (name, value) in [("authorization", "Basic cGstbGYtZXhhbXBsZTpzay1sZi1leGFtcGxlLXNlY3JldA=="), ("x-langfuse-ingestion-version", "4"), ("content-type", "application/x-protobuf")] {
        assert_eq!(request.headers.get(name).map(String::as_str), Some(value), "header {name}");
    }
    assert_eq!(LangfuseDestination::decode_request(&request.body).map(|events| events.len()), Ok(1));
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<LangfuseDestination>(PrivacyMode::Off).await);
}
