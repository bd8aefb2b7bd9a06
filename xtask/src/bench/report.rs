//! The bench report: a Markdown table on stdout, one row per run and a median row.

use super::baseline::BaselineResult;
use super::serve_phase::ServeResult;
use super::sink::SinkCounts;
use super::system::Machine;
use super::workload::Workload;
use super::Settings;

/// Average number of CPUs that other processes may use during a phase before the report warns
/// that the figures are skewed.
const BUSY_MACHINE_CPUS: f64 = 0.1;

/// Facts about the run that are not measurements.
pub struct Context {
    /// Commit the binaries were built from.
    pub code_version: String,
}

/// One run's figures, in table order.
struct Row {
    serve_end_to_end: f64,
    serve_ingest: f64,
    baseline: f64,
    ratio: f64,
    serve_peak_mib: Option<f64>,
    baseline_peak_mib: Option<f64>,
    serve_cpu_seconds: Option<f64>,
    baseline_cpu_seconds: Option<f64>,
}

pub fn print(
    context: &Context,
    settings: &Settings,
    workload: &Workload,
    serve: &[ServeResult],
    baseline: &[BaselineResult],
) {
    let machine = Machine::read();
    let traces = settings.traces as f64;
    let rows: Vec<Row> = serve
        .iter()
        .zip(baseline)
        .map(|(serve, baseline)| {
            let serve_end_to_end = traces / serve.end_to_end_elapsed.as_secs_f64();
            let baseline_rate = traces / baseline.report.elapsed_secs;
            Row {
                serve_end_to_end,
                serve_ingest: traces / serve.ingest_elapsed.as_secs_f64(),
                baseline: baseline_rate,
                ratio: serve_end_to_end / baseline_rate,
                serve_peak_mib: serve.peak_rss_kib.map(kib_to_mib),
                baseline_peak_mib: baseline.report.peak_rss_kib.map(kib_to_mib),
                serve_cpu_seconds: serve.cpu_seconds,
                baseline_cpu_seconds: baseline.report.cpu_seconds,
            }
        })
        .collect();

    println!();
    println!("broadcast bench, {}:", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"));
    println!(
        "- machine: {} CPUs, {}, {} memory, Linux {}",
        machine.cpus,
        machine.cpu_model,
        machine.memory_mib.map(|mib| format!("{:.1} GiB", mib as f64 / 1024.0)).unwrap_or_else(|| "unknown".into()),
        machine.kernel
    );
    println!("- code: {}", context.code_version);
    println!(
        "- workload: {} traces per phase cycling {} corpus envelopes; serve gets NDJSON requests of {} envelopes from {} concurrent clients; the baseline uses {} concurrent senders",
        settings.traces,
        workload.len(),
        settings.batch,
        settings.concurrency,
        settings.concurrency
    );
    let ingest_bytes = workload.ndjson_bytes(0..settings.traces);
    println!(
        "- ingest per serve phase: {:.1} MB of NDJSON, {:.1} KB per envelope on average",
        ingest_bytes as f64 / 1e6,
        ingest_bytes as f64 / 1e3 / traces
    );
    if let (Some(serve), Some(baseline)) = (serve.first(), baseline.first()) {
        println!("- sink, serve run 1: {}", describe_sink(&serve.sink));
        println!("- sink, baseline run 1: {}", describe_sink(&baseline.sink));
    }
    println!();
    println!("| run | serve end to end, traces/s | serve ingest only, traces/s | baseline, traces/s | serve / baseline | serve peak RSS, MiB | baseline peak RSS, MiB | serve CPU, s | baseline CPU, s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (index, row) in rows.iter().enumerate() {
        print_row(&(index + 1).to_string(), row);
    }
    if rows.len() > 1 {
        let median_row = Row {
            serve_end_to_end: median(rows.iter().map(|row| Some(row.serve_end_to_end))).unwrap_or(f64::NAN),
            serve_ingest: median(rows.iter().map(|row| Some(row.serve_ingest))).unwrap_or(f64::NAN),
            baseline: median(rows.iter().map(|row| Some(row.baseline))).unwrap_or(f64::NAN),
            ratio: median(rows.iter().map(|row| Some(row.ratio))).unwrap_or(f64::NAN),
            serve_peak_mib: median(rows.iter().map(|row| row.serve_peak_mib)),
            baseline_peak_mib: median(rows.iter().map(|row| row.baseline_peak_mib)),
            serve_cpu_seconds: median(rows.iter().map(|row| row.serve_cpu_seconds)),
            baseline_cpu_seconds: median(rows.iter().map(|row| row.baseline_cpu_seconds)),
        };
        print_row("median", &median_row);
    }
    println!();
    for (index, result) in serve.iter().enumerate() {
        let threads: Vec<String> = result
            .cpu_by_thread
            .iter()
            .map(|(name, seconds)| format!("{name} {seconds:.2}"))
            .collect();
        println!("- serve CPU seconds by thread, run {}: {}", index + 1, threads.join(", "));
    }
    for (index, (serve, baseline)) in serve.iter().zip(baseline).enumerate() {
        println!(
            "- CPU seconds outside serve and the baseline, run {}: the bench process (load generator and sink) {} in the serve phase and {} in the baseline phase; all other processes on the machine {} and {}",
            index + 1,
            optional(serve.bench_cpu_seconds, 2),
            optional(baseline.bench_cpu_seconds, 2),
            optional(serve.other_cpu_seconds, 2),
            optional(baseline.other_cpu_seconds, 2)
        );
    }
    let busiest_other = serve
        .iter()
        .map(|result| result.other_cpu_seconds.unwrap_or(0.0) / result.end_to_end_elapsed.as_secs_f64())
        .chain(baseline.iter().map(|result| result.other_cpus.unwrap_or(0.0)))
        .fold(0.0, f64::max);
    if busiest_other > BUSY_MACHINE_CPUS {
        println!(
            "- WARNING: other processes used up to {busiest_other:.2} CPUs during a phase; they competed with the bench, so rerun on an idle machine"
        );
    }
    for (index, result) in serve.iter().enumerate() {
        if let Some(problem) = &result.shutdown_problem {
            println!("- WARNING: run {}: {problem}", index + 1);
        }
    }
    println!();
    println!("- serve end to end: first ingest request until the sink has every event; ingest only: until the last 202.");
    println!("- baseline: parse, normalise, encode and POST the same traces to the same sink, with no ingest server and no queue.");
    println!("- peak RSS is each process's VmHWM; CPU is user plus system time of each whole process.");
}

fn print_row(label: &str, row: &Row) {
    println!(
        "| {label} | {:.0} | {:.0} | {:.0} | {:.2} | {} | {} | {} | {} |",
        row.serve_end_to_end,
        row.serve_ingest,
        row.baseline,
        row.ratio,
        optional(row.serve_peak_mib, 1),
        optional(row.baseline_peak_mib, 1),
        optional(row.serve_cpu_seconds, 2),
        optional(row.baseline_cpu_seconds, 2),
    );
}

fn describe_sink(counts: &SinkCounts) -> String {
    format!(
        "{} requests, {} events ({} duplicates), {:.1} MB of request bodies",
        counts.requests,
        counts.events,
        counts.events.saturating_sub(counts.unique_events),
        counts.bytes as f64 / 1e6
    )
}

fn optional(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(value) => format!("{value:.decimals$}"),
        None => "unknown".to_string(),
    }
}

fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Median of the known values; `None` when no value is known.
fn median(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut known: Vec<f64> = values.flatten().collect();
    if known.is_empty() {
        return None;
    }
    known.sort_by(f64::total_cmp);
    let middle = known.len() / 2;
    if known.len() % 2 == 1 {
        Some(known[middle])
    } else {
        Some((known[middle - 1] + known[middle]) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_count() {
        assert_eq!(median([Some(3.0), Some(1.0), Some(2.0)].into_iter()), Some(2.0));
    }

    #[test]
    fn median_of_even_count() {
        assert_eq!(median([Some(4.0), Some(1.0), Some(2.0), Some(3.0)].into_iter()), Some(2.5));
    }

    #[test]
    fn median_skips_unknown_values() {
        assert_eq!(median([None, Some(5.0)].into_iter()), Some(5.0));
        assert_eq!(median([None, None].into_iter()), None);
    }
}
