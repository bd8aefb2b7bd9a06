//! Langfuse destination.
//!
//! Sends traces with OTLP/HTTP protobuf to `{base_url}/api/public/otel/v1/traces`, with Basic
//! auth (public key as user, secret key as password) and `x-langfuse-ingestion-version: 4`,
//! which Langfuse requires from direct OTLP senders for traces to show up in real time. Spans
//! carry GenAI attributes plus the older `gen_ai.prompt` and `gen_ai.completion`, which
//! Langfuse reads as observation input and output. A custom metadata key `environment` or
//! `release` also becomes `langfuse.environment` / `langfuse.release` on every span and on
//! the resource, which fills Langfuse's Environment filter and release field.
//!
//! The connection test calls `GET /api/public/projects`, which writes nothing.
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

pub use config::{LangfuseConfig, LangfuseConfigInput};

/// The Langfuse destination.
pub struct LangfuseDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for LangfuseDestination {
    type Config = LangfuseConfig;

    const TYPE_NAME: &'static str = "langfuse";
    const DISPLAY_NAME: &'static str = "Langfuse";
    const LIMITS: Limits = Limits { max_events_per_request: 100, max_request_bytes: 3_500_000, max_event_bytes: 3_000_000 };

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<LangfuseConfigInput>()
    }

    fn validate(raw: &Value) -> Result<LangfuseConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: LangfuseConfig, context: &BuildContext) -> Self {
        LangfuseDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"public_key": "pk-lf-example", "secret_key": "sk-lf-example-secret", "base_url": endpoint})
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        self.core.encode(trace, Self::LIMITS)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        config::test_projects(&self.core).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        self.core.export(events).await
    }

    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        broadcast_otlp::decode_request(body)
    }
}

register_destination!(LangfuseDestination);
