//! The engine: routes accepted traces to destinations, queues them durably and runs one
//! delivery worker per destination.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broadcast_core::{BuildContext, ConfigError, PrivacyMode, Registry, Trace};
use serde_json::Value;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::queue::{NewTrace, QueueError, TraceQueue};
use crate::routing::is_sampled;
use crate::settings::DeliverySettings;
use crate::stats::{DestinationStats, StatsSnapshot};
use crate::worker::{RateLimitedLog, Worker};

/// One configured destination of one account.
#[derive(Debug, Clone)]
pub struct DestinationSpec {
    /// Stable key of the destination; queued deliveries refer to it across restarts.
    pub key: String,
    pub account_id: String,
    pub name: String,
    pub type_name: String,
    pub enabled: bool,
    pub privacy: PrivacyMode,
    /// Share of sessions sent, from 0.0001 to 1.
    pub sampling_rate: f64,
    /// The destination's own config, validated by its type.
    pub config: Value,
}

/// Why the engine cannot start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("destination `{name}` of account `{account_id}`: unknown type `{type_name}` (registered types: {known})")]
    UnknownType {
        account_id: String,
        name: String,
        type_name: String,
        known: String,
    },
    #[error("destination `{name}` of account `{account_id}`: {error}")]
    InvalidConfig {
        account_id: String,
        name: String,
        error: ConfigError,
    },
    #[error("destination `{name}` of account `{account_id}`: sampling_rate {rate} is out of range; use a value from 0.0001 to 1")]
    InvalidSamplingRate {
        account_id: String,
        name: String,
        rate: f64,
    },
    #[error("two destinations share the key `{0}`; give them different names")]
    DuplicateKey(String),
}

/// A destination as the engine runs it.
struct Route {
    spec: DestinationSpec,
    type_name: &'static str,
    stats: Arc<DestinationStats>,
    wake: Arc<Notify>,
}

/// A destination's counters, for summaries.
#[derive(Debug, Clone)]
pub struct DestinationStatus {
    pub key: String,
    pub account_id: String,
    pub name: String,
    pub type_name: &'static str,
    pub stats: StatsSnapshot,
}

/// What [`Engine::ingest`] did with a set of traces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReceipt {
    pub traces: usize,
    /// Deliveries queued, over all destinations.
    pub deliveries: usize,
}

/// What shutdown left undone.
#[derive(Debug, Clone, Default)]
pub struct ShutdownReport {
    /// Deliveries still queued per destination key; they are sent after the next start.
    pub pending: Vec<(String, u64)>,
    /// Every destination's counters at the end.
    pub status: Vec<DestinationStatus>,
}

/// The running delivery engine.
pub struct Engine {
    queue: Arc<dyn TraceQueue>,
    routes: Vec<Route>,
    routes_by_account: HashMap<String, Vec<usize>>,
    workers: Vec<JoinHandle<()>>,
    shutdown: watch::Sender<Option<Instant>>,
    settings: DeliverySettings,
}

impl Engine {
    /// Validates every destination, builds it and starts its worker. Must be called inside a
    /// Tokio runtime.
    ///
    /// # Errors
    /// [`EngineError`] for an unknown type, an invalid config or sampling rate, or two
    /// destinations with the same key. Nothing is started then.
    pub fn start(
        registry: &Registry,
        specs: Vec<DestinationSpec>,
        queue: Arc<dyn TraceQueue>,
        settings: DeliverySettings,
    ) -> Result<Engine, EngineError> {
        let context = BuildContext::with_timeout(settings.request_timeout);
        let mut built = Vec::new();
        let mut keys = std::collections::HashSet::new();
        for spec in specs {
            if !keys.insert(spec.key.clone()) {
                return Err(EngineError::DuplicateKey(spec.key));
            }
            if !(spec.sampling_rate >= 0.0001 && spec.sampling_rate <= 1.0) {
                return Err(EngineError::InvalidSamplingRate {
                    account_id: spec.account_id,
                    name: spec.name,
                    rate: spec.sampling_rate,
                });
            }
            let Some(descriptor) = registry.get(&spec.type_name) else {
                return Err(EngineError::UnknownType {
                    account_id: spec.account_id,
                    name: spec.name,
                    type_name: spec.type_name,
                    known: registry.type_names().join(", "),
                });
            };
            let destination = (descriptor.build)(&spec.config, &context).map_err(|error| {
                EngineError::InvalidConfig {
                    account_id: spec.account_id.clone(),
                    name: spec.name.clone(),
                    error,
                }
            })?;
            built.push((spec, descriptor.type_name, destination));
        }

        let (shutdown, shutdown_signal) = watch::channel(None);
        let mut routes = Vec::new();
        let mut routes_by_account: HashMap<String, Vec<usize>> = HashMap::new();
        let mut workers = Vec::new();
        for (spec, type_name, destination) in built {
            let stats = Arc::new(DestinationStats::default());
            let wake = Arc::new(Notify::new());
            let worker = Worker {
                key: spec.key.clone(),
                type_name,
                destination,
                privacy: spec.privacy,
                queue: Arc::clone(&queue),
                settings: settings.clone(),
                stats: Arc::clone(&stats),
                wake: Arc::clone(&wake),
                shutdown: shutdown_signal.clone(),
                paused_until: None,
                retry_log: RateLimitedLog::new(),
                failure_log: RateLimitedLog::new(),
            };
            workers.push(tokio::spawn(worker.run()));
            routes_by_account
                .entry(spec.account_id.clone())
                .or_default()
                .push(routes.len());
            routes.push(Route {
                spec,
                type_name,
                stats,
                wake,
            });
        }
        Ok(Engine {
            queue,
            routes,
            routes_by_account,
            workers,
            shutdown,
            settings,
        })
    }

