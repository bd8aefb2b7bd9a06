//! PostHog destination config: parsing and validation (pure, no I/O).

use broadcast_core::{ConfigError, Secret};
use reqwest::Url;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub const US_HOST: &str = "https://us.i.posthog.com";
pub const EU_HOST: &str = "https://eu.i.posthog.com";

const KNOWN_KEYS: &[&str] = &["api_key", "region", "host"];

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostHogConfigInput {
    /// Project API key (`phc_…`), sent as `api_key` in each request body.
    #[schemars(extend("x-secret" = true))]
    pub api_key: String,
    /// PostHog Cloud region: `us` (the default) or `eu`.
    #[serde(default)]
    pub region: Option<String>,
    /// Ingestion URL of a self-hosted PostHog, such as `https://posthog.example.com`. Replaces
    /// `region`.
    #[serde(default)]
    pub host: Option<String>,
}

/// A validated PostHog config.
#[derive(Debug, Clone)]
pub struct PostHogConfig {
    pub api_key: Secret,
    pub host: Url,
}

impl PostHogConfig {
    /// Returns the URL of `path` (such as `batch/`) on the host.
    pub fn endpoint(&self, path: &str) -> String {
        sink_support::config::join(&self.host, path)
    }
}

/// Parses and checks a raw PostHog config.
///
/// # Errors
/// [`ConfigError`] naming the key at fault; the API key is never quoted.
pub fn validate(raw: &Value) -> Result<PostHogConfig, ConfigError> {
    let input: PostHogConfigInput = sink_support::config::parse(raw, KNOWN_KEYS)?;
    let api_key = sink_support::config::credential("api_key", &input.api_key, "PostHog project API key (phc_…)")?;
    if api_key.expose().starts_with("phx_") {
        return Err(ConfigError::new(
            "api_key",
            "is a personal API key (phx_…); use the project API key (phc_…) from the project settings",
        ));
    }
    let region = input.region.as_deref().map(str::trim).filter(|region| !region.is_empty());
    let host = match (region, input.host.as_deref().map(str::trim).filter(|host| !host.is_empty())) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new("host", "is set together with `region`; keep one of them"));
        }
        (_, Some(host)) => sink_support::config::base_url("host", host, "https://posthog.example.com")?,
        (None | Some("us"), None) => sink_support::config::base_url("region", US_HOST, US_HOST)?,
        (Some("eu"), None) => sink_support::config::base_url("region", EU_HOST, EU_HOST)?,
        (Some(other), None) => {
            return Err(ConfigError::new(
                "region",
                format!("`{other}` is not a PostHog Cloud region; use `us` or `eu`, or set `host` for a self-hosted PostHog"),
            ));
        }
    };
    Ok(PostHogConfig { api_key, host })
}
