//! The engine: routes accepted traces to destinations, queues them durably and runs one
//! delivery worker per destination. Destinations can be added, changed and removed while it
//! runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use broadcast_core::{
    BuildContext, ConfigError, DestinationDescriptor, DynDestination, PrivacyMode, Registry, Trace,
};
use serde_json::Value;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::queue::{NewTrace, QueueError, TraceQueue};
use crate::routing::is_sampled;
use crate::rules::{CompiledRules, FilterRules, RuleError};
use crate::settings::DeliverySettings;
use crate::stats::{DestinationStats, StatsSnapshot};
use crate::worker::{RateLimitedLog, Worker};

/// One configured destination of one account.
#[derive(Debug, Clone, PartialEq)]
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
    /// Hashes of the API keys whose traces are sent; `None` sends every key's traces.
    pub api_key_hashes: Option<Vec<String>>,
    pub filter_rules: Option<FilterRules>,
    /// The destination's own config, validated by its type.
    pub config: Value,
}

impl DestinationSpec {
    /// Creates a spec with the defaults of a config file entry: enabled, no privacy mode, every
    /// session, every API key, no filter rules.
    pub fn new(key: &str, account_id: &str, name: &str, type_name: &str, config: Value) -> Self {
        DestinationSpec {
            key: key.to_string(),
            account_id: account_id.to_string(),
            name: name.to_string(),
            type_name: type_name.to_string(),
            enabled: true,
            privacy: PrivacyMode::Off,
            sampling_rate: 1.0,
            api_key_hashes: None,
            filter_rules: None,
            config,
        }
    }
}

/// Error that keeps a destination from running.
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
    #[error("destination `{name}` of account `{account_id}`: invalid filter rule {error}")]
    InvalidRule {
        account_id: String,
        name: String,
        error: RuleError,
    },
    #[error("two destinations share the key `{0}`; give them different names")]
    DuplicateKey(String),
}

/// A checked destination, ready to run.
pub struct PreparedDestination {
    spec: DestinationSpec,
    descriptor: &'static DestinationDescriptor,
    destination: Arc<dyn DynDestination>,
    rules: Option<CompiledRules>,
}

impl PreparedDestination {
    /// Checks a spec against the registry and builds its destination. No I/O.
    ///
    /// # Errors
    /// [`EngineError`] for an unknown type, an invalid config, sampling rate or filter rule.
    pub fn prepare(
        registry: &Registry,
        spec: DestinationSpec,
        context: &BuildContext,
    ) -> Result<PreparedDestination, EngineError> {
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
        let rules = match &spec.filter_rules {
            Some(rules) => Some(rules.compile().map_err(|error| EngineError::InvalidRule {
                account_id: spec.account_id.clone(),
                name: spec.name.clone(),
                error,
            })?),
            None => None,
        };
        let destination = (descriptor.build)(&spec.config, context).map_err(|error| EngineError::InvalidConfig {
            account_id: spec.account_id.clone(),
            name: spec.name.clone(),
            error,
        })?;
        Ok(PreparedDestination {
            spec,
            descriptor,
            destination: Arc::from(destination),
            rules,
        })
    }

    /// Returns the built destination, for a connection test before it is saved.
    pub fn destination(&self) -> &Arc<dyn DynDestination> {
        &self.destination
    }
}

/// State of a destination that the worker and the router read; replaced whole on change.
pub(crate) struct RouteState {
    pub spec: DestinationSpec,
    pub type_name: &'static str,
    pub destination: Arc<dyn DynDestination>,
    pub rules: Option<CompiledRules>,
    /// Secret config values, masked in every failure reason before it is logged or stored.
    pub secrets: Vec<String>,
}

/// A destination as the engine runs it.
pub(crate) struct Route {
    pub key: String,
    pub state: RwLock<Arc<RouteState>>,
    pub stats: Arc<DestinationStats>,
    pub wake: Arc<Notify>,
    pub removed: AtomicBool,
}

