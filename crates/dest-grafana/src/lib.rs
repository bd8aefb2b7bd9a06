//! Grafana Cloud destination.
//!
//! Sends traces with OTLP/HTTP protobuf to the stack's OTLP gateway,
//! `{base_url}/otlp/v1/traces`, with Basic auth: the OTLP instance id as user and an access
//! policy token with the `traces:write` scope as password. Spans carry GenAI attributes, and
//! the older names too (`gen_ai.system`, `gen_ai.usage.prompt_tokens`), because Grafana's
//! OpenRouter dashboards query them. The connection test sends an empty export request.
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

pub use config::{GrafanaConfig, GrafanaConfigInput};

/// The Grafana Cloud destination.
pub struct GrafanaDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for GrafanaDestination {
    type Config = GrafanaConfig;

    const TYPE_NAME: &'static str = "grafana";
    const DISPLAY_NAME: &'static str = "Grafana Cloud";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<GrafanaConfigInput>()
    }

    fn validate(raw: &Value) -> Result<GrafanaConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: GrafanaConfig, context: &BuildContext) -> Self {
        GrafanaDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"instance_id": "123456", "api_key": "glc_example_token", "base_url": endpoint})
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

register_destination!(GrafanaDestination);
