//! The small commands: `destinations` and `test-connection`.

use std::path::PathBuf;

use broadcast_core::BuildContext;
use serde_json::json;

use crate::config_file::ConfigFile;

/// Prints every registered destination type.
pub fn destinations(as_json: bool) -> anyhow::Result<i32> {
    let registry = destinations_all::registry()?;
    if as_json {
        let types: Vec<_> = registry
            .iter()
            .map(|descriptor| {
                json!({
                    "type": descriptor.type_name,
                    "display_name": descriptor.display_name,
                    "limits": {
                        "max_events_per_request": descriptor.limits.max_events_per_request,
                        "max_request_bytes": descriptor.limits.max_request_bytes,
                        "max_event_bytes": descriptor.limits.max_event_bytes,
                    },
                    "config_schema": (descriptor.config_schema)(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&types)?);
        return Ok(0);
    }
    for descriptor in registry.iter() {
        println!("{} ({})", descriptor.type_name, descriptor.display_name);
        println!(
            "  limits: {} events or {} bytes per request, {} bytes per event",
            descriptor.limits.max_events_per_request,
            descriptor.limits.max_request_bytes,
            descriptor.limits.max_event_bytes
        );
        let schema = (descriptor.config_schema)();
        println!("  config schema:");
        for line in serde_json::to_string_pretty(&schema)?.lines() {
            println!("    {line}");
        }
    }
    Ok(0)
}

/// Tests every destination in the config file and prints one line per destination.
pub async fn test_connection(config_path: PathBuf) -> anyhow::Result<i32> {
    let config = ConfigFile::load(&config_path)?;
    let registry = destinations_all::registry()?;
    let context = BuildContext::with_timeout(config.delivery.request_timeout);
    let mut failures = 0;
    let specs = config.destination_specs();
    if specs.is_empty() {
        anyhow::bail!("{} configures no destination", config_path.display());
    }
    for spec in specs {
        let Some(descriptor) = registry.get(&spec.type_name) else {
            println!("{}/{}: FAILED: unknown type `{}` (registered: {})", spec.account_id, spec.name, spec.type_name, registry.type_names().join(", "));
            failures += 1;
            continue;
        };
        let destination = match (descriptor.build)(&spec.config, &context) {
            Ok(destination) => destination,
            Err(error) => {
                println!("{}/{}: FAILED: {error}", spec.account_id, spec.name);
                failures += 1;
                continue;
            }
        };
        match destination.test_connection().await {
            Ok(()) => println!("{}/{}: ok", spec.account_id, spec.name),
            Err(error) => {
                println!("{}/{}: FAILED: {error}", spec.account_id, spec.name);
                failures += 1;
            }
        }
    }
    Ok(if failures > 0 { 1 } else { 0 })
}

/// Prints the table DDL of one destination of the config file.
pub fn ddl(config_path: PathBuf, destination: &str) -> anyhow::Result<i32> {
    let config = ConfigFile::load(&config_path)?;
    let registry = destinations_all::registry()?;
    let specs = config.destination_specs();
    let matching: Vec<_> = specs
        .iter()
        .filter(|spec| format!("{}/{}", spec.account_id, spec.name) == destination || spec.name == destination)
        .collect();
    let spec = match matching.as_slice() {
        [spec] => *spec,
        [] => {
            let known: Vec<String> = specs.iter().map(|spec| format!("{}/{}", spec.account_id, spec.name)).collect();
            anyhow::bail!("no destination named `{destination}` in {}; configured: {}", config_path.display(), known.join(", "));
        }
        _ => anyhow::bail!("several accounts have a destination named `{destination}`; pass ACCOUNT/NAME"),
    };
    let Some(descriptor) = registry.get(&spec.type_name) else {
        anyhow::bail!("destination `{}` has the unknown type `{}`", spec.name, spec.type_name);
    };
    match (descriptor.ddl)(&spec.config)? {
        Some(sql) => {
            println!("{sql}");
            Ok(0)
        }
        None => anyhow::bail!("destination `{}` of type `{}` writes to no table, so it has no DDL", spec.name, spec.type_name),
    }
}
