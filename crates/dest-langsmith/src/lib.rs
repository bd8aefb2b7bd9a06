//! LangSmith destination.
//!
//! Sends traces with OTLP/HTTP protobuf to `{endpoint}/otel/v1/traces` with `x-api-key`, the
//! project in `Langsmith-Project` and, for organisation-scoped keys, the workspace in
//! `x-tenant-id`. Spans carry GenAI attributes plus the older `gen_ai.prompt`,
//! `gen_ai.completion` and `gen_ai.system`, which LangSmith reads, and `langsmith.span.kind`:
//! `llm` on the generation, `chain` on the trace and intermediate spans (LangSmith's run
//! types). A failed request carries an `exception` event. The connection test sends an empty
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

pub use config::{LangsmithConfig, LangsmithConfigInput};

/// The LangSmith destination.
pub struct LangsmithDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for LangsmithDestination {
    type Config = LangsmithConfig;

    const TYPE_NAME: &'static str = "langsmith";
    const DISPLAY_NAME: &'static str = "LangSmith";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<LangsmithConfigInput>()
    }

    fn validate(raw: &Value) -> Result<LangsmithConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: LangsmithConfig, context: &BuildContext) -> Self {
        LangsmithDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"api_key": "lsv2_pt_example", "project": "llm-gateway", "workspace_id": "ws-1234", "endpoint": endpoint})
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

register_destination!(LangsmithDestination);
