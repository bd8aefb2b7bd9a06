//! End-to-end runs of `broadcast send`, `destinations` and `test-connection` against local
//! endpoints, on the real corpus.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Output};

use broadcast_core::{Role, Trace};
use broadcast_tests::{broadcast_bin, corpus, corpus_dir, trace_of, FakeEndpoint, ScriptedResponse};
use serde_json::Value;

const WRITE_KEY: &str = "rk_cli_test_7d1e9a";

fn config_text(normal: &FakeEndpoint, private: &FakeEndpoint) -> String {
    format!(
        r#"
[delivery]
initial_backoff_ms = 50
max_backoff_ms = 200
max_attempts = 3

[[accounts]]
id = "default"

[[accounts.destinations]]
type = "raindrop"
name = "Production Raindrop"
[accounts.destinations.config]
write_key = "${{RAINDROP_WRITE_KEY}}"
base_url = "{}"

[[accounts.destinations]]
type = "raindrop"
name = "Private Raindrop"
privacy_mode = true
[accounts.destinations.config]
write_key = "${{RAINDROP_WRITE_KEY}}"
base_url = "{}"
"#,
        normal.url(),
        private.url()
    )
}

/// Runs the binary off the async runtime, so the fake endpoints keep answering.
async fn run_broadcast(arguments: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(broadcast_bin())
            .args(&arguments)
            .env("RAINDROP_WRITE_KEY", WRITE_KEY)
            .env("RUST_LOG", "info")
            .output()
            .expect("broadcast runs")
    })
    .await
    .expect("broadcast process joined")
}

fn write_config(directory: &Path, text: &str) -> String {
    let path = directory.join("broadcast.toml");
    std::fs::write(&path, text).expect("config written");
    path.display().to_string()
}

