//! Delivery counters per destination, read by `broadcast send` and the status output.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one destination since the process started.
#[derive(Debug, Default)]
pub struct DestinationStats {
    /// Traces routed to the destination and queued.
    pub queued: AtomicU64,
    pub delivered: AtomicU64,
    /// Failed attempts that were scheduled again.
    pub retried: AtomicU64,
    /// Traces recorded as failed: permanent errors, exhausted retries, too large alone.
    pub failed: AtomicU64,
    /// Traces the destination's sampling rate left out.
    pub dropped_by_sampling: AtomicU64,
    /// Traces that had a field cut to fit the destination's event size limit.
    pub truncated: AtomicU64,
    /// Requests sent, whatever their answer.
    pub requests: AtomicU64,
}

/// A copy of [`DestinationStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    pub queued: u64,
    pub delivered: u64,
    pub retried: u64,
    pub failed: u64,
    pub dropped_by_sampling: u64,
    pub truncated: u64,
    pub requests: u64,
}

impl DestinationStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            queued: read(&self.queued),
            delivered: read(&self.delivered),
            retried: read(&self.retried),
            failed: read(&self.failed),
            dropped_by_sampling: read(&self.dropped_by_sampling),
            truncated: read(&self.truncated),
            requests: read(&self.requests),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }
}
