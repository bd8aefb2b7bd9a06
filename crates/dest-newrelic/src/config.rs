//! New Relic config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::ConfigError;
use broadcast_otlp::config::{config_error, header, headers_with, join_path, parse_http_url, required_secret};
use broadcast_otlp::{Compression, EncodeOptions, Encoding, OtlpTarget};
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "license_key, region, base_url, headers";
/// Maximum attribute value length New Relic stores, in characters.
pub const MAX_ATTRIBUTE_CHARS: usize = 4095;

/// New Relic data region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    #[default]
    Us,
    Eu,
}

impl Region {
    fn otlp_base(self) -> &'static str {
        match self {
            Region::Us => "https://otlp.nr-data.net",
            Region::Eu => "https://otlp.eu01.nr-data.net",
        }
    }
}

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewrelicConfigInput {
    /// An Ingest - License key, sent as `api-key`.
    #[schemars(extend("x-secret" = true))]
    pub license_key: String,
    /// `us` (default) or `eu`: the region of the New Relic account.
    #[serde(default)]
    pub region: Region,
    /// Overrides the region's OTLP URL (FedRAMP, or a proxy).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated New Relic config.
#[derive(Debug, Clone)]
pub struct NewrelicConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw New Relic config.
///
/// # Errors
/// [`ConfigError`] naming the key; the license key is never quoted.
pub fn validate(raw: &Value) -> Result<NewrelicConfig, ConfigError> {
    let input: NewrelicConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let license_key = required_secret("license_key", &input.license_key, "an Ingest - License key")?;
    let base_text = input.base_url.clone().unwrap_or_else(|| input.region.otlp_base().to_string());
    let base = parse_http_url("base_url", &base_text, Region::Us.otlp_base())?;
    let target = OtlpTarget {
        display_name: "New Relic",
        url: join_path(&base, "v1/traces"),
        method: Method::POST,
        encoding: Encoding::Protobuf,
        compression: Compression::None,
        headers: headers_with(input.headers.as_ref(), vec![(header("api-key"), license_key)])?,
        credential_hint: "check that license_key is an Ingest - License key of an account in `region`",
    };
    let options = EncodeOptions { max_attribute_chars: Some(MAX_ATTRIBUTE_CHARS), ..EncodeOptions::gen_ai(Encoding::Protobuf) };
    Ok(NewrelicConfig { target, options })
}
