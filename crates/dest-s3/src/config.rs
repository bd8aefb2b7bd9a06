//! S3 destination config: parsing and validation (pure, no I/O).

use broadcast_core::{ConfigError, Secret};
use reqwest::Url;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::sigv4::Credentials;

pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_PREFIX: &str = "broadcast-traces";
pub const DEFAULT_PATH_TEMPLATE: &str = "{prefix}/{date}";

/// Template variables, as written between braces. `apiKeyName` is OpenRouter's spelling.
const TEMPLATE_VARIABLES: &[&str] = &["prefix", "date", "year", "month", "day", "api_key_name", "apiKeyName"];

const KNOWN_KEYS: &[&str] = &[
    "bucket",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "region",
    "endpoint",
    "path_style",
    "prefix",
    "path_template",
    "batch_window_secs",
    "batch_max_traces",
];

/// Shortest and longest batching window, in seconds.
pub const BATCH_WINDOW_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;
/// Default and largest number of traces in one batched object.
pub const DEFAULT_BATCH_MAX_TRACES: usize = 10_000;
pub const MAX_BATCH_MAX_TRACES: usize = 100_000;

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3ConfigInput {
    /// Bucket name.
    pub bucket: String,
    /// Access key id of the credentials that sign requests.
    #[schemars(extend("x-secret" = true))]
    pub access_key_id: String,
    /// Secret access key.
    #[schemars(extend("x-secret" = true))]
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    #[serde(default)]
    #[schemars(extend("x-secret" = true))]
    pub session_token: Option<String>,
    /// Region that requests are signed for. Defaults to `us-east-1`; S3-compatible stores
    /// often take `auto` or `us-east-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint of an S3-compatible store (MinIO, R2, …), such as `https://minio.internal:9000`.
    /// Omit it for AWS, where `https://s3.{region}.amazonaws.com` is used.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Address the bucket in the path (`{endpoint}/{bucket}/{key}`) rather than the host name.
    /// Defaults to true when `endpoint` is set, and for bucket names with dots.
    #[serde(default)]
    pub path_style: Option<bool>,
    /// Value of `{prefix}` in the path template. Defaults to `broadcast-traces`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Folder of each object. Variables: `{prefix}`, `{date}` (YYYY-MM-DD), `{year}`,
    /// `{month}`, `{day}` (of the trace's start, UTC) and `{api_key_name}`. Defaults to
    /// `{prefix}/{date}`.
    #[serde(default)]
    pub path_template: Option<String>,
    /// Batch traces into one newline-delimited JSON object per window of this many seconds
    /// (1 to 3600), for large volumes. Omit it to write one object per trace.
    #[serde(default)]
    pub batch_window_secs: Option<u64>,
    /// Most traces in one batched object, 1 to 100000 (default 10000); a full batch is written
    /// before its window ends.
    #[serde(default)]
    pub batch_max_traces: Option<usize>,
}

/// How traces are grouped into objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    pub window: std::time::Duration,
    pub max_traces: usize,
}

/// A validated S3 config.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    pub credentials: Credentials,
    pub region: String,
    /// Base URL of the service, without the bucket.
    pub endpoint: Url,
    pub path_style: bool,
    pub prefix: String,
    pub path_template: String,
    /// `None` writes one object per trace.
    pub batching: Option<Batching>,
}

impl S3Config {
    /// Returns the URL of object `key`.
    pub fn object_url(&self, key: &str) -> String {
        let encoded = crate::sigv4::uri_encode_path(key);
        if self.path_style {
            format!("{}/{}/{encoded}", self.endpoint.as_str().trim_end_matches('/'), self.bucket)
        } else {
            let host = self.endpoint.host_str().unwrap_or_default();
            let port = self.endpoint.port().map(|port| format!(":{port}")).unwrap_or_default();
            format!("{}://{}.{host}{port}/{encoded}", self.endpoint.scheme(), self.bucket)
        }
    }
}

