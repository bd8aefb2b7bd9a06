//! A real receiver: Arize Phoenix, started by this test on 127.0.0.1.
//!
//! Corpus traces go through the real engine and the `phoenix` destination, and are read back
//! through Phoenix's own REST API (`GET /v1/projects/{name}/spans`): span names, parentage,
//! model, tokens, error status, and that the privacy-mode project contains no content. A second
//! test decodes the destination's protobuf with the official OpenTelemetry definitions
//! (Python's `opentelemetry-proto`, which Phoenix depends on) and compares it field by field.
//!
//! Needs the `phoenix` command: `pip install arize-phoenix`. The tests fail, never skip, when
//! it is missing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broadcast_core::{BuildContext, ContentPart, Outcome, PrivacyMode, Role, Trace};
use broadcast_engine::DestinationSpec;
use broadcast_tests::{corpus, fast_settings, registry, start_engine, trace_of, wait_until_idle};
use serde_json::{json, Value};

const INSTALL_HINT: &str = "install Arize Phoenix with `pip install arize-phoenix`";
const CANARY: &str = "CANARY-PHOENIX-93c1d7";
const STARTUP_LIMIT: Duration = Duration::from_secs(180);

/// A Phoenix server in a temporary working directory, stopped when dropped.
struct Phoenix {
    child: Child,
    base_url: String,
    log: PathBuf,
    _directory: tempfile::TempDir,
}

