//! `broadcast serve`: the HTTP ingest service.
//!
//! `POST /v1/traces` takes one envelope, a JSON array of envelopes or NDJSON, and answers 202
//! once every trace is durable in the queue; delivery happens afterwards, so a slow
//! destination never delays the answer. A body with any invalid envelope is rejected whole
//! (400, every error listed), so a client never has to guess which part was accepted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use broadcast_core::ingest::{normalise, split_envelopes};
use broadcast_engine::{DestinationStore, StaticDestinations, Engine, SqliteQueue, TraceQueue};
use serde_json::json;

use crate::config_file::ConfigFile;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
const QUEUE_FILE: &str = "queue.sqlite3";

pub struct ServeOptions {
    pub config: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
}

/// Runs the service until SIGTERM or Ctrl-C.
pub async fn run(options: ServeOptions) -> anyhow::Result<()> {
    let config = match &options.config {
        Some(path) => ConfigFile::load(path)?,
        None => {
            tracing::info!("No --config given; starting on the embedded default with no destinations.");
            ConfigFile::default()
        }
    };
    let listen = match options.listen.or(config.server.listen) {
        Some(listen) => listen,
        None => DEFAULT_LISTEN.parse()?,
    };
    let data_dir = options
        .data_dir
        .clone()
        .or_else(|| config.server.data_dir.clone())
        .unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir).map_err(|error| {
        anyhow::anyhow!("cannot create data directory {}: {error}; pass --data-dir with a writable directory", data_dir.display())
    })?;

    let queue_path = data_dir.join(QUEUE_FILE);
    let queue: Arc<dyn TraceQueue> = Arc::new(SqliteQueue::open(&queue_path)?);
    let registry = destinations_all::registry()?;
    let store = StaticDestinations(config.destination_specs());
    let specs = store.destinations().await?;
    if specs.is_empty() {
        tracing::warn!("No destinations configured; accepted traces are not sent anywhere.");
    }
    let engine = Arc::new(Engine::start(&registry, specs, queue, config.delivery.clone())?);

    let max_body = config.server.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    let app = Router::new()
        .route("/v1/traces", post(ingest))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(Arc::clone(&engine));

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {listen}: {error}; pass --listen with a free address"))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        data_dir = %data_dir.display(),
        destinations = engine.status().len(),
        "broadcast is serving; POST envelopes to /v1/traces."
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;

    tracing::info!("Stopped accepting traces; draining the queue.");
    let engine = Arc::try_unwrap(engine).map_err(|_| anyhow::anyhow!("engine still in use after the server stopped"))?;
    let report = engine.shutdown(None).await;
    let left: u64 = report.pending.iter().map(|(_, pending)| pending).sum();
    tracing::info!(left_in_queue = left, "broadcast stopped.");
    Ok(())
}

fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("broadcast")
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "Cannot listen for SIGTERM; only Ctrl-C stops the service.");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn ingest(State(engine): State<Arc<Engine>>, body: Bytes) -> Response {
    let envelopes = match split_envelopes(&body) {
        Ok(envelopes) => envelopes,
        Err(error) => return error_response(StatusCode::BAD_REQUEST, vec![error.to_string()]),
    };
    if envelopes.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, vec!["the request body holds no envelope; send one JSON object, an array of them, or NDJSON".into()]);
    }
    let received_at = chrono::Utc::now();
    let single = envelopes.len() == 1;
    let mut traces = Vec::with_capacity(envelopes.len());
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (index, envelope) in envelopes.iter().enumerate() {
        let position = if single { String::new() } else { format!("[{index}] ") };
        match normalise(envelope, received_at) {
            Ok(normalised) => {
                warnings.extend(normalised.warnings.iter().map(|warning| format!("{position}{warning}")));
                traces.push(normalised.trace);
            }
            Err(error) => errors.push(format!("{position}{error}")),
        }
    }
    if !errors.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, errors);
    }
    match engine.ingest(traces).await {
        Ok(receipt) => (
            StatusCode::ACCEPTED,
            Json(json!({
                "accepted": receipt.traces,
                "deliveries": receipt.deliveries,
                "warnings": warnings,
            })),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "Cannot queue traces; returning 503 so the client retries.");
            error_response(StatusCode::SERVICE_UNAVAILABLE, vec![format!("traces were not queued: {error}; retry the request")])
        }
    }
}

fn error_response(status: StatusCode, messages: Vec<String>) -> Response {
    let code = if status == StatusCode::BAD_REQUEST { "invalid_input" } else { "unavailable" };
    (
        status,
        Json(json!({"error": {"code": code, "message": messages.first().cloned().unwrap_or_default(), "details": messages}})),
    )
        .into_response()
}
