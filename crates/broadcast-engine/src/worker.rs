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

use broadcast_core::{EncodedEvent, ExportOutcome, FailureReason};
use tokio::sync::watch;

use crate::backoff::next_delay;
use crate::engine::{Route, RouteState};
use crate::packing::pack;
use crate::queue::{Delivery, DeliveryUpdate, TraceQueue};
use crate::settings::DeliverySettings;
use crate::stats::{DestinationStats, LastError};

/// Maximum time a worker sleeps without checking the queue, as a guard against a missed wake-up.
const MAX_IDLE_WAIT: Duration = Duration::from_secs(5);

/// Shortest interval between two log lines about the same kind of failure of one destination.
const LOG_INTERVAL: Duration = Duration::from_secs(10);


/// The shutdown signal: `None` while running, the drain deadline once shutdown began.
pub type ShutdownSignal = watch::Receiver<Option<Instant>>;

pub(crate) struct Worker {
    pub route: Arc<Route>,
    pub queue: Arc<dyn TraceQueue>,
    pub settings: DeliverySettings,
    pub shutdown: ShutdownSignal,
    pub paused_until: Option<Instant>,
    pub next_trim: Instant,
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
        tracing::debug!(destination = %self.route.key, "Delivery worker started.");
        loop {
            if self.route.removed.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let deadline = *self.shutdown.borrow();
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                break;
            }
            if Instant::now() >= self.next_trim {
                self.trim_backlog().await;
            }
            if let Some(until) = self.paused_until.filter(|until| *until > Instant::now()) {
                if deadline.is_some() {
                    break;
                }
                let wake_at = until.min(self.next_trim);
                self.sleep_until(wake_at).await;
                continue;
            }
            if self.paused_until.take().is_some() {
                self.route.stats.update_state(|state| state.paused_until = None);
            }

            let current = self.route.current();
            let batch_size = current.destination.limits().max_events_per_request.clamp(1, 10_000) * 4;
            let ready = match self.queue.ready(&self.route.key, now_ms(), batch_size).await {
                Ok(ready) => ready,
                Err(error) => {
                    tracing::error!(destination = %self.route.key, %error, "Cannot read the queue; retrying in one second.");
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
            let mut ready = ready;
            if let Some(window) = current.destination.batch_window() {
                // Hold a partial batch until its oldest trace has waited a whole window, so
                // that one request carries the window's traces. Full batches, and everything
                // at shutdown, go at once.
                let batch = current.destination.limits().max_events_per_request.max(1);
                let oldest_ms = ready.iter().map(|delivery| delivery.enqueued_ms).min().unwrap_or(0);
                let wait_ms = oldest_ms.saturating_add(window.as_millis() as i64) - now_ms();
                if deadline.is_none() && wait_ms > 0 {
                    let full_batches = ready.len() / batch;
                    if full_batches == 0 {
                        let wake_at = Instant::now() + Duration::from_millis(wait_ms as u64);
                        self.sleep_until(wake_at.min(self.next_trim)).await;
                        continue;
                    }
                    ready.truncate(full_batches * batch);
                }
            }
            if let Continue::Deadline = self.deliver(&current, ready).await {
                break;
            }
        }
        self.retry_log.flush(&self.route.key, "retried");
        self.failure_log.flush(&self.route.key, "failed");
        tracing::debug!(destination = %self.route.key, "Delivery worker stopped.");
    }

    /// Drops the oldest pending traces past the backlog's byte and age bounds.
    async fn trim_backlog(&mut self) {
        self.next_trim = Instant::now() + self.settings.backlog_check_interval;
        let max_age_ms = self.settings.max_backlog_age.as_millis() as i64;
        let oldest_kept_ms = now_ms().saturating_sub(max_age_ms);
        match self.queue.trim(&self.route.key, self.settings.max_backlog_bytes, oldest_kept_ms).await {
            Ok(0) => {}
            Ok(dropped) => {
                DestinationStats::add(&self.route.stats.dropped, dropped);
                tracing::error!(destination = %self.route.key, dropped, max_backlog_bytes = self.settings.max_backlog_bytes, max_backlog_age_secs = self.settings.max_backlog_age.as_secs(), "Backlog over its bound; dropped the oldest traces.");
            }
            Err(error) => {
                tracing::error!(destination = %self.route.key, %error, "Cannot enforce the backlog bound; trying again later.");
            }
        }
    }

