//! The serve phase: run `broadcast serve`, post the workload to it and wait until the sink has
//! every event.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

use super::sink::{Sink, SinkCounts};
use super::workload::Workload;
use super::{system, Settings};

/// Maximum wait for `GET /healthz` to succeed after serve starts.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(20);
/// Maximum wait for serve to exit after SIGTERM. The queue is empty by then, so draining has
/// nothing to send.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of one ingest request.
const INGEST_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the sink's count is checked while waiting for the last event.
const SINK_POLL_INTERVAL: Duration = Duration::from_millis(2);

/// Figures of one serve phase.
#[derive(Debug, Clone)]
pub struct ServeResult {
    /// From the first ingest request to the last 202.
    pub ingest_elapsed: Duration,
    /// From the first ingest request to the sink having an event for every trace.
    pub end_to_end_elapsed: Duration,
    /// Peak resident set size of the serve process, read just before it is stopped.
    pub peak_rss_kib: Option<u64>,
    /// CPU time of the serve process over its whole life, startup included.
    pub cpu_seconds: Option<f64>,
    /// CPU seconds of serve's threads by thread name, such as `broadcast-queue`.
    pub cpu_by_thread: Vec<(String, f64)>,
    /// CPU time of the bench process (load generator and sink) during the measured interval.
    pub bench_cpu_seconds: Option<f64>,
    /// CPU time of every other process on the machine during the measured interval.
    pub other_cpu_seconds: Option<f64>,
    pub sink: SinkCounts,
    /// Description of serve's unclean exit after SIGTERM, if there was one.
    pub shutdown_problem: Option<String>,
}

/// The running serve process and its temporary directory. Dropping it kills the process if
/// it still runs and removes the directory.
struct ServeProcess {
    child: Child,
    directory: PathBuf,
}

