//! Span attributes in the two flavours receivers read: the OpenTelemetry GenAI semantic
//! conventions (with the older names as an option) and the OpenInference conventions.
//!
//! Content attributes (messages, system instructions, tool definitions, output, reasoning) are
//! only written when the trace has content. A trace filtered in privacy mode has none, so no
//! such attribute is written for it, not even an empty one.

use broadcast_core::{ContentPart, ExportTrace, Message, ProviderApi, ToolCall};
use serde_json::{json, Map, Value};

use crate::proto::{AnyValue, KeyValue};

/// Attribute conventions a receiver reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// OpenTelemetry GenAI semantic conventions (`gen_ai.*`), with cost, user, session and
    /// `trace.metadata.<key>`.
    GenAi,
    /// OpenInference conventions (`llm.*`, `input.value`, `openinference.span.kind`), for Arize
    /// and Phoenix.
    OpenInference,
}

/// An ordered list of span attributes.
#[derive(Debug, Default)]
pub struct Attributes(pub Vec<KeyValue>);

impl Attributes {
    pub fn push(&mut self, key: impl Into<String>, value: AnyValue) {
        self.0.push(KeyValue::new(key, value));
    }

    pub fn string(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            self.push(key, AnyValue::string(value));
        }
    }

    pub fn int(&mut self, key: &str, value: Option<u64>) {
        if let Some(value) = value {
            self.push(key, AnyValue::int(i64::try_from(value).unwrap_or(i64::MAX)));
        }
    }

    pub fn json(&mut self, key: &str, value: &Value) {
        self.push(key, AnyValue::string(value.to_string()));
    }
}

/// Attributes every span of the trace carries: user, session and custom metadata. Receivers
/// such as Langfuse filter traces by these only when every span has them.
pub fn trace_level(trace: &ExportTrace, flavour: Flavour) -> Attributes {
    let mut attributes = Attributes::default();
    attributes.string("user.id", trace.user_id.as_deref());
    attributes.string("session.id", trace.session_id.as_deref());
    match flavour {
        Flavour::GenAi => {
            for (key, value) in &trace.metadata {
                attributes.push(format!("trace.metadata.{key}"), any_value_of(value));
            }
        }
        Flavour::OpenInference => {
            if !trace.metadata.is_empty() {
                attributes.json("metadata", &Value::Object(trace.metadata.clone()));
            }
        }
    }
    attributes
}

/// Maps a JSON value to an attribute value: scalars keep their type, arrays of strings become
/// string arrays, anything else becomes its JSON text.
pub fn any_value_of(value: &Value) -> AnyValue {
    match value {
        Value::String(text) => AnyValue::string(text.clone()),
        Value::Bool(flag) => AnyValue::bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => AnyValue::int(integer),
            None => AnyValue::double(number.as_f64().unwrap_or_default()),
        },
        Value::Array(items) if items.iter().all(Value::is_string) => {
            AnyValue::strings(items.iter().filter_map(Value::as_str).map(str::to_string))
        }
        other => AnyValue::string(other.to_string()),
    }
}

