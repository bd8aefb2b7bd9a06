//! Shrinking a JSON event until its serialized form fits a byte limit.
//!
//! The largest string is cut first, at a character boundary and with
//! [`TRUNCATION_MARKER`](broadcast_core::text::TRUNCATION_MARKER), and again until the event
//! fits. Strings of [`MIN_FIELD_BYTES`] or less are never cut, so ids and names survive.

use broadcast_core::text::truncate_with_marker;
use serde_json::Value;

/// Strings this short are left whole.
pub const MIN_FIELD_BYTES: usize = 256;

/// Maximum shrinking rounds before giving up.
const MAX_ROUNDS: usize = 256;

/// Error of an event that stays over its limit after every cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    pub size: usize,
    pub limit: usize,
}

impl std::fmt::Display for FitError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "event is {} bytes after cutting every text field over {MIN_FIELD_BYTES} bytes, over the limit of {}",
            self.size, self.limit
        )
    }
}

/// Serializes `value`, cutting its largest strings until the result is at most `limit` bytes.
/// Returns the bytes and whether anything was cut.
///
/// # Errors
/// [`FitError`] when the event is still too large once every long string is cut.
pub fn fit_json(value: &mut Value, limit: usize) -> Result<(Vec<u8>, bool), FitError> {
    fit_json_with(value, limit, |value| serde_json::to_vec(value).unwrap_or_default())
}

/// As [`fit_json`], with the serialized size measured by `serialize` (for formats that wrap
/// the JSON, such as a row whose columns hold JSON text).
///
/// # Errors
/// [`FitError`] when the event is still too large once every long string is cut.
pub fn fit_json_with(
    value: &mut Value,
    limit: usize,
    serialize: impl Fn(&Value) -> Vec<u8>,
) -> Result<(Vec<u8>, bool), FitError> {
    let mut bytes = serialize(value);
    let mut truncated = false;
    for _ in 0..MAX_ROUNDS {
        if bytes.len() <= limit {
            return Ok((bytes, truncated));
        }
        let excess = bytes.len() - limit;
        if !cut_largest_string(value, excess) {
            break;
        }
        truncated = true;
        bytes = serialize(value);
    }
    if bytes.len() <= limit {
        return Ok((bytes, truncated));
    }
    Err(FitError {
        size: bytes.len(),
        limit,
    })
}

/// Cuts the largest string longer than [`MIN_FIELD_BYTES`] by about `excess` bytes (escaping
/// can make the serialized form longer than the string). Returns false when none is left.
fn cut_largest_string(value: &mut Value, excess: usize) -> bool {
    let Some(largest) = largest_string(value) else {
        return false;
    };
    let current = largest.len();
    // Escaped characters take up to six bytes each in JSON, so cut a little more than the
    // excess to need fewer rounds.
    let target = current.saturating_sub(excess + excess / 8 + 16).max(MIN_FIELD_BYTES);
    let cut = truncate_with_marker(largest, target).into_owned();
    if cut.len() >= current {
        return false;
    }
    *largest = cut;
    true
}

fn largest_string(value: &mut Value) -> Option<&mut String> {
    match value {
        Value::String(text) => (text.len() > MIN_FIELD_BYTES).then_some(text),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(largest_string)
            .max_by_key(|text| text.len()),
        Value::Object(map) => map
            .values_mut()
            .filter_map(largest_string)
            .max_by_key(|text| text.len()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broadcast_core::text::TRUNCATION_MARKER;
    use serde_json::json;

    #[test]
    fn small_event_unchanged() {
        let mut value = json!({"id": "a", "text": "short"});
        let (bytes, truncated) = fit_json(&mut value, 1_000).unwrap_or_default();
        assert!(!truncated);
        assert_eq!(bytes, br#"{"id":"a","text":"short"}"#.to_vec());
    }

    #[test]
    fn largest_string_cut_first() {
        let mut value = json!({"small": "x".repeat(300), "large": "é".repeat(5_000)});
        let result = fit_json(&mut value, 4_000);
        let Ok((bytes, truncated)) = result else {
            panic!("event should fit: {result:?}");
        };
        assert!(truncated);
        assert!(bytes.len() <= 4_000, "{} bytes", bytes.len());
        assert_eq!(value["small"], json!("x".repeat(300)), "the smaller field was cut");
        let large = value["large"].as_str().unwrap_or_default();
        assert!(large.ends_with(TRUNCATION_MARKER), "no marker");
        assert!(large.starts_with("éé"));
    }

    #[test]
    fn escaped_text_fits() {
        let mut value = json!({"text": "\u{1}\"\\".repeat(10_000)});
        let result = fit_json(&mut value, 2_000);
        assert!(result.as_ref().is_ok_and(|(bytes, _)| bytes.len() <= 2_000), "{result:?}");
    }

    #[test]
    fn impossible_limit_reported() {
        let mut value = json!({"items": vec!["x".repeat(200); 100]});
        let error = fit_json(&mut value, 1_000).err();
        assert_eq!(error.map(|error| error.limit), Some(1_000));
    }
}
