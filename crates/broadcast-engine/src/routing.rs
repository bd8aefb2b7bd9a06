//! Per-destination routing decisions taken at ingest.

use sha2::{Digest, Sha256};

use broadcast_core::Trace;

/// Decides whether a destination keeps a trace at `sampling_rate` (0 to 1).
///
/// The decision is deterministic per session: every trace of a session is kept or dropped
/// together. Traces without a session are decided by their trace id. The hash is salted with
/// the destination key, so two destinations at the same rate sample different sessions.
pub fn is_sampled(trace: &Trace, destination_key: &str, sampling_rate: f64) -> bool {
    if sampling_rate >= 1.0 {
        return true;
    }
    if sampling_rate <= 0.0 {
        return false;
    }
    let subject = trace.session_id.as_deref().unwrap_or(&trace.ids.trace_id);
    let mut hasher = Sha256::new();
    hasher.update(destination_key.as_bytes());
    hasher.update([0u8]);
    hasher.update(subject.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let position = u64::from_be_bytes(first) as f64 / u64::MAX as f64;
    position < sampling_rate
}
