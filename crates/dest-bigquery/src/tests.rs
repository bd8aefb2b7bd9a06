//! Unit tests of the BigQuery config, token signing, row mapping and response classification.
//! The API contract is checked against a scripted endpoint in the workspace tests
//! (`tests/contracts.rs`).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use broadcast_core::ingest::normalise;
use broadcast_core::{Destination, ExportOutcome, PrivacyMode, Trace};
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use serde_json::{json, Value};

use crate::config::validate;
use crate::encoder::encode;
use crate::BigQueryDestination;

fn raw_config() -> Value {
    BigQueryDestination::example_config("https://bigquery.googleapis.com")
}

fn trace() -> Arc<Trace> {
    let envelope = json!({
        "user": "user-0001",
        "session_id": "sess-0001",
        "started_at": "2026-03-01T10:00:00.250Z",
        "ended_at": "2026-03-01T10:00:01.000Z",
        "trace": {"tags": ["beta", 3], "feature": "vision"},
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "PLACEHOLDER-PROMPT-3c1d"}]},
        "response": {"id": "chatcmpl-1", "object": "chat.completion", "created": 1772359200, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "PLACEHOLDER-ANSWER-9e2b"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}},
        "status": 200
    });
    match normalise(&envelope, chrono::Utc::now()) {
        Ok(normalised) => Arc::new(normalised.trace),
        Err(error) => panic!("test envelope rejected: {error}"),
    }
}

#[test]
fn token_is_signed_rs256_jwt() {
    let config = validate(&raw_config()).unwrap_or_else(|error| panic!("{error}"));
    let now = chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z").map(|date| date.with_timezone(&chrono::Utc)).unwrap_or_default();
    let token = config.key.sign_token(&config.audience(), now).unwrap_or_else(|error| panic!("{error}"));
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default()).unwrap_or_default()
    };
    assert_eq!(decode(parts[0])["alg"], "RS256");
    let claims = decode(parts[1]);
    assert_eq!(claims["iss"], "broadcast@example-project.iam.gserviceaccount.com");
    assert_eq!(claims["aud"], "https://bigquery.googleapis.com/");
    assert_eq!(claims["exp"].as_i64(), claims["iat"].as_i64().map(|issued| issued + 3600));
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default();
    let public_key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, config.key.public_key_der());
    let signed = format!("{}.{}", parts[0], parts[1]);
    assert!(public_key.verify(signed.as_bytes(), &signature).is_ok(), "signature does not verify");
    assert!(public_key.verify(b"other", &signature).is_err(), "the check cannot fail");
}

#[test]
fn row_for_insert_all() {
    let trace = trace();
    let encoded = encode(&PrivacyMode::Off.apply(&trace), 1_000_000).unwrap_or_else(|error| panic!("{error}"));
    let event: Value = serde_json::from_slice(&encoded.bytes).unwrap_or_default();
    assert_eq!(event["insertId"], json!(trace.ids.generation_id));
    let row = &event["json"];
    assert_eq!(row["trace_id"], json!(trace.ids.trace_id));
    assert_eq!(row["span_id"], json!(trace.ids.generation_span_id));
    assert_eq!(row["timestamp"], "2026-03-01T10:00:00.250Z");
    assert_eq!(row["model"], "gpt-4o-mini");
    assert_eq!(row["provider_name"], "openai");
    assert_eq!(row["prompt_tokens"], 5);
    assert_eq!(row["duration_ms"], 750);
    assert_eq!(row["tags"], json!(["beta"]));
    let input: Value = serde_json::from_str(row["input"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(input["messages"][0]["content"][0]["text"], "PLACEHOLDER-PROMPT-3c1d");
    let metadata: Value = serde_json::from_str(row["metadata"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(metadata["feature"], "vision");
    let columns: Vec<&str> = crate::COLUMNS.iter().map(|(name, _)| *name).collect();
    for key in row.as_object().map(|row| row.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
        assert!(columns.contains(&key.as_str()), "{key} is not a table column");
    }
}

#[test]
fn privacy_row_has_no_content() {
    let encoded = encode(&PrivacyMode::On.apply(&trace()), 1_000_000).unwrap_or_else(|error| panic!("{error}"));
    let text = String::from_utf8_lossy(&encoded.bytes);
    assert!(!text.contains("PLACEHOLDER-PROMPT-3c1d"), "{text}");
    assert!(!text.contains("PLACEHOLDER-ANSWER-9e2b"), "{text}");
}

#[test]
fn config_rejects_bad_keys() {
    let mut raw = raw_config();
    raw["service_account_key"] = json!("{\"type\": \"authorized_user\"}");
    assert_eq!(validate(&raw).err().map(|error| error.field), Some("service_account_key".to_string()));
    raw["service_account_key"] = json!("not json");
    assert_eq!(validate(&raw).err().map(|error| error.field), Some("service_account_key".to_string()));
    let broken = json!({"type": "service_account", "client_email": "a@b.c", "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"});
    raw["service_account_key"] = json!(broken.to_string());
    let error = validate(&raw).err().map(|error| error.to_string()).unwrap_or_default();
    assert!(error.contains("RSA key"), "{error}");
    assert!(!error.contains("AAAA"), "{error}");
}

#[test]
fn config_rejects_project_name() {
    let mut raw = raw_config();
    raw["project_id"] = json!("My Project");
    assert_eq!(validate(&raw).err().map(|error| error.field), Some("project_id".to_string()));
}

#[test]
fn insert_errors_classified() {
    use crate::service::request_body;
    let invalid = json!([{"index": 0, "errors": [{"reason": "invalid", "message": "no such field: foo"}]}, {"index": 1, "errors": [{"reason": "stopped", "message": ""}]}]);
    let transient = json!([{"index": 0, "errors": [{"reason": "backendError", "message": "try again"}]}]);
    let classify = |errors: &Value, rows| crate::service::classify_for_test(errors.as_array().cloned().unwrap_or_default(), rows);
    assert!(matches!(classify(&invalid, 2), ExportOutcome::TooLarge { .. }), "several rows are split to find the bad one");
    let single = classify(&invalid, 1);
    let ExportOutcome::Permanent { reason } = single else {
        panic!("a lone invalid row must fail: {single:?}");
    };
    assert!(reason.message.contains("no such field: foo"), "{}", reason.message);
    assert!(matches!(classify(&transient, 2), ExportOutcome::Retry { .. }));
    assert!(request_body(&[]).starts_with(b"{\"kind\":\"bigquery#tableDataInsertAllRequest\""));
}

#[test]
fn ddl_has_every_column() {
    let config = validate(&raw_config()).unwrap_or_else(|error| panic!("{error}"));
    let ddl = BigQueryDestination::ddl(&config).unwrap_or_default();
    assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS `example-project.broadcast.broadcast_traces`"), "{ddl}");
    assert!(ddl.contains("`tags` ARRAY<STRING>"));
    assert!(ddl.contains("`input` JSON"));
}
