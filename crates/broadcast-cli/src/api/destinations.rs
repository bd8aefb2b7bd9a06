//! Destination CRUD: list, create, read, update (PATCH) and soft delete.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use broadcast_engine::rules::FilterRules;
use broadcast_engine::{DestinationSpec, EngineError, PreparedDestination};
use broadcast_store::secrets::{merge_config, secret_fields};
use broadcast_store::DestinationRecord;
use chrono::Utc;
use serde_json::{Map, Value};

use super::auth::Caller;
use super::error::ApiError;
use super::views::{CreateDestination, DestinationList, DestinationTypeList, DestinationTypeView, DestinationView, Page};
use super::SharedState;

/// Identifies the caller and checks it may manage `account_id`.
pub(super) fn authorize(state: &SharedState, headers: &HeaderMap, account_id: &str) -> Result<Caller, ApiError> {
    let caller = state.tokens.caller(headers)?;
    match &caller {
        Caller::Gateway { .. } => Err(ApiError::forbidden("a gateway token may only ingest traces; use the operator or the account's token")),
        _ if !caller.may_manage(account_id) => Err(ApiError::not_found("account")),
        _ => Ok(caller),
    }
}

/// Parses a JSON body, returning 400 with serde's description of what is wrong.
pub(super) fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError::bad_request(format!("invalid request body: {error}")))
}

/// Reads a destination of the account, returning 404 when it does not exist.
pub(super) async fn load(state: &SharedState, account_id: &str, id: &str) -> Result<DestinationRecord, ApiError> {
    state
        .store
        .get(account_id, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("destination"))
}

pub async fn list_types(State(state): State<SharedState>, headers: HeaderMap) -> Result<Json<DestinationTypeList>, ApiError> {
    state.tokens.caller(&headers)?;
    let data = state
        .engine
        .registry()
        .iter()
        .map(|descriptor| DestinationTypeView {
            type_name: descriptor.type_name.to_string(),
            display_name: descriptor.display_name.to_string(),
            max_events_per_request: descriptor.limits.max_events_per_request,
            max_request_bytes: descriptor.limits.max_request_bytes,
            max_event_bytes: descriptor.limits.max_event_bytes,
            config_schema: (descriptor.config_schema)(),
        })
        .collect();
    Ok(Json(DestinationTypeList { data }))
}

pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<DestinationList>, ApiError> {
    authorize(&state, &headers, &account_id)?;
    let (records, total) = state
        .store
        .list(&account_id, page.offset(), page.limit())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(DestinationList {
        data: records.iter().map(DestinationView::from).collect(),
        total,
        offset: page.offset(),
        limit: page.limit(),
    }))
}

pub async fn read(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((account_id, id)): Path<(String, String)>,
) -> Result<Json<DestinationView>, ApiError> {
    authorize(&state, &headers, &account_id)?;
    let record = load(&state, &account_id, &id).await?;
    Ok(Json(DestinationView::from(&record)))
}

pub async fn create(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &account_id)?;
    let request: CreateDestination = parse_body(&body)?;
    let name = request.name.trim().to_string();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "is empty; give the destination a name"));
    }
    let (existing, _) = state.store.list(&account_id, 0, usize::MAX >> 1).await.map_err(ApiError::internal)?;
    if existing.iter().any(|record| record.name == name) {
        return Err(ApiError::conflict("name_taken", format!("account `{account_id}` already has a destination named `{name}`")));
    }
    let of_type = existing.iter().filter(|record| record.type_name == request.type_name).count() as u64;
    if of_type >= state.max_destinations_per_type {
        return Err(ApiError::conflict(
            "limit_reached",
            format!("account `{account_id}` already has {of_type} destinations of type `{}`, the most allowed (server.max_destinations_per_type); delete one first", request.type_name),
        ));
    }

    let now = Utc::now();
    let record = DestinationRecord {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account_id.clone(),
        type_name: request.type_name.clone(),
        name,
        enabled: request.enabled,
        privacy_mode: request.privacy_mode,
        sampling_rate: request.sampling_rate,
        api_key_hashes: request.api_key_hashes,
        filter_rules: request.filter_rules,
        secret_fields: type_secret_fields(&state, &request.type_name),
        config: request.config,
        skip_connection_test: request.skip_connection_test,
        managed_by_config: false,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let prepared = check(&state, &record)?;
    if record.skip_connection_test {
        tracing::warn!(account_id = %record.account_id, destination = %record.id, destination_type = %record.type_name, "Saving a destination without a connection test, as the request asked.");
    } else {
        run_connection_test(&prepared).await?;
    }
    state.store.save(record.clone()).await.map_err(ApiError::internal)?;
    state.engine.install(prepared);
    tracing::info!(account_id = %record.account_id, destination = %record.id, destination_type = %record.type_name, "Destination created.");
    Ok((StatusCode::CREATED, Json(DestinationView::from(&record))).into_response())
}

