//! BigQuery destination config: parsing and validation (pure, no I/O; the key is parsed but
//! not used).

use std::sync::Arc;

use broadcast_core::ConfigError;
use reqwest::Url;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::jwt::ServiceAccountKey;

pub const DEFAULT_DATASET: &str = "broadcast";
pub const DEFAULT_TABLE: &str = "broadcast_traces";
pub const DEFAULT_API_URL: &str = "https://bigquery.googleapis.com";

const KNOWN_KEYS: &[&str] = &["project_id", "dataset", "table", "service_account_key", "url"];

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BigQueryConfigInput {
    /// Google Cloud project that contains the dataset.
    pub project_id: String,
    /// Dataset of the table. Defaults to `broadcast`.
    #[serde(default)]
    pub dataset: Option<String>,
    /// Table the rows go to; create it with `broadcast ddl`. Defaults to `broadcast_traces`.
    #[serde(default)]
    pub table: Option<String>,
    /// The service account's JSON key file, whole, as text. The account needs the BigQuery
    /// Data Editor role on the dataset.
    #[schemars(extend("x-secret" = true))]
    pub service_account_key: String,
    /// API base URL, replacing `https://bigquery.googleapis.com` (for a proxy or an emulator).
    #[serde(default)]
    pub url: Option<String>,
}

/// A validated BigQuery config.
#[derive(Debug, Clone)]
pub struct BigQueryConfig {
    pub project_id: String,
    pub dataset: String,
    pub table: String,
    pub key: Arc<ServiceAccountKey>,
    pub api_base: Url,
}

impl BigQueryConfig {
    /// `…/bigquery/v2/projects/{project}/datasets/{dataset}/tables/{table}` plus `suffix`.
    pub fn table_url(&self, suffix: &str) -> String {
        sink_support::config::join(
            &self.api_base,
            &format!(
                "bigquery/v2/projects/{}/datasets/{}/tables/{}{suffix}",
                self.project_id, self.dataset, self.table
            ),
        )
    }

    /// Returns the audience of the self-signed token: the BigQuery API's root URL.
    pub fn audience(&self) -> String {
        format!("{}/", self.api_base.as_str().trim_end_matches('/'))
    }
}

/// Parses and checks a raw BigQuery config.
///
/// # Errors
/// [`ConfigError`] naming the key at fault; the service-account key is never quoted.
pub fn validate(raw: &Value) -> Result<BigQueryConfig, ConfigError> {
    let input: BigQueryConfigInput = sink_support::config::parse(raw, KNOWN_KEYS)?;
    let project_id = input.project_id.trim().to_string();
    let valid_project = (6..=30).contains(&project_id.len())
        && project_id.chars().all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-' || character == ':' || character == '.');
    if !valid_project {
        return Err(ConfigError::new(
            "project_id",
            format!("`{project_id}` is not a Google Cloud project id; use the id (lowercase, 6 to 30 characters), not the project name"),
        ));
    }
    let name = |field: &str, value: Option<String>, default: &str| -> Result<String, ConfigError> {
        let value = value.unwrap_or_else(|| default.to_string()).trim().to_string();
        let valid = !value.is_empty()
            && value.len() <= 1024
            && value.chars().all(|character| character.is_alphanumeric() || character == '_' || character == '-');
        if valid {
            Ok(value)
        } else {
            Err(ConfigError::new(field, format!("`{value}` is not a valid name; use letters, digits and underscores")))
        }
    };
    let key = ServiceAccountKey::parse(input.service_account_key.trim())
        .map_err(|message| ConfigError::new("service_account_key", format!("{message}; paste the whole JSON key file")))?;
    let url = input.url.as_deref().map(str::trim).filter(|url| !url.is_empty()).unwrap_or(DEFAULT_API_URL);
    Ok(BigQueryConfig {
        project_id,
        dataset: name("dataset", input.dataset, DEFAULT_DATASET)?,
        table: name("table", input.table, DEFAULT_TABLE)?,
        key: Arc::new(key),
        api_base: sink_support::config::base_url("url", url, DEFAULT_API_URL)?,
    })
}
