//! Links every destination crate into the final binary.
//!
//! `inventory` registers only what is linked, and the linker drops a crate nothing refers to.
//! The `broadcast` binary and the tests both call [`registry`], which refers to each
//! destination crate by name, so no destination can drop out of one of them silently. A new
//! `dest-*` crate is added to `Cargo.toml` and to [`LINKED`] below.

use broadcast_core::registry::DuplicateTypeError;
use broadcast_core::Registry;

use broadcast_core::Destination;

/// The type name of each linked destination, referenced so the linker keeps its crate.
/// Add one line per destination type, in alphabetical order.
pub const LINKED: &[&str] = &[
    dest_arize::ArizeDestination::TYPE_NAME,
    dest_bigquery::BigQueryDestination::TYPE_NAME,
    dest_braintrust::BraintrustDestination::TYPE_NAME,
    dest_clickhouse::ClickHouseDestination::TYPE_NAME,
    dest_datadog::DatadogDestination::TYPE_NAME,
    dest_elastic::ElasticDestination::TYPE_NAME,
    dest_grafana::GrafanaDestination::TYPE_NAME,
    dest_langfuse::LangfuseDestination::TYPE_NAME,
    dest_langsmith::LangsmithDestination::TYPE_NAME,
    dest_newrelic::NewrelicDestination::TYPE_NAME,
    dest_opik::OpikDestination::TYPE_NAME,
    dest_otel_collector::OtelCollectorDestination::TYPE_NAME,
    dest_phoenix::PhoenixDestination::TYPE_NAME,
    dest_posthog::PostHogDestination::TYPE_NAME,
    dest_raindrop::RaindropDestination::TYPE_NAME,
    dest_ramp::RampDestination::TYPE_NAME,
    dest_s3::S3Destination::TYPE_NAME,
    dest_sentry::SentryDestination::TYPE_NAME,
    dest_snowflake::SnowflakeDestination::TYPE_NAME,
    dest_weave::WeaveDestination::TYPE_NAME,
    dest_webhook::WebhookDestination::TYPE_NAME,
];

/// Loads the registry of every linked destination and checks that each crate in [`LINKED`]
/// registered itself.
///
/// # Errors
/// [`DuplicateTypeError`] when two destinations share a type name.
///
/// # Panics
/// When a crate in [`LINKED`] is missing from the registry, which means the linker dropped
/// its registration: a build problem, not an input problem.
pub fn registry() -> Result<Registry, DuplicateTypeError> {
    let registry = Registry::load()?;
    for type_name in LINKED {
        assert!(
            registry.get(type_name).is_some(),
            "destination `{type_name}` is linked but did not register; check the inventory setup"
        );
    }
    Ok(registry)
}
