//! The table's columns and its DDL.

/// Every column with its BigQuery type, in table order; OpenRouter's BigQuery columns.
pub const COLUMNS: &[(&str, &str)] = &[
    ("trace_id", "STRING"),
    ("span_id", "STRING"),
    ("timestamp", "TIMESTAMP"),
    ("model", "STRING"),
    ("status", "STRING"),
    ("level", "STRING"),
    ("finish_reason", "STRING"),
    ("user_id", "STRING"),
    ("session_id", "STRING"),
    ("provider_name", "STRING"),
    ("api_key_name", "STRING"),
    ("duration_ms", "INT64"),
    ("prompt_tokens", "INT64"),
    ("completion_tokens", "INT64"),
    ("total_tokens", "INT64"),
    ("total_cost", "BIGNUMERIC"),
    ("attributes", "JSON"),
    ("input", "JSON"),
    ("output", "JSON"),
    ("metadata", "JSON"),
    ("model_parameters", "JSON"),
    ("resource_attributes", "JSON"),
    ("tags", "ARRAY<STRING>"),
];

/// Returns the `CREATE TABLE` statement, partitioned by day of `timestamp`.
pub fn ddl(project: &str, dataset: &str, table: &str) -> String {
    let lines: Vec<String> = COLUMNS.iter().map(|(name, kind)| format!("    `{name}` {kind}")).collect();
    format!(
        "CREATE TABLE IF NOT EXISTS `{project}.{dataset}.{table}` (\n{}\n)\nPARTITION BY DATE(`timestamp`)",
        lines.join(",\n")
    )
}
