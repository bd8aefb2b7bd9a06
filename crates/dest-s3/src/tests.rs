//! Unit tests of the S3 config, object keys and request signing. Round trips through a real
//! S3-compatible server are in the workspace tests (`tests/s3.rs`).

use std::sync::Arc;

use broadcast_core::ingest::normalise;
use broadcast_core::{PrivacyMode, Secret, Trace};
use reqwest::Url;
use serde_json::{json, Value};

use crate::config::{validate, S3Config};
use crate::encoder::{encode, object_key, KeyParts};
use crate::sigv4::{sign_with_hash, Credentials, RequestToSign};

/// Returns the example credentials of AWS's SigV4 documentation for S3.
fn documented_credentials() -> Credentials {
    Credentials {
        access_key_id: Secret::new("AKIAIOSFODNN7EXAMPLE"),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        session_token: None,
    }
}

fn signature_of(method: &str, url: &str, headers: &[(&str, &str)], payload_hash: &str) -> String {
    let url = Url::parse(url).unwrap_or_else(|error| panic!("bad test URL {url}: {error}"));
    let request = RequestToSign {
        method,
        url: &url,
        headers,
        payload: b"",
    };
    let added = sign_with_hash(&request, payload_hash, "20130524T000000Z", &documented_credentials(), "us-east-1", "s3");
    let authorization = added
        .iter()
        .find(|(name, _)| name == "authorization")
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    authorization.split("Signature=").nth(1).unwrap_or_default().to_string()
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn sigv4_documented_get_object() {
    let signature = signature_of(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        &[("range", "bytes=0-9")],
        EMPTY_SHA256,
    );
    assert_eq!(signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

#[test]
fn sigv4_documented_put_object_escapes_key() {
    let url = format!("https://examplebucket.s3.amazonaws.com/{}", crate::sigv4::uri_encode_path("test$file.text"));
    let signature = signature_of(
        "PUT",
        &url,
        &[("date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
    );
    assert_eq!(signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

#[test]
fn sigv4_documented_list_objects_query() {
    let signature = signature_of("GET", "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J", &[], EMPTY_SHA256);
    assert_eq!(signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

#[test]
fn uri_encoding_of_non_ascii_key() {
    assert_eq!(crate::sigv4::uri_encode_path("a b/é+ü~.json"), "a%20b/%C3%A9%2B%C3%BC~.json");
    assert_eq!(crate::sigv4::uri_encode("a/b", true), "a%2Fb");
}

fn config(extra: Value) -> S3Config {
    let mut raw = json!({
        "bucket": "llm-traces",
        "access_key_id": "AKIAEXAMPLE",
        "secret_access_key": "secret-example",
        "endpoint": "http://127.0.0.1:9000"
    });
    if let (Some(raw), Value::Object(extra)) = (raw.as_object_mut(), extra) {
        raw.extend(extra);
    }
    validate(&raw).unwrap_or_else(|error| panic!("test config invalid: {error}"))
}

fn parts(api_key_name: Option<&str>) -> KeyParts {
    KeyParts {
        trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
        generation_id: "6f1c2a9e-0000-4000-8000-000000000001".into(),
        started_at: chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .map(|date| date.with_timezone(&chrono::Utc))
            .unwrap_or_default(),
        api_key_name: api_key_name.map(str::to_string),
    }
}

#[test]
fn key_default_template() {
    let key = object_key(&config(json!({})), &parts(None));
    assert_eq!(
        key,
        "broadcast-traces/2026-03-01/0af7651916cd43dd8448eb211c80319c-1772359200-6f1c2a9e-0000-4000-8000-000000000001.json"
    );
}

#[test]
fn key_template_variables() {
    let config = config(json!({"prefix": "llm", "path_template": "{prefix}/{api_key_name}/{year}/{month}/{day}"}));
    let key = object_key(&config, &parts(Some("Prod key 東京/β")));
    assert!(key.starts_with("llm/Prod key 東京_β/2026/03/01/"), "{key}");
}

#[test]
fn key_open_router_spelling_and_missing_name() {
    let config = config(json!({"path_template": "{apiKeyName}/{date}"}));
    assert!(object_key(&config, &parts(None)).starts_with("unknown/2026-03-01/"));
}

#[test]
fn key_dot_segments_replaced() {
    let config = config(json!({"path_template": "{prefix}/{api_key_name}"}));
    let key = object_key(&config, &parts(Some("..")));
    assert!(key.starts_with("broadcast-traces/_/"), "{key}");
}

#[test]
fn config_path_style_default() {
    assert!(config(json!({})).path_style, "a custom endpoint defaults to path-style");
    let aws = validate(&json!({"bucket": "llm-traces", "access_key_id": "a", "secret_access_key": "b", "region": "eu-west-1"}));
    let Ok(aws) = aws else {
        panic!("AWS config rejected: {aws:?}");
    };
    assert!(!aws.path_style);
    assert_eq!(aws.object_url("a/b.json"), "https://llm-traces.s3.eu-west-1.amazonaws.com/a/b.json");
}

#[test]
fn config_rejects_unknown_variable() {
    let raw = json!({"bucket": "llm-traces", "access_key_id": "a", "secret_access_key": "b", "path_template": "{prefix}/{hour}"});
    let error = validate(&raw).err();
    assert_eq!(error.as_ref().map(|error| error.field.as_str()), Some("path_template"));
    assert!(error.is_some_and(|error| error.message.contains("{hour}")));
}

#[test]
fn config_rejects_bad_bucket() {
    let raw = json!({"bucket": "My_Bucket", "access_key_id": "a", "secret_access_key": "b"});
    assert_eq!(validate(&raw).err().map(|error| error.field), Some("bucket".to_string()));
}

#[test]
fn config_error_hides_secret() {
    let raw = json!({"bucket": "llm-traces", "access_key_id": "a", "secret_access_key": "top secret value"});
    let message = validate(&raw).err().map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains("secret_access_key"), "{message}");
    assert!(!message.contains("top secret"), "{message}");
}

#[test]
fn config_unknown_key_named() {
    let raw = json!({"bucket": "llm-traces", "access_key_id": "a", "secret_access_key": "b", "bucketName": "x"});
    assert_eq!(validate(&raw).err().map(|error| error.field), Some("bucketName".to_string()));
}

fn trace() -> Arc<Trace> {
    let envelope = json!({
        "user": "user-0001",
        "started_at": "2026-03-01T10:00:00Z",
        "ended_at": "2026-03-01T10:00:01Z",
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "PLACEHOLDER-PROMPT-3c1d"}]},
        "response": {"id": "chatcmpl-1", "object": "chat.completion", "created": 1772359200, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "PLACEHOLDER-ANSWER-9e2b"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}},
        "status": 200
    });
    let received_at = chrono::Utc::now();
    match normalise(&envelope, received_at) {
        Ok(normalised) => Arc::new(normalised.trace),
        Err(error) => panic!("test envelope rejected: {error}"),
    }
}

#[test]
fn object_is_the_trace() {
    let trace = trace();
    let export = PrivacyMode::Off.apply(&trace);
    let encoded = encode(&export, 1_000_000).unwrap_or_else(|error| panic!("{error}"));
    let back: Trace = serde_json::from_slice(&encoded.bytes).unwrap_or_else(|error| panic!("not a trace: {error}"));
    assert_eq!(back, *trace);
    let object: Value = serde_json::from_slice(&encoded.bytes).unwrap_or_default();
    assert_eq!(KeyParts::from_object(&object), Ok(KeyParts::of(&export)));
}

#[test]
fn privacy_object_has_no_content() {
    let encoded = encode(&PrivacyMode::On.apply(&trace()), 1_000_000).unwrap_or_else(|error| panic!("{error}"));
    let text = String::from_utf8_lossy(&encoded.bytes);
    assert!(!text.contains("PLACEHOLDER-PROMPT-3c1d"), "{text}");
    assert!(!text.contains("PLACEHOLDER-ANSWER-9e2b"), "{text}");
    assert!(text.contains("\"prompt_tokens\":5"), "{text}");
}

#[test]
fn batching_config_checked() {
    let mut raw = serde_json::json!({"bucket": "traces", "access_key_id": "AKIAEXAMPLE", "secret_access_key": "secret-value-1234", "batch_window_secs": 0});
    let error = crate::config::validate(&raw).err().map(|error| error.field);
    assert_eq!(error.as_deref(), Some("batch_window_secs"));
    raw["batch_window_secs"] = serde_json::json!(300);
    raw["batch_max_traces"] = serde_json::json!(0);
    let error = crate::config::validate(&raw).err().map(|error| error.field);
    assert_eq!(error.as_deref(), Some("batch_max_traces"));
    raw["batch_max_traces"] = serde_json::json!(500);
    let config = crate::config::validate(&raw).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.batching.map(|batching| (batching.window.as_secs(), batching.max_traces)), Some((300, 500)));
}

#[test]
fn batch_limits_and_window() {
    use broadcast_core::{BuildContext, DynDestination};
    let raw = serde_json::json!({"bucket": "traces", "access_key_id": "AKIAEXAMPLE", "secret_access_key": "secret-value-1234", "batch_window_secs": 60});
    let config = crate::config::validate(&raw).unwrap_or_else(|error| panic!("{error}"));
    let destination: Box<dyn DynDestination> = Box::new(<crate::S3Destination as broadcast_core::Destination>::build(
        config,
        &BuildContext::with_timeout(std::time::Duration::from_secs(5)),
    ));
    assert_eq!(destination.limits().max_events_per_request, crate::config::DEFAULT_BATCH_MAX_TRACES);
    assert_eq!(destination.batch_window(), Some(std::time::Duration::from_secs(60)));
}

#[test]
fn batched_body_decodes_per_line() {
    let body = b"{\"a\":1}\n{\"b\":2}\n";
    let events = <crate::S3Destination as broadcast_core::Destination>::decode_request(body).unwrap_or_default();
    assert_eq!(events.len(), 2);
}
