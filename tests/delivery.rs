//! Delivery engine behaviour on the field cases: isolation of a slow destination, draining at
//! shutdown, identical ids after a timeout, both `Retry-After` forms, and session sampling.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use broadcast_core::{PrivacyMode, Trace};
use broadcast_engine::{is_sampled, DeliverySettings};
use broadcast_tests::{
    fast_settings, registry, spec_for, start_engine, trace_of, wait_for, wait_until_idle,
    FakeEndpoint, ScriptedResponse,
};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// The template trace of the field cases, with its own trace id.
fn template(trace_id: &str) -> Trace {
    trace_of(&json!({
        "trace_id": trace_id,
        "user_id": "user-0001",
        "session_id": "sess-0001",
        "provider": "openai",
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Batch item"}]},
        "response": {"id": format!("chatcmpl-{trace_id}"), "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9}},
        "cost_usd": 0.0000018, "latency_ms": 300, "finish_reason": "stop", "metadata": {}
    }))
}

fn event_ids(endpoint: &FakeEndpoint) -> Vec<String> {
    endpoint
        .requests()
        .iter()
        .filter_map(|request| serde_json::from_slice::<Value>(&request.body).ok())
        .filter_map(|body| body.as_array().cloned())
        .flatten()
        .filter_map(|event| event["event_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn slow_destination_isolated() {
    let registry = registry();
    let slow = FakeEndpoint::start(ScriptedResponse::status(200).with_delay(Duration::from_secs(60))).await;
    let fast = FakeEndpoint::start(ScriptedResponse::status(200).with_delay(Duration::from_millis(10))).await;
    let specs = vec![
        spec_for(&registry, "raindrop", "slow", &slow, PrivacyMode::Off),
        spec_for(&registry, "raindrop", "fast", &fast, PrivacyMode::Off),
    ];
    let settings = DeliverySettings {
        request_timeout: Duration::from_secs(5),
        ..fast_settings()
    };
    let engine = start_engine(&registry, specs, settings);

    let traces: Vec<Trace> = (1..=20).map(|index| template(&format!("trc-fc20-{index:02}"))).collect();
    let ingest_started = Instant::now();
    engine.ingest(traces).await.expect("traces queued");
    let ingest_time = ingest_started.elapsed();

    wait_for("the fast destination to get all 20 traces", WAIT, || event_ids(&fast).len() == 20).await;
    let fast_done = ingest_started.elapsed();
    // Ordering, not speed: the fast destination finished before the slow one's request could
    // even time out, so it never waited for it.
    assert!(fast_done < Duration::from_secs(5), "fast destination took {fast_done:?}, as long as the slow one's timeout");
    assert!(ingest_time < Duration::from_secs(5), "ingest waited for delivery ({ingest_time:?})");
    let slow_stats = engine.status().into_iter().find(|status| status.name == "slow").map(|status| status.stats);
    assert_eq!(slow_stats.map(|stats| stats.delivered), Some(0));
    engine.shutdown(Some(Duration::from_millis(100))).await;
}

#[tokio::test]
async fn shutdown_drains_queue() {
    let registry = registry();
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(200).with_delay(Duration::from_millis(200))).await;
    let spec = spec_for(&registry, "raindrop", "drain", &endpoint, PrivacyMode::Off);
    let engine = start_engine(&registry, vec![spec], fast_settings());
    let traces: Vec<Trace> = (1..=50).map(|index| template(&format!("trc-fc19-{index:03}"))).collect();
    engine.ingest(traces).await.expect("traces queued");

    let report = engine.shutdown(Some(Duration::from_secs(10))).await;
    assert!(report.pending.is_empty(), "left behind: {:?}", report.pending);
    let ids: HashSet<String> = event_ids(&endpoint).into_iter().collect();
    assert_eq!(ids.len(), 50, "every trace delivered once before shutdown returned");
}

#[tokio::test]
async fn short_grace_accounts_for_every_trace() {
    let registry = registry();
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(200).with_delay(Duration::from_millis(200))).await;
    let spec = spec_for(&registry, "raindrop", "short", &endpoint, PrivacyMode::Off);
    let engine = start_engine(&registry, vec![spec], fast_settings());
    for index in 1..=50 {
        engine.ingest(vec![template(&format!("trc-fc19-{index:03}"))]).await.expect("trace queued");
    }
    let grace = Duration::from_millis(100);
    let started = Instant::now();
    let report = engine.shutdown(Some(grace)).await;
    let took = started.elapsed();
    assert!(took < grace + Duration::from_secs(2), "shutdown took {took:?} with a {grace:?} grace");

    let delivered: u64 = report.status.iter().map(|status| status.stats.delivered).sum();
    let pending: u64 = report.pending.iter().map(|(_, pending)| pending).sum();
    assert!(pending > 0, "a 100 ms grace cannot finish requests that take 200 ms");
    assert_eq!(delivered + pending, 50, "{delivered} delivered + {pending} left in the queue");
}

#[tokio::test]
async fn timeout_retry_keeps_ids() {
    let registry = registry();
    // The first request is stored but answered after the client's timeout; the second gets 200.
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(200)).await;
    endpoint.script([ScriptedResponse::status(200).with_delay(Duration::from_secs(3))]);
    let spec = spec_for(&registry, "raindrop", "timeout", &endpoint, PrivacyMode::Off);
    let settings = DeliverySettings {
        request_timeout: Duration::from_secs(1),
        ..fast_settings()
    };
    let engine = start_engine(&registry, vec![spec], settings);
    engine.ingest(vec![template("trc-fc08")]).await.expect("trace queued");
    wait_until_idle(&engine, WAIT).await;

    let ids = event_ids(&endpoint);
    assert_eq!(ids.len(), 2, "one timed-out attempt and one retry");
    assert_eq!(ids[0], ids[1], "the retry must carry the same event id");
    let stats = engine.status()[0].stats.clone();
    assert_eq!((stats.delivered, stats.retried), (1, 1));
    engine.shutdown(None).await;
}

