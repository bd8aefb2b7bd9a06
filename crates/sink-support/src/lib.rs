//! Helpers shared by destination crates: fitting a JSON event under a size limit, parsing
//! common config values, and sending one request and classifying its response.

pub mod config;
pub mod content;
pub mod span_rows;
pub mod fit;
pub mod http;

pub use fit::{fit_json, FitError};
