//! When the request started, produced its first token and ended.
//!
//! The duration is known when the envelope gives `latency_ms`, or both `started_at` and
//! `ended_at`. Sources, best first:
//! - `ended_at`: the envelope's `ended_at`, else `started_at + latency_ms` when both are given,
//!   else the time the envelope was received when `latency_ms` is given.
//! - `started_at`: the envelope's `started_at`, else `ended_at - latency_ms`.
//! - Without a known duration, start and end are one estimated moment: the envelope's
//!   `started_at` or `ended_at`, else the response's `created` (unix seconds), else the time
//!   the envelope was received. The trace then says the duration is unknown rather than
//!   report the gap between a recording and its replay as latency.
//! - `first_token_at`: the envelope's `first_token_at`, else `started_at + first_token_ms`.

use chrono::{DateTime, Duration, Utc};

use super::envelope::TimingInput;
use super::error::Warnings;
use crate::model::Timing;

/// Resolves the timing of a trace.
pub(crate) fn resolve_timing(
    input: &TimingInput,
    created: Option<i64>,
    received_at: DateTime<Utc>,
    warnings: &mut Warnings,
) -> Timing {
    let latency = input.latency_ms.map(Duration::milliseconds);

    let explicit_end = input.ended_at.or_else(|| {
        input
            .started_at
            .zip(latency)
            .and_then(|(start, latency)| start.checked_add_signed(latency))
    });
    let duration_known = latency.is_some() || (input.started_at.is_some() && input.ended_at.is_some());

    let (started_at, ended_at) = if duration_known {
        let ended_at = explicit_end.unwrap_or(received_at);
        let from_latency = latency.and_then(|latency| ended_at.checked_sub_signed(latency));
        let started_at = input.started_at.or(from_latency).unwrap_or(ended_at);
        (started_at, ended_at)
    } else {
        // NOTE: `created` is when the provider created the response object, usually within a
        // second of the request start, so it is only an approximation of the start time.
        let from_created = created.and_then(|seconds| DateTime::<Utc>::from_timestamp(seconds, 0));
        let moment = input
            .started_at
            .or(input.ended_at)
            .or(from_created)
            .unwrap_or(received_at);
        (moment, moment)
    };

    let first_token_at = input.first_token_at.or_else(|| {
        let offset = Duration::milliseconds(input.first_token_ms?);
        started_at.checked_add_signed(offset)
    });

    if ended_at < started_at {
        warnings.note(
            "ended_at",
            "is before started_at; the duration is reported as 0",
        );
    }
    Timing {
        started_at,
        first_token_at,
        ended_at,
        duration_known,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .expect("valid timestamp literal")
    }

    fn resolve(input: TimingInput, created: Option<i64>) -> Timing {
        let mut warnings = Warnings::default();
        resolve_timing(&input, created, at("2026-01-01T00:00:10Z"), &mut warnings)
    }

    #[test]
    fn only_latency_ends_at_receipt() {
        let timing = resolve(
            TimingInput {
                latency_ms: Some(500),
                ..TimingInput::default()
            },
            None,
        );
        assert_eq!(timing.ended_at, at("2026-01-01T00:00:10Z"));
        assert_eq!(timing.started_at, at("2026-01-01T00:00:09.5Z"));
    }

    #[test]
    fn start_and_latency_give_end() {
        let input = TimingInput {
            started_at: Some(at("2026-01-01T00:00:00Z")),
            latency_ms: Some(500),
            ..TimingInput::default()
        };
        let timing = resolve(input, None);
        assert_eq!(timing.ended_at, at("2026-01-01T00:00:00.5Z"));
        assert_eq!(timing.duration_ms(), Some(500));
    }

    #[test]
    fn nothing_given_uses_receipt() {
        let timing = resolve(TimingInput::default(), None);
        assert_eq!(timing.started_at, timing.ended_at);
        assert_eq!(timing.ended_at, at("2026-01-01T00:00:10Z"));
    }

    #[test]
    fn created_used_as_start() {
        let created = at("2026-01-01T00:00:07Z").timestamp();
        let timing = resolve(TimingInput::default(), Some(created));
        assert_eq!(timing.started_at, at("2026-01-01T00:00:07Z"));
        assert_eq!(timing.ended_at, timing.started_at);
        assert_eq!(timing.duration_ms(), None, "created alone gives no duration");
    }

    #[test]
    fn start_and_end_give_duration() {
        let input = TimingInput {
            started_at: Some(at("2026-01-01T00:00:00Z")),
            ended_at: Some(at("2026-01-01T00:00:02Z")),
            ..TimingInput::default()
        };
        assert_eq!(resolve(input, None).duration_ms(), Some(2_000));
    }

    #[test]
    fn start_alone_gives_no_duration() {
        let input = TimingInput {
            started_at: Some(at("2026-01-01T00:00:00Z")),
            ..TimingInput::default()
        };
        let timing = resolve(input, Some(1));
        assert_eq!(timing.started_at, at("2026-01-01T00:00:00Z"));
        assert_eq!(timing.duration_ms(), None);
    }

    #[test]
    fn first_token_offset_from_start() {
        let input = TimingInput {
            latency_ms: Some(1000),
            first_token_ms: Some(200),
            ..TimingInput::default()
        };
        let timing = resolve(input, None);
        assert_eq!(timing.time_to_first_token_ms(), Some(200));
    }
}
