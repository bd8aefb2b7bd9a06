//! Where the configured destinations come from.
//!
//! The engine reads destinations through [`DestinationStore`], so that the config file today,
//! and a database shared by several broadcast nodes later, can supply them.

use async_trait::async_trait;

use crate::engine::DestinationSpec;

#[derive(Debug, thiserror::Error)]
#[error("cannot read destinations: {0}")]
pub struct StoreError(pub String);

/// A source of destination specs.
#[async_trait]
pub trait DestinationStore: Send + Sync {
    /// Returns every destination of every account, enabled or not.
    async fn destinations(&self) -> Result<Vec<DestinationSpec>, StoreError>;
}

/// A fixed list of destinations, such as the ones a config file defines.
#[derive(Debug, Clone, Default)]
pub struct StaticDestinations(pub Vec<DestinationSpec>);

#[async_trait]
impl DestinationStore for StaticDestinations {
    async fn destinations(&self) -> Result<Vec<DestinationSpec>, StoreError> {
        Ok(self.0.clone())
    }
}