/// Parses and checks a raw S3 config.
///
/// # Errors
/// [`ConfigError`] naming the key at fault; secrets are never quoted.
pub fn validate(raw: &Value) -> Result<S3Config, ConfigError> {
    let input: S3ConfigInput = sink_support::config::parse(raw, KNOWN_KEYS)?;

    let bucket = input.bucket.trim().to_string();
    check_bucket(&bucket)?;
    let credentials = Credentials {
        access_key_id: sink_support::config::credential("access_key_id", &input.access_key_id, "access key id")?,
        secret_access_key: sink_support::config::credential(
            "secret_access_key",
            &input.secret_access_key,
            "secret access key",
        )?,
        session_token: match input.session_token.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(token) => Some(Secret::new(token)),
        },
    };

    let region = input.region.as_deref().map(str::trim).filter(|region| !region.is_empty());
    let region = region.unwrap_or(DEFAULT_REGION).to_string();
    if !region.chars().all(|character| character.is_ascii_alphanumeric() || character == '-') {
        return Err(ConfigError::new(
            "region",
            format!("`{region}` is not a region name; use one such as `us-east-1` or `auto`"),
        ));
    }

    let custom_endpoint = input.endpoint.as_deref().map(str::trim).filter(|endpoint| !endpoint.is_empty());
    let endpoint = match custom_endpoint {
        Some(text) => sink_support::config::base_url("endpoint", text, "https://minio.internal:9000")?,
        None => {
            let aws = format!("https://s3.{region}.amazonaws.com");
            sink_support::config::base_url("region", &aws, "https://s3.us-east-1.amazonaws.com")?
        }
    };
    let path_style = input.path_style.unwrap_or(custom_endpoint.is_some() || bucket.contains('.'));

    let prefix = input.prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_string()).trim().trim_matches('/').to_string();
    let path_template = input
        .path_template
        .unwrap_or_else(|| DEFAULT_PATH_TEMPLATE.to_string())
        .trim()
        .to_string();
    check_template(&path_template)?;

    let batching = match input.batch_window_secs {
        None => {
            if input.batch_max_traces.is_some() {
                return Err(ConfigError::new("batch_max_traces", "only applies with batching; set batch_window_secs too"));
            }
            None
        }
        Some(seconds) if !BATCH_WINDOW_RANGE.contains(&seconds) => {
            return Err(ConfigError::new(
                "batch_window_secs",
                format!("{seconds} is out of range; use 1 to 3600 seconds, or omit it for one object per trace"),
            ))
        }
        Some(seconds) => {
            let max_traces = input.batch_max_traces.unwrap_or(DEFAULT_BATCH_MAX_TRACES);
            if !(1..=MAX_BATCH_MAX_TRACES).contains(&max_traces) {
                return Err(ConfigError::new(
                    "batch_max_traces",
                    format!("{max_traces} is out of range; use 1 to {MAX_BATCH_MAX_TRACES}"),
                ));
            }
            Some(Batching {
                window: std::time::Duration::from_secs(seconds),
                max_traces,
            })
        }
    };

    Ok(S3Config {
        bucket,
        credentials,
        region,
        endpoint,
        path_style,
        prefix,
        path_template,
        batching,
    })
}

/// S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots and hyphens, starting
/// and ending with a letter or digit.
fn check_bucket(bucket: &str) -> Result<(), ConfigError> {
    let valid_characters = bucket
        .chars()
        .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || matches!(character, '.' | '-'));
    let valid_ends = bucket.starts_with(|character: char| character.is_ascii_alphanumeric())
        && bucket.ends_with(|character: char| character.is_ascii_alphanumeric());
    if (3..=63).contains(&bucket.len()) && valid_characters && valid_ends {
        return Ok(());
    }
    Err(ConfigError::new(
        "bucket",
        format!("`{bucket}` is not a valid bucket name; use 3 to 63 lowercase letters, digits, dots and hyphens"),
    ))
}

/// Checks that every `{…}` in the template names a known variable and braces are balanced.
fn check_template(template: &str) -> Result<(), ConfigError> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(ConfigError::new("path_template", format!("`{template}` has a `{{` without a closing `}}`")));
        };
        let name = &after[..end];
        if !TEMPLATE_VARIABLES.contains(&name) {
            return Err(ConfigError::new(
                "path_template",
                format!(
                    "`{{{name}}}` is not a template variable; use {{prefix}}, {{date}}, {{year}}, {{month}}, {{day}} or {{api_key_name}}"
                ),
            ));
        }
        rest = &after[end + 1..];
    }
    if rest.contains('}') {
        return Err(ConfigError::new("path_template", format!("`{template}` has a `}}` without an opening `{{`")));
    }
    Ok(())
}
