//! Arize Phoenix destination (self-hosted Phoenix).
//!
//! Sends traces with OTLP/HTTP protobuf to `{base_url}/v1/traces` (Phoenix's receiver rejects
//! OTLP/JSON with 415), with OpenInference attributes, which Phoenix reads, and the project in
//! the `openinference.project.name` resource attribute. An API key, when Phoenix has
//! authentication on, goes as `Authorization: Bearer`. The connection test sends an empty
//! export request, which Phoenix accepts and which writes nothing.
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

pub use config::{PhoenixConfig, PhoenixConfigInput, DEFAULT_BASE_URL, PROJECT_ATTRIBUTE};

/// The Phoenix destination.
pub struct PhoenixDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for PhoenixDestination {
    type Config = PhoenixConfig;

    const TYPE_NAME: &'static str = "phoenix";
    const DISPLAY_NAME: &'static str = "Arize Phoenix";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<PhoenixConfigInput>()
    }

    fn validate(raw: &Value) -> Result<PhoenixConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: PhoenixConfig, context: &BuildContext) -> Self {
        PhoenixDestination { core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() } }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"base_url": endpoint, "project_name": "llm-gateway", "api_key": "phoenix-example-api-key"})
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

register_destination!(PhoenixDestination);
