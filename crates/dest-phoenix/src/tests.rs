//! Phoenix unit tests: config validation and the exact requests (golden file). The round trip
//! through a real Phoenix server is in the workspace tests (`tests/phoenix.rs`).

use std::path::Path;

use broadcast_core::{Destination, PrivacyMode};
use broadcast_otlp::testing::{capture_requests, check_golden};
use serde_json::json;

use crate::PhoenixDestination;

#[test]
fn config_defaults() {
    let config = PhoenixDestination::validate(&json!({})).expect("every key is optional");
    assert_eq!(config.target.url.as_str(), "http://localhost:6006/v1/traces");
    assert_eq!(config.project_name, "default");
    assert!(config.target.headers.is_empty());
}

#[test]
fn config_base_url_with_path_kept() {
    let config = PhoenixDestination::validate(&json!({"base_url": "https://phoenix.internal/v1/traces"})).expect("valid");
    assert_eq!(config.target.url.as_str(), "https://phoenix.internal/v1/traces");
}

#[test]
fn config_rejects_blank_api_key() {
    let error = PhoenixDestination::validate(&json!({"api_key": "  "})).err().expect("blank key rejected");
    assert_eq!(error.field, "api_key");
}

#[test]
fn api_key_sent_as_bearer() {
    let config = PhoenixDestination::validate(&json!({"api_key": "px-key"})).expect("valid");
    let header = config.target.headers.iter().find(|(name, _)| name == "authorization").map(|(_, value)| value.expose().to_string());
    assert_eq!(header.as_deref(), Some("Bearer px-key"));
}

#[tokio::test]
async fn golden_requests() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden(&directory, "requests", &capture_requests::<PhoenixDestination>(PrivacyMode::Off).await);
}
