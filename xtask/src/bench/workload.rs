//! The bench workload: the corpus envelopes, cycled, each copy with its own trace id.
//!
//! Trace `i` is corpus envelope `i % len` with a top-level `"trace_id": "bench-<i>"`. The
//! trace id enters the digest that broadcast derives the generation id from, so every copy
//! gets its own generation id and therefore its own Raindrop `event_id`.

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::Value;

pub struct Workload {
    /// Each usable envelope serialised compactly without its opening brace and without a
    /// top-level `trace_id`, ready to follow `{"trace_id":"bench-<i>"`.
    tails: Vec<String>,
    /// Corpus files left out, each with the reason.
    skipped: Vec<String>,
}

impl Workload {
    /// Loads every `*.json` file of `corpus`, in file name order, and keeps the envelopes that
    /// broadcast accepts for the `default` account.
    ///
    /// # Errors
    /// When the directory cannot be read or no envelope is usable.
    pub fn load(corpus: &Path) -> anyhow::Result<Workload> {
        let entries = std::fs::read_dir(corpus)
            .with_context(|| format!("cannot read the corpus directory {}", corpus.display()))?;
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry
                .with_context(|| format!("cannot list the corpus directory {}", corpus.display()))?
                .path();
            if path.extension().is_some_and(|extension| extension == "json") {
                paths.push(path);
            }
        }
        paths.sort();

        let mut workload = Workload {
            tails: Vec::new(),
            skipped: Vec::new(),
        };
        for path in paths {
            let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            match envelope_tail(&path) {
                Ok(tail) => workload.tails.push(tail),
                Err(reason) => workload.skipped.push(format!("{name}: {reason:#}")),
            }
        }
        if workload.tails.is_empty() {
            bail!(
                "no usable envelope in {} ({} files skipped); the bench needs at least one envelope that `broadcast` accepts",
                corpus.display(),
                workload.skipped.len()
            );
        }
        Ok(workload)
    }

    /// Number of distinct corpus envelopes the workload cycles through.
    pub fn len(&self) -> usize {
        self.tails.len()
    }

    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Appends trace `index` as one line of JSON, without a line break.
    pub fn write_line(&self, index: usize, output: &mut String) {
        let tail = &self.tails[index % self.tails.len()];
        output.push_str("{\"trace_id\":\"bench-");
        output.push_str(&index.to_string());
        output.push('"');
        output.push_str(tail);
    }

    /// Returns trace `index` as one line of JSON.
    pub fn line(&self, index: usize) -> String {
        let mut line = String::new();
        self.write_line(index, &mut line);
        line
    }

    /// Returns the size in bytes of the NDJSON body of traces `range`, without building it.
    pub fn ndjson_bytes(&self, range: std::ops::Range<usize>) -> u64 {
        let prefix = "{\"trace_id\":\"bench-\"".len();
        range
            .map(|index| {
                let tail = &self.tails[index % self.tails.len()];
                (prefix + index.to_string().len() + tail.len() + 1) as u64
            })
            .sum()
    }

    /// Returns traces `range` as an NDJSON body.
    pub fn ndjson(&self, range: std::ops::Range<usize>) -> String {
        let mut body = String::new();
        for index in range {
            self.write_line(index, &mut body);
            body.push('\n');
        }
        body
    }
}

/// Reads one corpus file and returns its workload tail, or why it cannot be used.
fn envelope_tail(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).context("cannot read the file")?;
    let value: Value = serde_json::from_str(&text).context("invalid JSON")?;
    let Value::Object(mut envelope) = value else {
        bail!("not a single envelope object");
    };
    envelope.remove("trace_id");
    let compact = serde_json::to_string(&Value::Object(envelope)).context("cannot serialise the envelope")?;
    let tail = match compact.strip_prefix("{}") {
        Some(_) => "}".to_string(),
        None => format!(",{}", &compact[1..]),
    };

    // Only envelopes that serve accepts and routes to the bench destination are usable: one
    // rejected envelope makes serve reject its whole request.
    let line = format!("{{\"trace_id\":\"bench-0\"{tail}");
    let envelope: Value = serde_json::from_str(&line).context("the envelope with a bench trace id is not valid JSON")?;
    let normalised = broadcast_core::ingest::normalise(&envelope, chrono::Utc::now())
        .map_err(|error| anyhow::anyhow!("rejected by broadcast: {error}"))?;
    if normalised.trace.account_id != "default" {
        bail!(
            "belongs to account `{}`, but the bench configures only the `default` account",
            normalised.trace.account_id
        );
    }
    Ok(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload() -> Workload {
        Workload {
            tails: vec![",\"request\":{\"model\":\"m\"}}".to_string(), "}".to_string()],
            skipped: Vec::new(),
        }
    }

    #[test]
    fn ndjson_bytes_match_body() {
        let workload = workload();
        let body = workload.ndjson(0..123);
        assert_eq!(workload.ndjson_bytes(0..123), body.len() as u64);
    }

    #[test]
    fn lines_carry_their_trace_id() {
        let workload = workload();
        for index in [0, 1, 2, 99] {
            let line: Value = serde_json::from_str(&workload.line(index)).unwrap_or(Value::Null);
            assert_eq!(line["trace_id"], Value::String(format!("bench-{index}")));
        }
    }

    #[test]
    fn lines_cycle_through_envelopes() {
        let workload = workload();
        let third: Value = serde_json::from_str(&workload.line(2)).unwrap_or(Value::Null);
        let fourth: Value = serde_json::from_str(&workload.line(3)).unwrap_or(Value::Null);
        assert_eq!(third["request"]["model"], Value::String("m".to_string()));
        assert_eq!(fourth.as_object().map(|object| object.len()), Some(1));
    }
}
