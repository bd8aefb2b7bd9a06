//! Destinations whose service cannot run here, against scripted endpoints that enforce each
//! vendor's documented request contract: path, credentials, body schema and size limits. A
//! request that breaks the contract gets a 400 response naming the broken rule, so a delivery test
//! fails on it; one that keeps it gets the vendor's success status.
//!
//! Every corpus trace is delivered through the real engine, with and without privacy mode,
//! and the connection test is run against a good and a wrong credential.

use std::sync::Arc;
use std::time::Duration;

use broadcast_core::{BuildContext, ConnectionErrorKind, PrivacyMode};
use broadcast_tests::{
    corpus_traces, fast_settings, registry, start_engine, wait_until_idle, CapturedRequest, FakeEndpoint,
    ScriptedResponse,
};
use broadcast_engine::DestinationSpec;
use serde_json::Value;

type Check = fn(&CapturedRequest) -> Result<u16, String>;

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|group| group.chars().all(|character| character.is_ascii_hexdigit()))
}

fn json_body(request: &CapturedRequest) -> Result<Value, String> {
    serde_json::from_slice(&request.body).map_err(|error| format!("body is not JSON: {error}"))
}

fn require(condition: bool, rule: &str) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(rule.to_string())
    }
}

const POSTHOG_KEY: &str = "phc_contract0000000000000000000000000000000000";

/// PostHog capture: `POST /batch/` with the project key as `api_key` in a body under 20 MB,
/// `$ai_generation` events of at most 1 MB with a valid `uuid`, a `distinct_id` and
/// properties. The flags endpoint returns 401 for an unknown key.
fn posthog_contract(request: &CapturedRequest) -> Result<u16, String> {
    let body = json_body(request)?;
    match request.path.as_str() {
        "/flags/" => {
            require(request.method == "POST", "flags takes POST")?;
            require(body["distinct_id"].is_string(), "flags needs distinct_id")?;
            Ok(if body["api_key"] == POSTHOG_KEY { 200 } else { 401 })
        }
        "/batch/" => {
            require(request.method == "POST", "batch takes POST")?;
            require(request.body.len() < 20_000_000, "batch body must be under 20 MB")?;
            require(body["api_key"] == POSTHOG_KEY, "api_key must be the project key")?;
            let events = body["batch"].as_array().ok_or("batch must be an array")?;
            require(!events.is_empty(), "batch must not be empty")?;
            for event in events {
                require(event.to_string().len() <= 1_000_000, "an event over 1 MB is discarded")?;
                require(event["event"] == "$ai_generation", "event must be $ai_generation")?;
                require(event["uuid"].as_str().is_some_and(is_uuid), "uuid must be a valid UUID")?;
                require(event["distinct_id"].as_str().is_some_and(|id| !id.is_empty()), "distinct_id is required")?;
                require(event["timestamp"].as_str().is_some_and(|time| chrono::DateTime::parse_from_rfc3339(time).is_ok()), "timestamp must be ISO 8601")?;
                let properties = event["properties"].as_object().ok_or("properties must be an object")?;
                require(properties.get("$ai_trace_id").is_some_and(Value::is_string), "$ai_trace_id must be a string")?;
                for key in ["$ai_input_tokens", "$ai_output_tokens", "$ai_latency", "$ai_total_cost_usd"] {
                    require(properties.get(key).is_none_or(Value::is_number), "token, latency and cost properties must be numbers")?;
                }
                for key in ["$ai_input", "$ai_output_choices"] {
                    if let Some(messages) = properties.get(key) {
                        let messages = messages.as_array().ok_or("$ai_input and $ai_output_choices must be arrays")?;
                        require(messages.iter().all(|message| message["role"].is_string()), "every message needs a role")?;
                    }
                }
            }
            Ok(200)
        }
        other => Err(format!("no PostHog endpoint at {other}")),
    }
}

const DATADOG_KEY: &str = "dd-example-api-key-0000000000000000";

