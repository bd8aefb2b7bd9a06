//! The HTTP API of `broadcast serve`: ingest, destination management, delivery status,
//! metrics and the OpenAPI document.
//!
//! Every route is declared once, in [`routes`], with its handler and its documentation; the
//! router and `GET /openapi.json` are both built from that table, so the document cannot
//! drift from the code.

pub mod auth;
mod destinations;
pub mod error;
mod ingest;
mod metrics;
mod openapi;
mod operations;
mod views;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::Router;
use broadcast_core::net::UrlPolicy;
use broadcast_core::BuildContext;
use broadcast_engine::Engine;
use broadcast_store::SqliteDestinationStore;
use serde_json::Value;

use auth::Tokens;

/// What every handler shares.
pub struct AppState {
    pub engine: Arc<Engine>,
    pub store: SqliteDestinationStore,
    pub tokens: Tokens,
    /// Rule for URLs in destinations created through the API.
    pub policy: UrlPolicy,
    /// HTTP client settings of destinations created through the API; it enforces `policy` on
    /// every connection.
    pub managed_context: BuildContext,
    /// Most destinations of one type an account may have.
    pub max_destinations_per_type: u64,
    /// Traces accepted by ingest since start.
    pub received_traces: AtomicU64,
    /// Bytes of ingest bodies accepted since start.
    pub received_bytes: AtomicU64,
    /// When the service started; in-memory counters count from then.
    pub started_at: chrono::DateTime<chrono::Utc>,
}

pub type SharedState = Arc<AppState>;

/// Documentation of one route.
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: &'static str,
    pub request: Option<fn() -> Value>,
    pub responses: Vec<(u16, &'static str, Option<fn() -> Value>)>,
    pub handler: MethodRouter<SharedState>,
}

