//! The delivery worker: one task per destination.
//!
//! A worker takes due deliveries from the queue, passes each trace through the destination's
//! privacy filter, encodes it, packs the events into requests and sends them one request at a
//! time. It acts on the classified outcome:
//!
//! - delivered: the deliveries leave the queue;
//! - retry: each delivery is scheduled again with backoff, and a `Retry-After` pauses the whole
//!   destination; past the attempt or time budget the delivery is recorded as failed;
//! - too large: the request is split in halves down to single events, and a single event that
//!   is still too large is recorded as failed, so splitting always ends;
//! - permanent: the deliveries are recorded as failed with the reason.
//!
//! Workers share nothing but the queue, so a slow or dead destination delays no other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use broadcast_core::{DynDestination, EncodedEvent, ExportOutcome, FailureReason, PrivacyMode};
use tokio::sync::{watch, Notify};

use crate::backoff::next_delay;
use crate::packing::pack;
use crate::queue::{Delivery, DeliveryUpdate, TraceQueue};
use crate::settings::DeliverySettings;
use crate::stats::DestinationStats;

/// Maximum time a worker sleeps without checking the queue, as a guard against a missed wake-up.
const MAX_IDLE_WAIT: Duration = Duration::from_secs(5);

/// Shortest interval between two log lines about the same kind of failure of one destination.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The shutdown signal: `None` while running, the drain deadline once shutdown began.
pub type ShutdownSignal = watch::Receiver<Option<Instant>>;

pub(crate) struct Worker {
    pub key: String,
    pub type_name: &'static str,
    pub destination: Box<dyn DynDestination>,
    pub privacy: PrivacyMode,
    pub queue: Arc<dyn TraceQueue>,
    pub settings: DeliverySettings,
    pub stats: Arc<DestinationStats>,
    pub wake: Arc<Notify>,
    pub shutdown: ShutdownSignal,
    pub paused_until: Option<Instant>,
    pub retry_log: RateLimitedLog,
    pub failure_log: RateLimitedLog,
}

/// Whether a worker should keep sending in this round.
enum Continue {
    Yes,
    /// The destination asked to slow down or failed transiently: stop this round.
    Backoff,
    /// The drain deadline passed during the request.
    Deadline,
}