/// Datadog LLM Observability: `POST /api/intake/llm-obs/v1/trace/spans` with `DD-API-KEY`,
/// `{"data": {"type": "span", "attributes": {"ml_app", "spans"}}}` where every span has the
/// required fields and types, accepted with 202. `GET /api/v1/validate` returns 200 or 403.
fn datadog_contract(request: &CapturedRequest) -> Result<u16, String> {
    let key_ok = request.headers.get("dd-api-key").and_then(|value| value.to_str().ok()) == Some(DATADOG_KEY);
    match request.path.as_str() {
        "/api/v1/validate" => {
            require(request.method == "GET", "validate takes GET")?;
            Ok(if key_ok { 200 } else { 403 })
        }
        "/api/intake/llm-obs/v1/trace/spans" => {
            require(request.method == "POST", "the intake takes POST")?;
            if !key_ok {
                return Ok(403);
            }
            require(request.body.len() <= 5_242_880, "a payload over 5 MB is rejected")?;
            let body = json_body(request)?;
            require(body["data"]["type"] == "span", "data.type must be span")?;
            let attributes = &body["data"]["attributes"];
            let ml_app = attributes["ml_app"].as_str().ok_or("ml_app is required")?;
            require(
                ml_app.chars().all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || "_-:./".contains(character)),
                "ml_app must be lowercase letters, digits and _-:./",
            )?;
            let spans = attributes["spans"].as_array().ok_or("spans must be an array")?;
            for span in spans {
                require(span.to_string().len() <= 1_048_576, "a span over 1 MB is rejected")?;
                for field in ["name", "span_id", "trace_id", "parent_id"] {
                    require(span[field].as_str().is_some_and(|text| !text.is_empty()), "name, span_id, trace_id and parent_id are required strings")?;
                }
                require(span["start_ns"].is_u64(), "start_ns must be an unsigned integer")?;
                require(span["duration"].is_number(), "duration must be a number")?;
                require(span["status"].is_null() || span["status"] == "ok" || span["status"] == "error", "status must be ok or error")?;
                let kinds = ["llm", "workflow", "agent", "tool", "task", "embedding", "retrieval"];
                require(span["meta"]["kind"].as_str().is_some_and(|kind| kinds.contains(&kind)), "meta.kind is required")?;
                for side in ["input", "output"] {
                    if let Some(messages) = span["meta"][side].get("messages") {
                        let messages = messages.as_array().ok_or("messages must be an array")?;
                        require(messages.iter().all(|message| message["content"].is_string()), "every message needs string content")?;
                    }
                }
                let metadata = span["meta"]["metadata"].as_object().ok_or("meta.metadata must be an object")?;
                require(metadata.values().all(|value| !value.is_object() && !value.is_array()), "meta.metadata takes scalar values")?;
                if let Some(metrics) = span["metrics"].as_object() {
                    require(metrics.values().all(Value::is_number), "metrics must be numbers")?;
                }
                require(span["tags"].as_array().is_some_and(|tags| tags.iter().all(|tag| tag.as_str().is_some_and(|tag| tag.contains(':')))), "tags must be key:value strings")?;
            }
            Ok(202)
        }
        other => Err(format!("no Datadog endpoint at {other}")),
    }
}

async fn contract_endpoint(check: Check) -> FakeEndpoint {
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(500)).await;
    endpoint.set_responder(Arc::new(move |request| {
        Some(match check(request) {
            Ok(status) => ScriptedResponse::status(status),
            Err(rule) => {
                let mut response = ScriptedResponse::status(400);
                response.body = rule;
                response
            }
        })
    }));
    endpoint
}

fn answered_400(requests: &[CapturedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|request| request.answered == 400)
        .map(|request| format!("{} {}", request.method, request.path))
        .collect()
}

