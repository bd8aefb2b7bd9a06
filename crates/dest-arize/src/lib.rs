//! Arize AX destination.
//!
//! Sends traces with OTLP/HTTP protobuf to `{base_url}/v1/traces` with OpenInference
//! attributes, which Arize reads. Headers follow Arize's own OpenTelemetry helper:
//! `authorization: <api key>` (no scheme), `arize-space-id`, `arize-interface: otel`, and the
//! older `api_key` and `space_id` that the helper still sends. The project goes in the
//! `openinference.project.name` resource attribute (and `model_id`, its older name). The
//! connection test sends an empty export request.
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

pub use config::{ArizeConfig, ArizeConfigInput};

/// The Arize AX destination.
pub struct ArizeDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for ArizeDestination {
    type Config = ArizeConfig;

    const TYPE_NAME: &'static str = "arize";
    const DISPLAY_NAME: &'static str = "Arize AX";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<ArizeConfigInput>()
    }

    fn validate(raw: &Value) -> Result<ArizeConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: ArizeConfig, context: &BuildContext) -> Self {
        ArizeDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"api_key": "ak-example", "space_id": "U3BhY2U6MTIz", "project_name": "llm-gateway", "base_url": endpoint})
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

register_destination!(ArizeDestination);
