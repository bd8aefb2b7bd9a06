//! Sentry config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::{ConfigError, Secret};
use broadcast_otlp::config::{config_error, header, headers_with, parse_http_url};
use broadcast_otlp::{Compression, EncodeOptions, Encoding, OtlpTarget};
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "otlp_endpoint, dsn, headers";
const ENDPOINT_EXAMPLE: &str = "https://o123.ingest.us.sentry.io/api/456/integration/otlp/v1/traces";
const DSN_FORM: &str = "https://<public key>@<host>/<project id>, as shown under Project settings > Client Keys (DSN)";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SentryConfigInput {
    /// The project's "OTLP Traces Endpoint" from Project settings > Client Keys (DSN).
    pub otlp_endpoint: String,
    /// The project's DSN; its public key authenticates the requests.
    #[schemars(extend("x-secret" = true))]
    pub dsn: String,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated Sentry config.
#[derive(Debug, Clone)]
pub struct SentryConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Extracts the public key and project id of a DSN of the form
/// `https://<public key>[:<secret>]@<host>[/<path>]/<project id>[/]`.
fn parse_dsn(text: &str) -> Result<(String, String), ConfigError> {
    let invalid = |problem: &str| ConfigError::new("dsn", format!("is not a valid Sentry DSN ({problem}); use {DSN_FORM}"));
    let url = reqwest::Url::parse(text.trim()).map_err(|_| invalid("not a URL"))?;
    if url.scheme() != "https" {
        return Err(invalid("not https"));
    }
    if url.username().is_empty() {
        return Err(invalid("no public key before the @"));
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("no host, or a query or fragment"));
    }
    let project = url.path().trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string();
    if project.is_empty() || !project.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid("the path does not end with a numeric project id"));
    }
    Ok((url.username().to_string(), project))
}

/// Parses and checks a raw Sentry config.
///
/// # Errors
/// [`ConfigError`] naming the key; the DSN is never quoted.
pub fn validate(raw: &Value) -> Result<SentryConfig, ConfigError> {
    let input: SentryConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let url = parse_http_url("otlp_endpoint", &input.otlp_endpoint, ENDPOINT_EXAMPLE)?;
    let (public_key, dsn_project) = parse_dsn(&input.dsn)?;
    let segments: Vec<&str> = url.path().split('/').collect();
    let endpoint_project = segments.windows(2).find(|pair| pair[0] == "api").map(|pair| pair[1].to_string());
    if let Some(endpoint_project) = endpoint_project.filter(|project| !project.is_empty()) {
        if endpoint_project != dsn_project {
            return Err(ConfigError::new(
                "dsn",
                format!("belongs to project {dsn_project}, but otlp_endpoint sends to project {endpoint_project}; copy both from the same project"),
            ));
        }
    }
    let own = vec![(header("x-sentry-auth"), Secret::new(format!("sentry sentry_key={public_key}")))];
    let target = OtlpTarget {
        display_name: "Sentry",
        url,
        method: Method::POST,
        encoding: Encoding::Protobuf,
        compression: Compression::None,
        headers: headers_with(input.headers.as_ref(), own)?,
        credential_hint: "check dsn and that otlp_endpoint is the same project's OTLP traces endpoint",
    };
    Ok(SentryConfig { target, options: EncodeOptions::gen_ai(Encoding::Protobuf) })
}
