//! New Relic destination.
//!
//! Sends traces with OTLP/HTTP protobuf (New Relic's preferred encoding) to
//! `https://otlp.nr-data.net/v1/traces` (US) or `https://otlp.eu01.nr-data.net/v1/traces`
//! (EU), with the license key in `api-key`. New Relic keeps attribute values of at most 4095
//! characters, so longer values (messages, output) are cut to that length with a
//! `…[truncated]` marker and the span gets `broadcast.truncated = true`.
//!
//! Requests carry one trace each. New Relic's payload cap was not verified against its
//! documentation, and a capped trace is small, so this costs requests but no data.
//!
//! The connection test sends an empty export request.
//!
//! Files: `config` (parsing and validation); encoding and sending are in `broadcast-otlp`.

mod config;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use broadcast_core::{
    register_destination, BuildContext, ConfigError, ConnectionError, Destination, EncodeError, EncodedEvent,
    ExportOutcome, ExportTrace, Limits,
};
use broadcast_otlp::OtlpCore;
use serde_json::{json, Value};

pub use config::{NewrelicConfig, NewrelicConfigInput};

/// The New Relic destination.
pub struct NewrelicDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for NewrelicDestination {
    type Config = NewrelicConfig;

    const TYPE_NAME: &'static str = "newrelic";
    const DISPLAY_NAME: &'static str = "New Relic";
    const LIMITS: Limits = Limits { max_events_per_request: 1, max_request_bytes: 1_000_000, max_event_bytes: 1_000_000 };

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<NewrelicConfigInput>()
    }

    fn validate(raw: &Value) -> Result<NewrelicConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: NewrelicConfig, context: &BuildContext) -> Self {
        NewrelicDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"license_key": "eu01xxexamplelicensekeyNRAL", "region": "us", "base_url": endpoint})
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        self.core.encode(trace, Self::LIMITS)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        self.core.test_empty_export().await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        self.core.export(events).await
    }

    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        broadcast_otlp::decode_request(body)
    }
}

register_destination!(NewrelicDestination);