impl Route {
    pub fn current(&self) -> Arc<RouteState> {
        Arc::clone(&self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// A destination's counters and state, for summaries and the status API.
#[derive(Debug, Clone)]
pub struct DestinationStatus {
    pub key: String,
    pub account_id: String,
    pub name: String,
    pub type_name: &'static str,
    pub stats: StatsSnapshot,
}

/// Receipt of [`Engine::ingest`] for a set of traces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReceipt {
    pub traces: usize,
    /// Deliveries queued, over all destinations.
    pub deliveries: usize,
}

/// Report of what shutdown left undone.
#[derive(Debug, Clone, Default)]
pub struct ShutdownReport {
    /// Deliveries still queued per destination key; they are sent after the next start.
    pub pending: Vec<(String, u64)>,
    /// Every destination's counters at the end.
    pub status: Vec<DestinationStatus>,
}

/// The running delivery engine.
pub struct Engine {
    registry: Registry,
    context: BuildContext,
    queue: Arc<dyn TraceQueue>,
    routes: RwLock<BTreeMap<String, Arc<Route>>>,
    workers: std::sync::Mutex<Vec<JoinHandle<()>>>,
    shutdown: watch::Sender<Option<Instant>>,
    settings: DeliverySettings,
}

impl Engine {
    /// Validates every destination, builds it and starts its worker. Must be called inside a
    /// Tokio runtime.
    ///
    /// # Errors
    /// [`EngineError`] for an unknown type, an invalid config, sampling rate or filter rule,
    /// or two destinations with the same key. Nothing is started then.
    pub fn start(
        registry: &Registry,
        specs: Vec<DestinationSpec>,
        queue: Arc<dyn TraceQueue>,
        settings: DeliverySettings,
    ) -> Result<Engine, EngineError> {
        let context = BuildContext::with_timeout(settings.request_timeout);
        Engine::start_with_context(registry, specs, queue, settings, context)
    }

    /// Like [`Engine::start`], with the HTTP client and timeout every destination is built
    /// with.
    ///
    /// # Errors
    /// See [`Engine::start`].
    pub fn start_with_context(
        registry: &Registry,
        specs: Vec<DestinationSpec>,
        queue: Arc<dyn TraceQueue>,
        settings: DeliverySettings,
        context: BuildContext,
    ) -> Result<Engine, EngineError> {
        let mut prepared = Vec::new();
        let mut keys = std::collections::HashSet::new();
        for spec in specs {
            if !keys.insert(spec.key.clone()) {
                return Err(EngineError::DuplicateKey(spec.key));
            }
            prepared.push(PreparedDestination::prepare(registry, spec, &context)?);
        }
        let (shutdown, _) = watch::channel(None);
        let engine = Engine {
            registry: registry.clone(),
            context,
            queue,
            routes: RwLock::new(BTreeMap::new()),
            workers: std::sync::Mutex::new(Vec::new()),
            shutdown,
            settings,
        };
        for destination in prepared {
            engine.install(destination);
        }
        Ok(engine)
    }

    /// Returns the registry the engine builds destinations from.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Returns the build context of the engine's destinations.
    pub fn build_context(&self) -> &BuildContext {
        &self.context
    }

    /// Checks and builds a spec without installing it.
    ///
    /// # Errors
    /// See [`PreparedDestination::prepare`].
    pub fn prepare(&self, spec: DestinationSpec) -> Result<PreparedDestination, EngineError> {
        PreparedDestination::prepare(&self.registry, spec, &self.context)
    }

    /// Adds a destination, or replaces the one with the same key. A replaced destination keeps
    /// its queue and counters; its worker uses the new config from its next request on.
    pub fn install(&self, prepared: PreparedDestination) {
        let secrets = broadcast_core::secret::secret_values(&(prepared.descriptor.config_schema)(), &prepared.spec.config);
        let state = Arc::new(RouteState {
            secrets,
            type_name: prepared.descriptor.type_name,
            destination: prepared.destination,
            rules: prepared.rules,
            spec: prepared.spec,
        });
        let key = state.spec.key.clone();
        let mut routes = self.routes.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(route) = routes.get(&key) {
            *route.state.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = state;
            route.wake.notify_one();
            return;
        }
        let route = Arc::new(Route {
            key: key.clone(),
            state: RwLock::new(state),
            stats: Arc::new(DestinationStats::default()),
            wake: Arc::new(Notify::new()),
            removed: AtomicBool::new(false),
        });
        let worker = Worker {
            route: Arc::clone(&route),
            queue: Arc::clone(&self.queue),
            settings: self.settings.clone(),
            shutdown: self.shutdown.subscribe(),
            paused_until: None,
            next_trim: Instant::now(),
            retry_log: RateLimitedLog::new(),
            failure_log: RateLimitedLog::new(),
        };
        self.workers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(tokio::spawn(worker.run()));
        routes.insert(key, route);
    }

    /// Stops sending to a destination. Its queued and failed deliveries stay in the queue.
    /// Returns whether the destination was running.
    pub fn remove(&self, key: &str) -> bool {
        let route = self
            .routes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
        match route {
            Some(route) => {
                route.removed.store(true, Ordering::SeqCst);
                route.wake.notify_one();
                true
            }
            None => false,
        }
    }

    fn routes(&self) -> Vec<Arc<Route>> {
        self.routes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Routes each trace to its account's destinations and queues it. Returns once the traces
    /// are durable in the queue; delivery happens later, in the workers.
    ///
    /// Routing, per destination and in this order: `enabled`, the API key allowlist, the
    /// filter rules, then sampling. It reads the whole trace, before any privacy filter.
    ///
    /// # Errors
    /// [`QueueError`] when the queue cannot store them; nothing was accepted then.
    pub async fn ingest(&self, traces: Vec<Trace>) -> Result<IngestReceipt, QueueError> {
        let routes = self.routes();
        let mut by_account: HashMap<String, Vec<(&Arc<Route>, Arc<RouteState>)>> = HashMap::new();
        for route in &routes {
            let state = route.current();
            by_account.entry(state.spec.account_id.clone()).or_default().push((route, state));
        }
        let mut receipt = IngestReceipt {
            traces: traces.len(),
            deliveries: 0,
        };
        let mut batch = Vec::with_capacity(traces.len());
        let mut queued_per_route: HashMap<&str, (&Arc<Route>, u64)> = HashMap::new();
        for trace in traces {
            let mut destinations = Vec::new();
            for (route, state) in by_account.get(trace.account_id.as_str()).map(Vec::as_slice).unwrap_or_default() {
                if !state.spec.enabled {
                    continue;
                }
                if !passes_allowlist(&trace, &state.spec) || !state.rules.as_ref().is_none_or(|rules| rules.matches(&trace)) {
                    DestinationStats::add(&route.stats.filtered, 1);
                    continue;
                }
                if !is_sampled(&trace, &route.key, state.spec.sampling_rate) {
                    DestinationStats::add(&route.stats.dropped_by_sampling, 1);
                    continue;
                }
                destinations.push(route.key.clone());
                queued_per_route.entry(route.key.as_str()).or_insert((route, 0)).1 += 1;
            }
            receipt.deliveries += destinations.len();
            batch.push(NewTrace {
                trace: Arc::new(trace),
                destinations,
            });
        }
        self.queue.enqueue(batch).await?;
        for (route, queued) in queued_per_route.into_values() {
            DestinationStats::add(&route.stats.queued, queued);
            route.wake.notify_one();
        }
        Ok(receipt)
    }

    /// Counters and state of every running destination.
    pub fn status(&self) -> Vec<DestinationStatus> {
        self.routes().iter().map(|route| status_of(route)).collect()
    }

    /// Counters and state of one running destination.
    pub fn status_of(&self, key: &str) -> Option<DestinationStatus> {
        let routes = self.routes.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        routes.get(key).map(|route| status_of(route))
    }

    /// Makes failed deliveries of a destination pending again (all of them, or those of the
    /// given generation ids) and wakes its worker. Returns how many.
    ///
    /// # Errors
    /// [`QueueError`] when the queue cannot be updated.
    pub async fn redeliver(&self, key: &str, generation_ids: Option<Vec<String>>) -> Result<u64, QueueError> {
        let count = self.queue.redeliver(key, generation_ids).await?;
        let routes = self.routes.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(route) = routes.get(key) {
            DestinationStats::subtract(&route.stats.failed, count.min(route.stats.failed.load(Ordering::Relaxed)));
            route.wake.notify_one();
        }
        Ok(count)
    }

    /// Counts deliveries still pending, over all destinations.
    ///
    /// # Errors
    /// [`QueueError`] when the queue cannot be read.
    pub async fn pending(&self) -> Result<u64, QueueError> {
        let mut total = 0;
        for route in self.routes() {
            total += self.queue.pending_count(&route.key).await?;
        }
        Ok(total)
    }

    /// Returns the queue behind the engine.
    pub fn queue(&self) -> &Arc<dyn TraceQueue> {
        &self.queue
    }

    /// Stops the workers: each sends what is due until `grace` (default: the configured
    /// shutdown grace) has passed, then stops. Deliveries not sent stay in the queue.
    /// Calling it again returns at once with the current report.
    pub async fn shutdown(&self, grace: Option<Duration>) -> ShutdownReport {
        let grace = grace.unwrap_or(self.settings.shutdown_grace);
        let deadline = Instant::now() + grace;
        let _ = self.shutdown.send(Some(deadline));
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        for worker in workers {
            // A worker that outlives the deadline by more than a moment is abandoned; its
            // deliveries stay queued.
            let _ = tokio::time::timeout(grace + Duration::from_secs(1), worker).await;
        }
        let mut report = ShutdownReport {
            pending: Vec::new(),
            status: self.status(),
        };
        for route in self.routes() {
            let pending = self.queue.pending_count(&route.key).await.unwrap_or(0);
            if pending > 0 {
                tracing::warn!(destination = %route.key, pending, "Shutdown deadline reached; leaving traces in the queue for the next start.");
                report.pending.push((route.key.clone(), pending));
            }
        }
        report
    }
}

fn status_of(route: &Route) -> DestinationStatus {
    let state = route.current();
    DestinationStatus {
        key: route.key.clone(),
        account_id: state.spec.account_id.clone(),
        name: state.spec.name.clone(),
        type_name: state.type_name,
        stats: route.stats.snapshot(),
    }
}

fn passes_allowlist(trace: &Trace, spec: &DestinationSpec) -> bool {
    match &spec.api_key_hashes {
        None => true,
        Some(hashes) => trace
            .api_key_hash
            .as_ref()
            .is_some_and(|hash| hashes.iter().any(|allowed| allowed == hash)),
    }
}