/// Attributes of the generation span in the GenAI flavour.
pub fn gen_ai_generation(trace: &ExportTrace, legacy_names: bool) -> Attributes {
    let mut attributes = Attributes::default();
    let operation = match trace.model.provider_api {
        ProviderApi::OpenaiCompletions => "text_completion",
        _ => "chat",
    };
    attributes.string("gen_ai.operation.name", Some(operation));
    attributes.string("gen_ai.provider.name", trace.model.provider.as_deref());
    attributes.string("gen_ai.request.model", trace.model.requested.as_deref());
    attributes.string("gen_ai.response.model", trace.model.served.as_deref());
    attributes.string("gen_ai.response.id", trace.ids.response_id.as_deref());
    attributes.string("gen_ai.conversation.id", trace.session_id.as_deref());
    if let Some(reason) = trace.finish_reason.as_deref() {
        attributes.push("gen_ai.response.finish_reasons", AnyValue::strings([reason.to_string()]));
    }
    let usage = &trace.usage;
    attributes.int("gen_ai.usage.input_tokens", usage.prompt_tokens);
    attributes.int("gen_ai.usage.output_tokens", usage.completion_tokens);
    attributes.int("gen_ai.usage.total_tokens", usage.total());
    attributes.int("gen_ai.usage.cache_read.input_tokens", usage.cached_tokens);
    attributes.int("gen_ai.usage.cache_creation.input_tokens", usage.cache_creation_tokens);
    attributes.int("gen_ai.usage.reasoning.output_tokens", usage.reasoning_tokens);
    if let Some(cost) = cost_of(trace) {
        attributes.push("gen_ai.usage.cost", AnyValue::double(cost));
    }
    if let Some(seconds) = trace.timing.time_to_first_token_ms() {
        attributes.push("gen_ai.response.time_to_first_chunk", AnyValue::double(seconds as f64 / 1000.0));
    }
    attributes.push("gen_ai.request.stream", AnyValue::bool(trace.streamed));
    request_parameters(trace, &mut attributes);
    attributes.string("broadcast.api_key_name", trace.api_key_name.as_deref());
    attributes.string("broadcast.generation_id", Some(&trace.ids.generation_id));
    if let Some(code) = error_type(trace) {
        attributes.string("error.type", Some(&code));
    }

    if let Some(messages) = input_messages(trace) {
        attributes.json("gen_ai.input.messages", &messages);
        if legacy_names {
            attributes.json("gen_ai.prompt", &json!({ "messages": messages }));
        }
    }
    if let Some(system) = system_instructions(trace) {
        attributes.json("gen_ai.system_instructions", &system);
    }
    if let Some(tools) = tool_definitions(trace) {
        attributes.json("gen_ai.tool.definitions", &tools);
    }
    if let Some(messages) = output_messages(trace) {
        attributes.json("gen_ai.output.messages", &messages);
        if legacy_names {
            let mut completion = Map::new();
            if let Some(text) = trace.output.text_or_tool_summary() {
                completion.insert("completion".into(), json!(text));
            }
            if let Some(reasoning) = &trace.output.reasoning {
                completion.insert("reasoning".into(), json!(reasoning));
            }
            attributes.json("gen_ai.completion", &Value::Object(completion));
        }
    }

    if legacy_names {
        attributes.string("gen_ai.system", trace.model.provider.as_deref());
        attributes.int("gen_ai.usage.prompt_tokens", usage.prompt_tokens);
        attributes.int("gen_ai.usage.completion_tokens", usage.completion_tokens);
        attributes.string("gen_ai.response.finish_reason", trace.finish_reason.as_deref());
    }
    attributes
}

/// Attributes of the generation span in the OpenInference flavour.
pub fn open_inference_generation(trace: &ExportTrace) -> Attributes {
    let mut attributes = Attributes::default();
    attributes.string("openinference.span.kind", Some("LLM"));
    attributes.string("llm.model_name", trace.model.name());
    attributes.string("llm.request.model_name", trace.model.requested.as_deref());
    attributes.string("llm.response.model_name", trace.model.served.as_deref());
    let provider = trace.model.provider.as_deref().map(str::to_ascii_lowercase);
    attributes.string("llm.provider", provider.as_deref());
    attributes.string("llm.finish_reason", trace.finish_reason.as_deref());
    if !trace.parameters.is_empty() {
        attributes.json("llm.invocation_parameters", &Value::Object(trace.parameters.clone()));
    }
    let usage = &trace.usage;
    attributes.int("llm.token_count.prompt", usage.prompt_tokens);
    attributes.int("llm.token_count.completion", usage.completion_tokens);
    attributes.int("llm.token_count.total", usage.total());
    attributes.int("llm.token_count.prompt_details.cache_read", usage.cached_tokens);
    attributes.int("llm.token_count.prompt_details.cache_write", usage.cache_creation_tokens);
    attributes.int("llm.token_count.completion_details.reasoning", usage.reasoning_tokens);
    if let Some(cost) = cost_of(trace) {
        attributes.push("llm.cost.total", AnyValue::double(cost));
    }
    attributes.string("broadcast.generation_id", Some(&trace.ids.generation_id));
    attributes.string("broadcast.response_id", trace.ids.response_id.as_deref());
    if let Some(code) = error_type(trace) {
        attributes.string("error.type", Some(&code));
    }

    if trace.content_redacted {
        return attributes;
    }
    let mut index = 0;
    if !trace.input.system.is_empty() {
        let text = parts_text(&trace.input.system);
        attributes.string(&format!("llm.input_messages.{index}.message.role"), Some("system"));
        attributes.string(&format!("llm.input_messages.{index}.message.content"), text.as_deref());
        index += 1;
    }
    for message in &trace.input.messages {
        let prefix = format!("llm.input_messages.{index}.message");
        open_inference_message(&mut attributes, &prefix, message.role.as_str(), &message.content, &message.tool_calls);
        attributes.string(&format!("{prefix}.tool_call_id"), message.tool_call_id.as_deref());
        attributes.string(&format!("{prefix}.name"), message.name.as_deref());
        index += 1;
    }
    if let Some(messages) = input_messages(trace) {
        attributes.json("input.value", &json!({ "messages": messages }));
        attributes.string("input.mime_type", Some("application/json"));
    }
    let output = &trace.output;
    if output.text.is_some() || !output.tool_calls.is_empty() {
        let content: Vec<ContentPart> = output.text.iter().map(|text| ContentPart::Text { text: text.clone() }).collect();
        open_inference_message(&mut attributes, "llm.output_messages.0.message", "assistant", &content, &output.tool_calls);
    }
    if let Some(text) = output.text.as_deref().filter(|text| !text.is_empty()) {
        attributes.string("output.value", Some(text));
        attributes.string("output.mime_type", Some("text/plain"));
    } else if let Some(messages) = output_messages(trace) {
        attributes.json("output.value", &messages);
        attributes.string("output.mime_type", Some("application/json"));
    }
    for (tool_index, tool) in trace.input.tools.iter().enumerate() {
        let schema = json!({"type": "function", "function": tool_json(tool)});
        attributes.json(&format!("llm.tools.{tool_index}.tool.json_schema"), &schema);
    }
    attributes
}

