//! The span tree of one trace: a root span named by `trace_name`, an intermediate span when
//! `span_name` was given, and the generation span, all in one `ResourceSpans`.

use broadcast_core::{ExportTrace, Outcome};
use chrono::{DateTime, Utc};

use crate::attributes::{self, Attributes, Flavour};
use crate::ids::{id_from_text, parse_hex_id};
use crate::proto::{
    AnyValue, Event, InstrumentationScope, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Status,
    SPAN_KIND_CLIENT, SPAN_KIND_INTERNAL, STATUS_CODE_ERROR, STATUS_CODE_OK,
};
use crate::EncodeOptions;

/// Root span name when the caller gave no `trace_name`; the name OpenRouter's Broadcast shows
/// in Langfuse for unnamed traces.
pub const DEFAULT_TRACE_NAME: &str = "OpenRouter Request";
/// Generation span name when the caller gave no `generation_name`.
pub const DEFAULT_GENERATION_NAME: &str = "LLM Generation";
/// Instrumentation scope and default `service.name`.
pub const SCOPE_NAME: &str = "broadcast";

/// Builds the `ResourceSpans` of `trace`, before any size limit is applied.
pub fn resource_spans(trace: &ExportTrace, options: &EncodeOptions) -> ResourceSpans {
    let trace_id = id_from_text(&trace.ids.trace_id, 16);
    let parent = trace.ids.parent_span_id.as_deref().map(|given| id_from_text(given, 8));
    let root_id = span_id(&trace.ids.root_span_id);
    let middle_id = trace.ids.span_id.as_deref().map(span_id);
    let generation_id = span_id(&trace.ids.generation_span_id);

    let start = nanos(trace.timing.started_at);
    let end = nanos(trace.timing.ended_at).max(start);
    let mut shared = attributes::trace_level(trace, options.flavour);
    shared.0.extend(options.trace_attributes(trace));
    let (span_kind_key, generation_kind, chain_kind) = match (options.flavour, options.span_kind_attribute) {
        (_, Some((key, generation, chain))) => (Some(key), generation, chain),
        (Flavour::OpenInference, None) => (Some("openinference.span.kind"), "LLM", "CHAIN"),
        (Flavour::GenAi, None) => (None, "", ""),
    };

    let mut root_attributes = Attributes::default();
    if let Some(key) = span_kind_key {
        root_attributes.string(key, Some(chain_kind));
    }
    root_attributes.0.extend(shared.0.iter().cloned());
    if let Some(given) = trace_id.replaced.as_deref() {
        root_attributes.string("broadcast.trace.given_id", Some(given));
    }
    if let Some(given) = parent.as_ref().and_then(|parent| parent.replaced.as_deref()) {
        root_attributes.string("broadcast.parent_span.given_id", Some(given));
    }
    if !trace.timing.duration_known {
        root_attributes.push("broadcast.duration_known", AnyValue::bool(false));
    }
    if trace.content_redacted {
        root_attributes.push("broadcast.content_redacted", AnyValue::bool(true));
    }

    let trace_name = trace.names.trace_name.clone().unwrap_or_else(|| DEFAULT_TRACE_NAME.to_string());
    let failed = trace.status.outcome == Outcome::Error;
    let mut spans = vec![Span {
        trace_id: trace_id.bytes.clone(),
        span_id: root_id.clone(),
        parent_span_id: parent.map(|parent| parent.bytes).unwrap_or_default(),
        name: trace_name,
        kind: SPAN_KIND_INTERNAL,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: root_attributes.0,
        status: Some(status(trace, failed)),
        ..Span::default()
    }];

    let mut generation_parent = root_id.clone();
    if let (Some(middle_id), Some(name)) = (middle_id, trace.names.span_name.clone()) {
        let mut middle_attributes = Attributes::default();
        if let Some(key) = span_kind_key {
            middle_attributes.string(key, Some(chain_kind));
        }
        middle_attributes.0.extend(shared.0.iter().cloned());
        spans.push(Span {
            trace_id: trace_id.bytes.clone(),
            span_id: middle_id.clone(),
            parent_span_id: root_id,
            name,
            kind: SPAN_KIND_INTERNAL,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: middle_attributes.0,
            status: Some(status(trace, failed)),
            ..Span::default()
        });
        generation_parent = middle_id;
    }

    let mut generation_attributes = match options.flavour {
        Flavour::GenAi => attributes::gen_ai_generation(trace, options.legacy_names),
        Flavour::OpenInference => attributes::open_inference_generation(trace),
    };
    if let (Some(key), Flavour::GenAi) = (span_kind_key, options.flavour) {
        generation_attributes.string(key, Some(generation_kind));
    }
    generation_attributes.0.extend(shared.0);
    generation_attributes.0.extend(options.generation_attributes.iter().cloned());
    let generation_name = trace.names.generation_name.clone().unwrap_or_else(|| DEFAULT_GENERATION_NAME.to_string());
    spans.push(Span {
        trace_id: trace_id.bytes,
        span_id: generation_id,
        parent_span_id: generation_parent,
        name: generation_name,
        kind: SPAN_KIND_CLIENT,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: generation_attributes.0,
        events: exception_event(trace, end).into_iter().collect(),
        status: Some(status(trace, failed)),
        ..Span::default()
    });

    let mut resource_attributes = vec![
        KeyValue::new("service.name", AnyValue::string(options.service_name.clone())),
        KeyValue::new("service.version", AnyValue::string(env!("CARGO_PKG_VERSION"))),
    ];
    resource_attributes.extend(options.resource_attributes(trace));
    ResourceSpans {
        resource: Some(Resource { attributes: resource_attributes, dropped_attributes_count: 0 }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: SCOPE_NAME.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                ..InstrumentationScope::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// Returns the bytes of a span id derived at ingest (16 hex digits). An id in another form is
/// hashed, so that a trace built by hand still gets valid, stable ids.
fn span_id(text: &str) -> Vec<u8> {
    parse_hex_id(text, 8).unwrap_or_else(|| id_from_text(text, 8).bytes)
}

fn nanos(time: DateTime<Utc>) -> u64 {
    time.timestamp_nanos_opt().and_then(|nanos| u64::try_from(nanos).ok()).unwrap_or(0)
}

/// Span status: error with a short message on a failed request, ok otherwise. The provider's
/// error message is absent in privacy mode, so the message falls back to the error type.
fn status(trace: &ExportTrace, failed: bool) -> Status {
    if !failed {
        return Status { message: String::new(), code: STATUS_CODE_OK };
    }
    let message = trace
        .status
        .error_message
        .clone()
        .or_else(|| attributes::error_type(trace))
        .unwrap_or_default();
    Status { message, code: STATUS_CODE_ERROR }
}

/// Builds the `exception` event of a failed request: its type and, outside privacy mode, its
/// message.
fn exception_event(trace: &ExportTrace, time: u64) -> Option<Event> {
    if trace.status.outcome != Outcome::Error {
        return None;
    }
    let mut attributes = Attributes::default();
    let kind = trace.status.error_type.clone().or_else(|| attributes::error_type(trace));
    attributes.string("exception.type", kind.as_deref());
    attributes.string("exception.message", trace.status.error_message.as_deref());
    if let Some(code) = trace.status.http_status {
        attributes.int("http.response.status_code", Some(u64::from(code)));
    }
    Some(Event { time_unix_nano: time, name: "exception".to_string(), attributes: attributes.0, dropped_attributes_count: 0 })
}