/// Every route of the API.
pub fn routes() -> Vec<RouteDoc> {
    use openapi::schema as s;
    use views::*;
    let error = Some(s::<error::ErrorBody> as fn() -> Value);
    let account = "operator token, or the account's own token";
    vec![
        RouteDoc {
            method: "post",
            path: "/v1/traces",
            summary: "Ingest envelopes: one JSON object, a JSON array of them, or NDJSON. Answers 202 once every trace is durable in the queue.",
            auth: "operator token, a gateway token allowed for each envelope's account, or the account's own token",
            request: Some(s::<ingest::EnvelopeDoc>),
            responses: vec![(202, "Accepted and queued", Some(s::<ingest::IngestAnswer>)), (400, "Invalid envelope; nothing was accepted", error), (401, "Missing or unknown token", error), (403, "Token not allowed for an envelope's account", error), (503, "The queue could not store the traces; retry", error)],
            handler: post(ingest::ingest),
        },
        RouteDoc {
            method: "get",
            path: "/healthz",
            summary: "Liveness check.",
            auth: "none",
            request: None,
            responses: vec![(200, "The service is running", None)],
            handler: get(ingest::healthz),
        },
        RouteDoc {
            method: "get",
            path: "/openapi.json",
            summary: "This document.",
            auth: "none",
            request: None,
            responses: vec![(200, "OpenAPI 3.0 document", None)],
            handler: get(openapi::document),
        },
        RouteDoc {
            method: "get",
            path: "/metrics",
            summary: "Delivery metrics in the Prometheus text format.",
            auth: "operator token",
            request: None,
            responses: vec![(200, "Prometheus text exposition", None), (401, "Missing or unknown token", error), (403, "Not the operator token", error)],
            handler: get(metrics::metrics),
        },
        RouteDoc {
            method: "get",
            path: "/v1/destination-types",
            summary: "Every registered destination type with its display name, limits and config JSON Schema; secret fields carry \"x-secret\": true.",
            auth: "any valid token",
            request: None,
            responses: vec![(200, "Destination types", Some(s::<DestinationTypeList>)), (401, "Missing or unknown token", error)],
            handler: get(destinations::list_types),
        },
        RouteDoc {
            method: "get",
            path: "/v1/accounts/{account_id}/destinations",
            summary: "List an account's destinations (not deleted), oldest first. Query: offset (default 0), limit (default 50, at most 200).",
            auth: account,
            request: None,
            responses: vec![(200, "A page of destinations, secrets masked", Some(s::<DestinationList>)), (401, "Missing or unknown token", error), (404, "No such account for this token", error)],
            handler: get(destinations::list),
        },
        RouteDoc {
            method: "post",
            path: "/v1/accounts/{account_id}/destinations",
            summary: "Create a destination. It is saved only if its connection test passes, unless skip_connection_test is true.",
            auth: account,
            request: Some(s::<CreateDestination>),
            responses: vec![(201, "Created, secrets masked", Some(s::<DestinationView>)), (400, "Malformed body", error), (409, "Name taken, or the per-type limit reached", error), (422, "Invalid value, or the connection test failed", error)],
            handler: post(destinations::create),
        },
        RouteDoc {
            method: "post",
            path: "/v1/accounts/{account_id}/destinations/test",
            summary: "Test an unsaved destination config.",
            auth: account,
            request: Some(s::<TestDestination>),
            responses: vec![(200, "The test ran; see `ok`", Some(s::<TestResult>)), (422, "Invalid config", error)],
            handler: post(operations::test_unsaved),
        },
        RouteDoc {
            method: "get",
            path: "/v1/accounts/{account_id}/destinations/{id}",
            summary: "Read one destination, deleted ones included (deleted_at is set).",
            auth: account,
            request: None,
            responses: vec![(200, "The destination, secrets masked", Some(s::<DestinationView>)), (404, "Not found", error)],
            handler: get(destinations::read),
        },
        RouteDoc {
            method: "patch",
            path: "/v1/accounts/{account_id}/destinations/{id}",
            summary: "Change a destination. An omitted field keeps its value; null clears api_key_hashes or filter_rules; config is merged key by key, and a secret sent back masked keeps the stored one. A changed config is saved only if its connection test passes, unless skip_connection_test is true. type cannot change.",
            auth: account,
            request: Some(s::<PatchDestinationDoc>),
            responses: vec![(200, "The updated destination", Some(s::<DestinationView>)), (400, "Malformed body", error), (404, "Not found", error), (409, "Defined by the config file, or deleted", error), (422, "Invalid value, or the connection test failed", error)],
            handler: patch(destinations::update),
        },
        RouteDoc {
            method: "delete",
            path: "/v1/accounts/{account_id}/destinations/{id}",
            summary: "Delete a destination: it stops receiving traces; it and its delivery history stay readable.",
            auth: account,
            request: None,
            responses: vec![(204, "Deleted", None), (404, "Not found", error), (409, "Defined by the config file", error)],
            handler: delete(destinations::remove),
        },
        RouteDoc {
            method: "post",
            path: "/v1/accounts/{account_id}/destinations/{id}/test",
            summary: "Test a saved destination's connection.",
            auth: account,
            request: None,
            responses: vec![(200, "The test ran; see `ok`", Some(s::<TestResult>)), (404, "Not found", error)],
            handler: post(operations::test_saved),
        },
        RouteDoc {
            method: "get",
            path: "/v1/accounts/{account_id}/destinations/{id}/status",
            summary: "Delivery status: queued, in flight, delivered, retried, failed and dropped counts, last success and last error, pause and backoff.",
            auth: account,
            request: None,
            responses: vec![(200, "Status", Some(s::<StatusView>)), (404, "Not found", error)],
            handler: get(operations::status),
        },
        RouteDoc {
            method: "get",
            path: "/v1/accounts/{account_id}/destinations/{id}/failed",
            summary: "List failed deliveries with their reason, oldest first. Query: offset, limit.",
            auth: account,
            request: None,
            responses: vec![(200, "A page of failed deliveries", Some(s::<FailedList>)), (404, "Not found", error)],
            handler: get(operations::failed),
        },
        RouteDoc {
            method: "post",
            path: "/v1/accounts/{account_id}/destinations/{id}/redeliver",
            summary: "Send failed deliveries again: all of them, or those of the given generation ids.",
            auth: account,
            request: Some(s::<RedeliverRequest>),
            responses: vec![(200, "How many were queued again", Some(s::<RedeliverAnswer>)), (404, "Not found", error)],
            handler: post(operations::redeliver),
        },
    ]
}

/// Builds the router from [`routes`].
pub fn router(state: SharedState, max_body_bytes: usize) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<SharedState>> = BTreeMap::new();
    for route in routes() {
        let handler = match by_path.remove(route.path) {
            Some(existing) => existing.merge(route.handler),
            None => route.handler,
        };
        by_path.insert(route.path, handler);
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }
    router.layer(DefaultBodyLimit::max(max_body_bytes)).with_state(state)
}
