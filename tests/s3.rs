//! Round trips through a real S3-compatible server: moto's server mode, started by the test
//! on 127.0.0.1.
//!
//! Corpus traces go through the real engine to the `s3` destination. The test then lists the
//! bucket, reads each object back with its own signed requests and compares it with the
//! trace. Object keys carry non-ASCII API key names and reserved characters.
//!
//! The connection test runs with moto's SigV4 and IAM policy checks on. The corpus round trip
//! runs with them off: moto 5.2 rebuilds the canonical request from a decoded path, so it
//! rejects even botocore's own signatures for keys with non-ASCII or reserved characters and
//! for listings with a `prefix`. The signer is checked against AWS's published signing
//! examples in the `dest-s3` unit tests.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broadcast_core::{BuildContext, ConnectionErrorKind, ContentPart, PrivacyMode, Role, Secret, Trace};
use broadcast_engine::DestinationSpec;
use broadcast_tests::{corpus, fast_settings, registry, start_engine, trace_of, wait_until_idle};
use dest_s3::sigv4::{self, Credentials, RequestToSign};
use reqwest::Url;
use serde_json::{json, Value};

const BUCKET: &str = "broadcast-round-trip";
const REGION: &str = "us-east-1";
const CANARY: &str = "CANARY-PROMPT-7d21c4";
/// IAM requests moto accepts unsigned before it starts checking signatures: create a user, create its
/// access key, attach its policy.
const UNSIGNED_SETUP_REQUESTS: &str = "3";

