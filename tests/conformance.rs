//! The destination conformance suite.
//!
//! Every scenario loops over every registered destination type, found through the registry,
//! and drives it through the real delivery engine against a scripted local endpoint. A new
//! `dest-*` crate that is linked by `destinations-all` runs all of it without test code of
//! its own.

use std::time::Duration;

use broadcast_core::{
    ConnectionErrorKind, ContentPart, DestinationDescriptor, PrivacyMode, Role, ToolCall, Trace,
};
use broadcast_tests::{
    corpus_traces, fast_settings, registry, spec_for, start_engine, wait_until_idle,
    CapturedRequest, FakeEndpoint, ScriptedResponse,
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);
const CANARY: &str = "CANARY-PROMPT-51f0e2";

fn descriptors() -> Vec<&'static DestinationDescriptor> {
    let registry = registry();
    assert!(!registry.is_empty(), "no destination registered");
    registry.iter().collect()
}

/// Events in one captured request, decoded by the destination itself.
fn events_in(descriptor: &DestinationDescriptor, request: &CapturedRequest) -> Vec<Value> {
    (descriptor.decode_request)(&request.body).unwrap_or_else(|error| {
        panic!("{}: request to {} is not in its own format: {error}", descriptor.type_name, request.path)
    })
}

fn assert_within_limits(descriptor: &DestinationDescriptor, requests: &[CapturedRequest]) {
    let limits = descriptor.limits;
    for request in requests {
        assert!(
            request.body.len() <= limits.max_request_bytes,
            "{}: request of {} bytes over the declared {}",
            descriptor.type_name,
            request.body.len(),
            limits.max_request_bytes
        );
        let events = events_in(descriptor, request);
        assert!(
            events.len() <= limits.max_events_per_request,
            "{}: request with {} events over the declared {}",
            descriptor.type_name,
            events.len(),
            limits.max_events_per_request
        );
        for event in events {
            let size = serde_json::to_vec(&event).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
            assert!(
                size <= limits.max_event_bytes,
                "{}: event of {size} bytes over the declared {}",
                descriptor.type_name,
                limits.max_event_bytes
            );
        }
    }
}

/// Values of the config keys the schema marks as secret.
fn secret_values(descriptor: &DestinationDescriptor, config: &Value) -> Vec<String> {
    broadcast_core::secret::secret_values(&(descriptor.config_schema)(), config)
}

#[tokio::test]
async fn registry_lists_raindrop() {
    let names: Vec<&str> = descriptors().iter().map(|descriptor| descriptor.type_name).collect();
    assert!(names.contains(&"raindrop"), "registered: {names:?}");
}

#[tokio::test]
async fn example_config_validates() {
    for descriptor in descriptors() {
        let config = (descriptor.example_config)("http://127.0.0.1:9");
        if let Err(error) = (descriptor.validate)(&config) {
            panic!("{}: example config invalid: {error}", descriptor.type_name);
        }
        let schema = (descriptor.config_schema)();
        assert!(
            schema.get("properties").is_some_and(Value::is_object),
            "{}: config schema has no properties: {schema}",
            descriptor.type_name
        );
        assert!(
            !secret_values(descriptor, &config).is_empty(),
            "{}: no config key is marked \"x-secret\"",
            descriptor.type_name
        );
    }
}

#[tokio::test]
async fn test_connection_passes_on_success() {
    for descriptor in descriptors() {
        let endpoint = FakeEndpoint::start(ScriptedResponse::status(200)).await;
        let config = (descriptor.example_config)(&endpoint.url());
        let destination = (descriptor.build)(&config, &broadcast_core::BuildContext::with_timeout(Duration::from_secs(5)))
            .unwrap_or_else(|error| panic!("{}: cannot build: {error}", descriptor.type_name));
        if let Err(error) = destination.test_connection().await {
            panic!("{}: test_connection failed against a 200 answer: {error}", descriptor.type_name);
        }
        let requests = endpoint.requests();
        assert!(!requests.is_empty(), "{}: test_connection sent no request", descriptor.type_name);
        for request in &requests {
            let events = (descriptor.decode_request)(&request.body).unwrap_or_default();
            assert!(
                events.is_empty(),
                "{}: test_connection wrote {} events to {}",
                descriptor.type_name,
                events.len(),
                request.path
            );
        }
    }
}