/// Delivers every corpus trace to `type_name` with and without privacy mode, each against
/// its own contract endpoint, and checks that all were accepted.
async fn deliver_corpus(type_name: &str, check: Check, config: impl Fn(&str) -> Value) {
    let registry = registry();
    let traces = corpus_traces();
    for privacy in [PrivacyMode::Off, PrivacyMode::On] {
        let endpoint = contract_endpoint(check).await;
        let mut spec = DestinationSpec::new("test/contract", "default", "contract", type_name, config(&endpoint.url()));
        spec.privacy = privacy;
        let engine = start_engine(&registry, vec![spec], fast_settings());
        engine.ingest(traces.clone()).await.expect("traces queued");
        wait_until_idle(&engine, Duration::from_secs(60)).await;
        let requests = endpoint.requests();
        let rejected = answered_400(&requests);
        let last_error = engine.status()[0].stats.state.last_error.clone();
        assert!(rejected.is_empty(), "{type_name} {privacy:?}: contract broken by {rejected:?}: {last_error:?}");
        let stats = engine.status()[0].stats.clone();
        assert_eq!((stats.delivered, stats.failed), (traces.len() as u64, 0), "{type_name} {privacy:?}: {stats:?}");
        engine.shutdown(None).await;
    }
}

async fn connection_test(type_name: &str, config: Value) -> Result<(), broadcast_core::ConnectionError> {
    let registry = registry();
    let descriptor = registry.get(type_name).unwrap_or_else(|| panic!("{type_name} is not registered"));
    let destination = (descriptor.build)(&config, &BuildContext::with_timeout(Duration::from_secs(5)))
        .unwrap_or_else(|error| panic!("{type_name}: cannot build: {error}"));
    destination.test_connection().await
}

fn posthog_config(url: &str) -> Value {
    serde_json::json!({"api_key": POSTHOG_KEY, "host": url})
}

fn datadog_config(url: &str) -> Value {
    serde_json::json!({"api_key": DATADOG_KEY, "ml_app": "support-bot", "url": url})
}

#[tokio::test]
async fn posthog_corpus_keeps_contract() {
    deliver_corpus("posthog", posthog_contract, posthog_config).await;
}

#[tokio::test]
async fn posthog_connection_test_uses_flags() {
    let endpoint = contract_endpoint(posthog_contract).await;
    assert_eq!(connection_test("posthog", posthog_config(&endpoint.url())).await, Ok(()));
    let mut wrong = posthog_config(&endpoint.url());
    wrong["api_key"] = Value::from("phc_wrong");
    let error = connection_test("posthog", wrong).await.err().expect("an unknown key must fail");
    assert_eq!(error.kind, ConnectionErrorKind::Unauthorized, "{error}");
    assert!(endpoint.requests().iter().all(|request| request.path == "/flags/"), "the connection test wrote events");
}

#[tokio::test]
async fn datadog_corpus_keeps_contract() {
    deliver_corpus("datadog", datadog_contract, datadog_config).await;
}

#[tokio::test]
async fn datadog_connection_test_uses_validate() {
    let endpoint = contract_endpoint(datadog_contract).await;
    assert_eq!(connection_test("datadog", datadog_config(&endpoint.url())).await, Ok(()));
    let mut wrong = datadog_config(&endpoint.url());
    wrong["api_key"] = Value::from("dd-wrong");
    let error = connection_test("datadog", wrong).await.err().expect("a wrong key must fail");
    assert_eq!(error.kind, ConnectionErrorKind::Unauthorized, "{error}");
    assert!(error.message.contains("403"), "{error}");
}

const SNOWFLAKE_TOKEN: &str = "example-programmatic-access-token";
const SNOWFLAKE_SUCCESS: &str = r#"{"code":"090001","statementHandle":"01b2c3d4-0000-0000-0000-000000000001","message":"Statement executed successfully."}"#;

