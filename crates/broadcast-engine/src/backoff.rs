//! Retry timing: exponential backoff with jitter, bounded by attempts and elapsed time.

use std::time::Duration;

use rand::Rng;

use crate::settings::DeliverySettings;

/// Returns the delay before attempt `attempts + 1`, given `attempts` failed attempts so far.
///
/// The delay doubles from `initial_backoff` up to `max_backoff`, and a random half of it is
/// jitter ("equal jitter"), so destinations that failed together do not retry together.
pub fn next_delay(settings: &DeliverySettings, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let base = settings
        .initial_backoff
        .saturating_mul(1u32 << exponent)
        .min(settings.max_backoff);
    let half = base / 2;
    let jitter_ms = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DeliverySettings {
        DeliverySettings {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1_000),
            ..DeliverySettings::default()
        }
    }

    #[test]
    fn delay_grows_then_caps() {
        let settings = settings();
        for (attempts, base_ms) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1_000), (40, 1_000)] {
            let delay = next_delay(&settings, attempts).as_millis() as u64;
            assert!(delay >= base_ms / 2, "attempt {attempts}: {delay} ms below half of {base_ms}");
            assert!(delay <= base_ms, "attempt {attempts}: {delay} ms above {base_ms}");
        }
    }
}
