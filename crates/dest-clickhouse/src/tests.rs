//! Unit tests of the ClickHouse config, rows and request body. A real ClickHouse engine
//! parses the rows in the workspace tests (`tests/clickhouse.rs`).

use std::sync::Arc;

use broadcast_core::ingest::normalise;
use broadcast_core::{Destination, EncodedEvent, PrivacyMode, Trace};
use serde_json::{json, Value};

use crate::config::validate;
use crate::encoder::encode;
use crate::service::request_body;
use crate::ClickHouseDestination;

fn trace(trace_fields: Value) -> Arc<Trace> {
    let envelope = json!({
        "user": "user-0001",
        "session_id": "sess-0001",
        "api_key_name": "Clé 東京",
        "started_at": "2026-03-01T10:00:00.250Z",
        "ended_at": "2026-03-01T10:00:01.000Z",
        "trace": trace_fields,
        "request": {"model": "gpt-4o-mini", "temperature": 0.2, "messages": [{"role": "user", "content": "PLACEHOLDER-PROMPT-3c1d"}]},
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

fn rows(trace: &Arc<Trace>, privacy: PrivacyMode) -> Vec<Value> {
    let encoded = encode(&privacy.apply(trace), 1_000_000).unwrap_or_else(|error| panic!("{error}"));
    let text = String::from_utf8(encoded.bytes).unwrap_or_default();
    text.split('\n')
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("row is not JSON: {error}: {line}")))
        .collect()
}

#[test]
fn rows_per_span() {
    let trace = trace(json!({"trace_name": "checkout", "span_name": "plan", "feature": "vision-demo"}));
    let rows = rows(&trace, PrivacyMode::Off);
    let types: Vec<&str> = rows.iter().map(|row| row["SPAN_TYPE"].as_str().unwrap_or_default()).collect();
    assert_eq!(types, ["SPAN", "SPAN", "GENERATION"]);
    assert_eq!(rows[0]["NAME"], "checkout");
    assert_eq!(rows[1]["NAME"], "plan");
    assert_eq!(rows[1]["PARENT_SPAN_ID"], rows[0]["SPAN_ID"]);
    assert_eq!(rows[2]["PARENT_SPAN_ID"], rows[1]["SPAN_ID"]);
    for row in &rows {
        assert_eq!(row["TRACE_ID"], json!(trace.ids.trace_id));
        assert_eq!(row["GENERATION_ID"], json!(trace.ids.generation_id));
        assert_eq!(row["API_KEY_NAME"], "Clé 東京");
        assert_eq!(row["TIMESTAMP"], "2026-03-01 10:00:00.250");
        assert_eq!(row["DURATION_MS"], 750);
        let metadata: Value = serde_json::from_str(row["METADATA"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!(metadata["feature"], "vision-demo");
    }
    assert!(rows[0]["PROMPT_TOKENS"].is_null(), "tokens only on the generation row");
}

#[test]
fn generation_row_columns() {
    let rows = rows(&trace(json!({})), PrivacyMode::Off);
    assert_eq!(rows.len(), 2, "root span and generation");
    let generation = &rows[1];
    assert_eq!(generation["MODEL"], "gpt-4o-mini");
    assert_eq!(generation["PROVIDER_NAME"], "openai");
    assert_eq!(generation["PROMPT_TOKENS"], 5);
    assert_eq!(generation["TOTAL_TOKENS"], 8);
    assert_eq!(generation["FINISH_REASON"], "stop");
    assert_eq!(generation["STATUS"], "ok");
    assert_eq!(generation["LEVEL"], "DEFAULT");
    let input: Value = serde_json::from_str(generation["INPUT"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(input["messages"][0]["content"][0]["text"], "PLACEHOLDER-PROMPT-3c1d");
    let output: Value = serde_json::from_str(generation["OUTPUT"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(output["messages"][0]["content"], "PLACEHOLDER-ANSWER-9e2b");
    let parameters: Value =
        serde_json::from_str(generation["MODEL_PARAMETERS"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(parameters["temperature"], 0.2);
}

#[test]
fn privacy_rows_have_no_content() {
    let rows = rows(&trace(json!({})), PrivacyMode::On);
    let text = serde_json::to_string(&rows).unwrap_or_default();
    assert!(!text.contains("PLACEHOLDER-PROMPT-3c1d"), "{text}");
    assert!(!text.contains("PLACEHOLDER-ANSWER-9e2b"), "{text}");
    assert_eq!(rows[1]["PROMPT_TOKENS"], 5);
}

#[test]
fn decode_groups_rows_by_generation() {
    let first = trace(json!({"span_name": "plan"}));
    let second = trace(json!({"trace_name": "other"}));
    let events: Vec<EncodedEvent> = [&first, &second]
        .iter()
        .map(|trace| encode(&PrivacyMode::Off.apply(trace), 1_000_000).unwrap_or_else(|error| panic!("{error}")))
        .collect();
    let body = request_body(&events);
    let decoded = ClickHouseDestination::decode_request(&body).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(decoded.len(), 2);
    assert_eq!(decoded[0].as_array().map(Vec::len), Some(3));
    assert_eq!(decoded[1].as_array().map(Vec::len), Some(2));
    for (event, encoded) in decoded.iter().zip(&events) {
        let size = serde_json::to_vec(event).map(|bytes| bytes.len()).unwrap_or_default();
        assert_eq!(size, encoded.bytes.len() + 2, "a decoded event is its rows as a JSON array");
    }
}

#[test]
fn decode_probe_has_no_events() {
    let probe = crate::columns::probe_insert("default", "BROADCAST_TRACES");
    assert_eq!(ClickHouseDestination::decode_request(probe.as_bytes()), Ok(Vec::new()));
}

#[test]
fn ddl_lists_every_column() {
    let ddl = crate::columns::ddl("analytics", "LLM`TRACES");
    assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS `analytics`.`LLM\\`TRACES`"), "{ddl}");
    for column in crate::COLUMNS {
        assert!(ddl.contains(&format!("`{}` {}", column.name, column.clickhouse_type)), "{} missing", column.name);
    }
}

#[test]
fn config_defaults() {
    let config = validate(&json!({"url": "https://ch.example.com:8443/"})).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.database, "default");
    assert_eq!(config.table, "BROADCAST_TRACES");
    assert_eq!(config.username, "default");
    assert_eq!(config.url.as_str(), "https://ch.example.com:8443/");
}

#[test]
fn config_requires_url() {
    assert_eq!(validate(&json!({"table": "T"})).err().map(|error| error.field), Some("url".to_string()));
}

#[test]
fn config_rejects_empty_table() {
    let error = validate(&json!({"url": "http://127.0.0.1:8123", "table": " "})).err();
    assert_eq!(error.map(|error| error.field), Some("table".to_string()));
}
