//! The object written for each trace, and its key.
//!
//! The object is the privacy-filtered trace in broadcast's own trace model, serialized as one
//! JSON object (ids, names, user, session, model, input, parameters, output, usage, cost as a
//! decimal string, timing, status and custom metadata). Its key is
//! `{path_template rendered}/{trace_id}-{unix seconds of the start}-{generation_id}.json`.
//! Every part comes from the trace, so a retry or re-send writes the same key, and the
//! generation id keeps two generations that share a caller-given trace id apart.

use broadcast_core::{EncodeError, EncodedEvent, ExportTrace};
use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;

use crate::config::S3Config;

/// Parts of an object's key, read back from the object itself in `export`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParts {
    pub trace_id: String,
    pub generation_id: String,
    pub started_at: DateTime<Utc>,
    pub api_key_name: Option<String>,
}

impl KeyParts {
    pub fn of(trace: &ExportTrace) -> Self {
        KeyParts {
            trace_id: trace.ids.trace_id.clone(),
            generation_id: trace.ids.generation_id.clone(),
            started_at: trace.timing.started_at,
            api_key_name: trace.api_key_name.clone(),
        }
    }

    /// Reads the key parts from an encoded object.
    ///
    /// # Errors
    /// A message naming the missing field.
    pub fn from_object(object: &Value) -> Result<Self, String> {
        let text = |pointer: &str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("the object has no string at `{pointer}`"))
        };
        let started_at = text("/timing/started_at")?;
        let started_at = DateTime::parse_from_rfc3339(&started_at)
            .map_err(|error| format!("`timing.started_at` is not RFC 3339 ({error})"))?
            .with_timezone(&Utc);
        Ok(KeyParts {
            trace_id: text("/ids/trace_id")?,
            generation_id: text("/ids/generation_id")?,
            started_at,
            api_key_name: object.get("api_key_name").and_then(Value::as_str).map(str::to_string),
        })
    }
}

/// Encodes the trace as one JSON object of at most `max_event_bytes`.
///
/// # Errors
/// [`EncodeError`] when the object cannot be cut small enough.
pub fn encode(trace: &ExportTrace, max_event_bytes: usize) -> Result<EncodedEvent, EncodeError> {
    let mut object = serde_json::to_value(&**trace).map_err(|error| EncodeError(error.to_string()))?;
    let (bytes, truncated) =
        sink_support::fit_json(&mut object, max_event_bytes).map_err(|error| EncodeError(error.to_string()))?;
    Ok(EncodedEvent {
        generation_id: trace.ids.generation_id.clone(),
        bytes,
        truncated,
    })
}

/// Returns the object key for a trace.
pub fn object_key(config: &S3Config, parts: &KeyParts) -> String {
    let folder = render_template(config, parts);
    let name = format!(
        "{}-{}-{}.json",
        safe_segment(&parts.trace_id),
        parts.started_at.timestamp(),
        safe_segment(&parts.generation_id)
    );
    if folder.is_empty() {
        name
    } else {
        format!("{folder}/{name}")
    }
}

/// Renders the path template: variables filled in, empty segments dropped, and `.` and `..`
/// segments replaced (URL parsers resolve them, which would change the key).
pub fn render_template(config: &S3Config, parts: &KeyParts) -> String {
    let date = parts.started_at;
    let api_key_name = parts
        .api_key_name
        .as_deref()
        .filter(|name| !name.trim().is_empty())
        .map(safe_segment)
        .unwrap_or_else(|| "unknown".to_string());
    let rendered = config
        .path_template
        .replace("{prefix}", &config.prefix)
        .replace("{date}", &date.format("%Y-%m-%d").to_string())
        .replace("{year}", &format!("{:04}", date.year()))
        .replace("{month}", &format!("{:02}", date.month()))
        .replace("{day}", &format!("{:02}", date.day()))
        .replace("{api_key_name}", &api_key_name)
        .replace("{apiKeyName}", &api_key_name);
    rendered
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| match segment {
            "." | ".." => "_",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Makes a value safe for one key segment. `/` and control characters become `_`, so that a
/// name cannot add folders. Every other character, non-ASCII included, is kept.
fn safe_segment(text: &str) -> String {
    let replaced: String = text
        .chars()
        .map(|character| if character == '/' || character.is_control() { '_' } else { character })
        .collect();
    match replaced.as_str() {
        "." | ".." => "_".to_string(),
        _ => replaced,
    }
}

/// Returns the key of a batched object: the folder of its first trace and
/// `{start of the window, unix seconds}-{first trace's generation id}.jsonl`.
pub fn batch_key(config: &S3Config, first: &KeyParts, window_secs: u64) -> String {
    let folder = render_template(config, first);
    let seconds = first.started_at.timestamp();
    let window_start = seconds - seconds.rem_euclid(window_secs.max(1) as i64);
    let name = format!("{window_start}-{}.jsonl", safe_segment(&first.generation_id));
    if folder.is_empty() {
        name
    } else {
        format!("{folder}/{name}")
    }
}