#[tokio::test]
async fn test_connection_reports_bad_key() {
    for descriptor in descriptors() {
        let endpoint = FakeEndpoint::start(ScriptedResponse::status(401)).await;
        let config = (descriptor.example_config)(&endpoint.url());
        let destination = (descriptor.build)(&config, &broadcast_core::BuildContext::with_timeout(Duration::from_secs(5)))
            .unwrap_or_else(|error| panic!("{}: cannot build: {error}", descriptor.type_name));
        let Err(error) = destination.test_connection().await else {
            panic!("{}: test_connection passed against a 401 answer", descriptor.type_name);
        };
        assert_eq!(error.kind, ConnectionErrorKind::Unauthorized, "{}: {error}", descriptor.type_name);
        assert!(error.message.contains("401"), "{}: message lacks the status: {error}", descriptor.type_name);
        for secret in secret_values(descriptor, &config) {
            assert!(!error.message.contains(&secret), "{}: message shows a secret", descriptor.type_name);
        }
    }
}

#[tokio::test]
async fn every_corpus_trace_exports() {
    let registry = registry();
    let traces = corpus_traces();
    for descriptor in descriptors() {
        let endpoint = FakeEndpoint::start(ScriptedResponse::status(200)).await;
        let spec = spec_for(&registry, descriptor.type_name, "corpus", &endpoint, PrivacyMode::Off);
        let engine = start_engine(&registry, vec![spec], fast_settings());
        engine.ingest(traces.clone()).await.expect("traces queued");
        wait_until_idle(&engine, WAIT).await;

        let stats = engine.status()[0].stats.clone();
        assert_eq!(stats.delivered, traces.len() as u64, "{}: {stats:?}", descriptor.type_name);
        assert_eq!(stats.failed, 0, "{}: {stats:?}", descriptor.type_name);
        let requests = endpoint.requests();
        let events: usize = requests.iter().map(|request| events_in(descriptor, request).len()).sum();
        assert_eq!(events, traces.len(), "{}: one event per trace", descriptor.type_name);
        assert_within_limits(descriptor, &requests);
        engine.shutdown(None).await;
    }
}

#[tokio::test]
async fn server_error_retried_same_body() {
    let registry = registry();
    let trace = corpus_traces().remove(0);
    for descriptor in descriptors() {
        let endpoint = FakeEndpoint::start(ScriptedResponse::status(200)).await;
        endpoint.script([ScriptedResponse::status(503)]);
        let spec = spec_for(&registry, descriptor.type_name, "retry", &endpoint, PrivacyMode::Off);
        let engine = start_engine(&registry, vec![spec], fast_settings());
        engine.ingest(vec![trace.clone()]).await.expect("trace queued");
        wait_until_idle(&engine, WAIT).await;

        let requests = endpoint.requests();
        assert_eq!(requests.len(), 2, "{}: expected one retry", descriptor.type_name);
        assert_eq!(requests[0].answered, 503);
        assert_eq!(requests[1].body_text(), requests[0].body_text(), "{}: retry changed the body (and its event ids)", descriptor.type_name);
        let stats = engine.status()[0].stats.clone();
        assert_eq!((stats.delivered, stats.retried, stats.failed), (1, 1, 0), "{}", descriptor.type_name);
        engine.shutdown(None).await;
    }
}

#[tokio::test]
async fn bad_request_not_retried() {
    let registry = registry();
    let traces: Vec<Trace> = corpus_traces().into_iter().take(3).collect();
    for descriptor in descriptors() {
        let endpoint = FakeEndpoint::start(ScriptedResponse::status(400)).await;
        let spec = spec_for(&registry, descriptor.type_name, "reject", &endpoint, PrivacyMode::Off);
        let engine = start_engine(&registry, vec![spec], fast_settings());
        engine.ingest(traces.clone()).await.expect("traces queued");
        wait_until_idle(&engine, WAIT).await;

        let requests = endpoint.requests();
        let events: usize = requests.iter().map(|request| events_in(descriptor, request).len()).sum();
        assert_eq!(events, traces.len(), "{}: each event sent once, never again", descriptor.type_name);
        let stats = engine.status()[0].stats.clone();
        assert_eq!((stats.delivered, stats.retried, stats.failed), (0, 0, 3), "{}", descriptor.type_name);
        let failed = engine.queue().failed("test/reject", 0, 10).await.expect("failed list readable");
        assert_eq!(failed.len(), 3);
        assert!(failed[0].reason.contains("HTTP 400"), "{}: reason {:?}", descriptor.type_name, failed[0].reason);
        engine.shutdown(None).await;
    }
}

