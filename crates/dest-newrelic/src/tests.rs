//! New Relic tests: config validation, the headers it sends, and the exact requests (golden
//! files, reviewed against New Relic's documentation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::NewrelicDestination;

fn invalid_field(config: serde_json::Value) -> String {
    match NewrelicDestination::validate(&config) {
        Ok(_) => panic!("config {config} must be rejected"),
        Err(error) => error.field,
    }
}

#[test]
fn config_regions() {
    let us = NewrelicDestination::validate(&json!({"license_key": "k"})).expect("valid");
    assert_eq!(us.target.url.as_str(), "https://otlp.nr-data.net/v1/traces");
    let eu = NewrelicDestination::validate(&json!({"license_key": "k", "region": "eu"})).expect("valid");
    assert_eq!(eu.target.url.as_str(), "https://otlp.eu01.nr-data.net/v1/traces");
    assert_eq!(invalid_field(json!({"license_key": "k", "region": "apac"})), "config");
}

#[test]
fn attribute_cap_set() {
    let config = NewrelicDestination::validate(&json!({"license_key": "k"})).expect("valid");
    assert_eq!(config.options.max_attribute_chars, Some(4095));
}

#[test]
fn long_values_cut_to_4095_characters() {
    let server_url = "http://127.0.0.1:9";
    let config = NewrelicDestination::validate(&NewrelicDestination::example_config(server_url)).expect("valid");
    let destination = NewrelicDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let mut trace = corpus_trace("pydantic-ai-openai-001.json");
    trace.output.text = Some("日本".repeat(5000));
    let event = destination.encode(&PrivacyMode::Off.apply(&Arc::new(trace))).expect("encodes");
    assert!(event.truncated);
    let decoded = NewrelicDestination::decode_request(&event.bytes).expect("decodes");
    let text = serde_json::to_string(&decoded).unwrap_or_default();
    assert!(text.contains("…[truncated]"));
    for span in decoded[0]["scopeSpans"][0]["spans"].as_array().into_iter().flatten() {
        for pair in span["attributes"].as_array().into_iter().flatten() {
            let length = pair["value"]["stringValue"].as_str().map(|text| text.chars().count()).unwrap_or(0);
            assert!(length <= 4095, "{} has {length} characters", pair["key"]);
        }
    }
}

#[tokio::test]
async fn export_sends_receiver_headers() {
    let server = CaptureServer::start(200).await;
    let config = NewrelicDestination::validate(&NewrelicDestination::example_config(&server.url())).expect("example config valid");
    let destination = NewrelicDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/traces");
    for (name, value) in [("api-key", "eu01xxexamplelicensekeyNRAL"), ("content-type", "application/x-protobuf")] {
        assert_eq!(request.headers.get(name).map(String::as_str), Some(value), "header {name}");
    }
    assert_eq!(NewrelicDestination::decode_request(&request.body).map(|events| events.len()), Ok(1));
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<NewrelicDestination>(PrivacyMode::Off).await);
}