fn events_by_id(endpoint: &FakeEndpoint) -> HashMap<String, Value> {
    let mut events = HashMap::new();
    for request in endpoint.requests() {
        let body: Value = serde_json::from_slice(&request.body).expect("request body is JSON");
        for event in body.as_array().cloned().unwrap_or_default() {
            let id = event["event_id"].as_str().unwrap_or_default().to_string();
            events.insert(id, event);
        }
    }
    events
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_corpus_to_two_destinations() {
    let normal = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let private = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), &config_text(&normal, &private));

    let output = run_broadcast(vec!["send".into(), "--config".into(), config, corpus_dir().display().to_string()]).await;
    let printed = text(&output);
    assert!(output.status.success(), "send failed:\n{printed}");
    assert!(!printed.contains(WRITE_KEY), "the write key appeared in the output");

    let traces: Vec<(String, Trace)> = corpus().into_iter().map(|(name, envelope)| (name, trace_of(&envelope))).collect();
    let normal_events = events_by_id(&normal);
    let private_events = events_by_id(&private);
    assert_eq!(normal_events.len(), traces.len(), "one event per corpus trace");
    assert_eq!(private_events.len(), traces.len(), "one event per corpus trace in privacy mode");

    for request in normal.requests().iter().chain(private.requests().iter()) {
        let authorization = request.headers.get("authorization").and_then(|value| value.to_str().ok());
        assert_eq!(authorization, Some(format!("Bearer {WRITE_KEY}").as_str()));
    }

    let private_bodies: String = private.requests().iter().map(|request| request.body_text()).collect();
    for (name, trace) in &traces {
        let event = normal_events
            .get(&trace.ids.generation_id)
            .unwrap_or_else(|| panic!("{name}: no event with id {}", trace.ids.generation_id));
        assert_eq!(event["properties"]["trace_id"], Value::from(trace.ids.trace_id.clone()), "{name}");
        assert_eq!(event["properties"]["status"], trace.status.outcome.as_str(), "{name}");
        if let Some(model) = trace.model.name() {
            assert_eq!(event["properties"]["model"], model, "{name}");
        }
        if let Some(tokens) = trace.usage.prompt_tokens {
            assert_eq!(event["properties"]["prompt_tokens"], tokens, "{name}");
        }
        if let Some(input) = trace.input.latest_user_text().filter(|input| !input.is_empty()) {
            assert_eq!(event["ai_data"]["input"], Value::from(input.clone()), "{name}");
        }

        // No prompt or completion text in the privacy-mode requests. Short texts ("Hi") can
        // appear by coincidence in ids or names, so only distinctive ones are searched.
        let mut contents: Vec<String> = trace
            .input
            .messages
            .iter()
            .filter(|message| message.role != Role::Assistant || message.tool_calls.is_empty())
            .filter_map(|message| message.text())
            .collect();
        contents.extend(trace.output.text.clone());
        contents.extend(trace.output.reasoning.clone());
        for content in contents.iter().filter(|content| content.len() >= 16) {
            let probe: String = content.chars().take(60).collect();
            let probe = serde_json::to_string(&probe).expect("probe encodes");
            let probe = probe.trim_matches('"');
            assert!(!private_bodies.contains(probe), "{name}: privacy-mode request contains {probe:?}");
        }
    }
    assert!(printed.contains("Private Raindrop"), "summary lists the destinations:\n{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_reports_rejected_input() {
    let normal = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let private = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), &config_text(&normal, &private));
    let bad = directory.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"request\": {\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"ok\"}]}, \"response\": {\"choices\": []}}\n{\"request\": {\"model\": \"m\", \"messages\": \"not a list\"}}\n",
    )
    .expect("input written");

    let output = run_broadcast(vec!["send".into(), "--config".into(), config, bad.display().to_string()]).await;
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(1), "a rejected input must fail the run:\n{printed}");
    assert!(printed.contains("messages"), "the error names the field:\n{printed}");
    assert!(printed.contains("not a list"), "the error shows the value:\n{printed}");
    assert_eq!(events_by_id(&normal).len(), 1, "the valid envelope is still delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_fails_on_rejected_delivery() {
    let normal = FakeEndpoint::start(ScriptedResponse::status(400)).await;
    let private = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), &config_text(&normal, &private));
    let (name, _) = corpus().remove(0);
    let input = corpus_dir().join(name);

    let output = run_broadcast(vec!["send".into(), "--config".into(), config, input.display().to_string()]).await;
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains("HTTP 400"), "the failure reason is printed:\n{printed}");
    assert_eq!(events_by_id(&private).len(), 1, "the other destination still got the trace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_command() {
    let good = FakeEndpoint::start(ScriptedResponse::status(200)).await;
    let bad = FakeEndpoint::start(ScriptedResponse::status(401)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), &config_text(&good, &bad));

    let output = run_broadcast(vec!["test-connection".into(), "--config".into(), config]).await;
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains("default/Production Raindrop: ok"), "{printed}");
    assert!(printed.contains("default/Private Raindrop: FAILED"), "{printed}");
    assert!(printed.contains("write_key"), "the failure says what to check:\n{printed}");
    assert!(!printed.contains(WRITE_KEY), "the write key appeared in the output");
    for request in good.requests() {
        assert_ne!(request.path, "/v1/events/track", "the test must not write events");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_lists_types() {
    let output = run_broadcast(vec!["destinations".into(), "--json".into()]).await;
    assert!(output.status.success(), "{}", text(&output));
    let types: Value = serde_json::from_slice(&output.stdout).expect("destinations --json prints JSON");
    let names: HashSet<&str> = types
        .as_array()
        .map(|types| types.iter().filter_map(|entry| entry["type"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.contains("raindrop"), "{types}");
    let raindrop = types.as_array().and_then(|types| types.iter().find(|entry| entry["type"] == "raindrop")).cloned().unwrap_or_default();
    assert_eq!(raindrop["config_schema"]["properties"]["write_key"]["x-secret"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_shows_no_secret() {
    let output = run_broadcast(vec!["send".into(), "--help".into()]).await;
    assert!(output.status.success());
    assert!(!text(&output).contains(WRITE_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_key_never_printed() {
    // A receiver that quotes the credential it was sent in its error body.
    let normal = FakeEndpoint::start(ScriptedResponse::status(401)).await;
    normal.set_responder(std::sync::Arc::new(|request| {
        let authorization = request.headers.get("authorization").and_then(|value| value.to_str().ok()).unwrap_or_default();
        let mut response = ScriptedResponse::status(401);
        response.body = format!("invalid key {authorization}");
        Some(response)
    }));
    let private = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), &config_text(&normal, &private));
    let (name, _) = corpus().remove(0);
    let input = corpus_dir().join(name);

    let output = run_broadcast(vec!["send".into(), "--config".into(), config, input.display().to_string()]).await;
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains("invalid key Bearer rk_c...1e9a"), "the reason is kept, masked:\n{printed}");
    assert!(!printed.contains(WRITE_KEY), "the echoed write key was printed:\n{printed}");
}
