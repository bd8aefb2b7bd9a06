//! Deterministic trace, span and generation ids.
//!
//! Every id is derived from a SHA-256 digest of a canonical serialisation of the envelope, so
//! a retry or a re-send of the same envelope gets the same ids and destinations can
//! de-duplicate. The canonical form sorts object keys by their UTF-8 bytes at every depth and
//! writes numbers in serde_json's shortest form, so the digest does not depend on key order or
//! whitespace. The top-level keys in [`IGNORED_KEYS`] and the time the envelope was received
//! do not enter the digest.

use std::io::Write;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Top-level envelope keys that describe the recording, not the trace.
pub const IGNORED_KEYS: [&str; 2] = ["source", "notes"];

/// Ids derived from one envelope digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DerivedIds {
    /// 32 lowercase hex digits.
    pub(crate) trace_id: String,
    /// A UUID with version 4 and RFC 4122 variant bits, built from the digest.
    pub(crate) generation_id: String,
    /// 16 lowercase hex digits each.
    pub(crate) root_span_id: String,
    pub(crate) generation_span_id: String,
    pub(crate) span_id: String,
}

/// Derives all ids from the envelope.
pub(crate) fn derive_ids(envelope: &Value) -> DerivedIds {
    let digest = envelope_digest(envelope);
    let mut generation_bytes = [0u8; 16];
    generation_bytes.copy_from_slice(&digest[..16]);
    let generation_id = uuid::Builder::from_random_bytes(generation_bytes)
        .into_uuid()
        .hyphenated()
        .to_string();

    DerivedIds {
        trace_id: hex(&labelled(&digest, b"trace")[..16]),
        generation_id,
        root_span_id: hex(&labelled(&digest, b"root")[..8]),
        generation_span_id: hex(&labelled(&digest, b"generation")[..8]),
        span_id: hex(&labelled(&digest, b"span")[..8]),
    }
}

/// Returns the SHA-256 digest of the canonical envelope without its ignored keys.
pub(crate) fn envelope_digest(envelope: &Value) -> [u8; 32] {
    let mut hasher = HashWriter(Sha256::new());
    match envelope {
        Value::Object(map) => {
            let kept_entries = map
                .iter()
                .filter(|(key, _)| !IGNORED_KEYS.contains(&key.as_str()));
            write_object(&mut hasher, kept_entries);
        }
        other => write_canonical(&mut hasher, other),
    }
    hasher.0.finalize().into()
}

/// Returns SHA-256 of `digest` followed by `label`, giving independent ids from one digest.
fn labelled(digest: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(digest);
    hasher.update(label);
    hasher.finalize().into()
}

fn write_canonical(out: &mut HashWriter, value: &Value) {
    match value {
        Value::Object(map) => write_object(out, map.iter()),
        Value::Array(items) => {
            out.bytes(b"[");
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.bytes(b",");
                }
                write_canonical(out, item);
            }
            out.bytes(b"]");
        }
        Value::String(text) => write_string(out, text),
        Value::Number(number) => out.bytes(number.to_string().as_bytes()),
        Value::Bool(true) => out.bytes(b"true"),
        Value::Bool(false) => out.bytes(b"false"),
        Value::Null => out.bytes(b"null"),
    }
}

fn write_object<'a>(out: &mut HashWriter, entries: impl Iterator<Item = (&'a String, &'a Value)>) {
    let mut sorted: Vec<(&String, &Value)> = entries.collect();
    sorted.sort_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
    out.bytes(b"{");
    for (position, (key, value)) in sorted.into_iter().enumerate() {
        if position > 0 {
            out.bytes(b",");
        }
        write_string(out, key);
        out.bytes(b":");
        write_canonical(out, value);
    }
    out.bytes(b"}");
}

fn write_string(out: &mut HashWriter, text: &str) {
    // serde_json escapes a given string the same way every time, which is all the digest needs.
    // `HashWriter::write` always returns `Ok`, so there is no error to handle.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Feeds written bytes into SHA-256 without building the canonical text in memory.
struct HashWriter(Sha256);

impl HashWriter {
    fn bytes(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

impl Write for HashWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.update(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Holds trivially while serde_json's `preserve_order` feature is off (maps are sorted);
    // it guards the canonical writer for when that feature is enabled.
    #[test]
    fn ids_ignore_key_order() {
        let first: Value =
            serde_json::from_str(r#"{"a": 1, "b": {"x": [1, {"p": 1, "q": 2}], "y": "z"}}"#)
                .expect("valid JSON literal");
        let second: Value =
            serde_json::from_str(r#"{"b": {"y": "z", "x": [1, {"q": 2, "p": 1}]}, "a": 1}"#)
                .expect("valid JSON literal");
        assert_eq!(derive_ids(&first), derive_ids(&second));
    }

    #[test]
    fn ids_ignore_source_and_notes() {
        let plain = json!({"request": {"model": "m"}});
        let noted = json!({"request": {"model": "m"}, "source": {"repo": "r"}, "notes": "n"});
        assert_eq!(derive_ids(&plain), derive_ids(&noted));
    }

    #[test]
    fn ids_change_with_content() {
        let first = derive_ids(&json!({"request": {"model": "a"}}));
        let second = derive_ids(&json!({"request": {"model": "b"}}));
        assert_ne!(first.trace_id, second.trace_id);
        assert_ne!(first.generation_id, second.generation_id);
    }

    #[test]
    fn ids_have_expected_shapes() {
        let ids = derive_ids(&json!({"request": {}}));
        assert_eq!(ids.trace_id.len(), 32);
        assert_eq!(ids.root_span_id.len(), 16);
        assert_eq!(ids.generation_span_id.len(), 16);
        assert_eq!(ids.span_id.len(), 16);
        let parsed = uuid::Uuid::parse_str(&ids.generation_id).expect("generation id is a UUID");
        assert_eq!(parsed.get_version_num(), 4);
        let distinct = [&ids.root_span_id, &ids.generation_span_id, &ids.span_id];
        assert_ne!(distinct[0], distinct[1]);
        assert_ne!(distinct[1], distinct[2]);
    }

    #[test]
    fn canonical_form_distinguishes_types() {
        assert_ne!(
            envelope_digest(&json!({"a": "1"})),
            envelope_digest(&json!({"a": 1}))
        );
        assert_ne!(
            envelope_digest(&json!({"a": [1, 2]})),
            envelope_digest(&json!({"a": [2, 1]}))
        );
    }
}