    async fn wait_for_work(&mut self) {
        let next_due = self.queue.next_due_ms(&self.route.key).await.ok().flatten();
        let wait = match next_due {
            Some(due) => Duration::from_millis((due - now_ms()).clamp(0, i64::MAX) as u64),
            None => MAX_IDLE_WAIT,
        }
        .min(MAX_IDLE_WAIT);
        let wake = Arc::clone(&self.route.wake);
        tokio::select! {
            _ = wake.notified() => {}
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

    async fn deliver(&mut self, current: &RouteState, ready: Vec<Delivery>) -> Continue {
        let mut updates = Vec::new();
        let mut encoded = Vec::with_capacity(ready.len());
        let max_event_bytes = current.destination.limits().max_event_bytes;
        for delivery in ready {
            let trace = current.spec.privacy.apply(&delivery.trace);
            match current.destination.encode(&trace) {
                Ok(event) if event.bytes.len() > max_event_bytes => {
                    let reason = format!(
                        "encoded event is {} bytes, over the destination's limit of {max_event_bytes}",
                        event.bytes.len()
                    );
                    self.record_failed(&delivery, reason, &mut updates);
                }
                Ok(event) => {
                    if event.truncated {
                        DestinationStats::add(&self.route.stats.truncated, 1);
                    }
                    encoded.push((delivery, event));
                }
                Err(error) => self.record_failed(&delivery, error.to_string(), &mut updates),
            }
        }

        let mut result = Continue::Yes;
        for request in pack(encoded, &current.destination.limits()) {
            result = self.send_splitting(current, request, &mut updates).await;
            if !matches!(result, Continue::Yes) {
                break;
            }
        }
        if let Err(error) = self.queue.update(&self.route.key, updates).await {
            tracing::error!(destination = %self.route.key, %error, "Cannot record delivery results; the traces stay queued and will be sent again.");
        }
        result
    }

    /// Sends one packed request, splitting it on "too large" responses.
    async fn send_splitting(
        &mut self,
        current: &RouteState,
        request: Vec<(Delivery, EncodedEvent)>,
        updates: &mut Vec<DeliveryUpdate>,
    ) -> Continue {
        let stats = Arc::clone(&self.route.stats);
        let mut parts = vec![request];
        while let Some(part) = parts.pop() {
            let events: Vec<EncodedEvent> = part.iter().map(|(_, event)| event.clone()).collect();
            let deadline = *self.shutdown.borrow();
            DestinationStats::add(&stats.requests, 1);
            DestinationStats::add(&stats.in_flight, events.len() as u64);
            let started = Instant::now();
            let outcome = match deadline {
                Some(deadline) => tokio::select! {
                    outcome = current.destination.export(&events) => Some(outcome),
                    _ = tokio::time::sleep_until(deadline.into()) => None,
                },
                None => Some(current.destination.export(&events).await),
            };
            DestinationStats::subtract(&stats.in_flight, events.len() as u64);
            let Some(outcome) = outcome else {
                return Continue::Deadline;
            };
            let outcome = without_secrets(outcome, &current.secrets);
            stats.observe_latency(started.elapsed().as_secs_f64());
            match outcome {
                ExportOutcome::Delivered => {
                    let bytes: usize = events.iter().map(|event| event.bytes.len()).sum();
                    DestinationStats::add(&stats.delivered, part.len() as u64);
                    DestinationStats::add(&stats.delivered_bytes, bytes as u64);
                    stats.update_state(|state| {
                        state.last_success_at = Some(chrono::Utc::now());
                        state.backing_off_until = None;
                    });
                    updates.extend(part.iter().map(|(delivery, _)| DeliveryUpdate::Delivered {
                        seq: delivery.seq,
                    }));
                }
                ExportOutcome::TooLarge { reason } if part.len() > 1 => {
                    tracing::debug!(destination = %self.route.key, events = part.len(), %reason, "Request too large; splitting it in two.");
                    let mut first = part;
                    let second = first.split_off(first.len() / 2);
                    parts.push(second);
                    parts.push(first);
                }
                ExportOutcome::TooLarge { reason } => {
                    self.record_error(&reason);
                    for (delivery, event) in &part {
                        let message = format!(
                            "rejected as too large on its own ({} bytes): {reason}",
                            event.bytes.len()
                        );
                        self.record_failed(delivery, message, updates);
                    }
                }
                ExportOutcome::Permanent { reason } => {
                    self.record_error(&reason);
                    for (delivery, _) in &part {
                        self.record_failed(delivery, format!("rejected: {reason}"), updates);
                    }
                }
                ExportOutcome::Retry { after, reason } => {
                    self.record_error(&reason);
                    self.schedule_retry(current, &part, after, &reason, updates);
                    return Continue::Backoff;
                }
            }
        }
        Continue::Yes
    }

    fn record_error(&self, reason: &FailureReason) {
        let last_error = LastError {
            at: chrono::Utc::now(),
            http_status: reason.http_status,
            message: broadcast_core::text::truncate_with_marker(&reason.message, 200).into_owned(),
        };
        self.route.stats.update_state(|state| state.last_error = Some(last_error));
    }

    fn schedule_retry(
        &mut self,
        current: &RouteState,
        part: &[(Delivery, EncodedEvent)],
        after: Option<Duration>,
        reason: &FailureReason,
        updates: &mut Vec<DeliveryUpdate>,
    ) {
        let now = now_ms();
        if let Some(after) = after {
            self.paused_until = Some(Instant::now() + after);
            let until = chrono::Utc::now() + chrono::Duration::from_std(after).unwrap_or_default();
            self.route.stats.update_state(|state| state.paused_until = Some(until));
            tracing::info!(destination = %self.route.key, delay_ms = after.as_millis() as u64, "Destination asked to retry later; pausing it.");
        }
        let mut earliest_retry_ms: Option<i64> = None;
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
            DestinationStats::add(&self.route.stats.retried, 1);
            retried += 1;
            let next_attempt_ms = now + delay.as_millis() as i64;
            earliest_retry_ms = Some(earliest_retry_ms.map_or(next_attempt_ms, |earliest| earliest.min(next_attempt_ms)));
            updates.push(DeliveryUpdate::Retry {
                seq: delivery.seq,
                attempts,
                first_failure_ms,
                next_attempt_ms,
                error: reason.to_string(),
            });
        }
        if let Some(until) = earliest_retry_ms.and_then(chrono::DateTime::from_timestamp_millis) {
            self.route.stats.update_state(|state| state.backing_off_until = Some(until));
        }
        if retried > 0 && self.retry_log.should_log() {
            let suppressed = self.retry_log.take_suppressed();
            tracing::warn!(destination = %self.route.key, destination_type = current.type_name, events = retried, suppressed, %reason, "Export failed; retrying with backoff.");
        }
    }

    fn record_failed(&mut self, delivery: &Delivery, reason: String, updates: &mut Vec<DeliveryUpdate>) {
        DestinationStats::add(&self.route.stats.failed, 1);
        if self.failure_log.should_log() {
            let suppressed = self.failure_log.take_suppressed();
            tracing::error!(destination = %self.route.key, generation_id = %delivery.trace.ids.generation_id, suppressed, %reason, "Delivery failed; keeping the trace in the failed list and not sending it again.");
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

/// Masks the destination's secrets in a failure reason, since a receiver's error body can echo
/// the credential it was sent.
fn without_secrets(outcome: ExportOutcome, secrets: &[String]) -> ExportOutcome {
    let clean = |mut reason: FailureReason| {
        reason.message = broadcast_core::secret::mask_secrets(&reason.message, secrets);
        reason
    };
    match outcome {
        ExportOutcome::Delivered => ExportOutcome::Delivered,
        ExportOutcome::Retry { after, reason } => ExportOutcome::Retry { after, reason: clean(reason) },
        ExportOutcome::TooLarge { reason } => ExportOutcome::TooLarge { reason: clean(reason) },
        ExportOutcome::Permanent { reason } => ExportOutcome::Permanent { reason: clean(reason) },
    }
}
