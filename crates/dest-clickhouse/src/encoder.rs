//! A trace as `JSONEachRow` lines, one row per span (see `sink_support::span_rows` for the
//! rows). One event is the trace's rows joined by newlines; the JSON columns are written as
//! JSON text, since the table stores them in `String` columns.

use broadcast_core::{EncodeError, EncodedEvent, ExportTrace};
use serde_json::Value;
use sink_support::span_rows::{rows, JSON_COLUMNS};

/// Encodes the trace's rows as one event of at most `max_event_bytes` (as the rows joined by
/// newlines, and as a JSON array of the rows, which is 2 bytes longer).
///
/// # Errors
/// [`EncodeError`] when the rows cannot be cut small enough.
pub fn encode(trace: &ExportTrace, max_event_bytes: usize) -> Result<EncodedEvent, EncodeError> {
    let mut rows = Value::Array(rows(trace));
    let (bytes, truncated) = sink_support::fit::fit_json_with(&mut rows, max_event_bytes.saturating_sub(2), |rows| {
        to_lines(rows)
    })
    .map_err(|error| EncodeError(error.to_string()))?;
    Ok(EncodedEvent {
        generation_id: trace.ids.generation_id.clone(),
        bytes,
        truncated,
    })
}

/// Writes the rows with JSON columns as text, one JSON object per line, no trailing newline.
fn to_lines(rows: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (index, row) in rows.as_array().into_iter().flatten().enumerate() {
        if index > 0 {
            bytes.push(b'\n');
        }
        let mut row = row.clone();
        if let Some(object) = row.as_object_mut() {
            for column in JSON_COLUMNS {
                if let Some(value) = object.get_mut(*column) {
                    *value = Value::String(value.to_string());
                }
            }
        }
        bytes.extend(serde_json::to_vec(&row).unwrap_or_default());
    }
    bytes
}
