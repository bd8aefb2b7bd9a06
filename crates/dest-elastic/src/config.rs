//! Elastic Observability config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::{ConfigError, Secret};
use broadcast_otlp::config::{config_error, headers_with, join_path, parse_http_url, required_secret};
use broadcast_otlp::{Compression, EncodeOptions, Encoding, OtlpTarget};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "endpoint, api_key, headers";
const ENDPOINT_EXAMPLE: &str = "https://<project>.ingest.<region>.<provider>.elastic.cloud:443";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElasticConfigInput {
    /// The Managed OTLP endpoint of the project or deployment, with or without `/v1/traces`.
    pub endpoint: String,
    /// An Elastic API key (the encoded form), sent as `Authorization: ApiKey <key>`; a value
    /// that already starts with `ApiKey ` is sent as is.
    #[schemars(extend("x-secret" = true))]
    pub api_key: String,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated Elastic config.
#[derive(Debug, Clone)]
pub struct ElasticConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw Elastic config.
///
/// # Errors
/// [`ConfigError`] naming the key; the API key is never quoted.
pub fn validate(raw: &Value) -> Result<ElasticConfig, ConfigError> {
    let input: ElasticConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let base = parse_http_url("endpoint", &input.endpoint, ENDPOINT_EXAMPLE)?;
    let authorization = match input.api_key.trim().strip_prefix("ApiKey ") {
        Some(key) => required_secret("api_key", key, "an Elastic API key")?,
        None => required_secret("api_key", &input.api_key, "an Elastic API key")?,
    };
    let own = vec![(AUTHORIZATION, Secret::new(format!("ApiKey {}", authorization.expose())))];
    let target = OtlpTarget {
        display_name: "Elastic",
        url: join_path(&base, "v1/traces"),
        method: Method::POST,
        encoding: Encoding::Json,
        compression: Compression::None,
        headers: headers_with(input.headers.as_ref(), own)?,
        credential_hint: "check api_key",
    };
    Ok(ElasticConfig { target, options: EncodeOptions::gen_ai(Encoding::Json) })
}
