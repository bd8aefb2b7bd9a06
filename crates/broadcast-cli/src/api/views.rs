//! Request and response bodies of the management API.

use broadcast_engine::rules::FilterRules;
use broadcast_store::secrets::masked_config;
use broadcast_store::DestinationRecord;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A destination as the API returns it, secrets masked.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DestinationView {
    pub id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    pub enabled: bool,
    pub privacy_mode: bool,
    pub sampling_rate: f64,
    pub api_key_hashes: Option<Vec<String>>,
    #[schemars(with = "Option<Value>")]
    pub filter_rules: Option<FilterRules>,
    /// The type's config; secret values are masked as `rk_a...9f2c`.
    pub config: Value,
    /// Whether it was saved without a passing connection test.
    pub skip_connection_test: bool,
    /// Whether the config file defines it; such destinations cannot be changed through the API.
    pub managed_by_config: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<&DestinationRecord> for DestinationView {
    fn from(record: &DestinationRecord) -> Self {
        DestinationView {
            id: record.id.clone(),
            type_name: record.type_name.clone(),
            name: record.name.clone(),
            enabled: record.enabled,
            privacy_mode: record.privacy_mode,
            sampling_rate: record.sampling_rate,
            api_key_hashes: record.api_key_hashes.clone(),
            filter_rules: record.filter_rules.clone(),
            config: masked_config(&record.config, &record.secret_fields),
            skip_connection_test: record.skip_connection_test,
            managed_by_config: record.managed_by_config,
            created_at: record.created_at,
            updated_at: record.updated_at,
            deleted_at: record.deleted_at,
        }
    }
}

/// A page of destinations.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DestinationList {
    pub data: Vec<DestinationView>,
    pub total: u64,
    pub offset: usize,
    pub limit: usize,
}

/// The body of a create request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDestination {
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub privacy_mode: bool,
    #[serde(default = "one")]
    pub sampling_rate: f64,
    #[serde(default)]
    pub api_key_hashes: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<Value>")]
    pub filter_rules: Option<FilterRules>,
    pub config: Value,
    /// Save even if the connection test fails; recorded on the destination and logged.
    #[serde(default)]
    pub skip_connection_test: bool,
}

fn yes() -> bool {
    true
}

fn one() -> f64 {
    1.0
}

/// The body of a PATCH request; every field is optional.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
pub struct PatchDestinationDoc {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub privacy_mode: Option<bool>,
    pub sampling_rate: Option<f64>,
    /// `null` clears the allowlist (every key's traces are sent).
    pub api_key_hashes: Option<Vec<String>>,
    /// `null` clears the rules.
    pub filter_rules: Option<Value>,
    /// Merged key by key; `null` removes a key; a masked secret keeps the stored one.
    pub config: Option<Value>,
    pub skip_connection_test: Option<bool>,
}

/// The body of a test request for an unsaved config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestDestination {
    #[serde(rename = "type")]
    pub type_name: String,
    pub config: Value,
}

/// The outcome of a connection test.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TestResult {
    pub ok: bool,
    /// `unauthorized`, `rejected`, `unreachable` or `server_error` when the test failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Delivery status of one destination.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusView {
    pub id: String,
    /// Deliveries waiting in the queue, retries included.
    pub queued: u64,
    pub in_flight: u64,
    pub delivered: u64,
    pub retried: u64,
    /// Deliveries in the failed list now.
    pub failed: u64,
    /// Traces dropped because the backlog passed its size or age bound.
    pub dropped: u64,
    pub dropped_by_sampling: u64,
    /// Traces left out by the API key allowlist or the filter rules.
    pub filtered: u64,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<LastErrorView>,
    /// Whether a `Retry-After` pauses the destination now.
    pub paused: bool,
    pub paused_until: Option<DateTime<Utc>>,
    /// Whether the destination is backing off after transient failures.
    pub backing_off: bool,
    pub backing_off_until: Option<DateTime<Utc>>,
    /// Whether the destination runs now (false once deleted or disabled).
    pub running: bool,
    /// Counters restart from zero when the service restarts; queued and failed are read from
    /// the queue.
    pub counters_since: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LastErrorView {
    pub at: DateTime<Utc>,
    pub http_status: Option<u16>,
    /// A short reason without secrets or trace content.
    pub message: String,
}

/// A page of failed deliveries.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FailedList {
    pub data: Vec<FailedView>,
    pub total: u64,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FailedView {
    pub generation_id: String,
    pub reason: String,
    pub attempts: u32,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeliverRequest {
    /// Only these traces; all failed ones when absent.
    #[serde(default)]
    pub generation_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RedeliverAnswer {
    pub redelivered: u64,
}

/// The registered destination types.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DestinationTypeList {
    pub data: Vec<DestinationTypeView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DestinationTypeView {
    #[serde(rename = "type")]
    pub type_name: String,
    pub display_name: String,
    pub max_events_per_request: usize,
    pub max_request_bytes: usize,
    pub max_event_bytes: usize,
    pub config_schema: Value,
}

/// Paging query of list endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct Page {
    pub offset: Option<usize>,
    pub limit: Option<usize>,
}

impl Page {
    pub const DEFAULT_LIMIT: usize = 50;
    pub const MAX_LIMIT: usize = 200;

    pub fn offset(&self) -> usize {
        self.offset.unwrap_or(0)
    }

    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(Page::DEFAULT_LIMIT).clamp(1, Page::MAX_LIMIT)
    }
}