impl Worker {
    pub async fn run(mut self) {
        tracing::debug!(destination = %self.key, "Delivery worker started.");
        loop {
            let deadline = *self.shutdown.borrow();
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                break;
            }
            if let Some(until) = self.paused_until.filter(|until| *until > Instant::now()) {
                if deadline.is_some() {
                    break;
                }
                self.sleep_until(until).await;
                continue;
            }
            self.paused_until = None;

            let batch_size = self.destination.limits().max_events_per_request.max(1) * 4;
            let ready = match self.queue.ready(&self.key, now_ms(), batch_size).await {
                Ok(ready) => ready,
                Err(error) => {
                    tracing::error!(destination = %self.key, %error, "Cannot read the queue; retrying in one second.");
                    self.sleep_until(Instant::now() + Duration::from_secs(1)).await;
                    continue;
                }
            };
            if ready.is_empty() {
                if deadline.is_some() {
                    break;
                }
                self.wait_for_work().await;
                continue;
            }
            if let Continue::Deadline = self.deliver(ready).await {
                break;
            }
        }
        self.retry_log.flush(&self.key, "retried");
        self.failure_log.flush(&self.key, "failed");
        tracing::debug!(destination = %self.key, "Delivery worker stopped.");
    }

    async fn wait_for_work(&mut self) {
        let next_due = self.queue.next_due_ms(&self.key).await.ok().flatten();
        let wait = match next_due {
            Some(due) => Duration::from_millis((due - now_ms()).clamp(0, i64::MAX) as u64),
            None => MAX_IDLE_WAIT,
        }
        .min(MAX_IDLE_WAIT);
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = self.shutdown.changed() => {}
        }
    }

    async fn sleep_until(&mut self, until: Instant) {
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = self.shutdown.changed() => {}
        }
    }

    async fn deliver(&mut self, ready: Vec<Delivery>) -> Continue {
        let mut updates = Vec::new();
        let mut encoded = Vec::with_capacity(ready.len());
        let max_event_bytes = self.destination.limits().max_event_bytes;
        for delivery in ready {
            let trace = self.privacy.apply(&delivery.trace);
            match self.destination.encode(&trace) {
                Ok(event) if event.bytes.len() > max_event_bytes => {
                    let reason = format!(
                        "encoded event is {} bytes, over the destination's limit of {max_event_bytes}",
                        event.bytes.len()
                    );
                    self.record_failed(&delivery, reason, &mut updates);
                }
                Ok(event) => {
                    if event.truncated {
                        DestinationStats::add(&self.stats.truncated, 1);
                    }
                    encoded.push((delivery, event));
                }
                Err(error) => self.record_failed(&delivery, error.to_string(), &mut updates),
            }
        }

        let mut result = Continue::Yes;
        for request in pack(encoded, &self.destination.limits()) {
            result = self.send_splitting(request, &mut updates).await;
            if !matches!(result, Continue::Yes) {
                break;
            }
        }
        if let Err(error) = self.queue.update(&self.key, updates).await {
            tracing::error!(destination = %self.key, %error, "Cannot record delivery results; the traces stay queued and will be sent again.");
        }
        result
    }

    /// Sends one packed request, splitting it on "too large" responses.
    async fn send_splitting(
        &mut self,
        request: Vec<(Delivery, EncodedEvent)>,
        updates: &mut Vec<DeliveryUpdate>,
    ) -> Continue {
        let mut parts = vec![request];
        while let Some(part) = parts.pop() {
            let events: Vec<EncodedEvent> = part.iter().map(|(_, event)| event.clone()).collect();
            let deadline = *self.shutdown.borrow();
            DestinationStats::add(&self.stats.requests, 1);
            let outcome = match deadline {
                Some(deadline) => tokio::select! {
                    outcome = self.destination.export(&events) => outcome,
                    _ = tokio::time::sleep_until(deadline.into()) => return Continue::Deadline,
                },
                None => self.destination.export(&events).await,
            };
            match outcome {
                ExportOutcome::Delivered => {
                    DestinationStats::add(&self.stats.delivered, part.len() as u64);
                    updates.extend(part.iter().map(|(delivery, _)| DeliveryUpdate::Delivered {
                        seq: delivery.seq,
                    }));
                }
                ExportOutcome::TooLarge { reason } if part.len() > 1 => {
                    tracing::debug!(destination = %self.key, events = part.len(), %reason, "Request too large; splitting it in two.");
                    let mut first = part;
                    let second = first.split_off(first.len() / 2);
                    parts.push(second);
                    parts.push(first);
                }
                ExportOutcome::TooLarge { reason } => {
                    for (delivery, event) in &part {
                        let message = format!(
                            "rejected as too large on its own ({} bytes): {reason}",
                            event.bytes.len()
                        );
                        self.record_failed(delivery, message, updates);
                    }
                }
                ExportOutcome::Permanent { reason } => {
                    for (delivery, _) in &part {
                        self.record_failed(delivery, format!("rejected: {reason}"), updates);
                    }
                }
                ExportOutcome::Retry { after, reason } => {
                    self.schedule_retry(&part, after, &reason, updates);
                    return Continue::Backoff;
                }
            }
        }
        Continue::Yes
    }

    fn schedule_retry(
        &mut self,
        part: &[(Delivery, EncodedEvent)],
        after: Option<Duration>,
        reason: &FailureReason,
        updates: &mut Vec<DeliveryUpdate>,
    ) {
        let now = now_ms();
        if let Some(after) = after {
            self.paused_until = Some(Instant::now() + after);
            tracing::info!(destination = %self.key, delay_ms = after.as_millis() as u64, "Destination asked to retry later; pausing it.");
        }
        let mut retried = 0usize;
        for (delivery, _) in part {
            let attempts = delivery.attempts + 1;
            let first_failure_ms = delivery.first_failure_ms.unwrap_or(now);
            let elapsed = Duration::from_millis((now - first_failure_ms).max(0) as u64);
            if attempts >= self.settings.max_attempts
                || elapsed >= self.settings.max_retry_duration
            {
                let message = format!("retries exhausted after {attempts} attempts: {reason}");
                self.record_failed(delivery, message, updates);
                continue;
            }
            let delay = next_delay(&self.settings, attempts).max(after.unwrap_or_default());
            DestinationStats::add(&self.stats.retried, 1);
            retried += 1;
            updates.push(DeliveryUpdate::Retry {
                seq: delivery.seq,
                attempts,
                first_failure_ms,
                next_attempt_ms: now + delay.as_millis() as i64,
                error: reason.to_string(),
            });
        }
        if retried > 0 && self.retry_log.should_log() {
            let suppressed = self.retry_log.take_suppressed();
            tracing::warn!(destination = %self.key, destination_type = self.type_name, events = retried, suppressed, %reason, "Export failed; retrying with backoff.");
        }
    }

    fn record_failed(&mut self, delivery: &Delivery, reason: String, updates: &mut Vec<DeliveryUpdate>) {
        DestinationStats::add(&self.stats.failed, 1);
        if self.failure_log.should_log() {
            let suppressed = self.failure_log.take_suppressed();
            tracing::error!(destination = %self.key, destination_type = self.type_name, generation_id = %delivery.trace.ids.generation_id, suppressed, %reason, "Delivery failed; keeping the trace in the failed list and not sending it again.");
        }
        updates.push(DeliveryUpdate::Failed {
            seq: delivery.seq,
            reason,
        });
    }
}

/// Logs the first of a run of repeats, then at most once per [`LOG_INTERVAL`], counting the
/// ones it held back.
#[derive(Debug)]
pub(crate) struct RateLimitedLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    pub fn new() -> Self {
        RateLimitedLog {
            last: None,
            suppressed: 0,
        }
    }

    fn should_log(&mut self) -> bool {
        let now = Instant::now();
        if self.last.is_some_and(|last| now - last < LOG_INTERVAL) {
            self.suppressed += 1;
            return false;
        }
        self.last = Some(now);
        true
    }

    fn take_suppressed(&mut self) -> u64 {
        std::mem::take(&mut self.suppressed)
    }

    fn flush(&mut self, destination: &str, what: &str) {
        let suppressed = self.take_suppressed();
        if suppressed > 0 {
            tracing::warn!(destination, suppressed, outcome = what, "Held back repeated log lines about deliveries with this outcome.");
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
