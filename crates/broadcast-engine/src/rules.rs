//! Per-destination filter rules, applied at ingest before the privacy filter.
//!
//! A rule set is `{"enabled": true, "groups": [{"logic": "and" | "or", "rules": [...]}]}` and
//! each rule is `{"field", "operator", "value"}`.
//!
//! - A trace passes when **every** group matches. Inside a group, `and` needs every rule to
//!   match and `or` needs at least one. An empty or disabled rule set passes every trace.
//! - Text operators (`equals`, `not_equals`, `contains`, `not_contains`, `starts_with`,
//!   `ends_with`, `regex`) compare case-sensitively; a regex can opt out with `(?i)`. Regexes use
//!   the syntax of the Rust `regex` crate (RE2-like: no look-around, no back-references) and
//!   match anywhere in the text unless anchored with `^` and `$`.
//! - Numeric operators (`gt`, `lt`, `gte`, `lte`, and `equals`/`not_equals` on a numeric field)
//!   take a JSON number.
//! - `exists` and `not_exists` take no value and test whether the trace has the field.
//! - A rule on a field the trace does not have matches only `not_exists`, `not_equals` and
//!   `not_contains`.
//! - `input` is the text of every input message and the system prompt, joined by newlines;
//!   `output` is the completion text or the tool call summary.
//!
//! [`FilterRules::compile`] rejects an unknown field or operator, an invalid regex, a numeric
//! operator on a text field and a value of the wrong type, with the path of the rule.

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use broadcast_core::Trace;

/// Filter rules as stored and sent through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterRules {
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    #[serde(default)]
    pub groups: Vec<RuleGroup>,
}

fn default_enabled() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    pub logic: Logic,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Logic {
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub field: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// Fields a rule can test, with their kind.
const FIELDS: &[(&str, FieldKind)] = &[
    ("model", FieldKind::Text),
    ("provider", FieldKind::Text),
    ("session_id", FieldKind::Text),
    ("user_id", FieldKind::Text),
    ("api_key_name", FieldKind::Text),
    ("finish_reason", FieldKind::Text),
    ("input", FieldKind::Text),
    ("output", FieldKind::Text),
    ("total_cost", FieldKind::Number),
    ("total_tokens", FieldKind::Number),
    ("prompt_tokens", FieldKind::Number),
    ("completion_tokens", FieldKind::Number),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Text,
    Number,
}

/// A rule that cannot be used, with the path of the offending part such as
/// `filter_rules.groups[0].rules[1].value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

/// Checked, ready-to-run filter rules.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    enabled: bool,
    groups: Vec<(Logic, Vec<CompiledRule>)>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    field: &'static str,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Exists,
    NotExists,
    TextEquals(String),
    TextNotEquals(String),
    Contains(String),
    NotContains(String),
    StartsWith(String),
    EndsWith(String),
    Regex(Regex),
    NumberCompare(Comparison, f64),
}

#[derive(Debug, Clone, Copy)]
enum Comparison {
    Equal,
    NotEqual,
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
}

impl FilterRules {
    /// Checks every rule and compiles regexes.
    ///
    /// # Errors
    /// [`RuleError`] naming the rule's path, the problem and the accepted values.
    pub fn compile(&self) -> Result<CompiledRules, RuleError> {
        let mut groups = Vec::with_capacity(self.groups.len());
        for (group_index, group) in self.groups.iter().enumerate() {
            let mut rules = Vec::with_capacity(group.rules.len());
            for (rule_index, rule) in group.rules.iter().enumerate() {
                let path = format!("filter_rules.groups[{group_index}].rules[{rule_index}]");
                rules.push(compile_rule(rule, &path)?);
            }
            groups.push((group.logic, rules));
        }
        Ok(CompiledRules {
            enabled: self.enabled,
            groups,
        })
    }
}