impl ServeProcess {
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.directory.join("serve.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let start = lines.len().saturating_sub(20);
        if lines.is_empty() {
            "(serve wrote no log lines)".to_string()
        } else {
            lines[start..].join("\n")
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Err(error) = std::fs::remove_dir_all(&self.directory) {
            eprintln!("bench: cannot remove {}: {error}", self.directory.display());
        }
    }
}

/// Runs one serve phase with a fresh data directory.
pub async fn run(
    binary: &Path,
    settings: &Settings,
    workload: &Arc<Workload>,
    sink: &Sink,
) -> anyhow::Result<ServeResult> {
    let (mut process, port) = start_serve(binary, &sink.url)?;
    let base_url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(INGEST_REQUEST_TIMEOUT)
        .build()
        .context("cannot build the HTTP client")?;
    wait_until_healthy(&mut process, &client, &base_url).await?;

    let pid = process.child.id().to_string();
    let own_cpu = || Some(system::cpu_seconds("self")? + system::cpu_seconds(&pid)?);
    let bench_cpu_before = system::cpu_seconds("self");
    let other_load = system::OtherLoad::start(own_cpu());
    let started = Instant::now();
    let deadline = started + settings.timeout;
    let expected = settings.traces as u64;
    let ingest = async {
        match tokio::time::timeout_at(deadline.into(), ingest_all(&client, &base_url, settings, workload)).await {
            Ok(result) => result,
            Err(_) => bail!("serve did not accept all {expected} traces within {} s; raise --timeout-secs or lower --traces", settings.timeout.as_secs()),
        }
    };
    let (ingest_done, delivered) = tokio::try_join!(ingest, wait_for_sink(sink, expected, deadline, settings))
        .map_err(|error| anyhow::anyhow!("{error:#}\nserve log (last lines):\n{}", process.log_tail()))?;

    let other_cpu_seconds = other_load.finish(own_cpu());
    let bench_cpu_seconds = system::cpu_seconds("self").zip(bench_cpu_before).map(|(after, before)| after - before);
    let peak_rss_kib = system::peak_rss_kib(&pid);
    let cpu_seconds = system::cpu_seconds(&pid);
    let cpu_by_thread = system::cpu_seconds_by_thread_name(&pid);
    let shutdown_problem = stop(&mut process).await?;

    Ok(ServeResult {
        ingest_elapsed: ingest_done - started,
        end_to_end_elapsed: delivered - started,
        peak_rss_kib,
        cpu_seconds,
        cpu_by_thread,
        bench_cpu_seconds,
        other_cpu_seconds,
        sink: sink.counts(),
        shutdown_problem,
    })
}

/// Starts serve in a new temporary directory and returns it with the port it listens on.
fn start_serve(binary: &Path, sink_url: &str) -> anyhow::Result<(ServeProcess, u16)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let directory = std::env::temp_dir().join(format!("broadcast-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("cannot create the bench directory {}; set TMPDIR to a writable directory", directory.display()))?;

    let config_path = directory.join("bench.toml");
    let config = format!(
        "[delivery]\nrequest_timeout_secs = 10\n\n[[accounts]]\nid = \"default\"\n\n[[accounts.destinations]]\ntype = \"raindrop\"\nname = \"bench\"\n\n[accounts.destinations.config]\nwrite_key = \"rk_bench\"\nbase_url = \"{sink_url}\"\n"
    );
    std::fs::write(&config_path, config).with_context(|| format!("cannot write {}", config_path.display()))?;
    let log_path = directory.join("serve.log");
    let log = std::fs::File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;

    // NOTE: the port is free when chosen but could be taken before serve binds it. Serve then
    // exits with "cannot listen", which the health check reports.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .context("cannot find a free port on 127.0.0.1 for serve")?
        .port();
    let child = Command::new(binary)
        .arg("serve")
        .arg("--config")
        .arg(&config_path)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(directory.join("data"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&directory);
            bail!("cannot start {}: {error}", binary.display());
        }
    };
    Ok((ServeProcess { child, directory }, port))
}

async fn wait_until_healthy(
    process: &mut ServeProcess,
    client: &reqwest::Client,
    base_url: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + HEALTHY_TIMEOUT;
    let url = format!("{base_url}/healthz");
    loop {
        if let Ok(Some(status)) = process.child.try_wait() {
            bail!("serve exited with {status} before it became healthy; its log:\n{}", process.log_tail());
        }
        if let Ok(response) = client.get(&url).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            bail!(
                "serve did not respond to GET {url} within {} s; its log:\n{}",
                HEALTHY_TIMEOUT.as_secs(),
                process.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts every trace with `settings.concurrency` clients and returns when the last 202 came.
async fn ingest_all(
    client: &reqwest::Client,
    base_url: &str,
    settings: &Settings,
    workload: &Arc<Workload>,
) -> anyhow::Result<Instant> {
    let next_batch = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::with_capacity(settings.concurrency);
    for _ in 0..settings.concurrency {
        let client = client.clone();
        let url = format!("{base_url}/v1/traces");
        let workload = Arc::clone(workload);
        let next_batch = Arc::clone(&next_batch);
        let (traces, batch) = (settings.traces, settings.batch);
        clients.push(tokio::spawn(async move {
            ingest_client(&client, &url, &workload, &next_batch, traces, batch).await
        }));
    }
    for handle in clients {
        handle.await.context("an ingest client task failed")??;
    }
    Ok(Instant::now())
}

/// Posts batches taken from `next_batch` until none is left.
async fn ingest_client(
    client: &reqwest::Client,
    url: &str,
    workload: &Workload,
    next_batch: &AtomicUsize,
    traces: usize,
    batch: usize,
) -> anyhow::Result<()> {
    loop {
        let start = next_batch.fetch_add(1, Ordering::Relaxed).saturating_mul(batch);
        if start >= traces {
            return Ok(());
        }
        let end = (start + batch).min(traces);
        let body = workload.ndjson(start..end);
        let response = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {url} with traces {start}..{end} failed"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status != reqwest::StatusCode::ACCEPTED {
            bail!("serve responded {status} to traces {start}..{end}, expected 202: {}", shorten(&text));
        }
        let receipt: Value = serde_json::from_str(&text)
            .with_context(|| format!("serve's 202 body is not JSON: {}", shorten(&text)))?;
        let sent = (end - start) as u64;
        let accepted = receipt.get("accepted").and_then(Value::as_u64);
        let deliveries = receipt.get("deliveries").and_then(Value::as_u64);
        if accepted != Some(sent) || deliveries != Some(sent) {
            bail!(
                "serve accepted {accepted:?} traces and queued {deliveries:?} deliveries for traces {start}..{end}, expected {sent} of each: {}",
                shorten(&text)
            );
        }
    }
}

/// Returns the moment the sink has `expected` distinct events.
async fn wait_for_sink(
    sink: &Sink,
    expected: u64,
    deadline: Instant,
    settings: &Settings,
) -> anyhow::Result<Instant> {
    loop {
        if sink.unique_events() >= expected {
            return Ok(Instant::now());
        }
        let counts = sink.counts();
        if counts.rejected_requests > 0 {
            bail!(
                "the bench sink rejected {} requests whose body was not a JSON array of events with an `event_id`; serve's Raindrop requests changed format",
                counts.rejected_requests
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "the sink received {} of {expected} events ({} requests) within {} s; raise --timeout-secs or lower --traces",
                counts.unique_events,
                counts.requests,
                settings.timeout.as_secs()
            );
        }
        tokio::time::sleep(SINK_POLL_INTERVAL).await;
    }
}

/// Sends SIGTERM and waits for serve to exit. Returns a description of an unclean exit for the
/// report. The figures stay valid, because they were taken before the signal.
async fn stop(process: &mut ServeProcess) -> anyhow::Result<Option<String>> {
    let pid = process.child.id().to_string();
    crate::run(Command::new("kill").args(["-TERM", &pid]))
        .context("cannot send SIGTERM to serve")?;
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        match process.child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(None),
            Ok(Some(status)) => {
                let log = process.log_tail();
                let last_line = log.lines().last().unwrap_or_default().to_string();
                eprintln!("bench: serve exited with {status} after SIGTERM; its log:\n{log}");
                return Ok(Some(format!("serve exited with {status} after SIGTERM: {last_line}")));
            }
            Ok(None) if Instant::now() >= deadline => bail!(
                "serve did not exit within {} s of SIGTERM; its log:\n{}",
                STOP_TIMEOUT.as_secs(),
                process.log_tail()
            ),
            Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(error) => bail!("cannot wait for serve: {error}"),
        }
    }
}

/// Returns the first 500 characters of `text`, for error messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(500) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
