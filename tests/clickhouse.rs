//! Round trips through a real ClickHouse engine: chdb, the embedded ClickHouse from PyPI.
//!
//! Corpus traces go through the real engine to the `clickhouse` destination, which posts to a
//! local endpoint that records each request. The table is created from the statement that
//! `broadcast ddl` prints, every recorded request body is inserted as it was sent (its
//! JSONEachRow rows after the INSERT statement the destination puts in the `query` URL
//! parameter), and the rows ClickHouse stored are read back and compared with the rows sent
//! and with the traces.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use broadcast_core::{BuildContext, ContentPart, PrivacyMode, Role, Trace};
use broadcast_tests::{
    broadcast_bin, corpus, fast_settings, registry, spec_for, start_engine, trace_of, wait_until_idle,
    CapturedRequest, FakeEndpoint, ScriptedResponse,
};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

const CANARY: &str = "CANARY-PROMPT-a83f10";
const JSON_COLUMNS: &[&str] = &["ATTRIBUTES", "INPUT", "OUTPUT", "METADATA", "MODEL_PARAMETERS"];

/// Runs SQL statements in one chdb session and returns what the last one printed. Each
/// statement is a file, so request bodies reach ClickHouse byte for byte.
const CHDB_SCRIPT: &str = r#"
import sys
try:
    from chdb import session
except ImportError as error:
    sys.exit(f"chdb is not installed ({error}); install it with `pip install chdb`")
db = session.Session()
result = None
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as handle:
        statement = handle.read()
    try:
        result = db.query(statement, "JSONEachRow")
    except Exception as error:
        sys.exit(f"{path}: {error}")
sys.stdout.write(str(result))
"#;

/// Runs `statements` in a fresh chdb session; `Err` holds chdb's message.
fn run_chdb(directory: &std::path::Path, statements: &[String]) -> Result<String, String> {
    let script = directory.join("run_chdb.py");
    std::fs::write(&script, CHDB_SCRIPT).expect("write the chdb script");
    let mut paths = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        let path = directory.join(format!("statement-{index:04}.sql"));
        std::fs::write(&path, statement).expect("write a statement");
        paths.push(path);
    }
    let output = Command::new("python3")
        .arg(&script)
        .args(&paths)
        .output()
        .unwrap_or_else(|error| panic!("cannot run python3 ({error}); chdb needs Python 3 and `pip install chdb`"));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("chdb is not installed"), "{stderr}");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(stderr)
    }
}

/// The DDL of a ClickHouse destination, printed by `broadcast ddl`.
fn ddl_from_cli(directory: &std::path::Path, database: &str, table: &str) -> String {
    let config = format!(
        r#"
[[accounts]]
id = "default"

[[accounts.destinations]]
type = "clickhouse"
name = "Warehouse"
[accounts.destinations.config]
url = "http://127.0.0.1:8123"
database = "{database}"
table = "{table}"
password = ""
"#
    );
    let path = directory.join("broadcast.toml");
    std::fs::write(&path, config).expect("write the config file");
    let output = Command::new(broadcast_bin())
        .args(["ddl", "--config"])
        .arg(&path)
        .args(["--destination", "Warehouse"])
        .output()
        .expect("run broadcast ddl");
    assert!(output.status.success(), "broadcast ddl failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("DDL is UTF-8")
}

/// Corpus traces with non-ASCII API key names and custom metadata, plus one trace with the
/// canary in its content.
fn traces() -> Vec<Trace> {
    let names = ["Clé d'équipe 東京 🙂", "prod key \"quoted\" \\ back", "plain-key"];
    let mut traces: Vec<Trace> = corpus()
        .iter()
        .enumerate()
        .map(|(index, (_, envelope))| {
            let mut envelope = envelope.clone();
            envelope["api_key_name"] = Value::from(names[index % names.len()]);
            trace_of(&envelope)
        })
        .collect();
    let mut canary = traces[0].clone();
    canary.ids.generation_id = "00000000-0000-4000-8000-00000000c0de".to_string();
    canary.names.span_name = Some("retrieval step".to_string());
    canary.ids.span_id = Some("00000000000000aa".to_string());
    canary.input.system.push(ContentPart::Text { text: format!("system {CANARY}") });
    if let Some(message) = canary.input.messages.iter_mut().rev().find(|message| message.role == Role::User) {
        message.content.push(ContentPart::Text { text: format!("please {CANARY}") });
    }
    canary.output.text = Some(format!("answer {CANARY} — ответ 答え"));
    canary.metadata.insert("region".into(), Value::from("eu-west-1"));
    traces.push(canary);
    traces
}

/// The rows in request bodies, in order.
fn sent_rows(requests: &[CapturedRequest]) -> Vec<Map<String, Value>> {
    let mut rows = Vec::new();
    for request in requests {
        let text = request.body_text();
        for line in text.lines().filter(|line| !line.is_empty()) {
            rows.push(serde_json::from_str(line).unwrap_or_else(|error| panic!("row is not JSON: {error}")));
        }
    }
    rows
}

fn parse_rows(output: &str) -> Vec<Map<String, Value>> {
    output
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("chdb row is not JSON: {error}: {line}")))
        .collect()
}

