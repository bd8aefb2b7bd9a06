//! Core of broadcast: the trace model, ingest normalisation, the `Destination` trait and its
//! registry, and the privacy filter that every destination's traces pass through.

pub mod destination;
pub mod ingest;
pub mod model;
pub mod net;
pub mod outcome;
pub mod privacy;
pub mod registry;
pub mod secret;
pub mod text;

pub use destination::{
    BuildContext, ConfigError, Destination, DynDestination, EncodeError, EncodedEvent, Limits,
};
pub use model::*;
pub use rust_decimal::Decimal;
pub use outcome::{ConnectionError, ConnectionErrorKind, ExportOutcome, FailureReason};
pub use privacy::{ExportTrace, PrivacyMode};
pub use registry::{DestinationDescriptor, Registry};
pub use secret::Secret;

/// Re-exports used by the registration macro, so destination crates need no direct
/// dependency on `inventory`.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
