//! Langfuse config: parsing and validation (pure, no I/O), and the connection test.

use std::collections::BTreeMap;

use broadcast_core::outcome::quote_body;
use broadcast_core::{ConfigError, ConnectionError, ConnectionErrorKind, ExportTrace};
use broadcast_otlp::config::{basic_auth, config_error, header, headers_with, join_path, parse_http_url, required_secret};
use broadcast_otlp::{sender, AnyValue, Compression, EncodeOptions, Encoding, KeyValue, OtlpCore, OtlpTarget};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "public_key, secret_key, base_url, headers";
pub const DEFAULT_BASE_URL: &str = "https://us.cloud.langfuse.com";
/// Header that Langfuse requires from direct OTLP senders for real-time ingestion (Langfuse v4).
const INGESTION_VERSION_HEADER: &str = "x-langfuse-ingestion-version";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LangfuseConfigInput {
    /// Langfuse public key, `pk-lf-…`.
    pub public_key: String,
    /// Langfuse secret key, `sk-lf-…`.
    #[schemars(extend("x-secret" = true))]
    pub secret_key: String,
    /// Langfuse host: `https://us.cloud.langfuse.com` (default), `https://cloud.langfuse.com`
    /// (EU), `https://jp.cloud.langfuse.com`, or a self-hosted URL (v3.22.0 or newer).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated Langfuse config.
#[derive(Debug, Clone)]
pub struct LangfuseConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw Langfuse config.
///
/// # Errors
/// [`ConfigError`] naming the key; keys are never quoted.
pub fn validate(raw: &Value) -> Result<LangfuseConfig, ConfigError> {
    let input: LangfuseConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let public_key = required_secret("public_key", &input.public_key, "your Langfuse public key (pk-lf-…)")?;
    let secret_key = required_secret("secret_key", &input.secret_key, "your Langfuse secret key (sk-lf-…)")?;
    if public_key.expose().starts_with("sk-lf-") {
        return Err(ConfigError::new("public_key", "holds a secret key (sk-lf-…); the two keys look swapped"));
    }
    if secret_key.expose().starts_with("pk-lf-") {
        return Err(ConfigError::new("secret_key", "holds a public key (pk-lf-…); the two keys look swapped"));
    }
    let base = parse_http_url("base_url", input.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL), DEFAULT_BASE_URL)?;
    let own = vec![
        (AUTHORIZATION, basic_auth(public_key.expose(), secret_key.expose())),
        (header(INGESTION_VERSION_HEADER), broadcast_core::Secret::new("4")),
    ];
    let target = OtlpTarget {
        display_name: "Langfuse",
        url: join_path(&base, "api/public/otel/v1/traces"),
        method: Method::POST,
        encoding: Encoding::Protobuf,
        compression: Compression::None,
        headers: headers_with(input.headers.as_ref(), own)?,
        credential_hint: "check public_key, secret_key and that base_url is the key pair's region",
    };
    let options = EncodeOptions {
        legacy_names: true,
        trace_attributes: Some(environment_attributes),
        trace_resource_attributes: Some(environment_resource),
        ..EncodeOptions::gen_ai(Encoding::Protobuf)
    };
    Ok(LangfuseConfig { target, options })
}

fn metadata_text<'a>(trace: &'a ExportTrace, key: &str) -> Option<&'a str> {
    trace.metadata.get(key).and_then(Value::as_str).filter(|text| !text.is_empty())
}

/// `langfuse.environment` and `langfuse.release` on every span, from the custom metadata keys
/// `environment` and `release`.
pub fn environment_attributes(trace: &ExportTrace) -> Vec<KeyValue> {
    let mut attributes = Vec::new();
    if let Some(environment) = metadata_text(trace, "environment") {
        attributes.push(KeyValue::new("langfuse.environment", AnyValue::string(environment)));
    }
    if let Some(release) = metadata_text(trace, "release") {
        attributes.push(KeyValue::new("langfuse.release", AnyValue::string(release)));
    }
    attributes
}

/// Returns the same values as resource attributes, with the OpenTelemetry name of the
/// environment.
pub fn environment_resource(trace: &ExportTrace) -> Vec<KeyValue> {
    let mut attributes = Vec::new();
    if let Some(environment) = metadata_text(trace, "environment") {
        attributes.push(KeyValue::new("deployment.environment.name", AnyValue::string(environment)));
    }
    attributes.extend(environment_attributes(trace));
    attributes
}

/// Calls `GET {base_url}/api/public/projects`, which Langfuse's own SDK uses to check a key
/// pair, and fails when Langfuse returns no project for it.
///
/// # Errors
/// [`ConnectionError`] classified from the response.
pub async fn test_projects(core: &OtlpCore) -> Result<(), ConnectionError> {
    let target = &core.target;
    let mut url = target.url.clone();
    let base_path = url.path().trim_end_matches("/api/public/otel/v1/traces").to_string();
    url.set_path(&format!("{base_path}/api/public/projects"));
    let mut request = core.http.request(Method::GET, url);
    for (name, value) in &target.headers {
        request = request.header(name.clone(), value.expose());
    }
    let response = request.send().await.map_err(|error| sender::unreachable(target, &error))?;
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(sender::connection_error(target, status, &body));
    }
    let projects = serde_json::from_slice::<Value>(&body).ok().and_then(|value| value.get("data").cloned());
    if projects.as_ref().and_then(Value::as_array).is_some_and(Vec::is_empty) {
        return Err(ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("Langfuse accepted the keys but returned no project for them ({}); check the key pair", quote_body(&body)),
        ));
    }
    Ok(())
}
