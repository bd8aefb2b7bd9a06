//! The `Destination` trait: what every sink crate implements.
//!
//! Design rules, which the engine relies on:
//!
//! - `validate` is pure. It parses and checks a raw JSON config into the destination's typed
//!   config and touches no file, network, clock or credential store.
//! - `encode` turns one privacy-filtered trace into one event. It is deterministic: the same
//!   trace always gives the same bytes, so a retried request carries the same event ids.
//! - `export` sends one request built from encoded events and classifies the response. It does
//!   not retry: retries, backoff, `Retry-After` pauses and splitting on "too large" are the
//!   engine's job, so that every destination gets them the same way.
//! - `export` is never called concurrently on one destination instance, and a call must end
//!   within the destination's own request timeout.
//! - A destination never receives an unfiltered trace when privacy mode is on: `encode` takes an
//!   [`ExportTrace`], which only the privacy filter can make.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::outcome::{ConnectionError, ExportOutcome};
use crate::privacy::ExportTrace;

/// Size limits a destination declares; the engine packs requests to stay within them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum events in one request.
    pub max_events_per_request: usize,
    /// Maximum size of one request body, in bytes.
    pub max_request_bytes: usize,
    /// Maximum size of one encoded event, in bytes; `encode` shrinks events to fit.
    pub max_event_bytes: usize,
}

/// One trace encoded for a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    /// The trace's generation id, for logs and delivery accounting.
    pub generation_id: String,
    /// The event as the destination will put it in a request body.
    pub bytes: Vec<u8>,
    /// Whether a field had to be cut to fit `max_event_bytes`.
    pub truncated: bool,
}

/// Error for an invalid destination config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid destination config: `{field}`: {message}")]
pub struct ConfigError {
    /// The config key at fault, such as `write_key` or `base_url`.
    pub field: String,
    /// Description of the problem and its fix. Never contains a secret value.
    pub message: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Error for a trace that could not be encoded. The engine records the trace as failed for this
/// destination; other destinations are not affected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode trace for this destination: {0}")]
pub struct EncodeError(pub String);

/// Shared resources a destination receives when it is built.
#[derive(Clone)]
pub struct BuildContext {
    /// The shared HTTP client (connection pool, TLS roots, user agent).
    pub http: reqwest::Client,
    /// The per-request timeout the operator configured.
    pub request_timeout: Duration,
}

impl BuildContext {
    /// Builds a context with a fresh HTTP client.
    pub fn with_timeout(request_timeout: Duration) -> Self {
        BuildContext::build(request_timeout, None)
    }

    /// Builds a context whose HTTP client connects only to addresses that destinations
    /// configured through the management API may reach (see [`crate::net`]).
    pub fn guarded(request_timeout: Duration, lookup: crate::net::Lookup) -> Self {
        BuildContext::build(request_timeout, Some(lookup))
    }

    fn build(request_timeout: Duration, lookup: Option<crate::net::Lookup>) -> Self {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("broadcast/", env!("CARGO_PKG_VERSION")))
            .timeout(request_timeout);
        if let Some(lookup) = lookup {
            builder = builder
                .dns_resolver(std::sync::Arc::new(crate::net::GuardedResolver::new(lookup)))
                .redirect(reqwest::redirect::Policy::none());
        }
        let http = builder.build().unwrap_or_else(|_| reqwest::Client::new());
        BuildContext {
            http,
            request_timeout,
        }
    }
}

/// A sink that traces are broadcast to. Implemented by each `dest-*` crate and registered with
/// [`register_destination!`](crate::register_destination).
#[async_trait]
pub trait Destination: Send + Sync + Sized + 'static {
    /// The typed, validated config.
    type Config: Send + Sync + 'static;

    /// Registry name, such as `raindrop`; used as `type` in config files.
    const TYPE_NAME: &'static str;
    /// Name for people, such as `Raindrop`.
    const DISPLAY_NAME: &'static str;
    const LIMITS: Limits;

    /// JSON Schema of the raw config. Secret fields carry `"x-secret": true`.
    fn config_schema() -> Value;

    /// Parses and checks a raw config. Pure: no I/O of any kind.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key, the problem and the fix, without any secret value.
    fn validate(raw: &Value) -> Result<Self::Config, ConfigError>;

    /// Builds the destination from a validated config. Must not do I/O either.
    fn build(config: Self::Config, context: &BuildContext) -> Self;

    /// Returns a complete, valid config whose endpoint is `endpoint` (a base URL such as
    /// `http://127.0.0.1:9999`), for documentation and the conformance suite.
    fn example_config(endpoint: &str) -> Value;

    /// Encodes one trace as one event, shrinking the largest text fields to stay under
    /// `LIMITS.max_event_bytes`. Deterministic.
    ///
    /// # Errors
    /// [`EncodeError`] when the trace cannot be represented even after shrinking.
    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError>;

    /// Proves that the endpoint is reachable and the credentials work, without writing data
    /// that shows up in the destination.
    ///
    /// # Errors
    /// A [`ConnectionError`] whose kind separates a rejected credential from an unreachable host.
    async fn test_connection(&self) -> Result<(), ConnectionError>;

    /// Sends one request carrying `events` (never empty, within `LIMITS`) and classifies the
    /// response. Does not retry.
    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome;

    /// Returns this instance's limits; the default is [`Destination::LIMITS`]. A destination
    /// whose config changes its request shape (S3 with batching on) overrides it.
    fn instance_limits(&self) -> Limits {
        Self::LIMITS
    }

    /// Returns how long the engine keeps traces back to fill one request, when the destination
    /// wants few large requests (one S3 object per time window). `None`, the default, sends
    /// whatever is due at once.
    fn batch_window(&self) -> Option<Duration> {
        None
    }

    /// Returns the SQL that creates the table this destination writes to, for destinations
    /// that write to a table the user creates (ClickHouse, Snowflake). `None` for the others.
    fn ddl(_config: &Self::Config) -> Option<String> {
        None
    }

    /// Decodes a request body this destination produced back into one JSON value per event.
    /// The conformance suite uses it to count events and check sizes.
    ///
    /// # Errors
    /// A message when the body is not in the destination's request format.
    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String>;
}

/// Object-safe form of [`Destination`], implemented for every destination.
#[async_trait]
pub trait DynDestination: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn limits(&self) -> Limits;
    fn batch_window(&self) -> Option<Duration>;
    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError>;
    async fn test_connection(&self) -> Result<(), ConnectionError>;
    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome;
}

#[async_trait]
impl<T: Destination> DynDestination for T {
    fn type_name(&self) -> &'static str {
        T::TYPE_NAME
    }

    fn limits(&self) -> Limits {
        Destination::instance_limits(self)
    }

    fn batch_window(&self) -> Option<Duration> {
        Destination::batch_window(self)
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        Destination::encode(self, trace)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        Destination::test_connection(self).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        Destination::export(self, events).await
    }
}
