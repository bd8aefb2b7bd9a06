//! The management API driven over HTTP as a platform team would: destinations per account,
//! masked and encrypted secrets, tokens, routing rules, delivery status and redelivery.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use broadcast_tests::{corpus, trace_of, wait_for, FakeEndpoint, ScriptedResponse, Server};
use serde_json::{json, Value};

const OPERATOR: &str = "op-token-4c1d7e";
const ACME: &str = "acme-token-9b02f1";
const GLOBEX: &str = "globex-token-55e0aa";
const GATEWAY: &str = "gateway-token-7731c2";
const WRITE_KEY: &str = "rk_live_management_secret_6f3b";
const PROMPT_CANARY: &str = "PROMPT-CANARY-0d9e44";
const WAIT: Duration = Duration::from_secs(60);

fn write_config(directory: &Path, extra: &str) -> String {
    let path = directory.join("broadcast.toml");
    let text = format!(
        r#"
[server]
allow_private_endpoints = true

[delivery]
initial_backoff_ms = 50
max_backoff_ms = 200
max_attempts = 3

[auth]
operator_token = "{OPERATOR}"
[[auth.account_tokens]]
account = "acme"
token = "{ACME}"
[[auth.account_tokens]]
account = "globex"
token = "{GLOBEX}"
[[auth.gateway_tokens]]
token = "{GATEWAY}"
accounts = ["acme"]
{extra}
"#
    );
    std::fs::write(&path, text).expect("config written");
    path.display().to_string()
}

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    fn new(server: &Server) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: server.url.clone(),
        }
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("valid method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    async fn ingest(&self, token: &str, envelopes: &[Value]) -> (u16, Value) {
        self.call("POST", "/v1/traces", Some(token), Some(Value::Array(envelopes.to_vec()))).await
    }
}

fn raindrop(name: &str, endpoint: &FakeEndpoint, extra: Value) -> Value {
    let mut body = json!({
        "type": "raindrop",
        "name": name,
        "config": {"write_key": WRITE_KEY, "base_url": endpoint.url()},
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            body.insert(key.clone(), value.clone());
        }
    }
    body
}

/// Event ids and events the endpoint accepted, from `events/track` requests answered 2xx.
fn delivered(endpoint: &FakeEndpoint) -> HashMap<String, Value> {
    endpoint
        .requests()
        .iter()
        .filter(|request| request.path == "/v1/events/track" && (200..300).contains(&request.answered))
        .filter_map(|request| serde_json::from_slice::<Value>(&request.body).ok())
        .filter_map(|body| body.as_array().cloned())
        .flatten()
        .filter_map(|event| Some((event["event_id"].as_str()?.to_string(), event)))
        .collect()
}

