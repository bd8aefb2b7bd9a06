//! The baseline: the least work that turns the workload into the same Raindrop requests.
//!
//! It runs in its own process (this binary with `--baseline-child`), so its peak memory is
//! its own. Each of `--concurrency` tasks takes batches of `--batch` traces and, for each
//! trace, parses the JSON line, normalises it, passes it through the privacy filter (off, as
//! in the serve config) and encodes it with the Raindrop destination. It then packs the events
//! by the engine's rule and sends each request with the destination's own `export`, which
//! uses the same HTTP client, headers and body as serve. There is no HTTP ingest, no queue and
//! no retry: any outcome other than delivered fails the bench.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use broadcast_core::{BuildContext, DynDestination, EncodedEvent, ExportOutcome, Limits, PrivacyMode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::sink::{Sink, SinkCounts};
use super::workload::Workload;
use super::{system, Settings, BASELINE_CHILD_FLAG, SINK_URL_FLAG};

/// Request timeout of the Raindrop destination, as in the serve config.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Time the baseline process may spend loading the corpus before it starts sending.
const STARTUP_ALLOWANCE: Duration = Duration::from_secs(60);

/// Figures that the baseline process prints for the parent, as one JSON line on stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineReport {
    /// From the start of the first batch to the last delivered request.
    pub elapsed_secs: f64,
    pub requests: u64,
    pub peak_rss_kib: Option<u64>,
    /// CPU time of the baseline process over its whole life, corpus loading included.
    pub cpu_seconds: Option<f64>,
}

/// Figures of one baseline phase.
#[derive(Debug, Clone)]
pub struct BaselineResult {
    pub report: BaselineReport,
    pub sink: SinkCounts,
    /// CPU time of the bench process (the sink) while the baseline process ran.
    pub bench_cpu_seconds: Option<f64>,
    /// CPU time of every other process on the machine while the baseline process ran.
    pub other_cpu_seconds: Option<f64>,
    /// `other_cpu_seconds` divided by the baseline process's lifetime: the average number of
    /// CPUs that other processes took.
    pub other_cpus: Option<f64>,
}

