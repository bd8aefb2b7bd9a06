//! Delivery counters and state per destination, read by `broadcast send`, the status API and
//! the metrics endpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Upper bounds, in seconds, of the export latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Counters and state of one destination since the process started.
#[derive(Debug, Default)]
pub struct DestinationStats {
    /// Traces routed to the destination and queued.
    pub queued: AtomicU64,
    pub delivered: AtomicU64,
    /// Bytes of delivered events.
    pub delivered_bytes: AtomicU64,
    /// Failed attempts that were scheduled again.
    pub retried: AtomicU64,
    /// Traces recorded as failed: permanent errors, exhausted retries, too large alone.
    pub failed: AtomicU64,
    /// Traces dropped because the destination's backlog passed its size or age bound.
    pub dropped: AtomicU64,
    /// Traces the destination's sampling rate left out.
    pub dropped_by_sampling: AtomicU64,
    /// Traces the API key allowlist or the filter rules left out.
    pub filtered: AtomicU64,
    /// Traces that had a field cut to fit the destination's event size limit.
    pub truncated: AtomicU64,
    /// Requests sent, whatever their response.
    pub requests: AtomicU64,
    /// Events in requests being sent now.
    pub in_flight: AtomicU64,
    latency: Mutex<Histogram>,
    state: Mutex<DeliveryState>,
}

/// The latest outcomes of a destination.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryState {
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<LastError>,
    /// Set while a `Retry-After` pauses the destination.
    pub paused_until: Option<DateTime<Utc>>,
    /// Set while the destination backs off after a transient failure.
    pub backing_off_until: Option<DateTime<Utc>>,
}

/// The latest failure: no secret and no trace content, only the status and a short reason.
#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    pub at: DateTime<Utc>,
    pub http_status: Option<u16>,
    pub message: String,
}

/// Export request durations.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Histogram {
    /// Count of requests at or under each bound of [`LATENCY_BUCKETS`].
    pub buckets: [u64; LATENCY_BUCKETS.len()],
    pub count: u64,
    pub sum_seconds: f64,
}

/// A copy of [`DestinationStats`] at one moment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatsSnapshot {
    pub queued: u64,
    pub delivered: u64,
    pub delivered_bytes: u64,
    pub retried: u64,
    pub failed: u64,
    pub dropped: u64,
    pub dropped_by_sampling: u64,
    pub filtered: u64,
    pub truncated: u64,
    pub requests: u64,
    pub in_flight: u64,
    #[serde(skip)]
    pub latency: Histogram,
    #[serde(flatten)]
    pub state: DeliveryState,
}

impl DestinationStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            queued: read(&self.queued),
            delivered: read(&self.delivered),
            delivered_bytes: read(&self.delivered_bytes),
            retried: read(&self.retried),
            failed: read(&self.failed),
            dropped: read(&self.dropped),
            dropped_by_sampling: read(&self.dropped_by_sampling),
            filtered: read(&self.filtered),
            truncated: read(&self.truncated),
            requests: read(&self.requests),
            in_flight: read(&self.in_flight),
            latency: lock(&self.latency).clone(),
            state: lock(&self.state).clone(),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub(crate) fn subtract(counter: &AtomicU64, amount: u64) {
        counter.fetch_sub(amount, Ordering::Relaxed);
    }

    pub(crate) fn observe_latency(&self, seconds: f64) {
        let mut histogram = lock(&self.latency);
        for (bucket, bound) in histogram.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum_seconds += seconds;
    }

    pub(crate) fn update_state(&self, change: impl FnOnce(&mut DeliveryState)) {
        change(&mut lock(&self.state));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
