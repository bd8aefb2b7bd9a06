//! Grafana Cloud tests: config validation, the headers it sends, and the exact requests (golden
//! files, reviewed against Grafana Cloud's documentation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::GrafanaDestination;

fn invalid_field(config: serde_json::Value) -> String {
    match GrafanaDestination::validate(&config) {
        Ok(_) => panic!("config {config} must be rejected"),
        Err(error) => error.field,
    }
}

#[test]
fn config_instance_id_numeric() {
    assert_eq!(invalid_field(json!({"instance_id": "stack-1", "api_key": "glc_1"})), "instance_id");
    let config = GrafanaDestination::validate(&json!({"instance_id": 42, "api_key": "glc_1"})).expect("a number is accepted");
    assert_eq!(config.target.url.as_str(), "https://otlp-gateway-prod-us-west-0.grafana.net/otlp/v1/traces");
}

#[test]
fn config_rejects_tempo_url() {
    assert_eq!(invalid_field(json!({"instance_id": "1", "api_key": "glc_1", "base_url": "https://mystack.grafana.net/tempo"})), "base_url");
}

#[test]
fn config_base_with_otlp_suffix_kept() {
    let config = GrafanaDestination::validate(&json!({"instance_id": "1", "api_key": "glc_1", "base_url": "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp"})).expect("valid");
    assert_eq!(config.target.url.as_str(), "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp/v1/traces");
}

#[tokio::test]
async fn export_sends_receiver_headers() {
    let server = CaptureServer::start(200).await;
    let config = GrafanaDestination::validate(&GrafanaDestination::example_config(&server.url())).expect("example config valid");
    let destination = GrafanaDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/otlp/v1/traces");
    for (name, value) in [("authorization", "Basic MTIzNDU2OmdsY19leGFtcGxlX3Rva2Vu"), ("content-type", "application/x-protobuf")] {
        assert_eq!(request.headers.get(name).map(String::as_str), Some(value), "header {name}");
    }
    assert_eq!(GrafanaDestination::decode_request(&request.body).map(|events| events.len()), Ok(1));
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<GrafanaDestination>(PrivacyMode::Off).await);
}
