//! End-to-end runs of `broadcast serve`: ingest answers, delivery, SIGTERM drain, and no loss
//! of an acknowledged trace across SIGKILL and restart.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broadcast_tests::{corpus, trace_of, wait_for, FakeEndpoint, ScriptedResponse, Server};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn write_config(directory: &Path, endpoint: &FakeEndpoint) -> String {
    let path = directory.join("broadcast.toml");
    let text = format!(
        r#"
[delivery]
initial_backoff_ms = 50
max_backoff_ms = 500
max_attempts = 1000
shutdown_grace_secs = 5

[[accounts]]
id = "default"
[[accounts.destinations]]
type = "raindrop"
name = "Raindrop"
[accounts.destinations.config]
write_key = "rk_serve_test"
base_url = "{}"
"#,
        endpoint.url()
    );
    std::fs::write(&path, text).expect("config written");
    path.display().to_string()
}

fn event_ids(endpoint: &FakeEndpoint) -> HashSet<String> {
    endpoint
        .requests()
        .iter()
        .filter(|request| request.answered == 204)
        .filter_map(|request| serde_json::from_slice::<Value>(&request.body).ok())
        .filter_map(|body| body.as_array().cloned())
        .flatten()
        .filter_map(|event| event["event_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_accepts_and_delivers() {
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(204)).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), &endpoint);
    let mut server = Server::start(&config, &directory.path().join("data"), None, &[]).await;
    let client = reqwest::Client::new();
    let envelopes: Vec<Value> = corpus().into_iter().take(6).map(|(_, envelope)| envelope).collect();

    let one = client.post(format!("{}/v1/traces", server.url)).json(&envelopes[0]).send().await.expect("post");
    assert_eq!(one.status().as_u16(), 202);
    let answer: Value = one.json().await.expect("JSON answer");
    assert_eq!((answer["accepted"].as_u64(), answer["deliveries"].as_u64()), (Some(1), Some(1)));

    let array = client.post(format!("{}/v1/traces", server.url)).json(&envelopes[1..4]).send().await.expect("post");
    assert_eq!(array.status().as_u16(), 202);

    let ndjson: String = envelopes[4..6].iter().map(|envelope| format!("{envelope}\n")).collect();
    let lines = client.post(format!("{}/v1/traces", server.url)).body(ndjson).send().await.expect("post");
    assert_eq!(lines.status().as_u16(), 202);

    let invalid = client
        .post(format!("{}/v1/traces", server.url))
        .body(r#"[{"request": {"model": "m", "messages": []}}, {"account_id": 7, "request": {}}]"#)
        .send()
        .await
        .expect("post");
    assert_eq!(invalid.status().as_u16(), 400);
    let error: Value = invalid.json().await.expect("JSON error");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("[1]") && message.contains("account_id"), "{error}");

    let expected: HashSet<String> = envelopes.iter().map(|envelope| trace_of(envelope).ids.generation_id).collect();
    wait_for("six events at the endpoint", WAIT, || event_ids(&endpoint) == expected).await;

    let status = server.terminate();
    assert!(status.success(), "serve exited with {status} after SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_accepted_trace() {
    // Slow answers keep a backlog in the queue while the load goes on.
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(204).with_delay(Duration::from_millis(300))).await;
    let directory = tempfile::tempdir().expect("temp dir");
    let config = write_config(directory.path(), &endpoint);
    let data_dir = directory.path().join("data");
    let mut server = Server::start(&config, &data_dir, None, &[]).await;

    let envelopes: Vec<Value> = corpus().into_iter().map(|(_, envelope)| envelope).collect();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let load = {
        let acknowledged = Arc::clone(&acknowledged);
        let url = format!("{}/v1/traces", server.url);
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for envelope in envelopes {
                match client.post(&url).json(&envelope).send().await {
                    Ok(response) if response.status().as_u16() == 202 => {
                        acknowledged.lock().expect("lock").push(envelope);
                    }
                    _ => break,
                }
            }
        })
    };
    wait_for("40 acknowledged traces", WAIT, || acknowledged.lock().expect("lock").len() >= 40).await;
    server.child.kill().expect("SIGKILL sent");
    server.child.wait().expect("serve reaped");
    let _ = load.await;

    let acknowledged: HashSet<String> = acknowledged
        .lock()
        .expect("lock")
        .iter()
        .map(|envelope| trace_of(envelope).ids.generation_id.clone())
        .collect();
    let before_restart = event_ids(&endpoint);
    eprintln!("acknowledged {} traces, {} delivered before SIGKILL", acknowledged.len(), before_restart.len());
    assert!(
        before_restart.len() < acknowledged.len(),
        "everything was delivered before the kill, so the test proved nothing"
    );

    endpoint.set_default(ScriptedResponse::status(204));
    let mut restarted = Server::start(&config, &data_dir, None, &[]).await;
    wait_for("every acknowledged trace after restart", WAIT, || {
        event_ids(&endpoint).is_superset(&acknowledged)
    })
    .await;
    let status = restarted.terminate();
    assert!(status.success(), "serve exited with {status} after SIGTERM");
}
