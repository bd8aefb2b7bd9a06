//! OpenTelemetry Collector tests: config validation, encodings and gzip on the wire, and the
//! exact requests (golden files).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::OtelCollectorDestination;

async fn send_one(config: serde_json::Value, server: &CaptureServer) -> broadcast_otlp::testing::Captured {
    let config = OtelCollectorDestination::validate(&config).unwrap_or_else(|error| panic!("config invalid: {error}"));
    let destination = OtelCollectorDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    server.requests().pop().expect("one request")
}

#[test]
fn config_requires_endpoint() {
    let error = OtelCollectorDestination::validate(&json!({"headers": {}})).err().expect("endpoint is required");
    assert_eq!(error.field, "endpoint");
}

#[test]
fn config_rejects_unknown_encoding() {
    let error = OtelCollectorDestination::validate(&json!({"endpoint": "http://c:4318/v1/traces", "encoding": "grpc"})).err();
    assert!(error.is_some_and(|error| error.message.contains("grpc")), "grpc must be rejected");
}

#[test]
fn config_rejects_unknown_key() {
    let error = OtelCollectorDestination::validate(&json!({"endpoint": "http://c:4318/v1/traces", "url": "x"})).err().expect("rejected");
    assert_eq!(error.field, "url");
    assert!(error.message.contains("known keys"));
}

#[tokio::test]
async fn protobuf_is_default() {
    let server = CaptureServer::start(200).await;
    let request = send_one(json!({"endpoint": format!("{}/v1/traces", server.url())}), &server).await;
    assert_eq!(request.headers.get("content-type").map(String::as_str), Some("application/x-protobuf"));
    assert_eq!(request.path, "/v1/traces");
    assert_eq!(OtelCollectorDestination::decode_request(&request.body).map(|events| events.len()), Ok(1));
}

#[tokio::test]
async fn json_with_gzip() {
    let server = CaptureServer::start(200).await;
    let config = json!({"endpoint": format!("{}/v1/traces", server.url()), "encoding": "json", "compression": "gzip"});
    let request = send_one(config, &server).await;
    assert_eq!(request.headers.get("content-type").map(String::as_str), Some("application/json"));
    assert_eq!(request.headers.get("content-encoding").map(String::as_str), Some("gzip"));
    assert_eq!(&request.body[..2], &[0x1f, 0x8b]);
    let events = OtelCollectorDestination::decode_request(&request.body).expect("gzip JSON decodes");
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<OtelCollectorDestination>(PrivacyMode::Off).await);
}
