//! Shared test support: the scripted fake endpoint, corpus loading, and engines wired to
//! fake endpoints.

pub mod fake_endpoint;
pub mod server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broadcast_core::ingest::normalise;
use broadcast_core::{PrivacyMode, Registry, Trace};
use broadcast_engine::{DeliverySettings, DestinationSpec, Engine, SqliteQueue, TraceQueue};
use serde_json::Value;

pub use fake_endpoint::{CapturedRequest, FakeEndpoint, ScriptedResponse};
pub use server::{free_port, Server};

/// Returns the directory of real recorded request/response pairs: `BROADCAST_CORPUS_DIR`, or
/// `../shared/corpus/real` beside the repository.
pub fn corpus_dir() -> PathBuf {
    if let Some(directory) = std::env::var_os("BROADCAST_CORPUS_DIR") {
        return PathBuf::from(directory);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/real")
}

/// Returns every corpus envelope with its file name, sorted by name. Panics when the corpus is
/// missing or empty, so that no test passes without its input.
pub fn corpus() -> Vec<(String, Value)> {
    let directory = corpus_dir();
    let entries = std::fs::read_dir(&directory).unwrap_or_else(|error| {
        panic!(
            "cannot read the corpus at {}: {error}; put the shared folder beside the repository or set BROADCAST_CORPUS_DIR",
            directory.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus files in {}", directory.display());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
            let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            (name, value)
        })
        .collect()
}

/// Normalises an envelope, panicking with the error when it is rejected.
pub fn trace_of(envelope: &Value) -> Trace {
    match normalise(envelope, chrono::Utc::now()) {
        Ok(normalised) => normalised.trace,
        Err(error) => panic!("envelope rejected: {error}"),
    }
}

/// Returns every corpus trace.
pub fn corpus_traces() -> Vec<Trace> {
    corpus().iter().map(|(_, envelope)| trace_of(envelope)).collect()
}

/// The registry of every linked destination.
pub fn registry() -> Registry {
    destinations_all::registry().expect("destination registry loads without duplicates")
}

/// Delivery settings with short backoff, so retry tests finish in seconds.
pub fn fast_settings() -> DeliverySettings {
    DeliverySettings {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        max_attempts: 5,
        max_retry_duration: Duration::from_secs(30),
        request_timeout: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(5),
        ..DeliverySettings::default()
    }
}

/// A destination spec of `type_name` pointing at `endpoint` with its example config.
pub fn spec_for(
    registry: &Registry,
    type_name: &str,
    name: &str,
    endpoint: &FakeEndpoint,
    privacy: PrivacyMode,
) -> DestinationSpec {
    let descriptor = registry
        .get(type_name)
        .unwrap_or_else(|| panic!("destination type `{type_name}` is not registered"));
    DestinationSpec {
        key: format!("test/{name}"),
        account_id: "default".to_string(),
        name: name.to_string(),
        type_name: type_name.to_string(),
        enabled: true,
        privacy,
        sampling_rate: 1.0,
        api_key_hashes: None,
        filter_rules: None,
        config: (descriptor.example_config)(&endpoint.url()),
    }
}

/// Starts an engine on an in-memory queue.
pub fn start_engine(registry: &Registry, specs: Vec<DestinationSpec>, settings: DeliverySettings) -> Engine {
    let queue: Arc<dyn TraceQueue> = Arc::new(SqliteQueue::in_memory().expect("in-memory queue opens"));
    Engine::start(registry, specs, queue, settings).expect("engine starts")
}

/// Waits until the engine has no pending delivery, or panics after `limit`.
pub async fn wait_until_idle(engine: &Engine, limit: Duration) {
    let started = Instant::now();
    loop {
        let pending = engine.pending().await.expect("queue readable");
        if pending == 0 {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "{pending} deliveries still pending after {limit:?}; status: {:?}",
            engine.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `condition` holds, or panics with `what` after `limit`.
pub async fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `broadcast` binary: `BROADCAST_BIN`, or `target/debug/broadcast` beside the test
/// executable. `cargo xtask test-all` builds it first.
pub fn broadcast_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("BROADCAST_BIN") {
        return PathBuf::from(path);
    }
    let executable = std::env::current_exe().expect("test executable path");
    let candidate = executable
        .parent()
        .and_then(std::path::Path::parent)
        .map(|directory| directory.join("broadcast"))
        .unwrap_or_default();
    assert!(
        candidate.is_file(),
        "the broadcast binary is missing at {}; run `cargo xtask test-all` or `cargo build -p broadcast-cli` first",
        candidate.display()
    );
    candidate
}
