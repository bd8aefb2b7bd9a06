//! `broadcast send`: deliver envelope files once, through the same engine as `serve`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use broadcast_core::ingest::normalise;
use broadcast_engine::{DestinationStore, StaticDestinations, DestinationStatus, Engine, SqliteQueue, TraceQueue};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config_file::ConfigFile;
use crate::inputs::{read_inputs, InputError};

/// Traces handed to the engine per ingest call.
const INGEST_CHUNK: usize = 500;

/// How often the wait loop reads the queue.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Runs `send` and returns the process exit code: 0 when every trace was delivered to every
/// destination it was routed to, 1 otherwise.
pub async fn run(config_path: PathBuf, inputs: Vec<PathBuf>) -> anyhow::Result<i32> {
    let config = ConfigFile::load(&config_path)?;
    let registry = destinations_all::registry()?;
    let queue: Arc<dyn TraceQueue> = Arc::new(SqliteQueue::in_memory()?);
    let store = StaticDestinations(config.destination_specs());
    let engine = Engine::start(
        &registry,
        store.destinations().await?,
        queue,
        config.delivery.clone(),
    )?;
    if engine.status().is_empty() {
        anyhow::bail!(
            "{} configures no destination; add an [[accounts.destinations]] entry",
            config_path.display()
        );
    }

    let (envelopes, mut rejected) = read_inputs(&inputs);
    let received_at = chrono::Utc::now();
    let mut traces = Vec::with_capacity(envelopes.len());
    let mut warnings = 0usize;
    for sourced in envelopes {
        match normalise(&sourced.envelope, received_at) {
            Ok(normalised) => {
                for warning in &normalised.warnings {
                    warnings += 1;
                    eprintln!("warning: {}: {warning}", sourced.source);
                }
                traces.push(normalised.trace);
            }
            Err(error) => rejected.push(InputError {
                source: sourced.source,
                message: error.to_string(),
            }),
        }
    }
    for error in &rejected {
        eprintln!("error: {}: {}", error.source, error.message);
    }

    let trace_count = traces.len();
    let mut deliveries = 0u64;
    let mut remaining = traces;
    while !remaining.is_empty() {
        let rest = remaining.split_off(remaining.len().min(INGEST_CHUNK));
        let receipt = engine.ingest(remaining).await.context("cannot queue traces")?;
        deliveries += receipt.deliveries as u64;
        remaining = rest;
    }

    wait_for_delivery(&engine, deliveries).await?;
    let status = engine.status();
    print_failures(&engine, &status).await;
    engine.shutdown(Some(Duration::from_secs(1))).await;

    print_summary(trace_count, rejected.len(), warnings, &status);
    let failed: u64 = status.iter().map(|destination| destination.stats.failed).sum();
    Ok(if failed > 0 || !rejected.is_empty() { 1 } else { 0 })
}

async fn wait_for_delivery(engine: &Engine, deliveries: u64) -> anyhow::Result<()> {
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(deliveries);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {bar:40} {pos}/{len} deliveries ({elapsed}) {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    loop {
        let pending = engine.pending().await.context("cannot read the queue")?;
        if let Some(bar) = &progress {
            bar.set_position(deliveries.saturating_sub(pending));
            let retried: u64 = engine.status().iter().map(|destination| destination.stats.retried).sum();
            if retried > 0 {
                bar.set_message(format!("{retried} retried"));
            }
        }
        if pending == 0 {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(())
}

/// Most failure reasons printed per destination.
const MAX_FAILURES_SHOWN: usize = 10;

async fn print_failures(engine: &Engine, status: &[DestinationStatus]) {
    for destination in status.iter().filter(|destination| destination.stats.failed > 0) {
        let failed = match engine.queue().failed(&destination.key, 0, MAX_FAILURES_SHOWN).await {
            Ok(failed) => failed,
            Err(error) => {
                eprintln!("error: cannot list failed deliveries of {}/{}: {error}", destination.account_id, destination.name);
                continue;
            }
        };
        for delivery in failed {
            eprintln!(
                "failed: {}/{} generation {}: {}",
                destination.account_id, destination.name, delivery.generation_id, delivery.reason
            );
        }
    }
}

fn print_summary(traces: usize, rejected: usize, warnings: usize, status: &[DestinationStatus]) {
    println!("{traces} traces read, {rejected} rejected, {warnings} warnings");
    println!(
        "{:<40} {:<10} {:>9} {:>8} {:>7} {:>8} {:>9}",
        "DESTINATION", "TYPE", "DELIVERED", "RETRIED", "FAILED", "SAMPLED", "TRUNCATED"
    );
    for destination in status {
        let stats = &destination.stats;
        println!(
            "{:<40} {:<10} {:>9} {:>8} {:>7} {:>8} {:>9}",
            format!("{}/{}", destination.account_id, destination.name),
            destination.type_name,
            stats.delivered,
            stats.retried,
            stats.failed,
            stats.dropped_by_sampling,
            stats.truncated
        );
    }
    println!("(SAMPLED counts traces the destination's sampling_rate left out.)");
}