/// Kills the baseline process if the parent gives up on it.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts the baseline process against `sink` and waits for its report.
pub async fn run_parent(binary: &Path, settings: &Settings, sink: &Sink) -> anyhow::Result<BaselineResult> {
    let bench_cpu_before = system::cpu_seconds("self");
    let other_load = system::OtherLoad::start(bench_cpu_before);
    let spawned = Instant::now();
    let child = Command::new(binary)
        .arg("bench")
        .arg(BASELINE_CHILD_FLAG)
        .arg(SINK_URL_FLAG)
        .arg(&sink.url)
        .args(settings.to_arguments())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start the baseline process {}", binary.display()))?;
    let mut guard = ChildGuard(child);

    let deadline = Instant::now() + settings.timeout + STARTUP_ALLOWANCE;
    let status = loop {
        if let Some(status) = guard.0.try_wait().context("cannot wait for the baseline process")? {
            break status;
        }
        if Instant::now() >= deadline {
            bail!(
                "the baseline process did not finish within {} s; the sink has {} of {} events",
                (settings.timeout + STARTUP_ALLOWANCE).as_secs(),
                sink.unique_events(),
                settings.traces
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let bench_cpu_after = system::cpu_seconds("self");
    let lifetime = spawned.elapsed();
    let mut stdout = String::new();
    if let Some(mut pipe) = guard.0.stdout.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stdout).context("cannot read the baseline process's report")?;
    }
    if !status.success() {
        bail!("the baseline process exited with {status}; its error is printed above");
    }
    let last_line = stdout.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default();
    let report: BaselineReport = serde_json::from_str(last_line)
        .with_context(|| format!("the baseline process printed no report; its output: {stdout:?}"))?;

    let sink = sink.counts();
    if sink.unique_events != settings.traces as u64 {
        bail!(
            "the baseline reported success, but the sink has {} distinct events of {}",
            sink.unique_events,
            settings.traces
        );
    }
    // The baseline process has exited, so its whole CPU time counts as the bench's own.
    let other_cpu_seconds = other_load.finish(bench_cpu_after.zip(report.cpu_seconds).map(|(bench, child)| bench + child));
    let bench_cpu_seconds = bench_cpu_after.zip(bench_cpu_before).map(|(after, before)| after - before);
    Ok(BaselineResult {
        report,
        sink,
        bench_cpu_seconds,
        other_cpu_seconds,
        other_cpus: other_cpu_seconds.map(|seconds| seconds / lifetime.as_secs_f64()),
    })
}

/// Runs the baseline process, which sends the workload to `sink_url` and prints a
/// [`BaselineReport`].
pub fn run_child(root: &Path, settings: &Settings, sink_url: &str) -> anyhow::Result<()> {
    let workload = Arc::new(Workload::load(&crate::corpus_dir(root))?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (elapsed, requests) = runtime.block_on(async {
        let destinations = build_destinations(sink_url, settings.concurrency)?;
        match tokio::time::timeout(settings.timeout, send_all(destinations, &workload, settings)).await {
            Ok(result) => result,
            Err(_) => bail!(
                "the baseline did not send all {} traces within {} s; raise --timeout-secs or lower --traces",
                settings.traces,
                settings.timeout.as_secs()
            ),
        }
    })?;

    let report = BaselineReport {
        elapsed_secs: elapsed.as_secs_f64(),
        requests,
        peak_rss_kib: system::peak_rss_kib("self"),
        cpu_seconds: system::cpu_seconds("self"),
    };
    println!("{}", serde_json::to_string(&report).context("cannot serialise the baseline report")?);
    Ok(())
}

/// Builds one Raindrop destination per sending task, because `export` must not run
/// concurrently on one instance. They share one HTTP client, as serve's destinations do.
fn build_destinations(sink_url: &str, count: usize) -> anyhow::Result<Vec<Box<dyn DynDestination>>> {
    let registry = destinations_all::registry()?;
    let descriptor = registry
        .get("raindrop")
        .context("the raindrop destination is not registered; check destinations-all")?;
    let config = json!({"write_key": "rk_bench", "base_url": sink_url});
    let context = BuildContext::with_timeout(REQUEST_TIMEOUT);
    let mut destinations = Vec::with_capacity(count);
    for _ in 0..count {
        destinations.push((descriptor.build)(&config, &context)?);
    }
    Ok(destinations)
}

/// Sends every trace and returns the elapsed time and the number of requests.
async fn send_all(
    destinations: Vec<Box<dyn DynDestination>>,
    workload: &Arc<Workload>,
    settings: &Settings,
) -> anyhow::Result<(Duration, u64)> {
    let next_batch = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(destinations.len());
    for destination in destinations {
        let workload = Arc::clone(workload);
        let next_batch = Arc::clone(&next_batch);
        let requests = Arc::clone(&requests);
        let (traces, batch) = (settings.traces, settings.batch);
        tasks.push(tokio::spawn(async move {
            send_batches(destination.as_ref(), &workload, &next_batch, &requests, traces, batch).await
        }));
    }
    for task in tasks {
        task.await.context("a baseline task failed")??;
    }
    Ok((started.elapsed(), requests.load(Ordering::Relaxed)))
}

/// Encodes and sends batches taken from `next_batch` until none is left.
async fn send_batches(
    destination: &dyn DynDestination,
    workload: &Workload,
    next_batch: &AtomicUsize,
    requests: &AtomicU64,
    traces: usize,
    batch: usize,
) -> anyhow::Result<()> {
    let limits = destination.limits();
    loop {
        let start = next_batch.fetch_add(1, Ordering::Relaxed).saturating_mul(batch);
        if start >= traces {
            return Ok(());
        }
        let end = (start + batch).min(traces);
        let mut events = Vec::with_capacity(end - start);
        for index in start..end {
            events.push(encode_trace(destination, workload, index)?);
        }
        for request in pack(events, &limits) {
            match destination.export(&request).await {
                ExportOutcome::Delivered => {
                    requests.fetch_add(1, Ordering::Relaxed);
                }
                other => bail!("the sink did not accept a baseline request with traces from {start}..{end}: {other:?}"),
            }
        }
    }
}

/// Parses, normalises and encodes trace `index` of the workload.
fn encode_trace(destination: &dyn DynDestination, workload: &Workload, index: usize) -> anyhow::Result<EncodedEvent> {
    let line = workload.line(index);
    let envelope: Value = serde_json::from_str(&line).with_context(|| format!("trace {index} is not valid JSON"))?;
    let normalised = broadcast_core::ingest::normalise(&envelope, chrono::Utc::now())
        .map_err(|error| anyhow::anyhow!("trace {index} was rejected: {error}"))?;
    let trace = PrivacyMode::Off.apply(&Arc::new(normalised.trace));
    destination
        .encode(&trace)
        .map_err(|error| anyhow::anyhow!("trace {index}: {error}"))
}

/// Splits events, in order, into requests of at most `max_events_per_request` events and

/// Packs events into requests by the engine's own rule.
fn pack(events: Vec<EncodedEvent>, limits: &Limits) -> Vec<Vec<EncodedEvent>> {
    let tagged: Vec<((), EncodedEvent)> = events.into_iter().map(|event| ((), event)).collect();
    broadcast_engine::pack(tagged, limits)
        .into_iter()
        .map(|request| request.into_iter().map(|(_, event)| event).collect())
        .collect()
}
