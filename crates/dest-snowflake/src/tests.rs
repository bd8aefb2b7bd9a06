//! Unit tests of the Snowflake config, statement and request body. The SQL API contract is
//! checked against a scripted endpoint in the workspace tests (`tests/contracts.rs`).

use std::sync::Arc;

use broadcast_core::ingest::normalise;
use broadcast_core::{Destination, EncodedEvent, PrivacyMode, Trace};
use serde_json::{json, Value};

use crate::config::validate;
use crate::encoder::encode;
use crate::service::request_body;
use crate::table::{ddl, identifier, insert_statement, COLUMNS};
use crate::SnowflakeDestination;

fn trace(trace_fields: Value) -> Arc<Trace> {
    let envelope = json!({
        "user": "user-0001",
        "api_key_name": "Clé \"東京\"",
        "started_at": "2026-03-01T10:00:00.250Z",
        "ended_at": "2026-03-01T10:00:01.000Z",
        "trace": trace_fields,
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

fn config() -> crate::SnowflakeConfig {
    validate(&json!({"account": "myorg-myaccount", "token": "pat-example"})).unwrap_or_else(|error| panic!("{error}"))
}

fn events(privacy: PrivacyMode) -> Vec<EncodedEvent> {
    [trace(json!({"span_name": "plan"})), trace(json!({}))]
        .iter()
        .map(|trace| encode(&privacy.apply(trace), 1_000_000).unwrap_or_else(|error| panic!("{error}")))
        .collect()
}

#[test]
fn body_carries_rows_in_one_binding() {
    let config = config();
    let events = events(PrivacyMode::Off);
    let body = request_body(&config, &events);
    let request: Value = serde_json::from_slice(&body).unwrap_or_else(|error| panic!("body is not JSON: {error}"));
    assert_eq!(request["statement"], json!(insert_statement("SNOWFLAKE_LEARNING_DB", "PUBLIC", "BROADCAST_TRACES")));
    assert_eq!(request["warehouse"], "COMPUTE_WH");
    assert_eq!(request["bindings"]["1"]["type"], "TEXT");
    let decoded = SnowflakeDestination::decode_request(&body).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(decoded.len(), 2);
    let rows = decoded[0].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 3, "root span, named span, generation");
    assert_eq!(rows[2]["API_KEY_NAME"], "Clé \"東京\"");
    assert_eq!(rows[2]["INPUT"]["messages"][0]["content"][0]["text"], "PLACEHOLDER-PROMPT-3c1d", "VARIANT columns hold JSON");
    let added: usize = events.iter().map(|event| event.bytes.len()).sum::<usize>() + 1;
    assert_eq!(body.len(), request_body(&config, &[]).len() + added, "an event adds exactly its bytes and a comma");
}

#[test]
fn privacy_rows_have_no_content() {
    let body = request_body(&config(), &events(PrivacyMode::On));
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains("PLACEHOLDER-PROMPT-3c1d"), "{text}");
    assert!(!text.contains("PLACEHOLDER-ANSWER-9e2b"), "{text}");
}

#[test]
fn statement_casts_every_column() {
    let statement = insert_statement("DB", "PUBLIC", "my table");
    assert!(statement.starts_with("INSERT INTO DB.PUBLIC.\"my table\" (TIMESTAMP, TRACE_ID,"), "{statement}");
    assert!(statement.contains("value:\"TIMESTAMP\"::TIMESTAMP_NTZ(3)"));
    assert!(statement.contains("value:\"INPUT\","), "VARIANT columns are not cast");
    assert!(statement.ends_with("FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))"));
    let ddl = ddl("DB", "PUBLIC", "BROADCAST_TRACES");
    for (name, kind) in COLUMNS {
        assert!(ddl.contains(&format!("    {name} {kind}")), "{name} missing");
    }
}

#[test]
fn identifiers_quoted_only_when_needed() {
    assert_eq!(identifier("ANALYTICS_DB"), "ANALYTICS_DB");
    assert_eq!(identifier("my-db"), "\"my-db\"");
    assert_eq!(identifier("a\"b"), "\"a\"\"b\"");
}

#[test]
fn config_account_host() {
    assert_eq!(config().endpoint("api/v2/statements"), "https://myorg-myaccount.snowflakecomputing.com/api/v2/statements");
    let error = validate(&json!({"account": "https://x.snowflakecomputing.com", "token": "t"})).err();
    assert_eq!(error.map(|error| error.field), Some("account".to_string()));
}

#[test]
fn config_hides_token() {
    let message = validate(&json!({"account": "a1", "token": "secret token 42"})).err().map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains("token"), "{message}");
    assert!(!message.contains("secret token 42"), "{message}");
}
