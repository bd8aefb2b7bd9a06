//! Datadog destination config: parsing and validation (pure, no I/O).

use broadcast_core::{ConfigError, Secret};
use reqwest::Url;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub const DEFAULT_SITE: &str = "datadoghq.com";

/// Sites with LLM Observability. The government sites (`ddog-gov.com`, `us2.ddog-gov.com`) do
/// not offer it.
const SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
];

/// Longest `ml_app` the intake takes.
const MAX_ML_APP_CHARS: usize = 193;

const KNOWN_KEYS: &[&str] = &["api_key", "ml_app", "site", "url"];

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatadogConfigInput {
    /// Datadog API key, sent as `DD-API-KEY`.
    #[schemars(extend("x-secret" = true))]
    pub api_key: String,
    /// Name of the LLM application the spans belong to (`ml_app`); also sent as the
    /// `service` tag. Lowercase letters, digits and `_ - : . /`, at most 193 characters.
    pub ml_app: String,
    /// Datadog site, such as `datadoghq.com` (the default), `us5.datadoghq.com` or
    /// `datadoghq.eu`.
    #[serde(default)]
    pub site: Option<String>,
    /// API base URL, replacing the one of `site` (for a proxy).
    #[serde(default)]
    pub url: Option<String>,
}

/// A validated Datadog config.
#[derive(Debug, Clone)]
pub struct DatadogConfig {
    pub api_key: Secret,
    pub ml_app: String,
    /// `https://api.{site}`, or the configured URL.
    pub api_base: Url,
}

impl DatadogConfig {
    /// Returns the URL of `path` (such as `api/v1/validate`) under the API base.
    pub fn endpoint(&self, path: &str) -> String {
        sink_support::config::join(&self.api_base, path)
    }
}

/// Parses and checks a raw Datadog config.
///
/// # Errors
/// [`ConfigError`] naming the key at fault; the API key is never quoted.
pub fn validate(raw: &Value) -> Result<DatadogConfig, ConfigError> {
    let input: DatadogConfigInput = sink_support::config::parse(raw, KNOWN_KEYS)?;
    let api_key = sink_support::config::credential("api_key", &input.api_key, "Datadog API key")?;
    let ml_app = input.ml_app.trim().to_string();
    check_ml_app(&ml_app)?;

    let site = input.site.as_deref().map(str::trim).filter(|site| !site.is_empty());
    let url = input.url.as_deref().map(str::trim).filter(|url| !url.is_empty());
    let api_base = match (site, url) {
        (_, Some(url)) => sink_support::config::base_url("url", url, "https://api.datadoghq.com")?,
        (site, None) => {
            let site = site.unwrap_or(DEFAULT_SITE);
            if !SITES.contains(&site) {
                return Err(ConfigError::new(
                    "site",
                    format!("`{site}` is not a Datadog site with LLM Observability; use one of {}", SITES.join(", ")),
                ));
            }
            sink_support::config::base_url("site", &format!("https://api.{site}"), "https://api.datadoghq.com")?
        }
    };
    Ok(DatadogConfig {
        api_key,
        ml_app,
        api_base,
    })
}

/// Checks `ml_app` against the intake's rules.
fn check_ml_app(ml_app: &str) -> Result<(), ConfigError> {
    let fix = "use lowercase letters, digits and `_ - : . /`, at most 193 characters, without `__` or a trailing `_`";
    let valid = !ml_app.is_empty()
        && ml_app.chars().count() <= MAX_ML_APP_CHARS
        && ml_app
            .chars()
            .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || "_-:./".contains(character))
        && !ml_app.contains("__")
        && !ml_app.ends_with('_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new("ml_app", format!("`{ml_app}` is not a valid ml_app; {fix}")))
    }
}
