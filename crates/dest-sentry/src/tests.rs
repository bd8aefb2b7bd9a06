//! Sentry tests: config validation, the headers it sends, and the exact requests (golden
//! files, reviewed against Sentry's documentation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, Destination, ExportOutcome, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden, corpus_trace, CaptureServer};
use serde_json::json;

use crate::SentryDestination;

fn invalid_field(config: serde_json::Value) -> String {
    match SentryDestination::validate(&config) {
        Ok(_) => panic!("config {config} must be rejected"),
        Err(error) => error.field,
    }
}

#[test]
fn dsn_validated() {
    let endpoint = "https://o1.ingest.us.sentry.io/api/77/integration/otlp/v1/traces";
    for dsn in ["http://key@o1.ingest.sentry.io/77", "https://o1.ingest.sentry.io/77", "https://key@o1.ingest.sentry.io/", "https://key@o1.ingest.sentry.io/abc", "not a url"] {
        assert_eq!(invalid_field(json!({"otlp_endpoint": endpoint, "dsn": dsn})), "dsn", "{dsn}");
    }
    let config = SentryDestination::validate(&json!({"otlp_endpoint": endpoint, "dsn": "https://key:old-secret@o1.ingest.us.sentry.io/77"}));
    assert!(config.is_ok(), "a DSN with the old secret part is valid");
}

#[test]
fn dsn_project_must_match_endpoint() {
    let config = json!({"otlp_endpoint": "https://o1.ingest.us.sentry.io/api/77/integration/otlp/v1/traces", "dsn": "https://key@o1.ingest.us.sentry.io/78"});
    assert_eq!(invalid_field(config), "dsn");
}

#[test]
fn dsn_never_quoted() {
    let config = json!({"otlp_endpoint": "https://o1.ingest.us.sentry.io/api/77/integration/otlp/v1/traces", "dsn": "https://s3cr3tkey@o1.ingest.us.sentry.io/x"});
    let error = SentryDestination::validate(&config).err().expect("rejected");
    assert!(!error.message.contains("s3cr3tkey"), "{error}");
}

#[tokio::test]
async fn export_sends_receiver_headers() {
    let server = CaptureServer::start(200).await;
    let config = SentryDestination::validate(&SentryDestination::example_config(&server.url())).expect("example config valid");
    let destination = SentryDestination::build(config, &BuildContext::with_timeout(Duration::from_secs(5)));
    let trace = Arc::new(corpus_trace("pydantic-ai-openai-001.json"));
    let event = destination.encode(&PrivacyMode::Off.apply(&trace)).expect("encodes");
    assert_eq!(destination.export(&[event]).await, ExportOutcome::Delivered);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/4505/integration/otlp/v1/traces");
    for (name, value) in [("x-sentry-auth", "sentry sentry_key=0123456789abcdef0123456789abcdef"), ("content-type", "application/x-protobuf")] {
        assert_eq!(request.headers.get(name).map(String::as_str), Some(value), "header {name}");
    }
    assert_eq!(SentryDestination::decode_request(&request.body).map(|events| events.len()), Ok(1));
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<SentryDestination>(PrivacyMode::Off).await);
}
