//! A trace as one BigQuery row, wrapped for `insertAll` with its `insertId`.
//!
//! The row is the generation row of `sink_support::span_rows` with lowercase column names,
//! plus `resource_attributes` and `tags` (custom metadata `tags` when it is a list of strings).
//! `timestamp` is RFC 3339; JSON columns are sent as JSON text, which the streaming API
//! takes for `JSON` columns; `total_cost` is a decimal string. `insertId` is the generation
//! id, so BigQuery drops a row that a retry sends again.

use broadcast_core::{EncodeError, EncodedEvent, ExportTrace};
use chrono::SecondsFormat;
use serde_json::{json, Map, Value};
use sink_support::span_rows::{rows, JSON_COLUMNS};

use crate::table::COLUMNS;

/// Encodes the trace as `{"insertId": …, "json": row}` of at most `max_event_bytes`.
///
/// # Errors
/// [`EncodeError`] when the row cannot be cut small enough.
pub fn encode(trace: &ExportTrace, max_event_bytes: usize) -> Result<EncodedEvent, EncodeError> {
    let mut event = json!({"insertId": trace.ids.generation_id, "json": row(trace)});
    let (bytes, truncated) = sink_support::fit::fit_json_with(&mut event, max_event_bytes, |event| {
        serde_json::to_vec(&with_json_text(event)).unwrap_or_default()
    })
    .map_err(|error| EncodeError(error.to_string()))?;
    Ok(EncodedEvent {
        generation_id: trace.ids.generation_id.clone(),
        bytes,
        truncated,
    })
}

/// Returns the event with each JSON column's value replaced by its JSON text.
fn with_json_text(event: &Value) -> Value {
    let mut event = event.clone();
    if let Some(row) = event.get_mut("json").and_then(Value::as_object_mut) {
        for column in JSON_COLUMNS.iter().map(|column| column.to_ascii_lowercase()).chain(["resource_attributes".to_string()]) {
            if let Some(value) = row.get_mut(&column) {
                if !value.is_null() {
                    *value = Value::String(value.to_string());
                }
            }
        }
    }
    event
}

fn row(trace: &ExportTrace) -> Value {
    let generation = rows(trace).pop().and_then(|row| row.as_object().cloned()).unwrap_or_default();
    let mut row = Map::new();
    for (name, _) in COLUMNS {
        if let Some(value) = generation.get(&name.to_ascii_uppercase()) {
            row.insert((*name).to_string(), value.clone());
        }
    }
    row.insert("span_id".into(), json!(trace.ids.generation_span_id));
    row.insert(
        "timestamp".into(),
        json!(trace.timing.started_at.to_rfc3339_opts(SecondsFormat::Millis, true)),
    );
    row.insert("resource_attributes".into(), json!({"service.name": "broadcast"}));
    let tags: Vec<Value> = match trace.metadata.get("tags") {
        Some(Value::Array(items)) => items.iter().filter(|item| item.is_string()).cloned().collect(),
        _ => Vec::new(),
    };
    row.insert("tags".into(), Value::Array(tags));
    Value::Object(row)
}
