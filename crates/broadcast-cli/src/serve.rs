//! `broadcast serve`: the ingest service and the management API.
//!
//! Start-up, in order: read the config, open the durable queue and the destination store
//! (with the secret keys), write the config file's destinations into the store, start the
//! engine with every stored destination, then serve the API (see [`crate::api`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::Context;
use broadcast_core::net::{system_lookup, UrlPolicy};
use broadcast_core::BuildContext;
use broadcast_engine::{Engine, PreparedDestination, SqliteQueue, TraceQueue};
use broadcast_store::secrets::secret_fields;
use broadcast_store::{DestinationRecord, DestinationStoreError, KeyRing, SqliteDestinationStore};

use crate::api::auth::Tokens;
use crate::api::{router, AppState};
use crate::config_file::ConfigFile;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
const DEFAULT_MAX_PER_TYPE: u64 = 5;
const QUEUE_FILE: &str = "queue.sqlite3";
const STORE_FILE: &str = "destinations.sqlite3";
const GENERATED_KEY_FILE: &str = "secret.key";

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

    let mut tokens = Tokens::from_section(&config.auth, std::env::var("BROADCAST_OPERATOR_TOKEN").ok());
    if !tokens.any_configured() {
        if !listen.ip().is_loopback() && !config.auth.allow_unauthenticated {
            anyhow::bail!(
                "no token is configured, so the API would be open on {listen}; set auth.operator_token or BROADCAST_OPERATOR_TOKEN, or listen on a loopback address"
            );
        }
        tracing::warn!(%listen, "No API token configured; every request is treated as the operator's.");
        tokens.open_without_tokens();
    }

    let registry = destinations_all::registry()?;
    let queue: Arc<dyn TraceQueue> = Arc::new(SqliteQueue::open(&data_dir.join(QUEUE_FILE))?);
    let store = open_store(&data_dir, config.server.secret_key_file.as_deref())?;
    seed_config_destinations(&store, &config, &registry).await?;

    let plain_context = BuildContext::with_timeout(config.delivery.request_timeout);
    let policy = UrlPolicy {
        allow_private: config.server.allow_private_endpoints,
    };
    let managed_context = if policy.allow_private {
        plain_context.clone()
    } else {
        BuildContext::guarded(config.delivery.request_timeout, system_lookup())
    };
    let engine = Arc::new(Engine::start_with_context(&registry, Vec::new(), queue, config.delivery.clone(), plain_context.clone())?);
    let records = store.active().await?;
    if records.is_empty() {
        tracing::warn!("No destinations configured; accepted traces are not sent anywhere until one is created.");
    }
    for record in records {
        let context = if record.managed_by_config { &plain_context } else { &managed_context };
        match PreparedDestination::prepare(&registry, record.spec(), context) {
            Ok(prepared) => engine.install(prepared),
            Err(error) if record.managed_by_config => return Err(error.into()),
            Err(error) => {
                tracing::error!(account_id = %record.account_id, destination = %record.id, %error, "Stored destination is invalid; not sending to it until it is fixed.");
            }
        }
    }

    let state = Arc::new(AppState {
        engine: Arc::clone(&engine),
        store,
        tokens,
        policy,
        managed_context,
        max_destinations_per_type: config.server.max_destinations_per_type.unwrap_or(DEFAULT_MAX_PER_TYPE),
        received_traces: AtomicU64::new(0),
        received_bytes: AtomicU64::new(0),
        started_at: chrono::Utc::now(),
    });
    let app = router(Arc::clone(&state), config.server.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES));

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
    drop(state);
    // Connection tasks may still hold the router for a moment, so the engine is shut down
    // through its shared handle.
    let report = engine.shutdown(None).await;
    let left: u64 = report.pending.iter().map(|(_, pending)| pending).sum();
    tracing::info!(left_in_queue = left, "broadcast stopped.");
    Ok(())
}

/// Opens the destination store with the operator's keys: `BROADCAST_SECRET_KEY`, else
/// `secret_key_file`, else a key file in the data directory, generated on first start.
fn open_store(data_dir: &Path, key_file: Option<&Path>) -> anyhow::Result<SqliteDestinationStore> {
    let store_path = data_dir.join(STORE_FILE);
    let generated = data_dir.join(GENERATED_KEY_FILE);
    let keys = if let Ok(text) = std::env::var("BROADCAST_SECRET_KEY") {
        Some(KeyRing::parse(&text, "BROADCAST_SECRET_KEY")?)
    } else if let Some(path) = key_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read secret key file {}", path.display()))?;
        Some(KeyRing::parse(&text, &path.display().to_string())?)
    } else if generated.is_file() {
        let text = std::fs::read_to_string(&generated).with_context(|| format!("cannot read secret key file {}", generated.display()))?;
        Some(KeyRing::parse(&text, &generated.display().to_string())?)
    } else {
        None
    };
    if keys.is_some() {
        return Ok(SqliteDestinationStore::open(&store_path, keys)?);
    }
    // No key anywhere: refuse if secrets are already stored, else generate one.
    match SqliteDestinationStore::open(&store_path, None) {
        Err(DestinationStoreError::KeyRequired) => Err(DestinationStoreError::KeyRequired.into()),
        Err(error) => Err(error.into()),
        Ok(_) => {
            let text = KeyRing::generate_text();
            write_private_file(&generated, &text)?;
            tracing::warn!(key_file = %generated.display(), "Generated a secret key for the destination store; back it up, or set BROADCAST_SECRET_KEY or server.secret_key_file, since stored secrets cannot be read without it.");
            Ok(SqliteDestinationStore::open(&store_path, Some(KeyRing::parse(&text, "generated key")?))?)
        }
    }
}

fn write_private_file(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create secret key file {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Writes the config file's destinations into the store, and retires the ones it no longer
/// defines. The file is the source of truth for them; the API cannot change them.
async fn seed_config_destinations(
    store: &SqliteDestinationStore,
    config: &ConfigFile,
    registry: &broadcast_core::Registry,
) -> anyhow::Result<()> {
    let mut kept = Vec::new();
    for spec in config.destination_specs() {
        let existing = store.get(&spec.account_id, &spec.key).await?;
        let now = chrono::Utc::now();
        let record = DestinationRecord {
            id: spec.key.clone(),
            account_id: spec.account_id.clone(),
            type_name: spec.type_name.clone(),
            name: spec.name.clone(),
            enabled: spec.enabled,
            privacy_mode: spec.privacy == broadcast_core::PrivacyMode::On,
            sampling_rate: spec.sampling_rate,
            api_key_hashes: spec.api_key_hashes.clone(),
            filter_rules: spec.filter_rules.clone(),
            secret_fields: registry
                .get(&spec.type_name)
                .map(|descriptor| secret_fields(&(descriptor.config_schema)()))
                .unwrap_or_default(),
            config: spec.config.clone(),
            skip_connection_test: false,
            managed_by_config: true,
            created_at: existing.as_ref().map_or(now, |record| record.created_at),
            updated_at: now,
            deleted_at: None,
        };
        store.save(record).await?;
        kept.push(spec.key);
    }
    let retired = store.retire_config_destinations(kept).await?;
    if retired > 0 {
        tracing::info!(retired, "Destinations removed from the config file were marked deleted.");
    }
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