fn decimal(value: &Value) -> Option<Decimal> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    text.parse::<Decimal>().ok().map(|decimal| decimal.normalize())
}

/// Asserts that ClickHouse stored `sent` unchanged: text and numbers equal, the cost equal as a
/// decimal, and each JSON column equal once parsed.
fn assert_row_stored(sent: &Map<String, Value>, stored: &Map<String, Value>) {
    let id = format!("{} {}", sent["GENERATION_ID"], sent["SPAN_ID"]);
    for (column, value) in sent {
        let back = stored.get(column).unwrap_or_else(|| panic!("{id}: column {column} not stored"));
        if JSON_COLUMNS.contains(&column.as_str()) {
            let parse = |value: &Value| -> Value {
                serde_json::from_str(value.as_str().unwrap_or_default())
                    .unwrap_or_else(|error| panic!("{id}: {column} is not JSON text: {error}"))
            };
            assert_eq!(parse(back), parse(value), "{id}: {column} changed");
        } else if column == "TOTAL_COST" {
            assert_eq!(decimal(back), decimal(value), "{id}: TOTAL_COST changed");
        } else {
            assert_eq!(back, value, "{id}: {column} changed");
        }
    }
}

async fn deliver(traces: &[Trace], privacy: PrivacyMode) -> Vec<CapturedRequest> {
    let registry = registry();
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(200)).await;
    let mut spec = spec_for(&registry, "clickhouse", "warehouse", &endpoint, privacy);
    spec.config["database"] = Value::from("analytics");
    spec.config["table"] = Value::from("LLM_TRACES");
    let engine = start_engine(&registry, vec![spec], fast_settings());
    engine.ingest(traces.to_vec()).await.expect("traces queued");
    wait_until_idle(&engine, Duration::from_secs(60)).await;
    let stats = engine.status()[0].stats.clone();
    assert_eq!((stats.delivered, stats.failed), (traces.len() as u64, 0), "{stats:?}");
    engine.shutdown(None).await;
    endpoint.requests()
}

fn validated(raw: &Value) -> dest_clickhouse::ClickHouseConfig {
    use broadcast_core::Destination;
    dest_clickhouse::ClickHouseDestination::validate(raw).unwrap_or_else(|error| panic!("config invalid: {error}"))
}

fn statements(ddl: &str, requests: &[CapturedRequest]) -> Vec<String> {
    let mut statements = vec!["CREATE DATABASE IF NOT EXISTS analytics".to_string(), ddl.to_string()];
    // The destination's own statement, as it puts it in the `query` URL parameter; the
    // recorded request keeps only the path and the body.
    let config = serde_json::json!({"url": "http://127.0.0.1:8123", "database": "analytics", "table": "LLM_TRACES"});
    let insert = dest_clickhouse::insert_statement(&validated(&config));
    assert!(insert.starts_with("INSERT INTO `analytics`.`LLM_TRACES` (`TIMESTAMP`, "), "{insert}");
    statements.extend(requests.iter().map(|request| format!("{insert}\n{}", request.body_text())));
    statements.push("SELECT * FROM analytics.LLM_TRACES ORDER BY GENERATION_ID, SPAN_ID SETTINGS output_format_json_quote_decimals = 1, output_format_json_quote_64bit_integers = 0".to_string());
    statements
}