fn envelope(session: &str, model: &str, text: &str) -> Value {
    json!({
        "account_id": "acme",
        "session_id": session,
        "request": {"model": model, "messages": [{"role": "user", "content": text}]},
        "response": {"id": format!("chatcmpl-{session}-{text}"), "model": model,
            "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1}},
        "status": 200
    })
}

async fn status_of(api: &Api, id: &str) -> Value {
    let (code, status) = api.call("GET", &format!("/v1/accounts/acme/destinations/{id}/status"), Some(ACME), None).await;
    assert_eq!(code, 200, "{status}");
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_lifecycle_with_secrets() {
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(401)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), "");
    let data_dir = directory.path().join("data");
    let log = directory.path().join("serve.log");
    let mut server = Server::start(&config, &data_dir, Some(&log), &[]).await;
    let api = Api::new(&server);

    // A failing connection test: 422, nothing saved.
    let (code, body) = api.call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(raindrop("Production", &endpoint, json!({})))).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["code"], "connection_test_failed");
    assert!(!body.to_string().contains(WRITE_KEY), "the error shows the secret: {body}");
    let (_, list) = api.call("GET", "/v1/accounts/acme/destinations", Some(ACME), None).await;
    assert_eq!(list["total"], 0, "{list}");

    // A passing one: 201, read back masked.
    endpoint.set_default(ScriptedResponse::status(204));
    let (code, created) = api.call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(raindrop("Production", &endpoint, json!({})))).await;
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let (code, read) = api.call("GET", &format!("/v1/accounts/acme/destinations/{id}"), Some(ACME), None).await;
    assert_eq!(code, 200);
    assert_eq!(read["config"]["write_key"], "rk_l...6f3b", "{read}");
    assert!(!read.to_string().contains(WRITE_KEY));
    assert_eq!(read["type"], "raindrop");
    assert_eq!(read["sampling_rate"], 1.0);

    // PATCH back what was read (masked secret included): the stored secret is kept.
    let (code, patched) = api
        .call("PATCH", &format!("/v1/accounts/acme/destinations/{id}"), Some(ACME), Some(json!({"name": "Production EU", "config": read["config"]})))
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["name"], "Production EU");
    let (code, answer) = api.ingest(ACME, &[envelope("s-1", "gpt-4o-mini", PROMPT_CANARY)]).await;
    assert_eq!(code, 202, "{answer}");
    wait_for("the trace at the endpoint", WAIT, || !delivered(&endpoint).is_empty()).await;
    let authorization: Vec<String> = endpoint
        .requests()
        .iter()
        .filter(|request| request.path == "/v1/events/track")
        .filter_map(|request| request.headers.get("authorization")?.to_str().ok().map(str::to_string))
        .collect();
    assert_eq!(authorization, vec![format!("Bearer {WRITE_KEY}")], "the secret survived the PATCH");

    // type cannot change; unknown PATCH fields are rejected; tri-state api_key_hashes.
    let path = format!("/v1/accounts/acme/destinations/{id}");
    let (code, body) = api.call("PATCH", &path, Some(ACME), Some(json!({"type": "webhook"}))).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["field"], "type");
    let (code, body) = api.call("PATCH", &path, Some(ACME), Some(json!({"colour": "blue"}))).await;
    assert_eq!(code, 422, "{body}");
    let (_, body) = api.call("PATCH", &path, Some(ACME), Some(json!({"api_key_hashes": ["h1"]}))).await;
    assert_eq!(body["api_key_hashes"], json!(["h1"]));
    let (_, body) = api.call("PATCH", &path, Some(ACME), Some(json!({"enabled": false}))).await;
    assert_eq!(body["api_key_hashes"], json!(["h1"]), "an omitted field keeps its value");
    let (_, body) = api.call("PATCH", &path, Some(ACME), Some(json!({"api_key_hashes": null, "enabled": true}))).await;
    assert_eq!(body["api_key_hashes"], Value::Null, "null clears the allowlist");

    // Another account's token gets 404, an unknown token 401, a gateway token 403.
    let (code, _) = api.call("GET", &path, Some(GLOBEX), None).await;
    assert_eq!(code, 404);
    let (code, _) = api.call("GET", "/v1/accounts/acme/destinations", Some(GLOBEX), None).await;
    assert_eq!(code, 404);
    let (code, _) = api.call("GET", &path, Some("not-a-token"), None).await;
    assert_eq!(code, 401);
    let (code, _) = api.call("GET", &path, Some(GATEWAY), None).await;
    assert_eq!(code, 403);
    let (code, _) = api.call("GET", &path, Some(OPERATOR), None).await;
    assert_eq!(code, 200);

    // The store on disk holds no secret in plain text.
    let mut stored = Vec::new();
    for file in ["destinations.sqlite3", "destinations.sqlite3-wal"] {
        stored.extend(std::fs::read(data_dir.join(file)).unwrap_or_default());
    }
    assert!(!stored.is_empty(), "the destination store was not found");
    assert!(!String::from_utf8_lossy(&stored).contains(WRITE_KEY), "the write key is stored in plain text");

    // Soft delete: gone from the list, still readable, receives nothing more.
    let (code, _) = api.call("DELETE", &path, Some(ACME), None).await;
    assert_eq!(code, 204);
    let (_, list) = api.call("GET", "/v1/accounts/acme/destinations", Some(ACME), None).await;
    assert_eq!(list["total"], 0);
    let (code, body) = api.call("GET", &path, Some(ACME), None).await;
    assert_eq!(code, 200);
    assert!(body["deleted_at"].is_string(), "{body}");
    let before = delivered(&endpoint).len();
    let (code, answer) = api.ingest(ACME, &[envelope("s-2", "gpt-4o-mini", "after delete")]).await;
    assert_eq!(code, 202);
    assert_eq!(answer["deliveries"], 0, "a deleted destination gets nothing");
    assert_eq!(delivered(&endpoint).len(), before);

    // Nothing secret or private in the log.
    let status = server.terminate();
    assert!(status.success());
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.contains("Destination created"), "the log was not captured");
    for secret in [WRITE_KEY, OPERATOR, ACME, PROMPT_CANARY] {
        assert!(!logged.contains(secret), "the log contains {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_keeps_whole_sessions() {
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), "");
    let server = Server::start(&config, &directory.path().join("data"), None, &[]).await;
    let api = Api::new(&server);
    let (code, body) = api
        .call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(raindrop("Half", &endpoint, json!({"sampling_rate": 0.5}))))
        .await;
    assert_eq!(code, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_string();

    let mut envelopes = Vec::new();
    for session in 0..60 {
        for turn in 0..3 {
            envelopes.push(envelope(&format!("session-{session}"), "gpt-4o-mini", &format!("turn {turn}")));
        }
    }
    let (code, answer) = api.ingest(GATEWAY, &envelopes).await;
    assert_eq!(code, 202, "{answer}");
    let queued = answer["deliveries"].as_u64().expect("deliveries");
    wait_for("every sampled trace delivered", WAIT, || delivered(&endpoint).len() as u64 == queued).await;

    let mut turns_per_session: HashMap<String, usize> = HashMap::new();
    for event in delivered(&endpoint).values() {
        let session = event["ai_data"]["convo_id"].as_str().unwrap_or_default().to_string();
        *turns_per_session.entry(session).or_default() += 1;
    }
    for (session, turns) in &turns_per_session {
        assert_eq!(*turns, 3, "{session} was split by sampling");
    }
    assert!((18..=42).contains(&turns_per_session.len()), "kept {} of 60 sessions at 0.5", turns_per_session.len());
    let status = status_of(&api, &id).await;
    assert_eq!(status["dropped_by_sampling"].as_u64(), Some(180 - queued), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_rule_routes_one_model() {
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), "");
    let server = Server::start(&config, &directory.path().join("data"), None, &[]).await;
    let api = Api::new(&server);

    let rule = |operator: &str, field: &str, value: Value| json!({"filter_rules": {"groups": [{"logic": "and", "rules": [{"field": field, "operator": operator, "value": value}]}]}});
    let (code, body) = api.call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(raindrop("Bad regex", &endpoint, rule("regex", "model", json!("gpt-(4"))))).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["field"], "filter_rules.groups[0].rules[0].value");
    let (code, body) = api.call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(raindrop("Bad operator", &endpoint, rule("gt", "model", json!(4))))).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["field"], "filter_rules.groups[0].rules[0].operator");

    let model = "gpt-4o-mini-2024-07-18";
    let (code, body) = api.call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(raindrop("One model", &endpoint, rule("equals", "model", json!(model))))).await;
    assert_eq!(code, 201, "{body}");

    let envelopes: Vec<Value> = corpus()
        .into_iter()
        .map(|(_, mut envelope)| {
            envelope["account_id"] = json!("acme");
            envelope
        })
        .collect();
    let expected: HashSet<String> = envelopes
        .iter()
        .map(trace_of)
        .filter(|trace| trace.model.name() == Some(model))
        .map(|trace| trace.ids.generation_id)
        .collect();
    assert!(expected.len() >= 2, "the corpus has {} traces of {model}", expected.len());
    let (code, answer) = api.ingest(ACME, &envelopes).await;
    assert_eq!(code, 202, "{answer}");
    assert_eq!(answer["deliveries"].as_u64(), Some(expected.len() as u64));
    wait_for("the matching traces", WAIT, || delivered(&endpoint).len() == expected.len()).await;
    let received: HashSet<String> = delivered(&endpoint).into_keys().collect();
    assert_eq!(received, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_destination_status_and_redelivery() {
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(500)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), "");
    let server = Server::start(&config, &directory.path().join("data"), None, &[]).await;
    let api = Api::new(&server);
    let (code, body) = api
        .call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(raindrop("Flaky", &endpoint, json!({"skip_connection_test": true}))))
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["skip_connection_test"], true);
    let id = body["id"].as_str().expect("id").to_string();

    let envelopes: Vec<Value> = (0..3).map(|index| envelope(&format!("s-{index}"), "gpt-4o-mini", "hello")).collect();
    let (code, _) = api.ingest(ACME, &envelopes).await;
    assert_eq!(code, 202);

    let mut status = Value::Null;
    for _ in 0..600 {
        status = status_of(&api, &id).await;
        if status["failed"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["failed"], 3, "{status}");
    assert_eq!(status["queued"], 0, "{status}");
    assert_eq!(status["last_error"]["http_status"], 500, "{status}");
    assert!(status["retried"].as_u64().unwrap_or(0) >= 2, "{status}");
    assert!(status["last_success_at"].is_null());

    let (code, failed) = api.call("GET", &format!("/v1/accounts/acme/destinations/{id}/failed"), Some(ACME), None).await;
    assert_eq!(code, 200);
    assert_eq!(failed["total"], 3, "{failed}");
    assert!(failed["data"][0]["reason"].as_str().unwrap_or_default().contains("HTTP 500"), "{failed}");

    endpoint.set_default(ScriptedResponse::status(204));
    let (code, answer) = api.call("POST", &format!("/v1/accounts/acme/destinations/{id}/redeliver"), Some(ACME), Some(json!({}))).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["redelivered"], 3);
    wait_for("the redelivered traces", WAIT, || delivered(&endpoint).len() == 3).await;
    let status = status_of(&api, &id).await;
    assert_eq!(status["failed"], 0, "{status}");
    assert!(status["last_success_at"].is_string(), "{status}");

    let (code, metrics) = api.call("GET", "/metrics", Some(OPERATOR), None).await;
    assert_eq!(code, 200);
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(metrics.contains(&format!("broadcast_delivered_traces_total{{destination_type=\"raindrop\",destination_id=\"{id}\"}} 3")), "{metrics}");
    assert!(metrics.contains("broadcast_export_duration_seconds_count{destination_type=\"raindrop\"}"), "{metrics}");
    let (code, _) = api.call("GET", "/metrics", Some(ACME), None).await;
    assert_eq!(code, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_tokens_scoped_to_accounts() {
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), "");
    let server = Server::start(&config, &directory.path().join("data"), None, &[]).await;
    let api = Api::new(&server);
    let mut globex = envelope("s", "m", "hi");
    globex["account_id"] = json!("globex");
    let (code, _) = api.ingest(GATEWAY, &[envelope("s", "m", "hi")]).await;
    assert_eq!(code, 202);
    let (code, body) = api.ingest(GATEWAY, &[globex.clone()]).await;
    assert_eq!(code, 403, "{body}");
    let (code, _) = api.ingest(ACME, &[globex.clone()]).await;
    assert_eq!(code, 403);
    let (code, _) = api.ingest(GLOBEX, &[globex]).await;
    assert_eq!(code, 202);
    let (code, _) = api.call("POST", "/v1/traces", None, Some(envelope("s", "m", "hi"))).await;
    assert_eq!(code, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_policy_and_config_destinations() {
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let extra = format!(
        "[[accounts]]\nid = \"acme\"\n[[accounts.destinations]]\ntype = \"raindrop\"\nname = \"From file\"\n[accounts.destinations.config]\nwrite_key = \"{WRITE_KEY}\"\nbase_url = \"{}\"\n",
        endpoint.url()
    );
    // The same config with the default endpoint rule and a limit of two per type.
    let open_config = write_config(directory.path(), &extra);
    let strict_text = std::fs::read_to_string(&open_config)
        .unwrap_or_default()
        .replace("allow_private_endpoints = true", "allow_private_endpoints = false\nmax_destinations_per_type = 2");
    let strict_config = directory.path().join("strict.toml");
    std::fs::write(&strict_config, strict_text).expect("config written");
    let server = Server::start(&strict_config.display().to_string(), &directory.path().join("data"), None, &[]).await;
    let api = Api::new(&server);

    // The config file's destination is listed, read-only.
    let (_, list) = api.call("GET", "/v1/accounts/acme/destinations", Some(ACME), None).await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["data"][0]["managed_by_config"], true);
    let id = list["data"][0]["id"].as_str().unwrap_or_default().to_string();
    let (code, _) = api.call("PATCH", &format!("/v1/accounts/acme/destinations/{id}"), Some(ACME), Some(json!({"enabled": false}))).await;
    assert_eq!(code, 409);

    // Private endpoints are rejected by default, naming the field.
    let (code, body) = api.call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(raindrop("Local", &endpoint, json!({})))).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["field"], "config.base_url");
    let (code, body) = api
        .call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(json!({"type": "raindrop", "name": "Meta", "skip_connection_test": true, "config": {"write_key": "rk_x", "base_url": "https://169.254.169.254"}})))
        .await;
    assert_eq!(code, 422, "{body}");

    // At most two of one type: the file's one counts.
    let public = json!({"type": "raindrop", "name": "Public", "skip_connection_test": true, "config": {"write_key": "rk_public_key_0001"}});
    let (code, body) = api.call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(public)).await;
    assert_eq!(code, 201, "{body}");
    let second = json!({"type": "raindrop", "name": "Third", "skip_connection_test": true, "config": {"write_key": "rk_public_key_0002"}});
    let (code, body) = api.call("POST", "/v1/accounts/acme/destinations", Some(ACME), Some(second)).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "limit_reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_and_types_generated() {
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), "");
    let server = Server::start(&config, &directory.path().join("data"), None, &[]).await;
    let api = Api::new(&server);
    let (code, document) = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(code, 200);
    assert_eq!(document["openapi"], "3.0.3");
    for path in [
        "/v1/traces",
        "/v1/destination-types",
        "/v1/accounts/{account_id}/destinations",
        "/v1/accounts/{account_id}/destinations/test",
        "/v1/accounts/{account_id}/destinations/{id}",
        "/v1/accounts/{account_id}/destinations/{id}/test",
        "/v1/accounts/{account_id}/destinations/{id}/status",
        "/v1/accounts/{account_id}/destinations/{id}/failed",
        "/v1/accounts/{account_id}/destinations/{id}/redeliver",
        "/metrics",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(document["paths"]["/v1/accounts/{account_id}/destinations/{id}"]["patch"]["requestBody"].is_object());

    let (code, types) = api.call("GET", "/v1/destination-types", Some(ACME), None).await;
    assert_eq!(code, 200);
    let raindrop = types["data"].as_array().and_then(|types| types.iter().find(|entry| entry["type"] == "raindrop")).cloned().unwrap_or_default();
    assert_eq!(raindrop["config_schema"]["properties"]["write_key"]["x-secret"], true, "{raindrop}");
}
