//! Delivery settings shared by every destination worker.

use std::time::Duration;

use serde::Deserialize;

/// How the engine retries and times out deliveries; every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverySettings {
    /// First retry delay; it doubles on each failed attempt.
    #[serde(with = "millis", rename = "initial_backoff_ms")]
    pub initial_backoff: Duration,
    /// Longest delay between two attempts.
    #[serde(with = "millis", rename = "max_backoff_ms")]
    pub max_backoff: Duration,
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Time from the first failure after which a delivery is failed, whatever its attempts.
    #[serde(with = "seconds", rename = "max_retry_duration_secs")]
    pub max_retry_duration: Duration,
    /// Timeout of one export request.
    #[serde(with = "seconds", rename = "request_timeout_secs")]
    pub request_timeout: Duration,
    /// How long shutdown waits for in-flight and ready deliveries before leaving the rest in
    /// the queue.
    #[serde(with = "seconds", rename = "shutdown_grace_secs")]
    pub shutdown_grace: Duration,
    /// Largest backlog of one destination, in bytes of stored traces; past it the oldest
    /// pending traces are dropped and counted.
    pub max_backlog_bytes: u64,
    /// Oldest a pending trace may get before it is dropped and counted.
    #[serde(with = "seconds", rename = "max_backlog_age_secs")]
    pub max_backlog_age: Duration,
    /// How often each destination's backlog is checked against its bounds.
    #[serde(with = "millis", rename = "backlog_check_interval_ms")]
    pub backlog_check_interval: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_attempts: 10,
            max_retry_duration: Duration::from_secs(600),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            max_backlog_bytes: 1024 * 1024 * 1024,
            max_backlog_age: Duration::from_secs(24 * 60 * 60),
            backlog_check_interval: Duration::from_secs(10),
        }
    }
}

mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let seconds = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(seconds).map_err(serde::de::Error::custom)
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(deserializer)?))
    }
}
