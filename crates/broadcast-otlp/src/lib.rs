//! Shared OTLP encoding and sending for the OpenTelemetry-based destinations.
//!
//! A trace becomes one `ResourceSpans`: a root span named by `trace_name`, an intermediate span
//! when `span_name` was given, and the generation span, nested under the caller's
//! `parent_span_id` when there is one ([`spans`]). Attributes follow the OpenTelemetry GenAI
//! conventions or, for Arize and Phoenix, OpenInference ([`attributes`]). Events are written as
//! protobuf or OTLP/JSON ([`encode`], [`otlp_json`]), packed into one request body with
//! optional gzip ([`request`]) and sent with the OTLP/HTTP retry rules ([`sender`]).
//!
//! A destination crate keeps an [`OtlpCore`], built from its own config, and delegates to it.

pub mod attributes;
pub mod config;
pub mod encode;
pub mod ids;
pub mod otlp_json;
pub mod proto;
pub mod request;
pub mod sender;
pub mod spans;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(test)]
mod tests;

use broadcast_core::{
    ConnectionError, EncodeError, EncodedEvent, ExportOutcome, ExportTrace, Limits,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub use attributes::Flavour;
pub use proto::{AnyValue, KeyValue};
pub use sender::{EmptyRequestPolicy, OtlpTarget};

/// Body encoding of an export request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `application/x-protobuf`.
    #[default]
    Protobuf,
    /// OTLP/JSON, `application/json`.
    Json,
}

/// Body compression of an export request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
}

/// Default limits of the OTLP destinations. The OTLP specification recommends that receivers
/// accept bodies up to 20 MiB. 4 MB per request stays inside that and inside the smaller caps
/// of hosted receivers (Langfuse documents 3.5 to 5 MB), and 3.5 MB per event keeps a trace
/// with a long conversation whole.
pub const DEFAULT_LIMITS: Limits = Limits {
    max_events_per_request: 100,
    max_request_bytes: 4_000_000,
    max_event_bytes: 3_500_000,
};

/// Adds receiver-specific attributes computed from the trace (Langfuse's `environment`).
pub type TraceAttributes = fn(&ExportTrace) -> Vec<KeyValue>;

/// Encoding choices of one destination: attribute flavour, wire format and limits.
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    pub flavour: Flavour,
    /// Also write the older GenAI names (`gen_ai.system`, `gen_ai.usage.prompt_tokens`,
    /// `gen_ai.prompt`, …) that some receivers still read.
    pub legacy_names: bool,
    pub encoding: Encoding,
    /// Maximum length of a string attribute value, in characters (New Relic: 4095). Longer
    /// values are cut with a marker.
    pub max_attribute_chars: Option<usize>,
    /// `service.name` of the resource.
    pub service_name: String,
    /// Resource attributes besides `service.name` and `service.version`.
    pub resource_attributes: Vec<KeyValue>,
    /// Attributes added to the generation span.
    pub generation_attributes: Vec<KeyValue>,
    /// A span-type attribute (key, value on the generation, value on the other spans), such as
    /// LangSmith's `langsmith.span.kind`. The OpenInference flavour always writes its own.
    pub span_kind_attribute: Option<(&'static str, &'static str, &'static str)>,
    /// Attributes computed from the trace, added to every span.
    pub trace_attributes: Option<TraceAttributes>,
    /// Resource attributes computed from the trace.
    pub trace_resource_attributes: Option<TraceAttributes>,
}

impl EncodeOptions {
    /// GenAI attributes, protobuf, no receiver-specific additions.
    pub fn gen_ai(encoding: Encoding) -> EncodeOptions {
        EncodeOptions {
            flavour: Flavour::GenAi,
            legacy_names: false,
            encoding,
            max_attribute_chars: None,
            service_name: spans::SCOPE_NAME.to_string(),
            resource_attributes: Vec::new(),
            generation_attributes: Vec::new(),
            span_kind_attribute: None,
            trace_attributes: None,
            trace_resource_attributes: None,
        }
    }

    /// OpenInference attributes for Arize and Phoenix.
    pub fn open_inference(encoding: Encoding) -> EncodeOptions {
        EncodeOptions { flavour: Flavour::OpenInference, ..EncodeOptions::gen_ai(encoding) }
    }

    pub(crate) fn trace_attributes(&self, trace: &ExportTrace) -> Vec<KeyValue> {
        self.trace_attributes.map(|build| build(trace)).unwrap_or_default()
    }

    pub(crate) fn resource_attributes(&self, trace: &ExportTrace) -> Vec<KeyValue> {
        let mut attributes = self.resource_attributes.clone();
        if let Some(build) = self.trace_resource_attributes {
            attributes.extend(build(trace));
        }
        attributes
    }
}

/// Shared state of an OTLP destination: target, encoding options and HTTP client.
#[derive(Debug, Clone)]
pub struct OtlpCore {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
    pub http: reqwest::Client,
}

impl OtlpCore {
    /// Encodes one trace within `limits.max_event_bytes`.
    ///
    /// # Errors
    /// [`EncodeError`] when the trace cannot be made small enough.
    pub fn encode(&self, trace: &ExportTrace, limits: Limits) -> Result<EncodedEvent, EncodeError> {
        encode::encode(trace, &self.options, limits.max_event_bytes)
    }

    /// Sends one request of `events` and classifies the response.
    pub async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        sender::export(&self.http, &self.target, events, &[]).await
    }

    /// Sends an empty export request, which writes nothing.
    ///
    /// # Errors
    /// [`ConnectionError`] classified from the response.
    pub async fn test_empty_export(&self) -> Result<(), ConnectionError> {
        sender::test_empty_export(&self.http, &self.target, &[], EmptyRequestPolicy::Strict).await
    }
}

/// Decodes a request body of any OTLP destination into its `ResourceSpans`, as OTLP/JSON.
///
/// # Errors
/// A message naming the layer that failed.
pub fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
    request::decode_request(body)
}

/// Returns the JSON Schema of a config type, with secret fields marked.
pub fn schema_of<T: JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}
