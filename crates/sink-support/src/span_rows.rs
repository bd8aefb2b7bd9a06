//! A trace as table rows, one per span, for the warehouse destinations (ClickHouse,
//! Snowflake). Column names follow OpenRouter's trace tables.
//!
//! | row | when | `SPAN_TYPE` | `NAME` |
//! |---|---|---|---|
//! | root span | always | `SPAN` | trace name, else `llm-request` |
//! | intermediate span | when the caller named one | `SPAN` | span name |
//! | generation | always | `GENERATION` | generation name, else the model |
//!
//! Every row carries the trace id, generation id, user, session, model, provider, API key
//! name, status, level, duration and custom metadata. Tokens, cost, finish reason, input,
//! output and model parameters are on the generation row only, so that sums over a table do
//! not count a request twice. Text columns contain `""` when the trace has no value, and
//! numbers `null`. The JSON columns ([`JSON_COLUMNS`]) contain JSON values, which each
//! destination writes in its own way.

use broadcast_core::{ExportTrace, Outcome};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// Columns whose value is a JSON document rather than a scalar.
pub const JSON_COLUMNS: &[&str] = &["ATTRIBUTES", "INPUT", "OUTPUT", "METADATA", "MODEL_PARAMETERS"];

/// Name of a root span when the caller gave no trace name.
const DEFAULT_ROOT_NAME: &str = "llm-request";

/// `YYYY-MM-DD hh:mm:ss.fff` in UTC, which both ClickHouse (`DateTime64(3)` with the default
/// `date_time_input_format`) and Snowflake (`TIMESTAMP_NTZ`) parse.
pub fn table_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// Builds the trace's rows, root span first and generation last.
pub fn rows(trace: &ExportTrace) -> Vec<Value> {
    let ids = &trace.ids;
    let root_name = trace.names.trace_name.clone().unwrap_or_else(|| DEFAULT_ROOT_NAME.to_string());
    let generation_name = trace
        .names
        .generation_name
        .clone()
        .or_else(|| trace.model.name().map(str::to_string))
        .unwrap_or_else(|| "generation".to_string());

    let mut rows = vec![span_row(trace, &ids.root_span_id, ids.parent_span_id.as_deref().unwrap_or(""), &root_name)];
    let mut generation_parent = ids.root_span_id.clone();
    if let (Some(span_id), Some(span_name)) = (&ids.span_id, &trace.names.span_name) {
        rows.push(span_row(trace, span_id, &ids.root_span_id, span_name));
        generation_parent = span_id.clone();
    }
    rows.push(generation_row(trace, &generation_parent, &generation_name));
    rows
}

/// Builds the columns every row has.
fn common(trace: &ExportTrace, span_id: &str, parent: &str, name: &str, span_type: &str) -> Map<String, Value> {
    let text = |value: Option<&str>| Value::from(value.unwrap_or_default());
    let mut row = Map::new();
    row.insert("TIMESTAMP".into(), json!(table_time(trace.timing.started_at)));
    row.insert("TRACE_ID".into(), json!(trace.ids.trace_id));
    row.insert("SPAN_ID".into(), json!(span_id));
    row.insert("PARENT_SPAN_ID".into(), json!(parent));
    row.insert("GENERATION_ID".into(), json!(trace.ids.generation_id));
    row.insert("NAME".into(), json!(name));
    row.insert("SPAN_TYPE".into(), json!(span_type));
    row.insert("USER_ID".into(), text(trace.user_id.as_deref()));
    row.insert("SESSION_ID".into(), text(trace.session_id.as_deref()));
    row.insert("MODEL".into(), text(trace.model.name()));
    row.insert("PROVIDER_NAME".into(), text(trace.model.provider.as_deref()));
    row.insert("API_KEY_NAME".into(), text(trace.api_key_name.as_deref()));
    row.insert("STATUS".into(), json!(trace.status.outcome.as_str()));
    let level = if trace.status.outcome == Outcome::Error { "ERROR" } else { "DEFAULT" };
    row.insert("LEVEL".into(), json!(level));
    row.insert("DURATION_MS".into(), json!(trace.timing.duration_ms()));
    row.insert("METADATA".into(), Value::Object(trace.metadata.clone()));
    row
}

