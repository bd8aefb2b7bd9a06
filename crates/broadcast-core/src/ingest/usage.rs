//! Token usage and cost as providers report them.
//!
//! Counts are copied, never recomputed: completion tokens keep whatever reasoning tokens the
//! provider included, and reasoning tokens are stored apart. The one derived count is the
//! Anthropic total, which Anthropic does not send: input plus output tokens.

use rust_decimal::Decimal;
use serde_json::Value;

use super::coerce::{read_decimal, read_u64};
use super::error::Warnings;
use crate::model::Usage;

/// Reads an OpenAI-shape `usage` object at JSON path `field`, with OpenRouter's `cost` and
/// the detail fields of OpenAI, OpenRouter and DeepSeek. Returns the usage and the cost.
///
/// `null`, a missing object and `{}` all give an empty usage, which [`merge_usage`] never lets
/// overwrite a real one.
pub(crate) fn read_openai_usage(
    usage: Option<&Value>,
    field: &str,
    warnings: &mut Warnings,
) -> (Usage, Option<Decimal>) {
    let Some(usage) = usage.filter(|usage| usage.is_object()) else {
        return (Usage::default(), None);
    };
    let read = |key: &str, warnings: &mut Warnings| {
        read_u64(usage.get(key), &format!("{field}.{key}"), warnings)
    };

    let prompt_tokens = read("prompt_tokens", warnings).or_else(|| read("input_tokens", warnings));
    let completion_tokens =
        read("completion_tokens", warnings).or_else(|| read("output_tokens", warnings));
    let total_tokens = read("total_tokens", warnings);
    let prompt_details = usage.get("prompt_tokens_details");
    let completion_details = usage.get("completion_tokens_details");
    let detail = |details: Option<&Value>, key: &str, path: &str, warnings: &mut Warnings| {
        read_u64(
            details.and_then(|details| details.get(key)),
            &format!("{field}.{path}.{key}"),
            warnings,
        )
    };

    let cached_tokens = detail(
        prompt_details,
        "cached_tokens",
        "prompt_tokens_details",
        warnings,
    )
    .or_else(|| read("prompt_cache_hit_tokens", warnings));
    let cache_creation_tokens = detail(
        prompt_details,
        "cache_write_tokens",
        "prompt_tokens_details",
        warnings,
    );
    let reasoning_tokens = detail(
        completion_details,
        "reasoning_tokens",
        "completion_tokens_details",
        warnings,
    );
    let cost = read_decimal(usage.get("cost"), &format!("{field}.cost"), warnings);

    let usage = Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens,
        cached_tokens,
        cache_creation_tokens,
        reasoning_tokens,
    };
    (usage, cost)
}

/// Reads an Anthropic `usage` object. The total is left unset; [`finish_anthropic_usage`]
/// computes it once the last stream event has been merged.
pub(crate) fn read_anthropic_usage(
    usage: Option<&Value>,
    field: &str,
    warnings: &mut Warnings,
) -> Usage {
    let Some(usage) = usage.filter(|usage| usage.is_object()) else {
        return Usage::default();
    };
    let mut read = |key: &str| read_u64(usage.get(key), &format!("{field}.{key}"), warnings);
    Usage {
        prompt_tokens: read("input_tokens"),
        completion_tokens: read("output_tokens"),
        total_tokens: None,
        cached_tokens: read("cache_read_input_tokens"),
        cache_creation_tokens: read("cache_creation_input_tokens"),
        reasoning_tokens: None,
    }
}

/// Sets the Anthropic total to input plus output tokens when both are known.
pub(crate) fn finish_anthropic_usage(usage: &mut Usage) {
    if usage.total_tokens.is_none() {
        usage.total_tokens = usage
            .prompt_tokens
            .zip(usage.completion_tokens)
            .and_then(|(prompt, completion)| prompt.checked_add(completion));
    }
}

/// Copies every count that `update` has into `into`. A missing count never clears one.
pub(crate) fn merge_usage(into: &mut Usage, update: Usage) {
    let fields = [
        (&mut into.prompt_tokens, update.prompt_tokens),
        (&mut into.completion_tokens, update.completion_tokens),
        (&mut into.total_tokens, update.total_tokens),
        (&mut into.cached_tokens, update.cached_tokens),
        (
            &mut into.cache_creation_tokens,
            update.cache_creation_tokens,
        ),
        (&mut into.reasoning_tokens, update.reasoning_tokens),
    ];
    for (target, value) in fields {
        if value.is_some() {
            *target = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::str::FromStr;

    #[test]
    fn openrouter_usage_details_and_cost() {
        let mut warnings = Warnings::default();
        let (usage, cost) = read_openai_usage(
            Some(&json!({
                "prompt_tokens": 14, "completion_tokens": 164, "total_tokens": 178, "cost": 0.000669,
                "prompt_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 7},
                "completion_tokens_details": {"reasoning_tokens": 46}
            })),
            "response.usage",
            &mut warnings,
        );
        assert_eq!(usage.prompt_tokens, Some(14));
        assert_eq!(usage.completion_tokens, Some(164));
        assert_eq!(usage.total_tokens, Some(178));
        assert_eq!(usage.cached_tokens, Some(5));
        assert_eq!(usage.cache_creation_tokens, Some(7));
        assert_eq!(usage.reasoning_tokens, Some(46));
        assert_eq!(cost, Decimal::from_str("0.000669").ok());
        assert!(warnings.0.is_empty());
    }

    #[test]
    fn null_usage_never_overwrites() {
        let mut warnings = Warnings::default();
        let (mut merged, _) =
            read_openai_usage(Some(&json!({"prompt_tokens": 11})), "u", &mut warnings);
        let (empty, _) = read_openai_usage(Some(&Value::Null), "u", &mut warnings);
        merge_usage(&mut merged, empty);
        let (blank, _) = read_openai_usage(Some(&json!({})), "u", &mut warnings);
        merge_usage(&mut merged, blank);
        assert_eq!(merged.prompt_tokens, Some(11));
    }

    #[test]
    fn anthropic_total_is_input_plus_output() {
        let mut warnings = Warnings::default();
        let mut usage = read_anthropic_usage(
            Some(
                &json!({"input_tokens": 398, "output_tokens": 155, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 2}),
            ),
            "response.usage",
            &mut warnings,
        );
        finish_anthropic_usage(&mut usage);
        assert_eq!(usage.total_tokens, Some(553));
        assert_eq!(usage.cached_tokens, Some(3));
        assert_eq!(usage.cache_creation_tokens, Some(2));
    }

    #[test]
    fn junk_count_warns_with_path() {
        let mut warnings = Warnings::default();
        let (usage, _) = read_openai_usage(
            Some(&json!({"total_tokens": "n/a", "prompt_tokens": "8"})),
            "response.usage",
            &mut warnings,
        );
        assert_eq!(usage.total_tokens, None);
        assert_eq!(usage.prompt_tokens, Some(8));
        assert_eq!(warnings.0.len(), 1);
        assert_eq!(warnings.0[0].field, "response.usage.total_tokens");
    }
}
