//! `cargo xtask bench`: throughput and peak memory of `broadcast serve` end to end, against a
//! baseline that does only the work needed to turn the same envelopes into the same Raindrop
//! requests. See docs/benchmarks.md for what each figure means.
//!
//! One run has two phases, both sending to one local sink in place of Raindrop:
//!
//! 1. serve: the release `broadcast serve` binary with a fresh data directory. Concurrent
//!    clients POST the workload as NDJSON to `/v1/traces`, and the phase ends when the sink
//!    has received an event for every trace.
//! 2. baseline: a separate release process (this binary, started with `--baseline-child`)
//!    parses, normalises and encodes the same envelopes with the Raindrop destination and
//!    sends them to the same sink with `export`, with no HTTP ingest and no queue.
//!
//! Both phases run as separate processes, so each one's peak resident memory (VmHWM) is its own.

mod baseline;
mod report;
mod serve_phase;
mod sink;
mod system;
mod workload;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

const HELP: &str = "usage: cargo xtask bench [options]

Builds the release binaries, then measures `broadcast serve` end to end (HTTP ingest, durable
queue, Raindrop export to a local sink) and a baseline that parses, normalises, encodes and
posts the same traces to the same sink. Prints traces per second, peak memory and their ratio.

options:
  --traces N         traces sent in each phase (default 50000)
  --batch N          envelopes per ingest request, sent as NDJSON (default 100)
  --concurrency N    concurrent ingest clients, and concurrent baseline senders (default 4)
  --runs N           measure serve and baseline N times each, alternating (default 3)
  --timeout-secs N   maximum seconds one phase may take before the bench fails (default 600)
  --help             print this text";

/// Flag that marks the release process started by a debug `cargo xtask`, which already built
/// the binaries.
const BUILT_FLAG: &str = "--built";
/// Flag that starts the baseline process; the parent passes the sink address with it.
const BASELINE_CHILD_FLAG: &str = "--baseline-child";
const SINK_URL_FLAG: &str = "--sink-url";

/// How much work each phase does.
#[derive(Debug, Clone)]
pub struct Settings {
    pub traces: usize,
    pub batch: usize,
    pub concurrency: usize,
    pub runs: usize,
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            traces: 50_000,
            batch: 100,
            concurrency: 4,
            runs: 3,
            timeout: Duration::from_secs(600),
        }
    }
}

impl Settings {
    /// Returns the options that the baseline process needs to do the same work.
    fn to_arguments(&self) -> Vec<String> {
        vec![
            "--traces".into(),
            self.traces.to_string(),
            "--batch".into(),
            self.batch.to_string(),
            "--concurrency".into(),
            self.concurrency.to_string(),
            "--timeout-secs".into(),
            self.timeout.as_secs().to_string(),
        ]
    }
}

/// Parsed command line.
struct Options {
    settings: Settings,
    built: bool,
    baseline_child: bool,
    sink_url: Option<String>,
    help: bool,
}

impl Options {
    fn parse(arguments: &[String]) -> anyhow::Result<Options> {
        let mut options = Options {
            settings: Settings::default(),
            built: false,
            baseline_child: false,
            sink_url: None,
            help: false,
        };
        let mut remaining = arguments.iter();
        while let Some(argument) = remaining.next() {
            let (name, inline_value) = match argument.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (argument.as_str(), None),
            };
            let mut value = || -> anyhow::Result<String> {
                match inline_value.clone().or_else(|| remaining.next().cloned()) {
                    Some(value) => Ok(value),
                    None => bail!("option {name} is missing its value; see `cargo xtask bench --help`"),
                }
            };
            match name {
                "--traces" => options.settings.traces = parse_count(name, &value()?, 1, 10_000_000)?,
                "--batch" => options.settings.batch = parse_count(name, &value()?, 1, 10_000)?,
                "--concurrency" => options.settings.concurrency = parse_count(name, &value()?, 1, 256)?,
                "--runs" => options.settings.runs = parse_count(name, &value()?, 1, 20)?,
                "--timeout-secs" => {
                    let seconds = parse_count(name, &value()?, 1, 86_400)?;
                    options.settings.timeout = Duration::from_secs(seconds as u64);
                }
                BUILT_FLAG => options.built = true,
                BASELINE_CHILD_FLAG => options.baseline_child = true,
                SINK_URL_FLAG => options.sink_url = Some(value()?),
                "--help" | "-h" => options.help = true,
                other => bail!("unknown option `{other}`; see `cargo xtask bench --help`"),
            }
        }
        Ok(options)
    }
}

fn parse_count(name: &str, text: &str, min: usize, max: usize) -> anyhow::Result<usize> {
    match text.parse::<usize>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => bail!("invalid value `{text}` for {name}; use a whole number from {min} to {max}"),
    }
}