    /// Routes each trace to its account's destinations and queues it. Returns once the traces
    /// are durable in the queue; delivery happens later, in the workers.
    ///
    /// # Errors
    /// [`QueueError`] when the queue cannot store them; nothing was accepted then.
    pub async fn ingest(&self, traces: Vec<Trace>) -> Result<IngestReceipt, QueueError> {
        let mut receipt = IngestReceipt {
            traces: traces.len(),
            deliveries: 0,
        };
        let mut batch = Vec::with_capacity(traces.len());
        let mut queued_per_route: HashMap<usize, u64> = HashMap::new();
        for trace in traces {
            let mut destinations = Vec::new();
            let indexes = self
                .routes_by_account
                .get(&trace.account_id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for &index in indexes {
                let route = &self.routes[index];
                if !route.spec.enabled {
                    continue;
                }
                if !is_sampled(&trace, &route.spec.key, route.spec.sampling_rate) {
                    DestinationStats::add(&route.stats.dropped_by_sampling, 1);
                    continue;
                }
                destinations.push(route.spec.key.clone());
                *queued_per_route.entry(index).or_default() += 1;
            }
            receipt.deliveries += destinations.len();
            batch.push(NewTrace {
                trace: Arc::new(trace),
                destinations,
            });
        }
        self.queue.enqueue(batch).await?;
        for (index, queued) in queued_per_route {
            let route = &self.routes[index];
            DestinationStats::add(&route.stats.queued, queued);
            route.wake.notify_one();
        }
        Ok(receipt)
    }

    /// Counters of every destination.
    pub fn status(&self) -> Vec<DestinationStatus> {
        self.routes
            .iter()
            .map(|route| DestinationStatus {
                key: route.spec.key.clone(),
                account_id: route.spec.account_id.clone(),
                name: route.spec.name.clone(),
                type_name: route.type_name,
                stats: route.stats.snapshot(),
            })
            .collect()
    }

    /// Counts deliveries still pending, over all destinations.
    ///
    /// # Errors
    /// [`QueueError`] when the queue cannot be read.
    pub async fn pending(&self) -> Result<u64, QueueError> {
        let mut total = 0;
        for route in &self.routes {
            total += self.queue.pending_count(&route.spec.key).await?;
        }
        Ok(total)
    }

    /// The queue behind the engine.
    pub fn queue(&self) -> &Arc<dyn TraceQueue> {
        &self.queue
    }

    /// Stops the workers: each sends what is due until `grace` (default: the configured
    /// shutdown grace) has passed, then stops. Deliveries not sent stay in the queue.
    pub async fn shutdown(mut self, grace: Option<Duration>) -> ShutdownReport {
        let grace = grace.unwrap_or(self.settings.shutdown_grace);
        let deadline = Instant::now() + grace;
        let _ = self.shutdown.send(Some(deadline));
        let workers = std::mem::take(&mut self.workers);
        for worker in workers {
            // A worker that outlives the deadline by more than a moment is abandoned; its
            // deliveries stay queued.
            let _ = tokio::time::timeout(grace + Duration::from_secs(1), worker).await;
        }
        let mut report = ShutdownReport {
            pending: Vec::new(),
            status: self.status(),
        };
        for route in &self.routes {
            let pending = self.queue.pending_count(&route.spec.key).await.unwrap_or(0);
            if pending > 0 {
                tracing::warn!(destination = %route.spec.key, pending, "Shutdown deadline reached; leaving traces in the queue for the next start.");
                report.pending.push((route.spec.key.clone(), pending));
            }
        }
        report
    }
}