impl Phoenix {
    fn start() -> Phoenix {
        let directory = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let grpc_port = free_port();
        let log = directory.path().join("phoenix.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new("phoenix")
            .arg("serve")
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", port.to_string())
            .env("PHOENIX_GRPC_PORT", grpc_port.to_string())
            .env("PHOENIX_WORKING_DIR", directory.path())
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .current_dir(directory.path())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|error| match error.kind() {
                std::io::ErrorKind::NotFound => panic!("the `phoenix` command is not on PATH; {INSTALL_HINT}"),
                _ => panic!("cannot start `phoenix serve` ({error}); {INSTALL_HINT}"),
            });
        Phoenix { child, base_url: format!("http://127.0.0.1:{port}"), log, _directory: directory }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        // The polling requests of this test would hide everything else.
        let lines: Vec<&str> = text.lines().filter(|line| !line.contains("\"GET /v1/projects/")).collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn wait_healthy(&mut self, http: &reqwest::Client) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("phoenix exited with {status} before it was ready; its log:\n{}", self.log_tail());
            }
            let health = http.get(format!("{}/healthz", self.base_url)).send().await;
            if health.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            assert!(started.elapsed() < STARTUP_LIMIT, "phoenix not healthy after {STARTUP_LIMIT:?}; its log:\n{}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Every span of `project`, as Phoenix's REST API returns them.
    async fn spans(&self, http: &reqwest::Client, project: &str) -> Vec<Value> {
        let url = format!("{}/v1/projects/{project}/spans?limit=1000", self.base_url);
        let response = http.get(&url).send().await.unwrap_or_else(|error| panic!("GET {url}: {error}"));
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Vec::new();
        }
        assert!(response.status().is_success(), "GET {url} answered {}", response.status());
        let body: Value = response.json().await.expect("spans response is JSON");
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `project` contains `count` spans, because Phoenix writes received spans
    /// asynchronously.
    async fn wait_for_spans(&self, http: &reqwest::Client, project: &str, count: usize) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let spans = self.spans(http, project).await;
            if spans.len() >= count {
                return spans;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "project {project} contains {} spans, expected {count}; phoenix log:\n{}",
                spans.len(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Corpus traces for the round trip: every fifth file, plus named traces with a caller's
/// trace id and parent span, and a canary in every content field of one.
fn round_trip_traces() -> Vec<Trace> {
    let mut traces = Vec::new();
    for (index, (_, mut envelope)) in corpus().into_iter().enumerate().filter(|(index, _)| index % 5 == 0) {
        if index % 10 == 0 {
            envelope["trace"] = json!({
                "trace_id": format!("{:032x}", 0x5eed_0000_u64 + index as u64),
                "trace_name": format!("Agent run {index}"),
                "span_name": "Tool planning",
                "generation_name": "Plan call",
                "parent_span_id": "00f067aa0ba902b7",
                "feature": "round-trip"
            });
            envelope["user"] = json!("user-phoenix");
            envelope["session_id"] = json!(format!("session-{index}"));
        }
        traces.push(trace_of(&envelope));
    }
    // The canary trace has a tool call, whose name privacy mode keeps, so the check below also
    // covers output messages that would hold nothing but a tool name.
    // It comes from a file the loop above skipped: Phoenix keeps one span per span id.
    let mut canary = corpus()
        .into_iter()
        .enumerate()
        .filter(|(index, _)| index % 5 != 0)
        .map(|(_, (_, envelope))| trace_of(&envelope))
        .find(|trace| !trace.output.tool_calls.is_empty() && trace.input.messages.iter().any(|message| message.role == Role::User))
        .expect("a corpus trace with a tool call and a user message");
    if let Some(message) = canary.input.messages.iter_mut().rev().find(|message| message.role == Role::User) {
        message.content.push(ContentPart::Text { text: format!("please {CANARY}") });
    }
    canary.output.text = Some(format!("answer {CANARY}"));
    traces.push(canary);
    traces
}

fn spec(name: &str, project: &str, base_url: &str, privacy: PrivacyMode) -> DestinationSpec {
    let config = json!({"base_url": base_url, "project_name": project});
    let mut spec = DestinationSpec::new(&format!("test/{name}"), "default", name, "phoenix", config);
    spec.privacy = privacy;
    spec
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"].get(key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phoenix_round_trip() {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client");
    // Phoenix keeps one row per span id across all projects, so the same traces sent with and
    // without privacy mode need a server each.
    let mut phoenix = Phoenix::start();
    let mut private_phoenix = Phoenix::start();
    phoenix.wait_healthy(&http).await;
    private_phoenix.wait_healthy(&http).await;

    let registry = registry();
    let traces = round_trip_traces();
    let specs = vec![
        spec("open", "broadcast-open", &phoenix.base_url, PrivacyMode::Off),
        spec("private", "broadcast-private", &private_phoenix.base_url, PrivacyMode::On),
    ];
    let descriptor = registry.get("phoenix").expect("phoenix is registered");
    let destination = (descriptor.build)(&specs[0].config, &BuildContext::with_timeout(Duration::from_secs(10))).expect("builds");
    destination.test_connection().await.unwrap_or_else(|error| panic!("connection test against Phoenix failed: {error}"));

    let engine = start_engine(&registry, specs, fast_settings());
    engine.ingest(traces.clone()).await.expect("traces queued");
    wait_until_idle(&engine, Duration::from_secs(120)).await;
    for status in engine.status() {
        assert_eq!(status.stats.delivered, traces.len() as u64, "{status:?}");
    }
    engine.shutdown(None).await;

    let expected_spans: usize = traces.iter().map(|trace| if trace.names.span_name.is_some() { 3 } else { 2 }).sum();
    let open = phoenix.wait_for_spans(&http, "broadcast-open", expected_spans).await;
    let private = private_phoenix.wait_for_spans(&http, "broadcast-private", expected_spans).await;
    assert_eq!(open.len(), expected_spans);
    assert_eq!(private.len(), expected_spans);

    let by_id: HashMap<String, &Value> = open
        .iter()
        .map(|span| (span["context"]["span_id"].as_str().unwrap_or_default().to_string(), span))
        .collect();
    for trace in &traces {
        let generation = by_id
            .get(&trace.ids.generation_span_id)
            .unwrap_or_else(|| panic!("generation span {} missing in Phoenix", trace.ids.generation_span_id));
        let expected_name = trace.names.generation_name.as_deref().unwrap_or("LLM Generation");
        assert_eq!(generation["name"], json!(expected_name));
        assert_eq!(generation["span_kind"], json!("LLM"));
        let parent = trace.ids.span_id.clone().unwrap_or_else(|| trace.ids.root_span_id.clone());
        assert_eq!(generation["parent_id"], json!(parent), "generation parent");
        let root = by_id.get(&trace.ids.root_span_id).unwrap_or_else(|| panic!("root span {} missing", trace.ids.root_span_id));
        assert_eq!(root["name"], json!(trace.names.trace_name.as_deref().unwrap_or("OpenRouter Request")));
        assert_eq!(root["parent_id"].as_str(), trace.ids.parent_span_id.as_deref(), "root parent");
        assert_eq!(generation["context"]["trace_id"].as_str(), Some(trace.ids.trace_id.as_str()));
        if let Some(model) = trace.model.name() {
            assert_eq!(attribute(generation, "llm.model_name"), Some(&json!(model)), "model of {}", trace.ids.generation_id);
        }
        if let Some(tokens) = trace.usage.prompt_tokens {
            assert_eq!(attribute(generation, "llm.token_count.prompt"), Some(&json!(tokens)), "prompt tokens");
        }
        if let Some(tokens) = trace.usage.completion_tokens {
            assert_eq!(attribute(generation, "llm.token_count.completion"), Some(&json!(tokens)), "completion tokens");
        }
        let expected_status = if trace.status.outcome == Outcome::Error { "ERROR" } else { "OK" };
        assert_eq!(generation["status_code"], json!(expected_status));
    }
    let open_text = serde_json::to_string(&open).unwrap_or_default();
    assert!(open_text.contains(CANARY), "control: the open project must hold the canary");

    let private_text = serde_json::to_string(&private).unwrap_or_default();
    assert!(!private_text.contains(CANARY), "privacy mode leaked content into Phoenix");
    // Phoenix's REST API returns attributes flat, under their dotted keys.
    for span in &private {
        let keys: Vec<&String> = span["attributes"].as_object().map(|map| map.keys().collect()).unwrap_or_default();
        for prefix in ["input.", "output.", "llm.input_messages.", "llm.output_messages.", "llm.tools."] {
            let found: Vec<&&String> = keys.iter().filter(|key| key.starts_with(prefix)).collect();
            assert!(found.is_empty(), "privacy-mode span {} has {found:?}", span["name"]);
        }
    }
}

const PYTHON_DECODER: &str = r#"
import base64, json, sys
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

request = ExportTraceServiceRequest()
request.ParseFromString(open(sys.argv[1], "rb").read())
decoded = MessageToDict(request, use_integers_for_enums=True)
for resource_spans in decoded.get("resourceSpans", []):
    for scope_spans in resource_spans.get("scopeSpans", []):
        for span in scope_spans.get("spans", []):
            for key in ("traceId", "spanId", "parentSpanId"):
                if key in span:
                    span[key] = base64.b64decode(span[key]).hex()
print(json.dumps(decoded.get("resourceSpans", [])))
"#;

/// Removes empty arrays and objects, which protobuf's JSON printer leaves out.
fn without_empty(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), without_empty(value)))
                .filter(|(_, value)| !matches!(value, Value::Array(items) if items.is_empty()) && !matches!(value, Value::Object(map) if map.is_empty()))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_empty).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn protobuf_matches_official_definitions() {
    let registry = registry();
    let descriptor = registry.get("phoenix").expect("phoenix is registered");
    let config = json!({"base_url": "http://127.0.0.1:9", "project_name": "proto-check"});
    let destination = (descriptor.build)(&config, &BuildContext::with_timeout(Duration::from_secs(5))).expect("builds");
    let mut body = Vec::new();
    let traces = round_trip_traces();
    for trace in &traces {
        let event = destination.encode(&PrivacyMode::Off.apply(&Arc::new(trace.clone()))).expect("encodes");
        body.extend_from_slice(&event.bytes);
    }
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("request.bin");
    std::fs::write(&path, &body).expect("body written");
    let output = Command::new("python3")
        .args(["-c", PYTHON_DECODER])
        .arg(&path)
        .output()
        .unwrap_or_else(|error| panic!("cannot run python3 ({error}); {INSTALL_HINT}"));
    assert!(
        output.status.success(),
        "the official protobuf definitions could not decode the body (or are not installed; {INSTALL_HINT}):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let official: Value = serde_json::from_slice(&output.stdout).expect("decoder prints JSON");
    let ours = Value::Array((descriptor.decode_request)(&body).expect("our decoder reads the body"));
    assert_eq!(official.as_array().map(Vec::len), Some(traces.len()));
    assert_eq!(without_empty(&official), without_empty(&ours), "official decoding differs from what broadcast meant to send");
}