/// Runs `cargo xtask bench` with `arguments` (everything after `bench`).
pub fn run(root: &Path, arguments: &[String]) -> anyhow::Result<()> {
    let options = Options::parse(arguments)?;
    if options.help {
        println!("{HELP}");
        return Ok(());
    }

    if options.baseline_child {
        let Some(sink_url) = options.sink_url else {
            bail!("{BASELINE_CHILD_FLAG} needs {SINK_URL_FLAG}; it is started by `cargo xtask bench`, not by hand");
        };
        return baseline::run_child(root, &options.settings, &sink_url);
    }

    // A debug xtask would run the baseline with unoptimised broadcast-core code, and its load
    // generator and sink would compete with serve for CPU. So it builds the release binaries
    // and hands over to the release xtask.
    if cfg!(debug_assertions) {
        build_release(root, &["broadcast-cli", "xtask"])?;
        let release_xtask = target_dir(root).join("release/xtask");
        return crate::run(
            Command::new(&release_xtask)
                .current_dir(root)
                .arg("bench")
                .args(arguments)
                .arg(BUILT_FLAG),
        );
    }
    if !options.built {
        build_release(root, &["broadcast-cli"])?;
    }

    let corpus = crate::corpus_dir(root);
    if !corpus.is_dir() {
        bail!(
            "the corpus is missing at {}; put the shared folder beside the repository or set BROADCAST_CORPUS_DIR",
            corpus.display()
        );
    }
    let serve_binary = target_dir(root).join("release/broadcast");
    if !serve_binary.is_file() {
        bail!("{} is missing after the build; run `cargo build --release -p broadcast-cli`", serve_binary.display());
    }
    let baseline_binary = std::env::current_exe().context("cannot find the path of the running xtask binary")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(measure(root, &options.settings, &corpus, &serve_binary, &baseline_binary))
}

/// Runs every phase and prints the report.
async fn measure(
    root: &Path,
    settings: &Settings,
    corpus: &Path,
    serve_binary: &Path,
    baseline_binary: &Path,
) -> anyhow::Result<()> {
    let workload = std::sync::Arc::new(workload::Workload::load(corpus)?);
    let context = report::Context {
        code_version: system::code_version(root),
    };
    eprintln!(
        "bench: {} traces per phase from {} corpus envelopes in {}",
        settings.traces,
        workload.len(),
        corpus.display()
    );
    for skipped in workload.skipped() {
        eprintln!("bench: skipped {skipped}");
    }

    let sink = sink::Sink::start().await?;
    let mut serve_results = Vec::new();
    let mut baseline_results = Vec::new();
    for run_index in 1..=settings.runs {
        eprintln!("bench: run {run_index}/{}: serve", settings.runs);
        let serve = serve_phase::run(serve_binary, settings, &workload, &sink).await?;
        let serve_ids = sink.take_event_ids();

        eprintln!("bench: run {run_index}/{}: baseline", settings.runs);
        let baseline = baseline::run_parent(baseline_binary, settings, &sink).await?;
        let baseline_ids = sink.take_event_ids();

        check_same_events(&serve_ids, &baseline_ids)?;
        serve_results.push(serve);
        baseline_results.push(baseline);
    }

    report::print(&context, settings, &workload, &serve_results, &baseline_results);
    Ok(())
}

/// Fails unless serve and the baseline delivered the same set of event ids.
fn check_same_events(
    serve: &std::collections::HashSet<String>,
    baseline: &std::collections::HashSet<String>,
) -> anyhow::Result<()> {
    let only_serve = serve.difference(baseline).count();
    let only_baseline = baseline.difference(serve).count();
    if only_serve > 0 || only_baseline > 0 {
        bail!(
            "serve and the baseline delivered different events: {only_serve} event ids only from serve, {only_baseline} only from the baseline; the two phases must encode the same traces"
        );
    }
    Ok(())
}

fn build_release(root: &Path, packages: &[&str]) -> anyhow::Result<()> {
    let mut command = Command::new(crate::cargo());
    command.current_dir(root).args(["build", "--release"]);
    for package in packages {
        command.args(["--package", package]);
    }
    crate::run(&mut command)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> anyhow::Result<Options> {
        let arguments: Vec<String> = arguments.iter().map(|argument| argument.to_string()).collect();
        Options::parse(&arguments)
    }

    #[test]
    fn options_in_both_forms() {
        let options = parse(&["--traces", "10", "--batch=5", "--runs", "2"]).ok();
        let settings = options.map(|options| options.settings);
        assert_eq!(settings.as_ref().map(|settings| settings.traces), Some(10));
        assert_eq!(settings.as_ref().map(|settings| settings.batch), Some(5));
        assert_eq!(settings.as_ref().map(|settings| settings.runs), Some(2));
    }

    #[test]
    fn zero_traces_rejected() {
        let error = parse(&["--traces", "0"]).err().map(|error| error.to_string());
        assert!(error.is_some_and(|error| error.contains("--traces")));
    }

    #[test]
    fn unknown_option_rejected() {
        let error = parse(&["--fast"]).err().map(|error| error.to_string());
        assert!(error.is_some_and(|error| error.contains("--fast")));
    }

    #[test]
    fn missing_value_rejected() {
        let error = parse(&["--concurrency"]).err().map(|error| error.to_string());
        assert!(error.is_some_and(|error| error.contains("missing its value")));
    }

    #[test]
    fn child_arguments_round_trip() {
        let settings = Settings {
            traces: 7,
            batch: 3,
            concurrency: 2,
            runs: 1,
            timeout: Duration::from_secs(9),
        };
        let parsed = Options::parse(&settings.to_arguments()).ok().map(|options| options.settings);
        assert_eq!(parsed.as_ref().map(|parsed| (parsed.traces, parsed.batch, parsed.concurrency)), Some((7, 3, 2)));
        assert_eq!(parsed.map(|parsed| parsed.timeout), Some(Duration::from_secs(9)));
    }
}
