//! Ramp destination (AI spend tracking).
//!
//! Sends traces as OTLP/JSON with GenAI attributes (model, tokens, cost, user, session,
//! `trace.metadata.*`) to `{base_url}/v1/traces`, with `Authorization: Bearer <api key>`.
//!
//! NOTE: Ramp documents only the base URL and the key for OpenRouter. The `/v1/traces` path
//! and the Bearer scheme follow the OTLP/HTTP convention, and Ramp does not confirm them.
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

pub use config::{RampConfig, RampConfigInput};

/// The Ramp destination.
pub struct RampDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for RampDestination {
    type Config = RampConfig;

    const TYPE_NAME: &'static str = "ramp";
    const DISPLAY_NAME: &'static str = "Ramp";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<RampConfigInput>()
    }

    fn validate(raw: &Value) -> Result<RampConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: RampConfig, context: &BuildContext) -> Self {
        RampDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"api_key": "ramp-example-key", "base_url": endpoint})
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

register_destination!(RampDestination);