fn compile_rule(rule: &Rule, path: &str) -> Result<CompiledRule, RuleError> {
    let error = |suffix: &str, message: String| RuleError {
        field: format!("{path}.{suffix}"),
        message,
    };
    let Some(&(field, kind)) = FIELDS.iter().find(|(name, _)| *name == rule.field) else {
        let known: Vec<&str> = FIELDS.iter().map(|(name, _)| *name).collect();
        return Err(error("field", format!("unknown field `{}`; use one of {}", rule.field, known.join(", "))));
    };
    let text_value = || -> Result<String, RuleError> {
        match &rule.value {
            Some(Value::String(text)) => Ok(text.clone()),
            other => Err(error("value", format!("operator `{}` on `{field}` takes a string, got {}", rule.operator, describe(other)))),
        }
    };
    let number_value = || -> Result<f64, RuleError> {
        match rule.value.as_ref().and_then(Value::as_f64) {
            Some(number) => Ok(number),
            None => Err(error("value", format!("operator `{}` on `{field}` takes a number, got {}", rule.operator, describe(&rule.value)))),
        }
    };
    let numeric = |comparison| -> Result<Test, RuleError> {
        if kind == FieldKind::Text {
            return Err(error("operator", format!("`{}` compares numbers, but `{field}` is a text field; use equals, contains, regex or another text operator", rule.operator)));
        }
        Ok(Test::NumberCompare(comparison, number_value()?))
    };
    let textual = |make: fn(String) -> Test| -> Result<Test, RuleError> {
        if kind == FieldKind::Number {
            return Err(error("operator", format!("`{}` compares text, but `{field}` is a numeric field; use gt, lt, gte, lte, equals or not_equals", rule.operator)));
        }
        Ok(make(text_value()?))
    };
    let test = match rule.operator.as_str() {
        "exists" => Test::Exists,
        "not_exists" => Test::NotExists,
        "equals" if kind == FieldKind::Number => numeric(Comparison::Equal)?,
        "not_equals" if kind == FieldKind::Number => numeric(Comparison::NotEqual)?,
        "equals" => Test::TextEquals(text_value()?),
        "not_equals" => Test::TextNotEquals(text_value()?),
        "contains" => textual(Test::Contains)?,
        "not_contains" => textual(Test::NotContains)?,
        "starts_with" => textual(Test::StartsWith)?,
        "ends_with" => textual(Test::EndsWith)?,
        "regex" => {
            if kind == FieldKind::Number {
                return Err(error("operator", format!("`regex` compares text, but `{field}` is a numeric field")));
            }
            let pattern = text_value()?;
            let regex = Regex::new(&pattern).map_err(|regex_error| error("value", format!("invalid regex `{pattern}`: {regex_error}")))?;
            Test::Regex(regex)
        }
        "gt" => numeric(Comparison::Greater)?,
        "lt" => numeric(Comparison::Less)?,
        "gte" => numeric(Comparison::GreaterOrEqual)?,
        "lte" => numeric(Comparison::LessOrEqual)?,
        other => {
            return Err(error(
                "operator",
                format!("unknown operator `{other}`; use equals, not_equals, contains, not_contains, regex, starts_with, ends_with, gt, lt, gte, lte, exists or not_exists"),
            ))
        }
    };
    Ok(CompiledRule { field, test })
}

fn describe(value: &Option<Value>) -> String {
    match value {
        None | Some(Value::Null) => "no value".to_string(),
        Some(value) => crate::rules::excerpt(value),
    }
}

fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    broadcast_core::text::truncate_with_marker(&text, 80).into_owned()
}

/// A field's value in a trace.
enum FieldValue {
    Missing,
    Text(String),
    Number(f64),
}

