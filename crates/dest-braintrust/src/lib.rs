//! Braintrust destination.
//!
//! Sends traces with OTLP/HTTP protobuf to `{base_url}/otel/v1/traces` with
//! `Authorization: Bearer <api key>` and `x-bt-parent: project_id:<id>`, which files the spans
//! under the project. Spans carry GenAI attributes with user, session and custom metadata.
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

pub use config::{BraintrustConfig, BraintrustConfigInput};

/// The Braintrust destination.
pub struct BraintrustDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for BraintrustDestination {
    type Config = BraintrustConfig;

    const TYPE_NAME: &'static str = "braintrust";
    const DISPLAY_NAME: &'static str = "Braintrust";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<BraintrustConfigInput>()
    }

    fn validate(raw: &Value) -> Result<BraintrustConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: BraintrustConfig, context: &BuildContext) -> Self {
        BraintrustDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"api_key": "sk-bt-example", "project_id": "4f8a0c1e-proj", "base_url": endpoint})
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

register_destination!(BraintrustDestination);
