//! W&B Weave destination.
//!
//! Sends traces with OTLP/HTTP protobuf (Weave takes no OTLP/JSON) to
//! `{base_url}/otel/v1/traces`, with the API key in `wandb-api-key`. The entity and project go
//! in the `wandb.entity` and `wandb.project` resource attributes, and in the older
//! `project_id: <entity>/<project>` header too. Spans carry OpenInference attributes, which
//! Weave reads. The connection test sends an empty export request.
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

pub use config::{WeaveConfig, WeaveConfigInput};

/// The W&B Weave destination.
pub struct WeaveDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for WeaveDestination {
    type Config = WeaveConfig;

    const TYPE_NAME: &'static str = "weave";
    const DISPLAY_NAME: &'static str = "W&B Weave";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<WeaveConfigInput>()
    }

    fn validate(raw: &Value) -> Result<WeaveConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: WeaveConfig, context: &BuildContext) -> Self {
        WeaveDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"api_key": "wandb-example-key", "entity": "acme", "project": "llm-gateway", "base_url": endpoint})
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

register_destination!(WeaveDestination);
