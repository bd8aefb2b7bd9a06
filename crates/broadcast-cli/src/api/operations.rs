//! Connection tests, delivery status, the failed list and redelivery.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use broadcast_core::ConnectionErrorKind;
use broadcast_engine::DestinationSpec;

use super::destinations::{authorize, check_spec, load, parse_body};
use super::error::ApiError;
use super::views::{FailedList, FailedView, LastErrorView, Page, RedeliverAnswer, RedeliverRequest, StatusView, TestDestination, TestResult};
use super::SharedState;

pub async fn test_unsaved(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Result<Json<TestResult>, ApiError> {
    authorize(&state, &headers, &account_id)?;
    let request: TestDestination = parse_body(&body)?;
    let spec = DestinationSpec::new("unsaved", &account_id, "unsaved", &request.type_name, request.config);
    let prepared = check_spec(&state, spec)?;
    Ok(Json(test_result(prepared.destination().test_connection().await)))
}

pub async fn test_saved(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((account_id, id)): Path<(String, String)>,
) -> Result<Json<TestResult>, ApiError> {
    authorize(&state, &headers, &account_id)?;
    let record = load(&state, &account_id, &id).await?;
    let prepared = check_spec(&state, record.spec())?;
    Ok(Json(test_result(prepared.destination().test_connection().await)))
}

fn test_result(result: Result<(), broadcast_core::ConnectionError>) -> TestResult {
    match result {
        Ok(()) => TestResult {
            ok: true,
            kind: None,
            message: None,
        },
        Err(error) => {
            let kind = match error.kind {
                ConnectionErrorKind::Unauthorized => "unauthorized",
                ConnectionErrorKind::Rejected => "rejected",
                ConnectionErrorKind::Unreachable => "unreachable",
                ConnectionErrorKind::ServerError => "server_error",
            };
            TestResult {
                ok: false,
                kind: Some(kind.to_string()),
                message: Some(error.message),
            }
        }
    }
}

pub async fn status(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((account_id, id)): Path<(String, String)>,
) -> Result<Json<StatusView>, ApiError> {
    authorize(&state, &headers, &account_id)?;
    let record = load(&state, &account_id, &id).await?;
    let queue = state.engine.queue();
    let queued = queue.pending_count(&id).await.map_err(ApiError::internal)?;
    let failed = queue.failed_count(&id).await.map_err(ApiError::internal)?;
    let running = state.engine.status_of(&id);
    let stats = running.as_ref().map(|status| status.stats.clone()).unwrap_or_default();
    let now = chrono::Utc::now();
    Ok(Json(StatusView {
        id,
        queued,
        in_flight: stats.in_flight,
        delivered: stats.delivered,
        retried: stats.retried,
        failed,
        dropped: stats.dropped,
        dropped_by_sampling: stats.dropped_by_sampling,
        filtered: stats.filtered,
        last_success_at: stats.state.last_success_at,
        last_error: stats.state.last_error.map(|error| LastErrorView {
            at: error.at,
            http_status: error.http_status,
            message: without_secrets(&error.message, &record),
        }),
        paused: stats.state.paused_until.is_some_and(|until| until > now),
        paused_until: stats.state.paused_until,
        backing_off: stats.state.backing_off_until.is_some_and(|until| until > now),
        backing_off_until: stats.state.backing_off_until,
        running: running.is_some(),
        counters_since: state.started_at,
    }))
}

pub async fn failed(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((account_id, id)): Path<(String, String)>,
    Query(page): Query<Page>,
) -> Result<Json<FailedList>, ApiError> {
    authorize(&state, &headers, &account_id)?;
    let record = load(&state, &account_id, &id).await?;
    let queue = state.engine.queue();
    let total = queue.failed_count(&id).await.map_err(ApiError::internal)?;
    let failed = queue.failed(&id, page.offset(), page.limit()).await.map_err(ApiError::internal)?;
    Ok(Json(FailedList {
        data: failed
            .into_iter()
            .map(|delivery| FailedView {
                generation_id: delivery.generation_id,
                reason: without_secrets(&delivery.reason, &record),
                attempts: delivery.attempts,
            })
            .collect(),
        total,
        offset: page.offset(),
        limit: page.limit(),
    }))
}

pub async fn redeliver(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((account_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<RedeliverAnswer>, ApiError> {
    authorize(&state, &headers, &account_id)?;
    let record = load(&state, &account_id, &id).await?;
    if record.deleted_at.is_some() {
        return Err(ApiError::conflict("deleted", "this destination is deleted, so nothing would send the traces"));
    }
    let request: RedeliverRequest = if body.is_empty() { RedeliverRequest::default() } else { parse_body(&body)? };
    let redelivered = state.engine.redeliver(&id, request.generation_ids).await.map_err(ApiError::internal)?;
    tracing::info!(%account_id, destination = %id, redelivered, "Failed deliveries queued again.");
    Ok(Json(RedeliverAnswer { redelivered }))
}

/// Masks the destination's secrets in a failure reason: a receiver's error body can echo the
/// key it was sent.
fn without_secrets(text: &str, record: &broadcast_store::DestinationRecord) -> String {
    let secrets: Vec<String> = record
        .secret_fields
        .iter()
        .filter_map(|field| record.config.get(field).and_then(serde_json::Value::as_str))
        .filter(|secret| secret.len() >= 4)
        .map(str::to_string)
        .collect();
    broadcast_core::secret::mask_secrets(text, &secrets)
}
