//! The durable queue: accepted traces and their pending deliveries.
//!
//! The engine talks to it only through [`TraceQueue`], so that a later backend (PostgreSQL,
//! NATS JetStream) can replace the embedded SQLite one. The contract every backend keeps:
//!
//! - `enqueue` returns only once the traces and their deliveries are durable, so a caller may
//!   acknowledge them (HTTP 202) as soon as it returns;
//! - a delivery stays pending until `update` records it delivered or failed, so after a crash
//!   every pending delivery is handed out again (at-least-once delivery);
//! - each destination has one consumer at a time (its worker), so handing out the same
//!   delivery twice to one destination cannot happen within a process.

mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use broadcast_core::Trace;

pub use sqlite::SqliteQueue;

/// A trace to store, with the keys of the destinations it is routed to.
#[derive(Debug, Clone)]
pub struct NewTrace {
    pub trace: Arc<Trace>,
    pub destinations: Vec<String>,
}

/// One pending delivery of one trace to one destination.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Queue position of the trace; unique within the queue.
    pub seq: i64,
    pub trace: Arc<Trace>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the first attempt failed, in Unix milliseconds.
    pub first_failure_ms: Option<i64>,
    /// When the trace was queued, in Unix milliseconds.
    pub enqueued_ms: i64,
}

/// What happened to one delivery.
#[derive(Debug, Clone)]
pub enum DeliveryUpdate {
    Delivered { seq: i64 },
    Retry {
        seq: i64,
        attempts: u32,
        first_failure_ms: i64,
        next_attempt_ms: i64,
        error: String,
    },
    Failed { seq: i64, reason: String },
}

/// A failed delivery, kept with its reason.
#[derive(Debug, Clone)]
pub struct FailedDelivery {
    pub seq: i64,
    pub generation_id: String,
    pub reason: String,
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue storage failed: {0}")]
    Storage(String),
    #[error("stored trace {seq} cannot be read back: {message}")]
    Corrupt { seq: i64, message: String },
    #[error("the queue is closed")]
    Closed,
}

/// Durable storage of accepted traces and their deliveries.
#[async_trait]
pub trait TraceQueue: Send + Sync + 'static {
    /// Stores traces and their deliveries; durable on return.
    async fn enqueue(&self, traces: Vec<NewTrace>) -> Result<(), QueueError>;

    /// Returns up to `limit` pending deliveries of `destination` that are due at `now_ms`,
    /// oldest first.
    async fn ready(
        &self,
        destination: &str,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, QueueError>;

    /// Returns when the next pending delivery of `destination` is due, if any is pending.
    async fn next_due_ms(&self, destination: &str) -> Result<Option<i64>, QueueError>;

    /// Records what happened to deliveries of `destination`.
    async fn update(
        &self,
        destination: &str,
        updates: Vec<DeliveryUpdate>,
    ) -> Result<(), QueueError>;

    /// Counts pending deliveries of `destination`.
    async fn pending_count(&self, destination: &str) -> Result<u64, QueueError>;

    /// Lists failed deliveries of `destination`, oldest first, skipping `offset` of them.
    async fn failed(
        &self,
        destination: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<FailedDelivery>, QueueError>;

    /// Counts failed deliveries of `destination`.
    async fn failed_count(&self, destination: &str) -> Result<u64, QueueError>;

    /// Makes failed deliveries of `destination` pending again with no attempts counted: the
    /// ones whose generation id is in `generation_ids`, or all when it is `None`. Returns how
    /// many were made pending.
    async fn redeliver(
        &self,
        destination: &str,
        generation_ids: Option<Vec<String>>,
    ) -> Result<u64, QueueError>;

    /// Drops the oldest pending deliveries of `destination` until its backlog holds at most
    /// `max_bytes` of traces and nothing queued before `min_enqueued_ms`. Returns how many were
    /// dropped.
    async fn trim(
        &self,
        destination: &str,
        max_bytes: u64,
        min_enqueued_ms: i64,
    ) -> Result<u64, QueueError>;
}
