//! The delivery engine of broadcast.
//!
//! [`Engine::ingest`] routes each accepted trace to the destinations of its account (enabled,
//! sampled) and stores it in a durable [`TraceQueue`] before returning. One worker per
//! destination then delivers it with batching, retries, backoff, `Retry-After` pauses and
//! splitting of requests that are too large. Both `broadcast send` and `broadcast serve` run
//! this same engine.

mod backoff;
mod engine;
mod packing;
pub mod queue;
mod routing;
pub mod rules;
mod settings;
mod stats;
mod store;
mod worker;

pub use engine::{
    DestinationSpec, DestinationStatus, Engine, EngineError, IngestReceipt, PreparedDestination,
    ShutdownReport,
};
pub use packing::{pack, FRAMING_ALLOWANCE_BYTES};
pub use queue::{SqliteQueue, TraceQueue};
pub use routing::is_sampled;
pub use settings::DeliverySettings;
pub use stats::{DeliveryState, Histogram, LastError, StatsSnapshot, LATENCY_BUCKETS};
pub use store::{DestinationStore, StaticDestinations, StoreError};