fn field_value(trace: &Trace, field: &str) -> FieldValue {
    let text = |value: Option<&str>| value.map_or(FieldValue::Missing, |text| FieldValue::Text(text.to_string()));
    let number = |value: Option<f64>| value.map_or(FieldValue::Missing, FieldValue::Number);
    match field {
        "model" => text(trace.model.name()),
        "provider" => text(trace.model.provider.as_deref()),
        "session_id" => text(trace.session_id.as_deref()),
        "user_id" => text(trace.user_id.as_deref()),
        "api_key_name" => text(trace.api_key_name.as_deref()),
        "finish_reason" => text(trace.finish_reason.as_deref()),
        "input" => {
            let mut parts: Vec<String> = broadcast_core::join_text(&trace.input.system).into_iter().collect();
            parts.extend(trace.input.messages.iter().filter_map(|message| message.text()));
            if parts.is_empty() {
                FieldValue::Missing
            } else {
                FieldValue::Text(parts.join("\n"))
            }
        }
        "output" => text(trace.output.text_or_tool_summary().as_deref()),
        "total_cost" => number(trace.cost_usd.and_then(|cost| cost.to_string().parse().ok())),
        "total_tokens" => number(trace.usage.total().map(|tokens| tokens as f64)),
        "prompt_tokens" => number(trace.usage.prompt_tokens.map(|tokens| tokens as f64)),
        "completion_tokens" => number(trace.usage.completion_tokens.map(|tokens| tokens as f64)),
        _ => FieldValue::Missing,
    }
}

impl CompiledRules {
    /// Returns whether `trace` passes the rules.
    pub fn matches(&self, trace: &Trace) -> bool {
        if !self.enabled {
            return true;
        }
        self.groups.iter().all(|(logic, rules)| match logic {
            _ if rules.is_empty() => true,
            Logic::And => rules.iter().all(|rule| rule.matches(trace)),
            Logic::Or => rules.iter().any(|rule| rule.matches(trace)),
        })
    }
}