#[tokio::test]
async fn retry_after_http_date_honoured() {
    let registry = registry();
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(200)).await;
    let date = httpdate_in(Duration::from_secs(3));
    endpoint.script([ScriptedResponse::status(429).with_header("Retry-After", &date)]);
    let spec = spec_for(&registry, "raindrop", "dated", &endpoint, PrivacyMode::Off);
    let engine = start_engine(&registry, vec![spec], fast_settings());
    engine.ingest(vec![template("trc-fc14")]).await.expect("trace queued");
    wait_until_idle(&engine, WAIT).await;

    let requests = endpoint.requests();
    assert_eq!(requests.len(), 2);
    let pause = requests[1].received_at - requests[0].received_at;
    // The HTTP date has one-second resolution, so the wait is at least two seconds.
    assert!(pause >= Duration::from_secs(2), "retried after {pause:?}");
    engine.shutdown(None).await;
}

#[tokio::test]
async fn throttled_without_retry_after_gives_up() {
    let registry = registry();
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(429)).await;
    let spec = spec_for(&registry, "raindrop", "throttled", &endpoint, PrivacyMode::Off);
    let engine = start_engine(&registry, vec![spec], fast_settings());
    engine.ingest(vec![template("trc-fc14")]).await.expect("trace queued");
    wait_until_idle(&engine, WAIT).await;

    let attempts = fast_settings().max_attempts as usize;
    assert_eq!(endpoint.requests().len(), attempts, "backoff up to the attempt limit, then stop");
    let stats = engine.status()[0].stats.clone();
    assert_eq!((stats.delivered, stats.failed), (0, 1));
    let failed = engine.queue().failed("test/throttled", 0, 10).await.expect("failed list readable");
    assert!(failed[0].reason.contains("retries exhausted"), "{:?}", failed[0].reason);
    engine.shutdown(None).await;
}

#[test]
fn sampling_keeps_whole_sessions() {
    let mut kept_sessions = 0;
    for session in 0..2_000 {
        let decisions: HashSet<bool> = (0..5)
            .map(|turn| {
                let mut trace = template(&format!("trc-{session}-{turn}"));
                trace.session_id = Some(format!("sess-{session}"));
                is_sampled(&trace, "acme/raindrop", 0.5)
            })
            .collect();
        assert_eq!(decisions.len(), 1, "session {session} was split by sampling");
        if decisions.contains(&true) {
            kept_sessions += 1;
        }
    }
    assert!((800..=1_200).contains(&kept_sessions), "kept {kept_sessions} of 2000 sessions at rate 0.5");
}

#[test]
fn sampling_differs_by_destination() {
    let differing = (0..1_000)
        .filter(|session| {
            let mut trace = template("trc-sampling");
            trace.session_id = Some(format!("sess-{session}"));
            is_sampled(&trace, "acme/first", 0.5) != is_sampled(&trace, "acme/second", 0.5)
        })
        .count();
    assert!(differing > 300, "only {differing} of 1000 sessions sampled differently");
}

fn httpdate_in(delay: Duration) -> String {
    let when = chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
    when.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[tokio::test]
async fn backlog_bound_drops_oldest() {
    let registry = registry();
    // A destination that asks to be left alone for an hour builds a backlog.
    let endpoint = FakeEndpoint::start(ScriptedResponse::status(429).with_header("Retry-After", "3600")).await;
    let spec = spec_for(&registry, "raindrop", "backlog", &endpoint, PrivacyMode::Off);
    let trace_size = serde_json::to_vec(&template("trc-size")).map(|bytes| bytes.len() as u64).unwrap_or(0);
    let settings = DeliverySettings {
        max_backlog_bytes: trace_size * 10,
        backlog_check_interval: Duration::from_millis(50),
        ..fast_settings()
    };
    let engine = start_engine(&registry, vec![spec], settings);
    engine.ingest(vec![template("trc-backlog-first")]).await.expect("trace queued");
    wait_for("the first request", WAIT, || !endpoint.requests().is_empty()).await;
    let traces: Vec<Trace> = (0..40).map(|index| template(&format!("trc-backlog-{index:02}"))).collect();
    engine.ingest(traces).await.expect("traces queued");

    let mut dropped = 0;
    for _ in 0..200 {
        dropped = engine.status()[0].stats.dropped;
        if dropped > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pending = engine.pending().await.expect("queue readable");
    assert!(dropped >= 30, "only {dropped} dropped");
    assert!(pending <= 10, "{pending} still queued past a bound of ten traces");
    assert_eq!(dropped + pending, 41, "every trace is either queued or counted as dropped");
    assert!(engine.status()[0].stats.state.paused_until.is_some(), "the status shows the pause");
    engine.shutdown(Some(Duration::from_millis(100))).await;
}
