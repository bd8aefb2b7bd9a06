//! The destination store of `broadcast serve`: each account's destinations in SQLite, with
//! secret config values sealed with AES-256-GCM under operator-provided keys.

pub mod crypto;
pub mod secrets;
mod store;

pub use crypto::{CryptoError, KeyRing};
pub use store::{DestinationRecord, DestinationStoreError, SqliteDestinationStore};
