//! Elastic Observability destination.
//!
//! Sends traces as OTLP/JSON with GenAI attributes to the Elastic Cloud Managed OTLP
//! endpoint, `{endpoint}/v1/traces`, with `Authorization: ApiKey <key>`. APM Server and
//! Integrations Server do not take OTLP/HTTP JSON and are not supported. The connection test
//! sends an empty export request.
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

pub use config::{ElasticConfig, ElasticConfigInput};

/// The Elastic Observability destination.
pub struct ElasticDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for ElasticDestination {
    type Config = ElasticConfig;

    const TYPE_NAME: &'static str = "elastic";
    const DISPLAY_NAME: &'static str = "Elastic Observability";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<ElasticConfigInput>()
    }

    fn validate(raw: &Value) -> Result<ElasticConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: ElasticConfig, context: &BuildContext) -> Self {
        ElasticDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"endpoint": endpoint, "api_key": "ZWxhc3RpYy1leGFtcGxlLWtleQ=="})
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

register_destination!(ElasticDestination);
