//! `GET /openapi.json`, built from the route table and the bodies' Rust types.

use axum::extract::State;
use axum::Json;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use super::{routes, SharedState};

/// Returns the JSON Schema of `T`, with every sub-schema inlined, as OpenAPI 3.0 takes it.
pub fn schema<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    let mut schema = serde_json::to_value(generator.into_root_schema_for::<T>()).unwrap_or(Value::Null);
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("definitions");
        object.remove("$defs");
    }
    schema
}

/// Builds the OpenAPI document.
pub fn build() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in routes() {
        let mut responses = Map::new();
        for (status, description, body) in &route.responses {
            let mut response = json!({"description": description});
            if let Some(body) = body {
                response["content"] = json!({"application/json": {"schema": body()}});
            }
            responses.insert(status.to_string(), response);
        }
        let parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut operation = json!({
            "summary": route.summary,
            "description": format!("Authorization: {}.", route.auth),
            "responses": responses,
        });
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(request) = route.request {
            operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": request()}}});
        }
        if route.auth != "none" {
            operation["security"] = json!([{"bearer": []}]);
        }
        let entry = paths.entry(route.path.to_string()).or_insert_with(|| json!({}));
        entry[route.method] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "broadcast", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Ingest LLM request traces and manage the destinations each account broadcasts them to."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    })
}

pub async fn document(State(_state): State<SharedState>) -> Json<Value> {
    Json(build())
}