fn open_inference_message(attributes: &mut Attributes, prefix: &str, role: &str, content: &[ContentPart], calls: &[ToolCall]) {
    attributes.string(&format!("{prefix}.role"), Some(role));
    attributes.string(&format!("{prefix}.content"), parts_text(content).as_deref());
    for (index, call) in calls.iter().enumerate() {
        let call_prefix = format!("{prefix}.tool_calls.{index}.tool_call");
        attributes.string(&format!("{call_prefix}.id"), call.id.as_deref());
        attributes.string(&format!("{call_prefix}.function.name"), Some(&call.name));
        attributes.string(&format!("{call_prefix}.function.arguments"), call.arguments.as_deref());
    }
}

/// Text of `parts`: text parts as they are, other parts as a short description such as
/// `[image https://…]`, one per line.
fn parts_text(parts: &[ContentPart]) -> Option<String> {
    let lines: Vec<String> = parts
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text } => Some(text.clone()),
            other => other.placeholder(),
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Cost in US dollars as a double, the only number type OTLP has for it.
fn cost_of(trace: &ExportTrace) -> Option<f64> {
    trace.cost_usd.and_then(|cost| cost.to_string().parse::<f64>().ok())
}

/// Returns the low-cardinality error code of a failed request: the provider's error code,
/// else its type, else the HTTP status.
pub fn error_type(trace: &ExportTrace) -> Option<String> {
    if trace.status.outcome != broadcast_core::Outcome::Error {
        return None;
    }
    let status = &trace.status;
    status
        .error_code
        .clone()
        .or_else(|| status.error_type.clone())
        .or_else(|| status.http_status.map(|code| code.to_string()))
        .or_else(|| Some("error".to_string()))
}

/// `gen_ai.request.*` attributes for the parameters the conventions name.
fn request_parameters(trace: &ExportTrace, attributes: &mut Attributes) {
    let parameters = &trace.parameters;
    let double = |key: &str| parameters.get(key).and_then(Value::as_f64);
    let integer = |key: &str| parameters.get(key).and_then(Value::as_i64);
    for (source, target) in [
        ("temperature", "gen_ai.request.temperature"),
        ("top_p", "gen_ai.request.top_p"),
        ("frequency_penalty", "gen_ai.request.frequency_penalty"),
        ("presence_penalty", "gen_ai.request.presence_penalty"),
    ] {
        if let Some(value) = double(source) {
            attributes.push(target, AnyValue::double(value));
        }
    }
    let max_tokens = integer("max_tokens").or_else(|| integer("max_completion_tokens")).or_else(|| integer("max_output_tokens"));
    for (value, target) in [
        (max_tokens, "gen_ai.request.max_tokens"),
        (integer("top_k"), "gen_ai.request.top_k"),
        (integer("seed"), "gen_ai.request.seed"),
        (integer("n"), "gen_ai.request.choice.count"),
    ] {
        if let Some(value) = value {
            attributes.push(target, AnyValue::int(value));
        }
    }
    match parameters.get("stop").or_else(|| parameters.get("stop_sequences")) {
        Some(Value::String(stop)) => attributes.push("gen_ai.request.stop_sequences", AnyValue::strings([stop.clone()])),
        Some(Value::Array(stops)) => attributes.push(
            "gen_ai.request.stop_sequences",
            AnyValue::strings(stops.iter().filter_map(Value::as_str).map(str::to_string)),
        ),
        _ => {}
    }
}