#[tokio::test]
async fn retry_after_pauses_only_that_destination() {
    let registry = registry();
    let trace = corpus_traces().remove(1);
    for descriptor in descriptors() {
        let throttled = FakeEndpoint::start(ScriptedResponse::status(200)).await;
        throttled.script([ScriptedResponse::status(429).with_header("Retry-After", "1")]);
        let healthy = FakeEndpoint::start(ScriptedResponse::status(200)).await;
        let specs = vec![
            spec_for(&registry, descriptor.type_name, "throttled", &throttled, PrivacyMode::Off),
            spec_for(&registry, descriptor.type_name, "healthy", &healthy, PrivacyMode::Off),
        ];
        let engine = start_engine(&registry, specs, fast_settings());
        engine.ingest(vec![trace.clone()]).await.expect("trace queued");
        wait_until_idle(&engine, WAIT).await;

        let throttled_requests = throttled.requests();
        let healthy_requests = healthy.requests();
        assert_eq!(throttled_requests.len(), 2, "{}", descriptor.type_name);
        assert_eq!(healthy_requests.len(), 1, "{}", descriptor.type_name);
        let pause = throttled_requests[1].received_at - throttled_requests[0].received_at;
        assert!(pause >= Duration::from_secs(1), "{}: retried after {pause:?}, before Retry-After", descriptor.type_name);
        assert!(
            healthy_requests[0].received_at < throttled_requests[1].received_at,
            "{}: the healthy destination waited for the throttled one",
            descriptor.type_name
        );
        assert_eq!(throttled_requests[1].body_text(), throttled_requests[0].body_text(), "{}", descriptor.type_name);
        engine.shutdown(None).await;
    }
}

#[tokio::test]
async fn too_large_splits_to_single_events() {
    let registry = registry();
    let traces: Vec<Trace> = corpus_traces().into_iter().take(8).collect();
    for descriptor in descriptors() {
        let endpoint = FakeEndpoint::start(ScriptedResponse::status(200)).await;
        let decode = descriptor.decode_request;
        endpoint.set_responder(std::sync::Arc::new(move |request| {
            let events = decode(&request.body).map(|events| events.len()).unwrap_or(0);
            (events > 1).then(|| ScriptedResponse::status(413))
        }));
        let spec = spec_for(&registry, descriptor.type_name, "split", &endpoint, PrivacyMode::Off);
        let engine = start_engine(&registry, vec![spec], fast_settings());
        engine.ingest(traces.clone()).await.expect("traces queued");
        wait_until_idle(&engine, WAIT).await;

        let stats = engine.status()[0].stats.clone();
        assert_eq!(stats.delivered, traces.len() as u64, "{}: {stats:?}", descriptor.type_name);
        let requests = endpoint.requests();
        assert!(
            requests.len() < 2 * traces.len(),
            "{}: {} requests for {} events; splitting should take fewer than twice as many",
            descriptor.type_name,
            requests.len(),
            traces.len()
        );
        for request in requests.iter().filter(|request| request.answered == 200) {
            assert_eq!(events_in(descriptor, request).len(), 1, "{}", descriptor.type_name);
        }
        engine.shutdown(None).await;
    }
}

#[tokio::test]
async fn too_large_single_event_fails_once() {
    let registry = registry();
    let trace = corpus_traces().remove(2);
    for descriptor in descriptors() {
        let endpoint = FakeEndpoint::start(ScriptedResponse::status(413)).await;
        let spec = spec_for(&registry, descriptor.type_name, "huge", &endpoint, PrivacyMode::Off);
        let engine = start_engine(&registry, vec![spec], fast_settings());
        engine.ingest(vec![trace.clone()]).await.expect("trace queued");
        wait_until_idle(&engine, WAIT).await;

        assert_eq!(endpoint.requests().len(), 1, "{}: a lone event must not be re-sent", descriptor.type_name);
        let stats = engine.status()[0].stats.clone();
        assert_eq!((stats.delivered, stats.failed), (0, 1), "{}", descriptor.type_name);
        let failed = engine.queue().failed("test/huge", 0, 10).await.expect("failed list readable");
        assert!(failed[0].reason.contains("too large"), "{}: {:?}", descriptor.type_name, failed[0].reason);
        engine.shutdown(None).await;
    }
}

/// A corpus trace with the canary in every content field and in a metadata copy.
fn canary_trace() -> Trace {
    let mut trace = corpus_traces()
        .into_iter()
        .find(|trace| !trace.output.tool_calls.is_empty())
        .expect("the corpus has a trace with tool calls");
    let canary_part = ContentPart::Text { text: format!("please {CANARY} now") };
    trace.input.system.push(canary_part.clone());
    if let Some(message) = trace.input.messages.iter_mut().rev().find(|message| message.role == Role::User) {
        message.content.push(canary_part);
    }
    trace.output.text = Some(format!("answer {CANARY}"));
    trace.output.reasoning = Some(format!("thinking {CANARY}"));
    trace.output.tool_calls.push(ToolCall {
        id: Some("call_canary".into()),
        name: "lookup".into(),
        arguments: Some(format!("{{\"q\":\"{CANARY}\"}}")),
    });
    trace.status.error_message = Some(format!("echo: {CANARY}"));
    trace.metadata.insert("prompt_copy".into(), Value::String(format!("user said {CANARY}")));
    trace
}