/// The columns both warehouse tables have, as OpenRouter documents them plus the ids.
const TABLE_COLUMNS: &[&str] = &[
    "TIMESTAMP", "TRACE_ID", "SPAN_ID", "PARENT_SPAN_ID", "GENERATION_ID", "NAME", "SPAN_TYPE", "USER_ID", "SESSION_ID",
    "MODEL", "PROVIDER_NAME", "API_KEY_NAME", "STATUS", "LEVEL", "FINISH_REASON", "DURATION_MS", "TIME_TO_FIRST_TOKEN_MS",
    "PROMPT_TOKENS", "COMPLETION_TOKENS", "TOTAL_TOKENS", "CACHED_TOKENS", "REASONING_TOKENS", "TOTAL_COST", "ATTRIBUTES",
    "INPUT", "OUTPUT", "METADATA", "MODEL_PARAMETERS",
];

fn header<'a>(request: &'a CapturedRequest, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|value| value.to_str().ok())
}

/// Snowflake SQL API: `POST /api/v2/statements` with a programmatic access token as bearer
/// and its token type header, a statement with one `?` per binding, its context, and the
/// rows as JSON text in binding `1`. Answers 200 with a statement handle, 401 to another
/// token.
fn snowflake_contract(request: &CapturedRequest) -> Result<u16, String> {
    require(request.path == "/api/v2/statements", "statements are posted to /api/v2/statements")?;
    require(request.method == "POST", "statements take POST")?;
    if header(request, "authorization") != Some(&format!("Bearer {SNOWFLAKE_TOKEN}")) {
        return Ok(401);
    }
    require(header(request, "x-snowflake-authorization-token-type") == Some("PROGRAMMATIC_ACCESS_TOKEN"), "a PAT needs its token type header")?;
    require(header(request, "accept") == Some("application/json"), "Accept must be application/json")?;
    let body = json_body(request)?;
    let statement = body["statement"].as_str().ok_or("statement is required")?;
    let bindings = body["bindings"].as_object().ok_or("bindings must be an object")?;
    require(statement.matches('?').count() == bindings.len(), "every ? needs one binding")?;
    for field in ["database", "schema", "warehouse"] {
        require(body[field].is_string(), "database, schema and warehouse must be strings")?;
    }
    require(body["timeout"].is_u64(), "timeout must be a number of seconds")?;
    require(body["bindings"]["1"]["type"] == "TEXT", "binding 1 must be TEXT")?;
    let rows: Vec<serde_json::Map<String, Value>> = serde_json::from_str(body["bindings"]["1"]["value"].as_str().ok_or("binding 1 needs a text value")?)
        .map_err(|error| format!("binding 1 is not a JSON array of rows: {error}"))?;
    for row in &rows {
        require(row.keys().all(|key| TABLE_COLUMNS.contains(&key.as_str())), "a row has a key that is no column")?;
        let timestamp = row.get("TIMESTAMP").and_then(Value::as_str).ok_or("TIMESTAMP is required")?;
        require(chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%S%.3f").is_ok(), "TIMESTAMP must cast to TIMESTAMP_NTZ")?;
        for column in ["DURATION_MS", "PROMPT_TOKENS", "COMPLETION_TOKENS", "TOTAL_TOKENS"] {
            require(row.get(column).is_none_or(|value| value.is_null() || value.is_i64()), "counts must be integers or null")?;
        }
        require(
            row.get("TOTAL_COST").is_none_or(|value| value.is_null() || value.as_str().is_some_and(|text| text.parse::<rust_decimal::Decimal>().is_ok())),
            "TOTAL_COST must be a decimal string",
        )?;
    }
    Ok(200)
}

async fn snowflake_endpoint() -> FakeEndpoint {
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(500)).await;
    endpoint.set_responder(Arc::new(|request| {
        let mut response = ScriptedResponse::status(400);
        match snowflake_contract(request) {
            Ok(status) => {
                response.status = status;
                if status == 200 {
                    response.body = SNOWFLAKE_SUCCESS.to_string();
                }
            }
            Err(rule) => response.body = format!(r#"{{"code":"000000","message":"{rule}"}}"#),
        }
        Some(response)
    }));
    endpoint
}

fn snowflake_config(url: &str) -> Value {
    serde_json::json!({"account": "myorg-myaccount", "token": SNOWFLAKE_TOKEN, "database": "ANALYTICS", "url": url})
}

#[tokio::test]
async fn snowflake_corpus_keeps_contract() {
    let registry = registry();
    let traces = corpus_traces();
    for privacy in [PrivacyMode::Off, PrivacyMode::On] {
        let endpoint = snowflake_endpoint().await;
        let mut spec = DestinationSpec::new("test/contract", "default", "contract", "snowflake", snowflake_config(&endpoint.url()));
        spec.privacy = privacy;
        let engine = start_engine(&registry, vec![spec], fast_settings());
        engine.ingest(traces.clone()).await.expect("traces queued");
        wait_until_idle(&engine, Duration::from_secs(60)).await;
        let stats = engine.status()[0].stats.clone();
        assert_eq!((stats.delivered, stats.failed), (traces.len() as u64, 0), "snowflake {privacy:?}: {stats:?}");
        assert!(answered_400(&endpoint.requests()).is_empty());
        engine.shutdown(None).await;
    }
}

#[tokio::test]
async fn snowflake_polls_running_statement() {
    let registry = registry();
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(500)).await;
    let posted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = Arc::clone(&posted);
    endpoint.set_responder(Arc::new(move |request| {
        let mut response = ScriptedResponse::status(200);
        if request.method == "POST" {
            // The first statement is still running when Snowflake answers.
            if !seen.swap(true, std::sync::atomic::Ordering::SeqCst) {
                response.status = 202;
                response.body = r#"{"code":"333334","statementHandle":"h-running","message":"Asynchronous execution in progress."}"#.to_string();
                return Some(response);
            }
        } else if request.path != "/api/v2/statements/h-running" {
            response.status = 404;
        }
        response.body = SNOWFLAKE_SUCCESS.to_string();
        Some(response)
    }));
    let spec = DestinationSpec::new("test/poll", "default", "poll", "snowflake", snowflake_config(&endpoint.url()));
    let engine = start_engine(&registry, vec![spec], fast_settings());
    engine.ingest(corpus_traces().into_iter().take(1).collect()).await.expect("trace queued");
    wait_until_idle(&engine, Duration::from_secs(30)).await;
    let stats = engine.status()[0].stats.clone();
    assert_eq!((stats.delivered, stats.retried), (1, 0), "{stats:?}");
    let requests = endpoint.requests();
    let methods: Vec<(&str, &str)> = requests.iter().map(|request| (request.method.as_str(), request.path.as_str())).collect();
    assert_eq!(methods, [("POST", "/api/v2/statements"), ("GET", "/api/v2/statements/h-running")]);
    engine.shutdown(None).await;
}

