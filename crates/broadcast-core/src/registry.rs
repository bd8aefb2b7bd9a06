//! The destination registry.
//!
//! Each `dest-*` crate registers a [`DestinationDescriptor`] with
//! [`register_destination!`](crate::register_destination). Registration goes through
//! `inventory`, which collects only what the final binary links: the `destinations-all` crate
//! links every destination, and both the `broadcast` binary and the tests depend on it.
//! [`Registry::load`] rejects duplicate type names, which `inventory` itself does not check.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::destination::{
    BuildContext, ConfigError, Destination, DynDestination, Limits,
};

/// Static description of one destination type: its name, limits, schema and constructors.
pub struct DestinationDescriptor {
    pub type_name: &'static str,
    pub display_name: &'static str,
    pub limits: Limits,
    pub config_schema: fn() -> Value,
    /// Parses and checks a raw config (pure).
    pub validate: fn(&Value) -> Result<(), ConfigError>,
    /// Validates a raw config and builds the destination.
    pub build: fn(&Value, &BuildContext) -> Result<Box<dyn DynDestination>, ConfigError>,
    pub example_config: fn(&str) -> Value,
    pub decode_request: fn(&[u8]) -> Result<Vec<Value>, String>,
    /// Validates a raw config and returns the table DDL, if the destination has one.
    pub ddl: fn(&Value) -> Result<Option<String>, ConfigError>,
}

inventory::collect!(DestinationDescriptor);

impl std::fmt::Debug for DestinationDescriptor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DestinationDescriptor")
            .field("type_name", &self.type_name)
            .field("display_name", &self.display_name)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl DestinationDescriptor {
    /// The descriptor of destination type `T`; used by the registration macro.
    pub const fn of<T: Destination>() -> Self {
        DestinationDescriptor {
            type_name: T::TYPE_NAME,
            display_name: T::DISPLAY_NAME,
            limits: T::LIMITS,
            config_schema: T::config_schema,
            validate: validate_erased::<T>,
            build: build_erased::<T>,
            example_config: T::example_config,
            decode_request: T::decode_request,
            ddl: ddl_erased::<T>,
        }
    }
}

fn ddl_erased<T: Destination>(raw: &Value) -> Result<Option<String>, ConfigError> {
    Ok(T::ddl(&T::validate(raw)?))
}

fn validate_erased<T: Destination>(raw: &Value) -> Result<(), ConfigError> {
    T::validate(raw).map(|_| ())
}

fn build_erased<T: Destination>(
    raw: &Value,
    context: &BuildContext,
) -> Result<Box<dyn DynDestination>, ConfigError> {
    let config = T::validate(raw)?;
    Ok(Box::new(T::build(config, context)))
}

/// Registers a destination type with the process-wide registry.
///
/// ```ignore
/// broadcast_core::register_destination!(RaindropDestination);
/// ```
#[macro_export]
macro_rules! register_destination {
    ($destination:ty) => {
        $crate::__private::inventory::submit! {
            $crate::registry::DestinationDescriptor::of::<$destination>()
        }
    };
}

/// Two linked crates registered the same type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("destination type `{type_name}` is registered twice ({first} and {second}); rename one of them")]
pub struct DuplicateTypeError {
    pub type_name: &'static str,
    pub first: &'static str,
    pub second: &'static str,
}

/// The registered destination types, by type name.
#[derive(Debug, Clone)]
pub struct Registry {
    by_name: BTreeMap<&'static str, &'static DestinationDescriptor>,
}

impl Registry {
    /// Collects every linked descriptor.
    ///
    /// # Errors
    /// [`DuplicateTypeError`] when two descriptors share a type name.
    pub fn load() -> Result<Registry, DuplicateTypeError> {
        Registry::from_descriptors(inventory::iter::<DestinationDescriptor>)
    }

    /// Builds a registry from an explicit list; `load` uses the linked ones.
    ///
    /// # Errors
    /// [`DuplicateTypeError`] when two descriptors share a type name.
    pub fn from_descriptors(
        descriptors: impl IntoIterator<Item = &'static DestinationDescriptor>,
    ) -> Result<Registry, DuplicateTypeError> {
        let mut by_name = BTreeMap::new();
        for descriptor in descriptors {
            if let Some(first) = by_name.insert(descriptor.type_name, descriptor) {
                return Err(DuplicateTypeError {
                    type_name: descriptor.type_name,
                    first: first.display_name,
                    second: descriptor.display_name,
                });
            }
        }
        Ok(Registry { by_name })
    }

    pub fn get(&self, type_name: &str) -> Option<&'static DestinationDescriptor> {
        self.by_name.get(type_name).copied()
    }

    /// Descriptors sorted by type name.
    pub fn iter(&self) -> impl Iterator<Item = &'static DestinationDescriptor> + '_ {
        self.by_name.values().copied()
    }

    pub fn type_names(&self) -> Vec<&'static str> {
        self.by_name.keys().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_schema() -> Value {
        Value::Null
    }

    fn accept(_: &Value) -> Result<(), ConfigError> {
        Ok(())
    }

    fn reject_build(_: &Value, _: &BuildContext) -> Result<Box<dyn DynDestination>, ConfigError> {
        Err(ConfigError::new("type", "test descriptor cannot be built"))
    }

    fn example(_: &str) -> Value {
        Value::Null
    }

    fn decode(_: &[u8]) -> Result<Vec<Value>, String> {
        Ok(Vec::new())
    }

    fn no_ddl(_: &Value) -> Result<Option<String>, ConfigError> {
        Ok(None)
    }

    const LIMITS: Limits = Limits {
        max_events_per_request: 1,
        max_request_bytes: 1,
        max_event_bytes: 1,
    };

    static FIRST: DestinationDescriptor = DestinationDescriptor {
        type_name: "same",
        display_name: "First",
        limits: LIMITS,
        config_schema: no_schema,
        validate: accept,
        build: reject_build,
        example_config: example,
        decode_request: decode,
        ddl: no_ddl,
    };

    static SECOND: DestinationDescriptor = DestinationDescriptor {
        type_name: "same",
        display_name: "Second",
        limits: LIMITS,
        config_schema: no_schema,
        validate: accept,
        build: reject_build,
        example_config: example,
        decode_request: decode,
        ddl: no_ddl,
    };

    #[test]
    fn duplicate_type_names_rejected() {
        let error = Registry::from_descriptors([&FIRST, &SECOND]).err();
        let Some(error) = error else {
            panic!("two descriptors named `same` must be rejected");
        };
        assert_eq!(error.type_name, "same");
        assert!(error.to_string().contains("registered twice"));
    }

    #[test]
    fn single_descriptor_found_by_name() {
        let registry = Registry::from_descriptors([&FIRST]).ok();
        let found = registry.as_ref().and_then(|registry| registry.get("same"));
        assert_eq!(found.map(|descriptor| descriptor.display_name), Some("First"));
    }
}