fn span_row(trace: &ExportTrace, span_id: &str, parent: &str, name: &str) -> Value {
    let mut row = common(trace, span_id, parent, name, "SPAN");
    let mut attributes = Map::new();
    attributes.insert("broadcast.generation_id".into(), json!(trace.ids.generation_id));
    row.insert("ATTRIBUTES".into(), Value::Object(attributes));
    Value::Object(row)
}

fn generation_row(trace: &ExportTrace, parent: &str, name: &str) -> Value {
    let mut row = common(trace, &trace.ids.generation_span_id, parent, name, "GENERATION");
    let usage = &trace.usage;
    row.insert("FINISH_REASON".into(), json!(trace.finish_reason.clone().unwrap_or_default()));
    row.insert("TIME_TO_FIRST_TOKEN_MS".into(), json!(trace.timing.time_to_first_token_ms()));
    row.insert("PROMPT_TOKENS".into(), json!(usage.prompt_tokens));
    row.insert("COMPLETION_TOKENS".into(), json!(usage.completion_tokens));
    row.insert("TOTAL_TOKENS".into(), json!(usage.total()));
    row.insert("CACHED_TOKENS".into(), json!(usage.cached_tokens));
    row.insert("REASONING_TOKENS".into(), json!(usage.reasoning_tokens));
    // A decimal string, so that ClickHouse reads the exact value into its Decimal column.
    row.insert("TOTAL_COST".into(), json!(trace.cost_usd.map(|cost| cost.normalize().to_string())));
    row.insert("ATTRIBUTES".into(), Value::Object(attributes(trace)));
    row.insert("INPUT".into(), serde_json::to_value(&trace.input).unwrap_or(Value::Null));
    row.insert("OUTPUT".into(), output(trace));
    row.insert("MODEL_PARAMETERS".into(), Value::Object(trace.parameters.clone()));
    Value::Object(row)
}

fn output(trace: &ExportTrace) -> Value {
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert("content".into(), json!(trace.output.text));
    if !trace.output.tool_calls.is_empty() {
        message.insert("tool_calls".into(), serde_json::to_value(&trace.output.tool_calls).unwrap_or(Value::Null));
    }
    let mut output = Map::new();
    output.insert("messages".into(), json!([message]));
    if let Some(reasoning) = &trace.output.reasoning {
        output.insert("reasoning".into(), json!(reasoning));
    }
    Value::Object(output)
}

/// OpenTelemetry GenAI attribute names for what has no column of its own.
fn attributes(trace: &ExportTrace) -> Map<String, Value> {
    let mut attributes = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            attributes.insert(key.to_string(), value);
        }
    };
    put("gen_ai.request.model", trace.model.requested.clone().map(Value::from));
    put("gen_ai.response.model", trace.model.served.clone().map(Value::from));
    put("gen_ai.provider.name", trace.model.provider.clone().map(Value::from));
    put("gen_ai.response.id", trace.ids.response_id.clone().map(Value::from));
    put("gen_ai.response.finish_reasons", trace.finish_reason.clone().map(|reason| json!([reason])));
    put("gen_ai.usage.input_tokens", trace.usage.prompt_tokens.map(Value::from));
    put("gen_ai.usage.output_tokens", trace.usage.completion_tokens.map(Value::from));
    put("gen_ai.usage.cache_creation.input_tokens", trace.usage.cache_creation_tokens.map(Value::from));
    put("broadcast.provider_api", Some(Value::from(trace.model.provider_api.as_str())));
    put("broadcast.native_finish_reason", trace.native_finish_reason.clone().map(Value::from));
    put("broadcast.streamed", Some(Value::from(trace.streamed)));
    put("broadcast.content_redacted", Some(Value::from(trace.content_redacted)));
    put("http.response.status_code", trace.status.http_status.map(Value::from));
    put("error.type", trace.status.error_type.clone().map(Value::from));
    put("broadcast.error_code", trace.status.error_code.clone().map(Value::from));
    put("broadcast.error_message", trace.status.error_message.clone().map(Value::from));
    if !trace.output.tool_calls.is_empty() {
        let names: Vec<&str> = trace.output.tool_calls.iter().map(|call| call.name.as_str()).collect();
        put("broadcast.tool_calls", Some(json!(names)));
    }
    attributes
}
