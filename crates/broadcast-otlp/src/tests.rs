//! Unit tests of the encoder on real corpus traces: span tree, ids, attributes, privacy,
//! both encodings, gzip and size limits.

use std::path::PathBuf;
use std::sync::Arc;

use broadcast_core::ingest::normalise;
use broadcast_core::{EncodedEvent, ExportTrace, PrivacyMode, Trace};
use prost::Message as _;
use serde_json::{json, Value};

use crate::proto::{any_value, ExportTraceServiceRequest, ResourceSpans, Span};
use crate::request::{compress, decode_request, request_body};
use crate::{encode, ids, spans, Compression, EncodeOptions, Encoding};

fn corpus_dir() -> PathBuf {
    std::env::var_os("BROADCAST_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/real"))
}

fn envelope(name: &str) -> Value {
    let path = corpus_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

fn trace_of(envelope: &Value) -> Trace {
    match normalise(envelope, chrono::Utc::now()) {
        Ok(normalised) => normalised.trace,
        Err(error) => panic!("envelope rejected: {error}"),
    }
}

fn every_corpus_trace() -> Vec<Trace> {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap_or_else(|error| panic!("cannot read the corpus at {}: {error}", corpus_dir().display()))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no corpus files");
    names.iter().map(|name| trace_of(&envelope(name))).collect()
}

/// Returns a corpus trace with a tool call and every special `trace` key, a user, a session
/// and custom metadata.
fn named_trace() -> Trace {
    let mut envelope = envelope("dd-trace-py-openai-003.json");
    envelope["user"] = json!("user-42");
    envelope["session_id"] = json!("session-7");
    envelope["trace"] = json!({
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "trace_name": "Checkout agent",
        "span_name": "Plan step",
        "generation_name": "Plan with model",
        "parent_span_id": "b7ad6b7169203331",
        "feature": "checkout",
        "tier": 3
    });
    trace_of(&envelope)
}

fn export(trace: &Trace, privacy: PrivacyMode) -> ExportTrace {
    privacy.apply(&Arc::new(trace.clone()))
}

fn build(trace: &Trace, options: &EncodeOptions) -> ResourceSpans {
    spans::resource_spans(&export(trace, PrivacyMode::Off), options)
}

fn spans_of(message: &ResourceSpans) -> &[Span] {
    &message.scope_spans[0].spans
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a any_value::Value> {
    span.attributes.iter().find(|pair| pair.key == key).and_then(|pair| pair.value.as_ref()?.value.as_ref())
}

fn string_attribute(span: &Span, key: &str) -> Option<String> {
    match attribute(span, key) {
        Some(any_value::Value::StringValue(text)) => Some(text.clone()),
        _ => None,
    }
}

fn int_attribute(span: &Span, key: &str) -> Option<i64> {
    match attribute(span, key) {
        Some(any_value::Value::IntValue(value)) => Some(*value),
        _ => None,
    }
}

#[test]
fn span_tree_uses_names_and_parent() {
    let trace = named_trace();
    let message = build(&trace, &EncodeOptions::gen_ai(Encoding::Protobuf));
    let spans = spans_of(&message);
    assert_eq!(spans.len(), 3);
    let (root, middle, generation) = (&spans[0], &spans[1], &spans[2]);
    assert_eq!(root.name, "Checkout agent");
    assert_eq!(middle.name, "Plan step");
    assert_eq!(generation.name, "Plan with model");
    assert_eq!(ids::to_hex(&root.trace_id), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(ids::to_hex(&root.parent_span_id), "b7ad6b7169203331");
    assert_eq!(middle.parent_span_id, root.span_id);
    assert_eq!(generation.parent_span_id, middle.span_id);
    assert!(spans.iter().all(|span| span.trace_id == root.trace_id));
    assert_eq!(ids::to_hex(&generation.span_id), trace.ids.generation_span_id);
    assert_eq!(generation.kind, crate::proto::SPAN_KIND_CLIENT);
}

#[test]
fn span_tree_defaults_without_names() {
    let trace = trace_of(&envelope("pydantic-ai-openai-001.json"));
    let message = build(&trace, &EncodeOptions::gen_ai(Encoding::Protobuf));
    let spans = spans_of(&message);
    assert_eq!(spans.len(), 2, "no intermediate span without span_name");
    assert_eq!(spans[0].name, spans::DEFAULT_TRACE_NAME);
    assert_eq!(spans[1].name, spans::DEFAULT_GENERATION_NAME);
    assert!(spans[0].parent_span_id.is_empty());
    assert_eq!(spans[1].parent_span_id, spans[0].span_id);
    assert_eq!(ids::to_hex(&spans[0].trace_id), trace.ids.trace_id);
}

#[test]
fn invalid_given_ids_derived_stably() {
    let mut envelope = envelope("pydantic-ai-openai-001.json");
    envelope["trace"] = json!({"trace_id": "order-1234", "parent_span_id": "not-hex"});
    let first = build(&trace_of(&envelope), &EncodeOptions::gen_ai(Encoding::Protobuf));
    let second = build(&trace_of(&envelope), &EncodeOptions::gen_ai(Encoding::Protobuf));
    let root = &spans_of(&first)[0];
    assert_eq!(root.trace_id.len(), 16);
    assert_eq!(root.parent_span_id.len(), 8);
    assert_eq!(root.trace_id, spans_of(&second)[0].trace_id, "derived trace id changed between runs");
    assert_eq!(root.parent_span_id, spans_of(&second)[0].parent_span_id);
    assert_eq!(string_attribute(root, "broadcast.trace.given_id").as_deref(), Some("order-1234"));
    assert_eq!(string_attribute(root, "broadcast.parent_span.given_id").as_deref(), Some("not-hex"));
}

#[test]
fn all_zero_trace_id_replaced() {
    assert!(ids::parse_hex_id(&"0".repeat(32), 16).is_none());
    let derived = ids::id_from_text(&"0".repeat(32), 16);
    assert!(derived.bytes.iter().any(|byte| *byte != 0));
    assert!(derived.replaced.is_some());
}

#[test]
fn gen_ai_attributes_on_generation() {
    let trace = named_trace();
    let message = build(&trace, &EncodeOptions::gen_ai(Encoding::Protobuf));
    let generation = &spans_of(&message)[2];
    assert_eq!(string_attribute(generation, "gen_ai.operation.name").as_deref(), Some("chat"));
    assert_eq!(string_attribute(generation, "gen_ai.request.model"), trace.model.requested);
    assert_eq!(string_attribute(generation, "gen_ai.response.model"), trace.model.served);
    assert_eq!(string_attribute(generation, "gen_ai.response.id"), trace.ids.response_id);
    assert_eq!(int_attribute(generation, "gen_ai.usage.input_tokens"), trace.usage.prompt_tokens.map(|tokens| tokens as i64));
    assert_eq!(int_attribute(generation, "gen_ai.usage.output_tokens"), trace.usage.completion_tokens.map(|tokens| tokens as i64));
    assert_eq!(string_attribute(generation, "user.id").as_deref(), Some("user-42"));
    assert_eq!(string_attribute(generation, "session.id").as_deref(), Some("session-7"));
    assert_eq!(string_attribute(generation, "gen_ai.conversation.id").as_deref(), Some("session-7"));
    assert_eq!(string_attribute(generation, "trace.metadata.feature").as_deref(), Some("checkout"));
    assert_eq!(int_attribute(generation, "trace.metadata.tier"), Some(3));
    let messages = string_attribute(generation, "gen_ai.input.messages").expect("input messages present");
    let messages: Value = serde_json::from_str(&messages).expect("input messages are JSON");
    assert!(messages[0]["role"].is_string(), "{messages}");
    assert!(messages[0]["parts"].is_array(), "{messages}");
    assert!(string_attribute(generation, "gen_ai.output.messages").is_some());
    assert!(string_attribute(generation, "gen_ai.prompt").is_none(), "legacy names are opt-in");
    // Trace-level attributes are on the root too, where receivers look for them.
    assert_eq!(string_attribute(&spans_of(&message)[0], "user.id").as_deref(), Some("user-42"));
}

#[test]
fn legacy_names_added_on_request() {
    let trace = named_trace();
    let options = EncodeOptions { legacy_names: true, ..EncodeOptions::gen_ai(Encoding::Protobuf) };
    let message = build(&trace, &options);
    let generation = &spans_of(&message)[2];
    assert_eq!(int_attribute(generation, "gen_ai.usage.prompt_tokens"), trace.usage.prompt_tokens.map(|tokens| tokens as i64));
    assert_eq!(string_attribute(generation, "gen_ai.system"), trace.model.provider);
    assert!(string_attribute(generation, "gen_ai.prompt").is_some());
    assert!(string_attribute(generation, "gen_ai.completion").is_some());
}

#[test]
fn open_inference_attributes() {
    let trace = named_trace();
    let message = build(&trace, &EncodeOptions::open_inference(Encoding::Protobuf));
    let spans = spans_of(&message);
    assert_eq!(string_attribute(&spans[0], "openinference.span.kind").as_deref(), Some("CHAIN"));
    let generation = &spans[2];
    assert_eq!(string_attribute(generation, "openinference.span.kind").as_deref(), Some("LLM"));
    assert_eq!(string_attribute(generation, "llm.model_name").as_deref(), trace.model.name());
    assert_eq!(int_attribute(generation, "llm.token_count.prompt"), trace.usage.prompt_tokens.map(|tokens| tokens as i64));
    assert!(string_attribute(generation, "llm.input_messages.0.message.role").is_some());
    assert!(string_attribute(generation, "input.value").is_some());
    let metadata = string_attribute(generation, "metadata").expect("metadata JSON string");
    assert_eq!(serde_json::from_str::<Value>(&metadata).ok(), Some(json!({"feature": "checkout", "tier": 3})));
    assert!(attribute(generation, "gen_ai.request.model").is_none());
}

#[test]
fn privacy_mode_leaves_no_content_attribute() {
    let trace = named_trace();
    for options in [
        EncodeOptions { legacy_names: true, ..EncodeOptions::gen_ai(Encoding::Json) },
        EncodeOptions::open_inference(Encoding::Json),
    ] {
        let private = spans::resource_spans(&export(&trace, PrivacyMode::On), &options);
        let open = spans::resource_spans(&export(&trace, PrivacyMode::Off), &options);
        let content_keys = |message: &ResourceSpans| -> Vec<String> {
            spans_of(message)
                .iter()
                .flat_map(|span| span.attributes.iter().map(|pair| pair.key.clone()))
                .filter(|key| !key.ends_with("_tokens"))
                .filter(|key| {
                    ["messages", "gen_ai.prompt", "gen_ai.completion", "input.value", "output.value", "system_instructions", "tool.definitions", "json_schema"]
                        .iter()
                        .any(|marker| key.contains(marker))
                })
                .collect()
        };
        assert!(!content_keys(&open).is_empty(), "control: {:?} writes content without privacy mode", options.flavour);
        assert_eq!(content_keys(&private), Vec::<String>::new(), "{:?}", options.flavour);
        // No attribute is an empty string standing in for removed content.
        for span in spans_of(&private) {
            for pair in &span.attributes {
                if let Some(any_value::Value::StringValue(text)) = pair.value.as_ref().and_then(|value| value.value.as_ref()) {
                    assert!(!text.is_empty(), "{} is an empty string", pair.key);
                    assert_ne!(text, "[]", "{} is an empty list", pair.key);
                }
            }
        }
    }
}

#[test]
fn error_trace_has_status_and_exception() {
    let trace = trace_of(&envelope("crewai-openai-001.json"));
    assert_eq!(trace.status.outcome, broadcast_core::Outcome::Error, "corpus file is a failed request");
    let message = build(&trace, &EncodeOptions::gen_ai(Encoding::Protobuf));
    let generation = spans_of(&message).last().expect("generation span");
    let status = generation.status.as_ref().expect("status set");
    assert_eq!(status.code, crate::proto::STATUS_CODE_ERROR);
    assert!(!status.message.is_empty());
    let event = generation.events.iter().find(|event| event.name == "exception").expect("exception event");
    assert!(event.attributes.iter().any(|pair| pair.key == "exception.type"));
    assert!(string_attribute(generation, "error.type").is_some());
    let root_status = spans_of(&message)[0].status.as_ref().map(|status| status.code);
    assert_eq!(root_status, Some(crate::proto::STATUS_CODE_ERROR));
}

fn encode_all(traces: &[Trace], encoding: Encoding) -> Vec<EncodedEvent> {
    let options = EncodeOptions::gen_ai(encoding);
    traces
        .iter()
        .map(|trace| encode::encode(&export(trace, PrivacyMode::Off), &options, crate::DEFAULT_LIMITS.max_event_bytes).expect("encodes"))
        .collect()
}

#[test]
fn protobuf_and_json_decode_alike() {
    let traces = every_corpus_trace();
    let protobuf = encode_all(&traces, Encoding::Protobuf);
    let json_events = encode_all(&traces, Encoding::Json);
    let from_protobuf = decode_request(&request_body(&protobuf, Encoding::Protobuf)).expect("protobuf body decodes");
    let from_json = decode_request(&request_body(&json_events, Encoding::Json)).expect("JSON body decodes");
    assert_eq!(from_protobuf.len(), protobuf.len());
    assert_eq!(from_protobuf, from_json, "the two encodings carry different spans");
    let request = ExportTraceServiceRequest::decode(request_body(&protobuf, Encoding::Protobuf).as_slice()).expect("prost decodes");
    assert_eq!(request.resource_spans.len(), protobuf.len());
}

#[test]
fn json_follows_otlp_mapping() {
    let trace = named_trace();
    let event = encode::encode(&export(&trace, PrivacyMode::Off), &EncodeOptions::gen_ai(Encoding::Json), 1_000_000).expect("encodes");
    let value: Value = serde_json::from_slice(&event.bytes).expect("event is JSON");
    let span = &value["scopeSpans"][0]["spans"][2];
    assert_eq!(span["traceId"], json!("0af7651916cd43dd8448eb211c80319c"));
    assert_eq!(span["spanId"].as_str().map(str::len), Some(16));
    assert_eq!(span["kind"], json!(3));
    assert!(span["startTimeUnixNano"].is_string(), "64-bit integers are strings: {span}");
    let tokens = span["attributes"].as_array().and_then(|attributes| {
        attributes.iter().find(|pair| pair["key"] == "gen_ai.usage.input_tokens").map(|pair| pair["value"].clone())
    });
    assert!(tokens.is_some_and(|value| value["intValue"].is_string()));
}

#[test]
fn gzip_body_decodes() {
    let events = encode_all(&every_corpus_trace(), Encoding::Protobuf);
    let body = request_body(&events[..5], Encoding::Protobuf);
    let gzipped = compress(body.clone(), Compression::Gzip).expect("gzip");
    assert!(gzipped.len() < body.len());
    assert_eq!(decode_request(&gzipped).expect("gzip body decodes"), decode_request(&body).expect("body decodes"));
}

#[test]
fn encoding_is_deterministic() {
    let trace = named_trace();
    let options = EncodeOptions::gen_ai(Encoding::Protobuf);
    let first = encode::encode(&export(&trace, PrivacyMode::Off), &options, 1_000_000).expect("encodes");
    let second = encode::encode(&export(&trace, PrivacyMode::Off), &options, 1_000_000).expect("encodes");
    assert_eq!(first.bytes, second.bytes);
}

#[test]
fn attribute_cap_marks_truncation() {
    let mut trace = named_trace();
    trace.output.text = Some("x".repeat(10_000));
    let options = EncodeOptions { max_attribute_chars: Some(4095), ..EncodeOptions::gen_ai(Encoding::Json) };
    let event = encode::encode(&export(&trace, PrivacyMode::Off), &options, 1_000_000).expect("encodes");
    assert!(event.truncated);
    let value: Value = serde_json::from_slice(&event.bytes).expect("event is JSON");
    let spans = value["scopeSpans"][0]["spans"].as_array().cloned().unwrap_or_default();
    for span in &spans {
        for pair in span["attributes"].as_array().into_iter().flatten() {
            if let Some(text) = pair["value"]["stringValue"].as_str() {
                assert!(text.chars().count() <= 4095, "{} has {} characters", pair["key"], text.chars().count());
            }
        }
    }
    let output = spans[2]["attributes"]
        .as_array()
        .and_then(|attributes| attributes.iter().find(|pair| pair["key"] == "gen_ai.output.messages"))
        .and_then(|pair| pair["value"]["stringValue"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(output.ends_with(broadcast_core::text::TRUNCATION_MARKER), "cut value is not marked");
    assert!(spans[2]["attributes"].as_array().is_some_and(|attributes| attributes.iter().any(|pair| pair["key"] == "broadcast.truncated")));
}

#[test]
fn event_shrunk_to_limit() {
    let mut trace = named_trace();
    trace.output.text = Some("é".repeat(400_000));
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let event = encode::encode(&export(&trace, PrivacyMode::Off), &EncodeOptions::gen_ai(encoding), 200_000).expect("encodes");
        assert!(event.truncated);
        assert!(event.bytes.len() <= 200_000, "{encoding:?}: {} bytes", event.bytes.len());
        let decoded = decode_request(&request_body(&[event], encoding)).expect("decodes");
        let json_size = serde_json::to_vec(&decoded[0]).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
        assert!(json_size <= 200_000, "{encoding:?}: JSON form is {json_size} bytes");
    }
}

#[test]
fn empty_body_is_no_events() {
    assert_eq!(decode_request(b"").expect("empty decodes"), Vec::<Value>::new());
    assert_eq!(decode_request(br#"{"resourceSpans":[]}"#).expect("empty JSON decodes"), Vec::<Value>::new());
    assert!(decode_request(b"\x0a\xff\xff").is_err(), "a truncated protobuf must not pass as empty");
}

#[test]
fn partial_success_read_from_both_encodings() {
    let json_body = br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"bad span"}}"#;
    assert_eq!(crate::sender::partial_success(json_body, true), Some((2, "bad span".to_string())));
    let protobuf_body = crate::proto::ExportTraceServiceResponse {
        partial_success: Some(crate::proto::ExportTracePartialSuccess { rejected_spans: 1, error_message: "x".into() }),
    }
    .encode_to_vec();
    assert_eq!(crate::sender::partial_success(&protobuf_body, false), Some((1, "x".to_string())));
    assert_eq!(crate::sender::partial_success(b"{}", true), None);
}

#[test]
fn otlp_status_classes() {
    let now = chrono::Utc::now();
    let classify = |status| crate::sender::classify_otlp_status(status, Some("3"), b"", now);
    assert_eq!(classify(200), broadcast_core::ExportOutcome::Delivered);
    assert!(matches!(classify(413), broadcast_core::ExportOutcome::TooLarge { .. }));
    for retried in [429, 502, 503, 504] {
        assert!(
            matches!(classify(retried), broadcast_core::ExportOutcome::Retry { after: Some(after), .. } if after.as_secs() == 3),
            "{retried} must be retried after 3 s"
        );
    }
    for permanent in [400, 401, 403, 404, 500, 501] {
        assert!(matches!(classify(permanent), broadcast_core::ExportOutcome::Permanent { .. }), "{permanent} must not be retried");
    }
}