#[tokio::test]
async fn corpus_rows_round_trip_through_chdb() {
    let directory = tempfile::tempdir().expect("temp dir");
    let ddl = ddl_from_cli(directory.path(), "analytics", "LLM_TRACES");
    assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS `analytics`.`LLM_TRACES`"), "{ddl}");

    let traces = traces();
    let requests = deliver(&traces, PrivacyMode::Off).await;
    let sent = sent_rows(&requests);
    let output = run_chdb(directory.path(), &statements(&ddl, &requests)).unwrap_or_else(|error| panic!("chdb: {error}"));
    let stored = parse_rows(&output);
    assert_eq!(stored.len(), sent.len(), "ClickHouse holds another number of rows than were sent");

    let key = |row: &Map<String, Value>| format!("{} {}", row["GENERATION_ID"], row["SPAN_ID"]);
    let stored_by_key: HashMap<String, &Map<String, Value>> = stored.iter().map(|row| (key(row), row)).collect();
    for row in &sent {
        let back = stored_by_key.get(&key(row)).unwrap_or_else(|| panic!("row {} not stored", key(row)));
        assert_row_stored(row, back);
    }

    // The stored generation rows against the traces themselves.
    for trace in &traces {
        let generation = stored
            .iter()
            .find(|row| row["GENERATION_ID"] == trace.ids.generation_id.as_str() && row["SPAN_TYPE"] == "GENERATION")
            .unwrap_or_else(|| panic!("no generation row for {}", trace.ids.generation_id));
        assert_eq!(generation["TRACE_ID"], trace.ids.trace_id.as_str());
        assert_eq!(generation["API_KEY_NAME"], trace.api_key_name.as_deref().unwrap_or_default());
        assert_eq!(generation["MODEL"], trace.model.name().unwrap_or_default());
        assert_eq!(generation["PROMPT_TOKENS"], serde_json::json!(trace.usage.prompt_tokens));
        assert_eq!(generation["COMPLETION_TOKENS"], serde_json::json!(trace.usage.completion_tokens));
        assert_eq!(decimal(&generation["TOTAL_COST"]), trace.cost_usd.map(|cost| cost.normalize()));
        assert_eq!(
            generation["TIMESTAMP"],
            trace.timing.started_at.format("%Y-%m-%d %H:%M:%S%.3f").to_string().as_str()
        );
        let input: Value = serde_json::from_str(generation["INPUT"].as_str().unwrap_or_default()).expect("INPUT is JSON");
        assert_eq!(input, serde_json::to_value(&trace.input).expect("input serializes"));
        let output: Value = serde_json::from_str(generation["OUTPUT"].as_str().unwrap_or_default()).expect("OUTPUT is JSON");
        assert_eq!(output["messages"][0]["content"], serde_json::json!(trace.output.text));
    }
    let canary_rows = stored.iter().filter(|row| row["GENERATION_ID"] == "00000000-0000-4000-8000-00000000c0de").count();
    assert_eq!(canary_rows, 3, "root span, named span and generation");
    assert!(output.contains(CANARY), "the control rows lack the canary");
}

#[tokio::test]
async fn privacy_rows_hold_no_content() {
    let directory = tempfile::tempdir().expect("temp dir");
    let ddl = ddl_from_cli(directory.path(), "analytics", "LLM_TRACES");
    let traces = traces();
    let requests = deliver(&traces, PrivacyMode::On).await;
    let output = run_chdb(directory.path(), &statements(&ddl, &requests)).unwrap_or_else(|error| panic!("chdb: {error}"));
    let stored = parse_rows(&output);
    assert_eq!(stored.len(), sent_rows(&requests).len());
    assert!(!output.contains(CANARY), "canary stored in privacy mode");
    for trace in &traces {
        for text in trace.input.messages.iter().filter_map(|message| message.text()).filter(|text| text.len() >= 24) {
            assert!(!output.contains(&text), "input text of {} stored in privacy mode", trace.ids.generation_id);
        }
    }
    for row in stored.iter().filter(|row| row["SPAN_TYPE"] == "GENERATION") {
        let input: Value = serde_json::from_str(row["INPUT"].as_str().unwrap_or_default()).expect("INPUT is JSON");
        assert_eq!(input["messages"], serde_json::json!([]), "messages stored in privacy mode");
    }
}

/// The connection test's statement, run against the real engine: it passes on the table from
/// the DDL and fails on a missing table or a missing column, writing no row.
#[tokio::test]
async fn connection_probe_checks_table() {
    let directory = tempfile::tempdir().expect("temp dir");
    let ddl = ddl_from_cli(directory.path(), "analytics", "LLM_TRACES");

    let registry = registry();
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(200)).await;
    let mut config = (registry.get("clickhouse").expect("registered").example_config)(&endpoint.url());
    config["database"] = Value::from("analytics");
    config["table"] = Value::from("LLM_TRACES");
    let destination = (registry.get("clickhouse").expect("registered").build)(&config, &BuildContext::with_timeout(Duration::from_secs(5)))
        .expect("destination builds");
    destination.test_connection().await.expect("a 200 answer passes");
    let probe = endpoint.requests().remove(0).body_text();

    let count = "SELECT count() AS rows FROM analytics.LLM_TRACES".to_string();
    let passed = run_chdb(directory.path(), &["CREATE DATABASE analytics".into(), ddl.clone(), probe.clone(), count.clone()]);
    assert_eq!(passed.map(|output| output.trim().to_string()), Ok(r#"{"rows":0}"#.to_string()));

    let missing_table = run_chdb(directory.path(), &["CREATE DATABASE analytics".into(), probe.clone()]);
    assert!(missing_table.as_ref().is_err_and(|error| error.contains("UNKNOWN_TABLE")), "{missing_table:?}");

    let without_cost = ddl.replace("    `TOTAL_COST` Nullable(Decimal(38, 12)) COMMENT 'US dollars, generation rows only',\n", "");
    assert_ne!(without_cost, ddl, "the DDL changed shape; update this test");
    let missing_column = run_chdb(directory.path(), &["CREATE DATABASE analytics".into(), without_cost, probe]);
    assert!(missing_column.as_ref().is_err_and(|error| error.contains("NO_SUCH_COLUMN_IN_TABLE")), "{missing_column:?}");
}
