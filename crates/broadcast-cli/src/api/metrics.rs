//! `GET /metrics`: delivery metrics in the Prometheus text format.
//!
//! Counters are labelled by destination type, and also by destination id while there are at
//! most [`MAX_ID_LABELLED`] destinations, so that a large multi-tenant install does not
//! produce unbounded series.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use broadcast_engine::{DestinationStatus, Histogram, LATENCY_BUCKETS};

use super::auth::Caller;
use super::error::ApiError;
use super::SharedState;

/// Most destinations whose id is used as a label.
const MAX_ID_LABELLED: usize = 100;

pub async fn metrics(State(state): State<SharedState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if state.tokens.caller(&headers)? != Caller::Operator {
        return Err(ApiError::forbidden("metrics need the operator token"));
    }
    let statuses = state.engine.status();
    let mut depths = Vec::with_capacity(statuses.len());
    for status in &statuses {
        let depth = state.engine.queue().pending_count(&status.key).await.map_err(ApiError::internal)?;
        depths.push(depth);
    }
    let text = render(
        state.received_traces.load(Ordering::Relaxed),
        state.received_bytes.load(Ordering::Relaxed),
        &statuses,
        &depths,
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// Renders the exposition text; `depths[i]` is the queue depth of `statuses[i]`.
pub fn render(received_traces: u64, received_bytes: u64, statuses: &[DestinationStatus], depths: &[u64]) -> String {
    let with_ids = statuses.len() <= MAX_ID_LABELLED;
    let mut text = String::new();
    let _ = writeln!(text, "# HELP broadcast_received_traces_total Traces accepted by ingest.");
    let _ = writeln!(text, "# TYPE broadcast_received_traces_total counter");
    let _ = writeln!(text, "broadcast_received_traces_total {received_traces}");
    let _ = writeln!(text, "# HELP broadcast_received_bytes_total Bytes of accepted ingest bodies.");
    let _ = writeln!(text, "# TYPE broadcast_received_bytes_total counter");
    let _ = writeln!(text, "broadcast_received_bytes_total {received_bytes}");

    type Field = fn(&DestinationStatus) -> u64;
    let counters: [(&str, &str, Field); 9] = [
        ("broadcast_queued_traces_total", "Traces routed to a destination and queued.", |status| status.stats.queued),
        ("broadcast_delivered_traces_total", "Traces the destination accepted.", |status| status.stats.delivered),
        ("broadcast_delivered_bytes_total", "Bytes of events the destination accepted.", |status| status.stats.delivered_bytes),
        ("broadcast_retried_traces_total", "Failed attempts scheduled again.", |status| status.stats.retried),
        ("broadcast_failed_traces_total", "Traces recorded as failed.", |status| status.stats.failed),
        ("broadcast_dropped_traces_total", "Traces dropped because a backlog passed its bound.", |status| status.stats.dropped),
        ("broadcast_sampled_out_traces_total", "Traces left out by sampling.", |status| status.stats.dropped_by_sampling),
        ("broadcast_filtered_traces_total", "Traces left out by the API key allowlist or filter rules.", |status| status.stats.filtered),
        ("broadcast_export_requests_total", "Export requests sent.", |status| status.stats.requests),
    ];
    for (name, help, field) in counters {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} counter");
        write_series(&mut text, name, statuses, with_ids, |status, _| field(status) as f64, depths);
    }
    let _ = writeln!(text, "# HELP broadcast_queue_depth Deliveries waiting in the queue.");
    let _ = writeln!(text, "# TYPE broadcast_queue_depth gauge");
    write_series(&mut text, "broadcast_queue_depth", statuses, with_ids, |_, depth| depth as f64, depths);
    let _ = writeln!(text, "# HELP broadcast_in_flight_events Events in requests being sent.");
    let _ = writeln!(text, "# TYPE broadcast_in_flight_events gauge");
    write_series(&mut text, "broadcast_in_flight_events", statuses, with_ids, |status, _| status.stats.in_flight as f64, depths);

    let _ = writeln!(text, "# HELP broadcast_export_duration_seconds Duration of export requests.");
    let _ = writeln!(text, "# TYPE broadcast_export_duration_seconds histogram");
    let mut by_type: BTreeMap<&str, Histogram> = BTreeMap::new();
    for status in statuses {
        let merged = by_type.entry(status.type_name).or_default();
        for (total, bucket) in merged.buckets.iter_mut().zip(status.stats.latency.buckets) {
            *total += bucket;
        }
        merged.count += status.stats.latency.count;
        merged.sum_seconds += status.stats.latency.sum_seconds;
    }
    for (type_name, histogram) in by_type {
        for (bound, count) in LATENCY_BUCKETS.iter().zip(histogram.buckets) {
            let _ = writeln!(text, "broadcast_export_duration_seconds_bucket{{destination_type=\"{type_name}\",le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(text, "broadcast_export_duration_seconds_bucket{{destination_type=\"{type_name}\",le=\"+Inf\"}} {}", histogram.count);
        let _ = writeln!(text, "broadcast_export_duration_seconds_sum{{destination_type=\"{type_name}\"}} {}", histogram.sum_seconds);
        let _ = writeln!(text, "broadcast_export_duration_seconds_count{{destination_type=\"{type_name}\"}} {}", histogram.count);
    }
    text
}

fn write_series(
    text: &mut String,
    name: &str,
    statuses: &[DestinationStatus],
    with_ids: bool,
    value: impl Fn(&DestinationStatus, u64) -> f64,
    depths: &[u64],
) {
    if with_ids {
        for (status, depth) in statuses.iter().zip(depths) {
            let _ = writeln!(
                text,
                "{name}{{destination_type=\"{}\",destination_id=\"{}\"}} {}",
                status.type_name,
                escape(&status.key),
                value(status, *depth)
            );
        }
        return;
    }
    let mut by_type: BTreeMap<&str, f64> = BTreeMap::new();
    for (status, depth) in statuses.iter().zip(depths) {
        *by_type.entry(status.type_name).or_default() += value(status, *depth);
    }
    for (type_name, total) in by_type {
        let _ = writeln!(text, "{name}{{destination_type=\"{type_name}\"}} {total}");
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
