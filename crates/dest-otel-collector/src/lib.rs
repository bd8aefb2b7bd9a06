//! OpenTelemetry Collector destination.
//!
//! Sends traces with OTLP/HTTP to any OTLP receiver (an OpenTelemetry Collector, Jaeger,
//! Tempo, Honeycomb, Axiom, …): one `ResourceSpans` per trace with GenAI attributes, many
//! traces per request, protobuf by default or OTLP/JSON, optionally gzipped. Responses are
//! classified by the OTLP rules (429/502/503/504 retried, 413 split, others permanent). The
//! connection test sends an empty export request, which writes nothing.
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

pub use config::{OtelCollectorConfig, OtelCollectorConfigInput};

/// The OpenTelemetry Collector destination.
pub struct OtelCollectorDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for OtelCollectorDestination {
    type Config = OtelCollectorConfig;

    const TYPE_NAME: &'static str = "otel-collector";
    const DISPLAY_NAME: &'static str = "OpenTelemetry Collector";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<OtelCollectorConfigInput>()
    }

    fn validate(raw: &Value) -> Result<OtelCollectorConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: OtelCollectorConfig, context: &BuildContext) -> Self {
        OtelCollectorDestination { core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() } }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({
            "endpoint": format!("{}/v1/traces", endpoint.trim_end_matches('/')),
            "authorization": "Bearer example-collector-token",
            "headers": {"X-Dataset": "llm-traces"}
        })
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

register_destination!(OtelCollectorDestination);