impl CompiledRule {
    fn matches(&self, trace: &Trace) -> bool {
        let value = field_value(trace, self.field);
        match (&self.test, value) {
            (Test::Exists, FieldValue::Missing) => false,
            (Test::Exists, _) => true,
            (Test::NotExists, FieldValue::Missing) => true,
            (Test::NotExists, _) => false,
            (Test::TextNotEquals(_) | Test::NotContains(_), FieldValue::Missing) => true,
            (Test::NumberCompare(Comparison::NotEqual, _), FieldValue::Missing) => true,
            (_, FieldValue::Missing) => false,
            (Test::TextEquals(expected), FieldValue::Text(text)) => &text == expected,
            (Test::TextNotEquals(expected), FieldValue::Text(text)) => &text != expected,
            (Test::Contains(expected), FieldValue::Text(text)) => text.contains(expected.as_str()),
            (Test::NotContains(expected), FieldValue::Text(text)) => !text.contains(expected.as_str()),
            (Test::StartsWith(expected), FieldValue::Text(text)) => text.starts_with(expected.as_str()),
            (Test::EndsWith(expected), FieldValue::Text(text)) => text.ends_with(expected.as_str()),
            (Test::Regex(regex), FieldValue::Text(text)) => regex.is_match(&text),
            (Test::NumberCompare(comparison, expected), FieldValue::Number(number)) => match comparison {
                Comparison::Equal => number == *expected,
                Comparison::NotEqual => number != *expected,
                Comparison::Greater => number > *expected,
                Comparison::Less => number < *expected,
                Comparison::GreaterOrEqual => number >= *expected,
                Comparison::LessOrEqual => number <= *expected,
            },
            // Compilation pairs text tests with text fields and numeric tests with numeric ones.
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(value: Value) -> Result<CompiledRules, RuleError> {
        let rules: FilterRules = serde_json::from_value(value).map_err(|error| RuleError {
            field: "filter_rules".into(),
            message: error.to_string(),
        })?;
        rules.compile()
    }

    fn trace(model: &str, tokens: u64, input: &str) -> Trace {
        let envelope = json!({
            "request": {"model": model, "messages": [{"role": "user", "content": input}]},
            "response": {"model": model, "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": tokens, "completion_tokens": 1}},
            "status": 200
        });
        broadcast_core::ingest::normalise(&envelope, chrono::Utc::now())
            .map(|normalised| normalised.trace)
            .unwrap_or_else(|error| panic!("test envelope rejected: {error}"))
    }

    #[test]
    fn model_equals_routes_one_model() {
        let compiled = rules(json!({"groups": [{"logic": "and", "rules": [{"field": "model", "operator": "equals", "value": "gpt-4o"}]}]}));
        let compiled = compiled.unwrap_or_else(|error| panic!("{error}"));
        assert!(compiled.matches(&trace("gpt-4o", 5, "hi")));
        assert!(!compiled.matches(&trace("claude-3", 5, "hi")));
    }

    #[test]
    fn groups_all_must_match() {
        let compiled = rules(json!({"groups": [
            {"logic": "or", "rules": [
                {"field": "model", "operator": "starts_with", "value": "gpt"},
                {"field": "model", "operator": "regex", "value": "(?i)^CLAUDE"}]},
            {"logic": "and", "rules": [{"field": "prompt_tokens", "operator": "gte", "value": 10}]}
        ]}))
        .unwrap_or_else(|error| panic!("{error}"));
        assert!(compiled.matches(&trace("gpt-4o", 10, "hi")));
        assert!(compiled.matches(&trace("claude-3", 50, "hi")));
        assert!(!compiled.matches(&trace("claude-3", 9, "hi")));
        assert!(!compiled.matches(&trace("mistral", 50, "hi")));
    }

    #[test]
    fn input_contains_and_exists() {
        let compiled = rules(json!({"groups": [{"logic": "and", "rules": [
            {"field": "input", "operator": "contains", "value": "refund"},
            {"field": "session_id", "operator": "not_exists"}]}]}))
        .unwrap_or_else(|error| panic!("{error}"));
        assert!(compiled.matches(&trace("m", 1, "I want a refund")));
        assert!(!compiled.matches(&trace("m", 1, "hello")));
    }

    #[test]
    fn disabled_rules_pass_everything() {
        let compiled = rules(json!({"enabled": false, "groups": [{"logic": "and", "rules": [{"field": "model", "operator": "equals", "value": "x"}]}]}))
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(compiled.matches(&trace("gpt-4o", 1, "hi")));
    }

    #[test]
    fn invalid_regex_rejected() {
        let error = rules(json!({"groups": [{"logic": "and", "rules": [{"field": "model", "operator": "regex", "value": "gpt-(4"}]}]})).err();
        let error = error.unwrap_or_else(|| panic!("an unclosed group must be rejected"));
        assert_eq!(error.field, "filter_rules.groups[0].rules[0].value");
        assert!(error.message.contains("invalid regex"), "{error}");
    }

    #[test]
    fn numeric_operator_on_text_rejected() {
        let error = rules(json!({"groups": [{"logic": "and", "rules": [{"field": "model", "operator": "gt", "value": 3}]}]})).err();
        let error = error.unwrap_or_else(|| panic!("gt on model must be rejected"));
        assert_eq!(error.field, "filter_rules.groups[0].rules[0].operator");
        assert!(error.message.contains("text field"), "{error}");
    }

    #[test]
    fn text_operator_on_number_rejected() {
        let error = rules(json!({"groups": [{"logic": "and", "rules": [{"field": "total_cost", "operator": "contains", "value": "1"}]}]})).err();
        assert_eq!(error.map(|error| error.field), Some("filter_rules.groups[0].rules[0].operator".to_string()));
    }

    #[test]
    fn unknown_field_rejected() {
        let error = rules(json!({"groups": [{"logic": "and", "rules": [{"field": "temperature", "operator": "exists"}]}]})).err();
        let message = error.map(|error| error.message).unwrap_or_default();
        assert!(message.contains("unknown field `temperature`"), "{message}");
    }

    #[test]
    fn wrong_value_type_rejected() {
        let error = rules(json!({"groups": [{"logic": "and", "rules": [{"field": "prompt_tokens", "operator": "lt", "value": "ten"}]}]})).err();
        let message = error.map(|error| error.message).unwrap_or_default();
        assert!(message.contains("takes a number"), "{message}");
    }
}
