//! A trace as rows for the SQL API's bind variable, one row per span (see
//! `sink_support::span_rows`).
//!
//! One event is the trace's rows as JSON objects joined by commas, already escaped as the
//! inside of a JSON string. The request body carries all rows as one text bind value, so an
//! event's bytes are exactly the bytes it adds to the body.

use broadcast_core::{EncodeError, EncodedEvent, ExportTrace};
use serde_json::Value;
use sink_support::span_rows::rows;

/// Encodes the trace's rows as one event of at most `max_event_bytes`.
///
/// # Errors
/// [`EncodeError`] when the rows cannot be cut small enough.
pub fn encode(trace: &ExportTrace, max_event_bytes: usize) -> Result<EncodedEvent, EncodeError> {
    let mut rows = Value::Array(rows(trace));
    let (bytes, truncated) =
        sink_support::fit::fit_json_with(&mut rows, max_event_bytes, escaped_rows).map_err(|error| EncodeError(error.to_string()))?;
    Ok(EncodedEvent {
        generation_id: trace.ids.generation_id.clone(),
        bytes,
        truncated,
    })
}

/// Joins the rows by commas and escapes them as JSON string content, without the quotes.
fn escaped_rows(rows: &Value) -> Vec<u8> {
    let joined: Vec<String> = rows.as_array().into_iter().flatten().map(Value::to_string).collect();
    let quoted = Value::String(joined.join(",")).to_string();
    quoted.as_bytes()[1..quoted.len() - 1].to_vec()
}