#[tokio::test]
async fn privacy_mode_never_sends_canary() {
    let registry = registry();
    let trace = canary_trace();
    for descriptor in descriptors() {
        let private = FakeEndpoint::start(ScriptedResponse::status(200)).await;
        let open = FakeEndpoint::start(ScriptedResponse::status(200)).await;
        let specs = vec![
            spec_for(&registry, descriptor.type_name, "private", &private, PrivacyMode::On),
            spec_for(&registry, descriptor.type_name, "open", &open, PrivacyMode::Off),
        ];
        let engine = start_engine(&registry, specs, fast_settings());
        engine.ingest(vec![trace.clone()]).await.expect("trace queued");
        wait_until_idle(&engine, WAIT).await;

        let private_requests = private.requests();
        assert!(!private_requests.is_empty(), "{}: privacy destination got nothing", descriptor.type_name);
        for request in &private_requests {
            assert!(!request.body_text().contains(CANARY), "{}: canary leaked in privacy mode", descriptor.type_name);
        }
        // The control: without privacy mode the same trace does carry the canary, so the check
        // above can fail.
        let open_bodies: String = open.requests().iter().map(CapturedRequest::body_text).collect();
        assert!(open_bodies.contains(CANARY), "{}: control destination lacks the canary", descriptor.type_name);
        engine.shutdown(None).await;
    }
}

#[tokio::test]
async fn resend_keeps_event_ids() {
    let registry = registry();
    let (_, mut envelope) = broadcast_tests::corpus().remove(3);
    // Explicit times, so that nothing in the event depends on when it was ingested.
    envelope["started_at"] = Value::from("2026-03-01T10:00:00.000Z");
    envelope["ended_at"] = Value::from("2026-03-01T10:00:01.250Z");
    for descriptor in descriptors() {
        let endpoint = FakeEndpoint::start(ScriptedResponse::status(200)).await;
        let spec = spec_for(&registry, descriptor.type_name, "resend", &endpoint, PrivacyMode::Off);
        let engine = start_engine(&registry, vec![spec], fast_settings());
        // The same envelope ingested twice, as a client re-sending it would.
        for _ in 0..2 {
            let trace = broadcast_tests::trace_of(&envelope);
            engine.ingest(vec![trace]).await.expect("trace queued");
            wait_until_idle(&engine, WAIT).await;
        }
        let requests = endpoint.requests();
        assert_eq!(requests.len(), 2, "{}", descriptor.type_name);
        assert_eq!(requests[0].body_text(), requests[1].body_text(), "{}: re-send changed the event", descriptor.type_name);
        engine.shutdown(None).await;
    }
}

#[tokio::test]
async fn large_events_shrunk_and_packed() {
    let registry = registry();
    let base = corpus_traces().remove(0);
    for descriptor in descriptors() {
        let limits = descriptor.limits;
        let mut traces = Vec::new();
        // Three events that fit alone but not together, and one far over the event limit.
        for (index, size) in [limits.max_event_bytes * 6 / 10, limits.max_event_bytes * 6 / 10, limits.max_event_bytes * 6 / 10, limits.max_event_bytes * 3]
            .into_iter()
            .enumerate()
        {
            let mut trace = base.clone();
            trace.ids.generation_id = format!("00000000-0000-4000-8000-00000000000{index}");
            let text = "é".repeat(size / 2);
            if let Some(message) = trace.input.messages.iter_mut().rev().find(|message| message.role == Role::User) {
                message.content = vec![ContentPart::Text { text }];
            }
            traces.push(trace);
        }
        let endpoint = FakeEndpoint::start(ScriptedResponse::status(200)).await;
        let spec = spec_for(&registry, descriptor.type_name, "large", &endpoint, PrivacyMode::Off);
        let engine = start_engine(&registry, vec![spec], fast_settings());
        engine.ingest(traces.clone()).await.expect("traces queued");
        wait_until_idle(&engine, WAIT).await;

        let stats = engine.status()[0].stats.clone();
        assert_eq!(stats.delivered, 4, "{}: {stats:?}", descriptor.type_name);
        assert!(stats.truncated >= 1, "{}: the oversized event was not marked truncated", descriptor.type_name);
        let requests = endpoint.requests();
        // Packing is checked through the limits: events that stay large cannot share a request
        // without passing the declared request size.
        assert_within_limits(descriptor, &requests);
        engine.shutdown(None).await;
    }
}