#[tokio::test]
async fn snowflake_connection_test_inserts_nothing() {
    let endpoint = snowflake_endpoint().await;
    assert_eq!(connection_test("snowflake", snowflake_config(&endpoint.url())).await, Ok(()));
    let requests = endpoint.requests();
    let body = json_body(&requests[0]).expect("JSON body");
    assert_eq!(body["bindings"]["1"]["value"], "[]", "the probe inserts no row");
    let mut wrong = snowflake_config(&endpoint.url());
    wrong["token"] = Value::from("other-token");
    let error = connection_test("snowflake", wrong).await.err().expect("a wrong token must fail");
    assert_eq!(error.kind, ConnectionErrorKind::Unauthorized, "{error}");
}

const BIGQUERY_EMAIL: &str = "broadcast@example-project.iam.gserviceaccount.com";
const BIGQUERY_TABLE: &str = "/bigquery/v2/projects/example-project/datasets/broadcast/tables/broadcast_traces";
const BIGQUERY_COLUMNS: &[&str] = &[
    "trace_id", "span_id", "timestamp", "model", "status", "level", "finish_reason", "user_id", "session_id",
    "provider_name", "api_key_name", "duration_ms", "prompt_tokens", "completion_tokens", "total_tokens", "total_cost",
    "attributes", "input", "output", "metadata", "model_parameters", "resource_attributes", "tags",
];
const BIGQUERY_JSON_COLUMNS: &[&str] = &["attributes", "input", "output", "metadata", "model_parameters", "resource_attributes"];

