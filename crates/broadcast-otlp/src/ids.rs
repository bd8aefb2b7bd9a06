//! Trace and span ids as OTLP bytes.
//!
//! The trace's own ids are derived at ingest and are already valid hex. A caller-given
//! `trace_id` or `parent_span_id` is used as is when it is a valid OTLP id (32 or 16 hex
//! digits, not all zeros). Otherwise the id is derived from the SHA-256 of the given text, so
//! the same text always gives the same id and a retry carries the same ids. The given text is
//! kept in an attribute.

use sha2::{Digest, Sha256};

/// An id as sent, with the caller's text when it had to be replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpId {
    pub bytes: Vec<u8>,
    /// The caller's text, when it was not a valid OTLP id and `bytes` were derived from it.
    pub replaced: Option<String>,
}

/// Parses `text` as an OTLP id of `length` bytes, or derives one from its SHA-256.
pub fn id_from_text(text: &str, length: usize) -> OtlpId {
    if let Some(bytes) = parse_hex_id(text, length) {
        return OtlpId { bytes, replaced: None };
    }
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = digest[..length].to_vec();
    // An all-zero id is invalid in OTLP; the chance is negligible, but stay valid anyway.
    if bytes.iter().all(|byte| *byte == 0) {
        bytes[length - 1] = 1;
    }
    OtlpId { bytes, replaced: Some(text.to_string()) }
}

/// Returns the bytes of `text` when it is exactly `2 * length` hex digits and not all zeros.
pub fn parse_hex_id(text: &str, length: usize) -> Option<Vec<u8>> {
    if text.len() != 2 * length || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..length)
        .map(|index| u8::from_str_radix(&text[2 * index..2 * index + 2], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    if bytes.iter().all(|byte| *byte == 0) {
        return None;
    }
    Some(bytes)
}

/// Lowercase hex of `bytes`, as OTLP/JSON writes ids.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