/// `gen_ai.input.messages`: the conversation as `[{role, parts}]`, or `None` when there is none.
pub fn input_messages(trace: &ExportTrace) -> Option<Value> {
    if trace.content_redacted || trace.input.messages.is_empty() {
        return None;
    }
    Some(Value::Array(trace.input.messages.iter().map(message_json).collect()))
}

fn message_json(message: &Message) -> Value {
    let mut parts: Vec<Value> = Vec::new();
    if let Some(id) = &message.tool_call_id {
        let result = parts_text(&message.content).unwrap_or_default();
        parts.push(json!({"type": "tool_call_response", "id": id, "response": result}));
    } else {
        parts.extend(message.content.iter().map(part_json));
    }
    parts.extend(message.tool_calls.iter().map(tool_call_json));
    let mut object = Map::new();
    object.insert("role".into(), json!(message.role.as_str()));
    if let Some(name) = &message.name {
        object.insert("name".into(), json!(name));
    }
    object.insert("parts".into(), Value::Array(parts));
    Value::Object(object)
}

fn part_json(part: &ContentPart) -> Value {
    match part {
        ContentPart::Text { text } => json!({"type": "text", "content": text}),
        ContentPart::Image { url: Some(url), .. } => json!({"type": "uri", "modality": "image", "uri": url}),
        ContentPart::File { url: Some(url), media_type, .. } => {
            json!({"type": "uri", "modality": "file", "mime_type": media_type, "uri": url})
        }
        // Inline data is never kept, so the part names its kind and size only.
        other => json!({"type": "text", "content": other.placeholder().unwrap_or_default()}),
    }
}

fn tool_call_json(call: &ToolCall) -> Value {
    let arguments = call.arguments_json().or_else(|| call.arguments.clone().map(Value::String));
    json!({"type": "tool_call", "id": call.id, "name": call.name, "arguments": arguments})
}

fn tool_json(tool: &broadcast_core::ToolDefinition) -> Value {
    json!({"name": tool.name, "description": tool.description, "parameters": tool.parameters})
}

/// `gen_ai.system_instructions`: the system text given outside the messages.
pub fn system_instructions(trace: &ExportTrace) -> Option<Value> {
    if trace.content_redacted || trace.input.system.is_empty() {
        return None;
    }
    Some(Value::Array(trace.input.system.iter().map(part_json).collect()))
}

/// `gen_ai.tool.definitions`: the tools offered, with descriptions and schemas.
pub fn tool_definitions(trace: &ExportTrace) -> Option<Value> {
    if trace.content_redacted || trace.input.tools.is_empty() {
        return None;
    }
    let tools = trace
        .input
        .tools
        .iter()
        .map(|tool| {
            let mut value = tool_json(tool);
            value["type"] = json!("function");
            value
        })
        .collect();
    Some(Value::Array(tools))
}

/// `gen_ai.output.messages`: one assistant message with the text, reasoning and tool calls.
pub fn output_messages(trace: &ExportTrace) -> Option<Value> {
    let output = &trace.output;
    if trace.content_redacted || (output.text.is_none() && output.reasoning.is_none() && output.tool_calls.is_empty()) {
        return None;
    }
    let mut parts: Vec<Value> = Vec::new();
    if let Some(reasoning) = &output.reasoning {
        parts.push(json!({"type": "reasoning", "content": reasoning}));
    }
    if let Some(text) = &output.text {
        parts.push(json!({"type": "text", "content": text}));
    }
    parts.extend(output.tool_calls.iter().map(tool_call_json));
    let mut message = json!({"role": "assistant", "parts": parts});
    if let Some(reason) = &trace.finish_reason {
        message["finish_reason"] = json!(reason);
    }
    Some(json!([message]))
}
