//! Test helpers for OTLP destination crates: a capturing HTTP server on 127.0.0.1, corpus
//! loading with a fixed ingest time, and golden files of exact requests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use broadcast_core::{Destination, PrivacyMode, Trace};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    /// Header names in lowercase.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// An HTTP/1.1 server on 127.0.0.1 that records every request and responds to each with a fixed
/// status and an empty body.
pub struct CaptureServer {
    pub address: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Captured>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CaptureServer {
    /// Starts the server.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(status: u16) -> CaptureServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let address = listener.local_addr().expect("local address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    if let Some(request) = read_request(&mut stream).await {
                        recorded.lock().map(|mut list| list.push(request)).ok();
                    }
                    let answer = format!("HTTP/1.1 {status} Answer\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    stream.write_all(answer.as_bytes()).await.ok();
                    stream.shutdown().await.ok();
                });
            }
        });
        CaptureServer { address, requests, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().map(|list| list.clone()).unwrap_or_default()
    }
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Captured> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|value| value.parse().ok()).unwrap_or(0);
    let mut body = buffer[header_end..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some(Captured { method, path, headers, body })
}

/// The shared corpus directory: `BROADCAST_CORPUS_DIR`, or `shared/corpus/real` beside the
/// repository.
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("BROADCAST_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/real"))
}

/// The ingest time golden files are made with, so that traces without timing are stable.
pub const GOLDEN_RECEIVED_AT: &str = "2026-03-01T10:00:00Z";

/// Normalises the corpus file `name` as if it was received at [`GOLDEN_RECEIVED_AT`].
///
/// # Panics
/// When the file is missing or rejected: a golden test must not pass without its input.
pub fn corpus_trace(name: &str) -> Trace {
    let path = corpus_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let envelope: Value = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
    let received_at = chrono::DateTime::parse_from_rfc3339(GOLDEN_RECEIVED_AT).expect("fixed time parses").with_timezone(&chrono::Utc);
    match broadcast_core::ingest::normalise(&envelope, received_at) {
        Ok(normalised) => normalised.trace,
        Err(error) => panic!("{name} rejected: {error}"),
    }
}

/// Corpus files the golden tests use: a plain chat, an OpenAI tool call, a failed request
/// (HTTP 400) and an Anthropic tool use.
pub const GOLDEN_CORPUS: &[&str] = &[
    "pydantic-ai-openai-001.json",
    "dd-trace-py-openai-003.json",
    "crewai-openai-001.json",
    "pydantic-ai-anthropic-004.json",
];

/// Exports each golden corpus trace through destination `T` (built from its example config
/// against a capture server), and returns one JSON record per request: method, path, headers
/// without the volatile ones, and the body decoded by `T::decode_request`.
pub async fn capture_requests<T: Destination>(privacy: PrivacyMode) -> Value {
    let server = CaptureServer::start(200).await;
    let config = T::validate(&T::example_config(&server.url())).unwrap_or_else(|error| panic!("example config invalid: {error}"));
    let destination = T::build(config, &broadcast_core::BuildContext::with_timeout(std::time::Duration::from_secs(10)));
    for name in GOLDEN_CORPUS {
        let trace = Arc::new(corpus_trace(name));
        let event = destination.encode(&privacy.apply(&trace)).unwrap_or_else(|error| panic!("{name}: {error}"));
        let outcome = destination.export(&[event]).await;
        assert_eq!(outcome, broadcast_core::ExportOutcome::Delivered, "{name}");
    }
    let requests: Vec<Value> = server
        .requests()
        .into_iter()
        .map(|request| {
            let headers: BTreeMap<String, String> = request
                .headers
                .into_iter()
                .filter(|(name, _)| !matches!(name.as_str(), "host" | "user-agent" | "content-length" | "accept" | "accept-encoding"))
                .collect();
            let body = T::decode_request(&request.body).unwrap_or_else(|error| panic!("request body does not decode: {error}"));
            json!({"method": request.method, "path": request.path, "headers": headers, "body": body})
        })
        .collect();
    let mut value = json!({"requests": requests});
    replace_text(&mut value, &server.url(), "http://127.0.0.1:PORT");
    value
}

fn replace_text(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(text) if text.contains(from) => *text = text.replace(from, to),
        Value::Array(items) => items.iter_mut().for_each(|item| replace_text(item, from, to)),
        Value::Object(map) => map.values_mut().for_each(|item| replace_text(item, from, to)),
        _ => {}
    }
}

/// Compares `actual` with the golden file `directory/name.json`, or writes it when
/// `BROADCAST_UPDATE_GOLDEN=1`.
///
/// # Panics
/// When the file is missing or differs, with the first differing lines.
pub fn check_golden(directory: &Path, name: &str, actual: &Value) {
    let path = directory.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(actual).expect("golden value serialises") + "\n";
    if std::env::var("BROADCAST_UPDATE_GOLDEN").is_ok_and(|value| value == "1") {
        std::fs::create_dir_all(directory).expect("golden directory");
        std::fs::write(&path, &text).expect("golden file written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("golden file {} unreadable ({error}); run with BROADCAST_UPDATE_GOLDEN=1 to create it and review it", path.display())
    });
    if expected == text {
        return;
    }
    let differences: Vec<String> = expected
        .lines()
        .zip(text.lines())
        .enumerate()
        .filter(|(_, (old, new))| old != new)
        .take(10)
        .map(|(line, (old, new))| format!("line {}:\n  golden: {old}\n  actual: {new}", line + 1))
        .collect();
    panic!(
        "request differs from {} ({} golden lines, {} actual):\n{}\nrun with BROADCAST_UPDATE_GOLDEN=1 to accept it after review",
        path.display(),
        expected.lines().count(),
        text.lines().count(),
        differences.join("\n")
    );
}
