//! Elastic Observability tests: config validation, the headers it sends, and the exact requests (golden
//! files, reviewed against Elastic Observability's documentation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::ElasticDestination;

fn invalid_field(config: serde_json::Value) -> String {
    match ElasticDestination::validate(&config) {
        Ok(_) => panic!("config {config} must be rejected"),
        Err(error) => error.field,
    }
}

#[test]
fn config_requires_endpoint_and_key() {
    assert_eq!(invalid_field(json!({"api_key": "k"})), "endpoint");
    assert_eq!(invalid_field(json!({"endpoint": "https://p.ingest.us-east-1.aws.elastic.cloud:443"})), "api_key");
}

#[test]
fn config_endpoint_path_appended_once() {
    let config = ElasticDestination::validate(&json!({"endpoint": "https://p.ingest.us-east-1.aws.elastic.cloud:443/v1/traces", "api_key": "k"})).expect("valid");
    assert_eq!(config.target.url.as_str(), "https://p.ingest.us-east-1.aws.elastic.cloud/v1/traces");
}

#[test]
fn api_key_scheme_not_doubled() {
    let config = ElasticDestination::validate(&json!({"endpoint": "https://p.elastic.cloud", "api_key": "ApiKey abc"})).expect("valid");
    let value = config.target.headers.iter().find(|(name, _)| name == "authorization").map(|(_, value)| value.expose().to_string());
    assert_eq!(value.as_deref(), Some("ApiKey abc"));
}

#[tokio::test]
async fn export_sends_receiver_headers() {
    let server = CaptureServer::start(200).await;
    let config = ElasticDestination::validate(&ElasticDestination::example_config(&server.url())).expect("example config valid");
    let destination = ElasticDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/traces");
    for (name, value) in [("authorization", "ApiKey ZWxhc3RpYy1leGFtcGxlLWtleQ=="), ("content-type", "application/json")] {
        assert_eq!(request.headers.get(name).map(String::as_str), Some(value), "header {name}");
    }
    assert_eq!(ElasticDestination::decode_request(&request.body).map(|events| events.len()), Ok(1));
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<ElasticDestination>(PrivacyMode::Off).await);
}