/// A moto server process, killed when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Starts `moto_server` on a free loopback port and waits until it responds. With
/// `check_signatures`, moto checks SigV4 signatures and IAM policies after the first
/// [`UNSIGNED_SETUP_REQUESTS`] requests.
async fn start_moto(check_signatures: bool) -> Moto {
    let port = free_port().to_string();
    let spawn = |program: &str, prefix: &[&str]| {
        let mut command = Command::new(program);
        command.args(prefix).args(["-H", "127.0.0.1", "-p", &port]);
        if check_signatures {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", UNSIGNED_SETUP_REQUESTS);
        } else {
            command.env_remove("INITIAL_NO_AUTH_ACTION_COUNT");
        }
        command.stdout(Stdio::null()).stderr(Stdio::null()).spawn()
    };
    let child = spawn("moto_server", &[])
        .or_else(|_| spawn("python3", &["-m", "moto.server"]))
        .unwrap_or_else(|error| {
            panic!("cannot start moto's S3 server ({error}); install it with `pip install 'moto[server]'`")
        });
    let mut moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    let http = reqwest::Client::new();
    loop {
        if let Ok(Some(status)) = moto.child.try_wait() {
            panic!("moto_server exited with {status}; install it with `pip install 'moto[server]'`");
        }
        if http.get(format!("{}/moto-api/data.json", moto.url)).send().await.is_ok() {
            return moto;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not answer within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client of the moto server that signs its own requests.
struct S3Client {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
}

struct Reply {
    status: u16,
    body: String,
}

impl S3Client {
    async fn request(&self, method: &str, path_and_query: &str, body: &[u8], service: &str, content_type: Option<&str>) -> Reply {
        let url = Url::parse(&format!("{}{path_and_query}", self.base)).expect("valid URL");
        let extra: Vec<(&str, &str)> = content_type.map(|value| ("content-type", value)).into_iter().collect();
        let to_sign = RequestToSign {
            method,
            url: &url,
            headers: &extra,
            payload: body,
        };
        let headers = sigv4::sign(&to_sign, &self.credentials, REGION, service, chrono::Utc::now());
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut request = self.http.request(method, url).body(body.to_vec());
        for (name, value) in extra.iter().map(|(name, value)| (name.to_string(), value.to_string())).chain(headers) {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("moto answers");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        Reply { status, body }
    }

    async fn iam(&self, form: &[(&str, &str)]) -> String {
        let body: String = form
            .iter()
            .chain([("Version", "2010-05-08")].iter())
            .map(|(name, value)| format!("{}={}", sigv4::uri_encode(name, true), sigv4::uri_encode(value, true)))
            .collect::<Vec<_>>()
            .join("&");
        let reply = self
            .request("POST", "/", body.as_bytes(), "iam", Some("application/x-www-form-urlencoded; charset=utf-8"))
            .await;
        assert_eq!(reply.status, 200, "IAM {form:?} failed: {}", reply.body);
        reply.body
    }

    /// Creates a user whose inline policy allows `actions`, and returns its credentials.
    async fn user(&self, name: &str, actions: &[&str]) -> Credentials {
        self.iam(&[("Action", "CreateUser"), ("UserName", name)]).await;
        let created = self.iam(&[("Action", "CreateAccessKey"), ("UserName", name)]).await;
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", name),
            ("PolicyName", "broadcast-test"),
            ("PolicyDocument", &policy.to_string()),
        ])
        .await;
        Credentials {
            access_key_id: Secret::new(xml_values(&created, "AccessKeyId").remove(0)),
            secret_access_key: Secret::new(xml_values(&created, "SecretAccessKey").remove(0)),
            session_token: None,
        }
    }

    /// Lists every key under `prefix`, following continuation tokens. The whole bucket is listed and
    /// filtered here, because moto's signature check rejects listings with a `prefix`.
    async fn list(&self, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = "list-type=2".to_string();
            if let Some(token) = &token {
                query.push_str(&format!("&continuation-token={}", sigv4::uri_encode(token, true)));
            }
            let reply = self.request("GET", &format!("/{BUCKET}?{query}"), b"", "s3", None).await;
            assert_eq!(reply.status, 200, "list failed: {}", reply.body);
            keys.extend(xml_values(&reply.body, "Key"));
            token = xml_values(&reply.body, "NextContinuationToken").into_iter().next();
            if token.is_none() {
                keys.retain(|key| key.starts_with(prefix));
                return keys;
            }
        }
    }

    async fn get(&self, key: &str) -> Reply {
        self.request("GET", &format!("/{BUCKET}/{}", sigv4::uri_encode_path(key)), b"", "s3", None).await
    }
}

/// Returns the text of every `<tag>…</tag>` in an XML document, with entities decoded.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next())
        .map(|text| {
            text.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&#39;", "'")
                .replace("&#x27;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}

/// Creates the bucket, and with `check_signatures` first an admin user, and returns a client
/// whose credentials may do everything.
async fn setup(moto: &Moto, check_signatures: bool) -> S3Client {
    let unsigned = S3Client {
        http: reqwest::Client::new(),
        base: moto.url.clone(),
        credentials: Credentials {
            access_key_id: Secret::new("AKIAUNSIGNEDSETUP000"),
            secret_access_key: Secret::new("round-trip-secret"),
            session_token: None,
        },
    };
    let admin = if check_signatures {
        S3Client {
            credentials: unsigned.user("broadcast-admin", &["*"]).await,
            ..unsigned
        }
    } else {
        unsigned
    };
    let reply = admin.request("PUT", &format!("/{BUCKET}"), b"", "s3", None).await;
    assert_eq!(reply.status, 200, "create bucket failed: {}", reply.body);
    admin
}

fn s3_config(moto: &Moto, credentials: &Credentials, prefix: &str) -> Value {
    json!({
        "bucket": BUCKET,
        "access_key_id": credentials.access_key_id.expose(),
        "secret_access_key": credentials.secret_access_key.expose(),
        "region": REGION,
        "endpoint": moto.url,
        "prefix": prefix,
        "path_template": "{prefix}/{api_key_name}/{year}/{month}/{day}"
    })
}

fn spec(name: &str, config: Value, privacy: PrivacyMode) -> DestinationSpec {
    let mut spec = DestinationSpec::new(&format!("test/{name}"), "default", name, "s3", config);
    spec.privacy = privacy;
    spec
}

/// Returns every corpus trace, each with an API key name full of characters that need encoding, and
/// one more trace with the canary in its content.
fn traces() -> Vec<Trace> {
    let names = ["Clé d'équipe 東京 🙂", "prod key +a=b&c?d", "спец/ключ %20 ~x", "plain-key"];
    let mut traces: Vec<Trace> = corpus()
        .iter()
        .enumerate()
        .map(|(index, (_, envelope))| {
            let mut envelope = envelope.clone();
            envelope["api_key_name"] = Value::from(names[index % names.len()]);
            trace_of(&envelope)
        })
        .collect();
    let mut canary = traces[0].clone();
    canary.ids.generation_id = "00000000-0000-4000-8000-00000000c0de".to_string();
    canary.input.system.push(ContentPart::Text { text: format!("system {CANARY}") });
    if let Some(message) = canary.input.messages.iter_mut().rev().find(|message| message.role == Role::User) {
        message.content.push(ContentPart::Text { text: format!("please {CANARY}") });
    }
    canary.output.text = Some(format!("answer {CANARY}"));
    traces.push(canary);
    traces
}

/// Returns the key the path template `{prefix}/{api_key_name}/{year}/{month}/{day}` gives a trace,
/// worked out here independently of the destination's own code.
fn expected_key(prefix: &str, trace: &Trace) -> String {
    let name = trace.api_key_name.as_deref().unwrap_or("unknown").replace('/', "_");
    format!(
        "{prefix}/{name}/{}/{}-{}-{}.json",
        trace.timing.started_at.format("%Y/%m/%d"),
        trace.ids.trace_id,
        trace.timing.started_at.timestamp(),
        trace.ids.generation_id
    )
}

#[tokio::test]
async fn corpus_round_trip_through_moto() {
    let moto = start_moto(false).await;
    let admin = setup(&moto, false).await;
    let open_config = s3_config(&moto, &admin.credentials, "open");
    let private_config = s3_config(&moto, &admin.credentials, "private");

    let registry = registry();
    let engine = start_engine(
        &registry,
        vec![
            spec("open", open_config, PrivacyMode::Off),
            spec("private", private_config, PrivacyMode::On),
        ],
        fast_settings(),
    );
    let traces = traces();
    engine.ingest(traces.clone()).await.expect("traces queued");
    wait_until_idle(&engine, Duration::from_secs(120)).await;
    for status in engine.status() {
        assert_eq!(status.stats.delivered, traces.len() as u64, "{}: {:?}", status.name, status.stats);
        assert_eq!(status.stats.failed, 0, "{}: {:?}", status.name, status.stats);
    }
    engine.shutdown(None).await;

    for (prefix, privacy) in [("open", PrivacyMode::Off), ("private", PrivacyMode::On)] {
        let mut expected: Vec<String> = traces.iter().map(|trace| expected_key(prefix, trace)).collect();
        expected.sort();
        let mut listed = admin.list(&format!("{prefix}/")).await;
        listed.sort();
        assert_eq!(listed, expected, "the bucket holds other keys than one per trace");
        assert!(listed.iter().any(|key| key.contains("東京")), "no non-ASCII key was written: {listed:?}");

        for trace in &traces {
            let exported = privacy.apply(&Arc::new(trace.clone()));
            let key = expected_key(prefix, trace);
            let reply = admin.get(&key).await;
            assert_eq!(reply.status, 200, "GET {key}: {}", reply.body);
            let stored: Trace = serde_json::from_str(&reply.body)
                .unwrap_or_else(|error| panic!("object {key} is not a trace: {error}"));
            assert_eq!(stored, *exported, "object {key} differs from the trace");
            if privacy == PrivacyMode::On {
                assert!(!reply.body.contains(CANARY), "canary in privacy-mode object {key}");
                assert!(stored.input.messages.is_empty(), "messages in privacy-mode object {key}");
                assert!(stored.output.text.is_none(), "output in privacy-mode object {key}");
            }
        }
    }
    // The control: the same canary trace does reach the open destination's object.
    let key = expected_key("open", &traces[traces.len() - 1]);
    assert!(admin.get(&key).await.body.contains(CANARY), "control object lacks the canary");
}

async fn connection_test(raw: &Value) -> Result<(), broadcast_core::ConnectionError> {
    let registry = registry();
    let descriptor = registry.get("s3").expect("s3 is registered");
    let destination = (descriptor.build)(raw, &BuildContext::with_timeout(Duration::from_secs(10)))
        .unwrap_or_else(|error| panic!("cannot build: {error}"));
    destination.test_connection().await
}

#[tokio::test]
async fn connection_test_against_moto() {
    let moto = start_moto(true).await;
    let admin = setup(&moto, true).await;

    let good = s3_config(&moto, &admin.credentials, "probe");
    assert_eq!(connection_test(&good).await, Ok(()));
    assert!(admin.list("probe/").await.is_empty(), "the probe object was left behind");

    let mut wrong_secret = good.clone();
    wrong_secret["secret_access_key"] = Value::from("not-the-secret");
    let error = connection_test(&wrong_secret).await.err().expect("a wrong secret must fail");
    assert_eq!(error.kind, ConnectionErrorKind::Unauthorized, "{error}");
    assert!(error.message.contains("SignatureDoesNotMatch"), "{error}");
    assert!(!error.message.contains("not-the-secret"), "{error}");

    let reader = admin.user("broadcast-reader", &["s3:GetObject", "s3:ListBucket"]).await;
    let error = connection_test(&s3_config(&moto, &reader, "probe")).await.err().expect("a read-only user must fail");
    assert_eq!(error.kind, ConnectionErrorKind::Unauthorized, "{error}");
    assert!(error.message.contains("s3:PutObject"), "the missing permission is not named: {error}");

    let writer = admin.user("broadcast-writer", &["s3:PutObject"]).await;
    let result = connection_test(&s3_config(&moto, &writer, "probe-writer")).await;
    assert_eq!(result, Ok(()), "writing is all delivery needs");
    assert_eq!(admin.list("probe-writer/").await.len(), 1, "without s3:DeleteObject the probe object stays");
}

#[tokio::test]
async fn batched_objects_through_moto() {
    let moto = start_moto(false).await;
    let admin = setup(&moto, false).await;
    let mut config = s3_config(&moto, &admin.credentials, "batched");
    config["path_template"] = json!("{prefix}/{date}");
    config["batch_window_secs"] = json!(2);
    config["batch_max_traces"] = json!(40);

    let registry = registry();
    let engine = start_engine(&registry, vec![spec("batched", config, PrivacyMode::Off)], fast_settings());
    // 60 traces in three calls: a full batch of 40 goes at once, the other 20 wait for the
    // window and go together.
    let traces: Vec<Trace> = traces().into_iter().take(60).collect();
    let started = Instant::now();
    for chunk in traces.chunks(20) {
        engine.ingest(chunk.to_vec()).await.expect("traces queued");
    }
    wait_until_idle(&engine, Duration::from_secs(60)).await;
    let waited = started.elapsed();
    let status = engine.status().remove(0);
    assert_eq!(status.stats.delivered, 60, "{:?}", status.stats);
    assert_eq!(status.stats.requests, 2, "one object per full batch and one per window: {:?}", status.stats);
    assert!(waited >= Duration::from_secs(2), "the partial batch did not wait for its window ({waited:?})");
    engine.shutdown(None).await;

    let keys = admin.list("batched/").await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut stored: Vec<Trace> = Vec::new();
    for key in &keys {
        assert!(key.ends_with(".jsonl"), "{key}");
        let reply = admin.get(key).await;
        assert_eq!(reply.status, 200, "GET {key}: {}", reply.body);
        for line in reply.body.lines() {
            let trace: Trace = serde_json::from_str(line).unwrap_or_else(|error| panic!("a line of {key} is not a trace: {error}"));
            stored.push(trace);
        }
    }
    let mut expected: Vec<String> = traces.iter().map(|trace| trace.ids.generation_id.clone()).collect();
    let mut found: Vec<String> = stored.iter().map(|trace| trace.ids.generation_id.clone()).collect();
    expected.sort();
    found.sort();
    assert_eq!(found, expected, "every trace is in exactly one batched object");
    for trace in &stored {
        let original = traces.iter().find(|candidate| candidate.ids.generation_id == trace.ids.generation_id);
        assert_eq!(Some(trace), original, "a batched line differs from its trace");
    }
}