/// PATCH fields and what each accepts; any other key is rejected.
const PATCH_FIELDS: &[&str] = &[
    "type",
    "name",
    "enabled",
    "privacy_mode",
    "sampling_rate",
    "api_key_hashes",
    "filter_rules",
    "config",
    "skip_connection_test",
];

pub async fn update(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((account_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<DestinationView>, ApiError> {
    authorize(&state, &headers, &account_id)?;
    let patch: Map<String, Value> = parse_body(&body)?;
    if let Some(unknown) = patch.keys().find(|key| !PATCH_FIELDS.contains(&key.as_str())) {
        return Err(ApiError::invalid(unknown.clone(), format!("unknown field `{unknown}`; PATCH takes {}", PATCH_FIELDS.join(", "))));
    }
    let stored = load(&state, &account_id, &id).await?;
    if stored.managed_by_config {
        return Err(ApiError::conflict("managed_by_config", "this destination is defined in the config file; change it there"));
    }
    if stored.deleted_at.is_some() {
        return Err(ApiError::conflict("deleted", "this destination is deleted; create a new one"));
    }

    let mut record = stored.clone();
    if let Some(type_name) = patch.get("type") {
        if type_name.as_str() != Some(stored.type_name.as_str()) {
            return Err(ApiError::invalid("type", format!("cannot change from `{}`; create a new destination instead", stored.type_name)));
        }
    }
    if let Some(value) = patch.get("name") {
        let name = value.as_str().map(str::trim).unwrap_or_default();
        if name.is_empty() {
            return Err(ApiError::invalid("name", "must be a non-empty string"));
        }
        if name != stored.name {
            let (existing, _) = state.store.list(&account_id, 0, usize::MAX >> 1).await.map_err(ApiError::internal)?;
            if existing.iter().any(|other| other.name == name) {
                return Err(ApiError::conflict("name_taken", format!("account `{account_id}` already has a destination named `{name}`")));
            }
        }
        record.name = name.to_string();
    }
    record.enabled = patch_bool(&patch, "enabled", record.enabled)?;
    record.privacy_mode = patch_bool(&patch, "privacy_mode", record.privacy_mode)?;
    record.skip_connection_test = patch_bool(&patch, "skip_connection_test", false)?;
    if let Some(value) = patch.get("sampling_rate") {
        record.sampling_rate = value.as_f64().ok_or_else(|| ApiError::invalid("sampling_rate", "must be a number from 0.0001 to 1"))?;
    }
    match patch.get("api_key_hashes") {
        None => {}
        Some(Value::Null) => record.api_key_hashes = None,
        Some(value) => {
            record.api_key_hashes = Some(
                serde_json::from_value(value.clone())
                    .map_err(|_| ApiError::invalid("api_key_hashes", "must be null or an array of strings"))?,
            )
        }
    }
    match patch.get("filter_rules") {
        None => {}
        Some(Value::Null) => record.filter_rules = None,
        Some(value) => {
            let rules: FilterRules = serde_json::from_value(value.clone())
                .map_err(|error| ApiError::invalid("filter_rules", format!("invalid filter rules: {error}")))?;
            record.filter_rules = Some(rules);
        }
    }
    match patch.get("config") {
        None => {}
        Some(Value::Object(config_patch)) => {
            record.config = merge_config(&stored.config, config_patch, &stored.secret_fields);
        }
        Some(_) => return Err(ApiError::invalid("config", "must be an object of the keys to change")),
    }

    let prepared = check(&state, &record)?;
    let config_changed = record.config != stored.config;
    if config_changed && !record.skip_connection_test {
        run_connection_test(&prepared).await?;
    }
    if config_changed && record.skip_connection_test {
        tracing::warn!(account_id = %record.account_id, destination = %record.id, "Saving a changed config without a connection test, as the request asked.");
    }
    record.skip_connection_test = if config_changed { record.skip_connection_test } else { stored.skip_connection_test };
    record.updated_at = Utc::now();
    state.store.save(record.clone()).await.map_err(ApiError::internal)?;
    state.engine.install(prepared);
    Ok(Json(DestinationView::from(&record)))
}

pub async fn remove(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((account_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    authorize(&state, &headers, &account_id)?;
    let mut record = load(&state, &account_id, &id).await?;
    if record.managed_by_config {
        return Err(ApiError::conflict("managed_by_config", "this destination is defined in the config file; remove it there"));
    }
    if record.deleted_at.is_none() {
        record.deleted_at = Some(Utc::now());
        record.updated_at = Utc::now();
        state.store.save(record).await.map_err(ApiError::internal)?;
        state.engine.remove(&id);
        tracing::info!(%account_id, destination = %id, "Destination deleted; its queued traces stay in the queue.");
    }
    Ok(StatusCode::NO_CONTENT)
}

fn patch_bool(patch: &Map<String, Value>, field: &str, current: bool) -> Result<bool, ApiError> {
    match patch.get(field) {
        None => Ok(current),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(ApiError::invalid(field, "must be true or false")),
    }
}

pub(super) fn type_secret_fields(state: &SharedState, type_name: &str) -> Vec<String> {
    state
        .engine
        .registry()
        .get(type_name)
        .map(|descriptor| secret_fields(&(descriptor.config_schema)()))
        .unwrap_or_default()
}

/// Checks a destination the way saving it would: type, config, URLs, sampling, rules.
pub(super) fn check(state: &SharedState, record: &DestinationRecord) -> Result<PreparedDestination, ApiError> {
    check_spec(state, record.spec())
}

pub(super) fn check_spec(state: &SharedState, spec: DestinationSpec) -> Result<PreparedDestination, ApiError> {
    if !spec.config.is_object() {
        return Err(ApiError::invalid("config", "must be an object; see GET /v1/destination-types for the keys"));
    }
    state
        .policy
        .check_config(&spec.config)
        .map_err(|error| ApiError::invalid(format!("config.{}", error.field), error.message))?;
    PreparedDestination::prepare(state.engine.registry(), spec, &state.managed_context).map_err(|error| match error {
        EngineError::UnknownType { type_name, known, .. } => {
            ApiError::invalid("type", format!("unknown type `{type_name}`; registered types: {known}"))
        }
        EngineError::InvalidConfig { error, .. } => ApiError::invalid(format!("config.{}", error.field), error.message),
        EngineError::InvalidSamplingRate { rate, .. } => {
            ApiError::invalid("sampling_rate", format!("{rate} is out of range; use a value from 0.0001 to 1"))
        }
        EngineError::InvalidRule { error, .. } => ApiError::invalid(error.field, error.message),
        EngineError::DuplicateKey(key) => ApiError::conflict("duplicate", format!("destination `{key}` exists")),
    })
}

/// Runs the connection test; a failure is 422 with the destination's message.
pub(super) async fn run_connection_test(prepared: &PreparedDestination) -> Result<(), ApiError> {
    prepared.destination().test_connection().await.map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "connection_test_failed",
            format!("connection test failed: {error}; fix the config, or send \"skip_connection_test\": true to save it anyway"),
        )
    })
}
