//! Comet Opik destination.
//!
//! Sends traces with OTLP/HTTP protobuf to `{base_url}/v1/private/otel/v1/traces` with the API
//! key in `Authorization` (no scheme), the workspace in `Comet-Workspace` and the project in
//! `projectName`. Spans carry GenAI attributes; Opik gives traces and spans its own UUIDv7
//! ids, so the OTLP ids are kept by Opik as metadata. The connection test sends an empty
//! export request.
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

pub use config::{OpikConfig, OpikConfigInput};

/// The Comet Opik destination.
pub struct OpikDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for OpikDestination {
    type Config = OpikConfig;

    const TYPE_NAME: &'static str = "opik";
    const DISPLAY_NAME: &'static str = "Comet Opik";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<OpikConfigInput>()
    }

    fn validate(raw: &Value) -> Result<OpikConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: OpikConfig, context: &BuildContext) -> Self {
        OpikDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"api_key": "opik_example_key", "workspace": "acme", "project_name": "llm-gateway", "base_url": endpoint})
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

register_destination!(OpikDestination);