/// The claims of a bearer JWT, when the request carries one for the BigQuery audience from
/// the expected account, valid for at most an hour.
fn bigquery_token_ok(request: &CapturedRequest) -> bool {
    use base64::Engine;
    let Some(token) = header(request, "authorization").and_then(|value| value.strip_prefix("Bearer ")) else {
        return false;
    };
    let parts: Vec<&str> = token.split('.').collect();
    let decode = |part: &str| -> Value {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    };
    if parts.len() != 3 || decode(parts[0])["alg"] != "RS256" {
        return false;
    }
    let claims = decode(parts[1]);
    let lifetime = claims["exp"].as_i64().zip(claims["iat"].as_i64()).map(|(expires, issued)| expires - issued);
    claims["iss"] == BIGQUERY_EMAIL
        && claims["aud"].as_str().is_some_and(|audience| audience.ends_with('/'))
        && lifetime.is_some_and(|seconds| (1..=3600).contains(&seconds))
}

/// BigQuery: a bearer JWT signed by the service account; `tables.get` returns the table with
/// its schema, `testIamPermissions` grants `bigquery.tables.updateData`, and `insertAll`
/// takes at most 10 MB and 50,000 rows, each `{insertId, json}` with the table's columns,
/// RFC 3339 `timestamp`, JSON columns as JSON text and `tags` as strings.
fn bigquery_contract(request: &CapturedRequest) -> Result<(u16, String), String> {
    if !bigquery_token_ok(request) {
        return Ok((401, r#"{"error":{"code":401,"status":"UNAUTHENTICATED"}}"#.to_string()));
    }
    let path = request.path.as_str();
    if path == BIGQUERY_TABLE && request.method == "GET" {
        let fields: Vec<Value> = BIGQUERY_COLUMNS.iter().map(|name| serde_json::json!({"name": name})).collect();
        return Ok((200, serde_json::json!({"kind": "bigquery#table", "schema": {"fields": fields}}).to_string()));
    }
    if path == format!("{BIGQUERY_TABLE}:testIamPermissions") {
        let body = json_body(request)?;
        require(body["permissions"].is_array(), "permissions must be an array")?;
        return Ok((200, r#"{"permissions":["bigquery.tables.updateData"]}"#.to_string()));
    }
    require(path == format!("{BIGQUERY_TABLE}/insertAll") && request.method == "POST", "no BigQuery endpoint here")?;
    require(request.body.len() <= 10_000_000, "an insertAll request is at most 10 MB")?;
    let body = json_body(request)?;
    let rows = body["rows"].as_array().ok_or("rows must be an array")?;
    require(!rows.is_empty() && rows.len() <= 50_000, "1 to 50,000 rows per request")?;
    for row in rows {
        require(row["insertId"].as_str().is_some_and(|id| !id.is_empty() && id.len() <= 128), "insertId must be set")?;
        let columns = row["json"].as_object().ok_or("json must be an object")?;
        require(columns.keys().all(|key| BIGQUERY_COLUMNS.contains(&key.as_str())), "a row has an unknown field")?;
        let timestamp = columns.get("timestamp").and_then(Value::as_str).ok_or("timestamp is required")?;
        require(chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(), "timestamp must be RFC 3339")?;
        for column in BIGQUERY_JSON_COLUMNS {
            if let Some(value) = columns.get(*column).filter(|value| !value.is_null()) {
                let text = value.as_str().ok_or("JSON columns take JSON text")?;
                require(serde_json::from_str::<Value>(text).is_ok(), "a JSON column holds invalid JSON")?;
            }
        }
        require(columns["tags"].as_array().is_some_and(|tags| tags.iter().all(Value::is_string)), "tags must be an array of strings")?;
        for column in ["duration_ms", "prompt_tokens", "completion_tokens", "total_tokens"] {
            require(columns.get(column).is_none_or(|value| value.is_null() || value.is_i64()), "INT64 columns take integers")?;
        }
    }
    Ok((200, r#"{"kind":"bigquery#tableDataInsertAllResponse"}"#.to_string()))
}

async fn bigquery_endpoint() -> FakeEndpoint {
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(500)).await;
    endpoint.set_responder(Arc::new(|request| {
        let mut response = ScriptedResponse::status(400);
        match bigquery_contract(request) {
            Ok((status, body)) => {
                response.status = status;
                response.body = body;
            }
            Err(rule) => response.body = rule,
        }
        Some(response)
    }));
    endpoint
}

fn bigquery_config(url: &str) -> Value {
    let registry = registry();
    (registry.get("bigquery").expect("bigquery is registered").example_config)(url)
}

#[tokio::test]
async fn bigquery_corpus_keeps_contract() {
    let registry = registry();
    let traces = corpus_traces();
    for privacy in [PrivacyMode::Off, PrivacyMode::On] {
        let endpoint = bigquery_endpoint().await;
        let mut spec = DestinationSpec::new("test/contract", "default", "contract", "bigquery", bigquery_config(&endpoint.url()));
        spec.privacy = privacy;
        let engine = start_engine(&registry, vec![spec], fast_settings());
        engine.ingest(traces.clone()).await.expect("traces queued");
        wait_until_idle(&engine, Duration::from_secs(60)).await;
        let stats = engine.status()[0].stats.clone();
        assert!(answered_400(&endpoint.requests()).is_empty(), "bigquery {privacy:?}: {:?}", stats.state.last_error);
        assert_eq!((stats.delivered, stats.failed), (traces.len() as u64, 0), "bigquery {privacy:?}: {stats:?}");
        engine.shutdown(None).await;
    }
}

#[tokio::test]
async fn bigquery_invalid_row_fails_alone() {
    let registry = registry();
    let traces: Vec<_> = corpus_traces().into_iter().take(5).collect();
    let bad = traces[2].ids.generation_id.clone();
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(500)).await;
    endpoint.set_responder(Arc::new(move |request| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        let mut response = ScriptedResponse::status(200);
        let position = rows.iter().position(|row| row["insertId"] == bad.as_str());
        if let Some(position) = position {
            // As BigQuery does with skipInvalidRows false: the bad row is invalid, every other
            // row of the request is stopped.
            let errors: Vec<Value> = (0..rows.len())
                .map(|index| {
                    let reason = if index == position { "invalid" } else { "stopped" };
                    serde_json::json!({"index": index, "errors": [{"reason": reason, "message": if index == position { "no such field: extra" } else { "" }}]})
                })
                .collect();
            response.body = serde_json::json!({"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": errors}).to_string();
        }
        Some(response)
    }));
    let spec = DestinationSpec::new("test/invalid", "default", "invalid", "bigquery", bigquery_config(&endpoint.url()));
    let engine = start_engine(&registry, vec![spec], fast_settings());
    engine.ingest(traces.clone()).await.expect("traces queued");
    wait_until_idle(&engine, Duration::from_secs(30)).await;
    let stats = engine.status()[0].stats.clone();
    assert_eq!((stats.delivered, stats.failed), (4, 1), "{stats:?}");
    let failed = engine.queue().failed("test/invalid", 0, 10).await.expect("failed list readable");
    assert!(failed[0].reason.contains("no such field: extra"), "{:?}", failed[0].reason);
    engine.shutdown(None).await;
}

#[tokio::test]
async fn bigquery_connection_test_reads_table() {
    let endpoint = bigquery_endpoint().await;
    assert_eq!(connection_test("bigquery", bigquery_config(&endpoint.url())).await, Ok(()));
    let paths: Vec<String> = endpoint.requests().iter().map(|request| request.path.clone()).collect();
    assert_eq!(paths, [BIGQUERY_TABLE.to_string(), format!("{BIGQUERY_TABLE}:testIamPermissions")]);

    let mut other_account = bigquery_config(&endpoint.url());
    let mut key: Value = serde_json::from_str(other_account["service_account_key"].as_str().unwrap_or_default()).expect("key JSON");
    key["client_email"] = Value::from("someone-else@example-project.iam.gserviceaccount.com");
    other_account["service_account_key"] = Value::from(key.to_string());
    let error = connection_test("bigquery", other_account).await.err().expect("another account must fail");
    assert_eq!(error.kind, ConnectionErrorKind::Unauthorized, "{error}");
    assert!(error.message.contains("401"), "{error}");
}

fn run_broadcast(arguments: &[&str]) -> std::process::Output {
    std::process::Command::new(broadcast_tests::broadcast_bin())
        .args(arguments)
        .output()
        .expect("run the broadcast binary")
}

#[test]
fn cli_lists_native_destinations() {
    let output = run_broadcast(&["destinations", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    for type_name in ["posthog", "datadog", "s3", "clickhouse", "snowflake", "bigquery"] {
        assert!(text.contains(&format!("\"{type_name}\"")), "`broadcast destinations` lacks {type_name}");
    }
}

#[test]
fn cli_prints_warehouse_ddl() {
    let directory = tempfile::tempdir().expect("temp dir");
    let key = serde_json::to_string(bigquery_config("https://bigquery.googleapis.com")["service_account_key"].as_str().unwrap_or_default())
        .expect("key as a TOML string");
    let config = format!(
        r#"
[[accounts]]
id = "default"

[[accounts.destinations]]
type = "snowflake"
name = "Snowflake"
[accounts.destinations.config]
account = "myorg-myaccount"
token = "pat"
database = "ANALYTICS"
table = "LLM traces"

[[accounts.destinations]]
type = "bigquery"
name = "BigQuery"
[accounts.destinations.config]
project_id = "example-project"
service_account_key = {key}

[[accounts.destinations]]
type = "s3"
name = "Archive"
[accounts.destinations.config]
bucket = "llm-archive"
access_key_id = "AKIAEXAMPLE"
secret_access_key = "secret"
"#
    );
    let path = directory.path().join("broadcast.toml");
    std::fs::write(&path, config).expect("write the config");
    let path = path.to_string_lossy().into_owned();

    let snowflake = run_broadcast(&["ddl", "--config", &path, "--destination", "Snowflake"]);
    assert!(snowflake.status.success(), "{}", String::from_utf8_lossy(&snowflake.stderr));
    let sql = String::from_utf8_lossy(&snowflake.stdout);
    assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS ANALYTICS.PUBLIC.\"LLM traces\" ("), "{sql}");
    assert!(sql.contains("    INPUT VARIANT"), "{sql}");

    let bigquery = run_broadcast(&["ddl", "--config", &path, "--destination", "BigQuery"]);
    assert!(bigquery.status.success(), "{}", String::from_utf8_lossy(&bigquery.stderr));
    let sql = String::from_utf8_lossy(&bigquery.stdout);
    assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS `example-project.broadcast.broadcast_traces`"), "{sql}");

    let archive = run_broadcast(&["ddl", "--config", &path, "--destination", "Archive"]);
    assert!(!archive.status.success(), "an S3 destination has no table");
    assert!(String::from_utf8_lossy(&archive.stderr).contains("no DDL"), "{}", String::from_utf8_lossy(&archive.stderr));
}
