//! Packing encoded events into requests that respect a destination's limits.

use broadcast_core::{EncodedEvent, Limits};

/// Bytes reserved in every request for the destination's framing around the events (a JSON
/// array's brackets, an envelope object), on top of one separator byte per event.
pub const FRAMING_ALLOWANCE_BYTES: usize = 64;

/// Splits `events`, in order, into groups that each fit in one request: at most
/// `max_events_per_request` events, and event bytes plus separators plus
/// [`FRAMING_ALLOWANCE_BYTES`] at most `max_request_bytes`. An event too large for any request
/// gets a group of its own; the destination's answer (413) then decides its fate.
pub fn pack<T>(events: Vec<(T, EncodedEvent)>, limits: &Limits) -> Vec<Vec<(T, EncodedEvent)>> {
    let max_events = limits.max_events_per_request.max(1);
    let mut requests = Vec::new();
    let mut current = Vec::new();
    let mut current_bytes = FRAMING_ALLOWANCE_BYTES;
    for (item, event) in events {
        let event_bytes = event.bytes.len() + 1;
        let full = current.len() >= max_events
            || current_bytes + event_bytes > limits.max_request_bytes;
        if full && !current.is_empty() {
            requests.push(std::mem::take(&mut current));
            current_bytes = FRAMING_ALLOWANCE_BYTES;
        }
        current_bytes += event_bytes;
        current.push((item, event));
    }
    if !current.is_empty() {
        requests.push(current);
    }
    requests
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(size: usize) -> ((), EncodedEvent) {
        (
            (),
            EncodedEvent {
                generation_id: String::new(),
                bytes: vec![b'x'; size],
                truncated: false,
            },
        )
    }

    fn limits(max_events: usize, max_bytes: usize) -> Limits {
        Limits {
            max_events_per_request: max_events,
            max_request_bytes: max_bytes,
            max_event_bytes: max_bytes,
        }
    }

    #[test]
    fn pack_by_event_count() {
        let events = (0..5).map(|_| event(10)).collect();
        let sizes: Vec<usize> = pack(events, &limits(2, 10_000)).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }

    #[test]
    fn pack_by_bytes() {
        let budget = FRAMING_ALLOWANCE_BYTES + 2 * 101;
        let events = (0..5).map(|_| event(100)).collect();
        let sizes: Vec<usize> = pack(events, &limits(100, budget)).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }

    #[test]
    fn oversized_event_alone() {
        let events = vec![event(10), event(5_000), event(10)];
        let sizes: Vec<usize> = pack(events, &limits(100, 1_000)).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 1, 1]);
    }
}
