//! One trace to one encoded event, within the receiver's attribute and event size limits.
//!
//! The event is the trace's whole span tree as one `ResourceSpans`. In protobuf it is written
//! as field 1 of `ExportTraceServiceRequest` (tag, length, message), so a request body is the
//! plain concatenation of its events and needs no framing bytes of its own. In JSON it is the
//! `ResourceSpans` object, and a body is `{"resourceSpans":[e1,e2,…]}`.

use broadcast_core::text::TRUNCATION_MARKER;
use broadcast_core::{EncodeError, EncodedEvent, ExportTrace};
use prost::Message as _;

use crate::proto::{any_value, AnyValue, ExportTraceServiceRequest, KeyValue, ResourceSpans};
use crate::{otlp_json, spans, EncodeOptions, Encoding};

/// Smallest size, in bytes, a string attribute is cut to while shrinking an event.
const MIN_VALUE_BYTES: usize = 256;
/// Most shrinking rounds before giving up on an event.
const MAX_SHRINK_ROUNDS: usize = 64;
/// Bytes kept free for the `broadcast.truncated` attribute added after shrinking.
const MARK_RESERVE: usize = 64;
/// Attribute set on every span of an event in which a value was cut.
pub const TRUNCATED_ATTRIBUTE: &str = "broadcast.truncated";

/// Encodes `trace` as one event of at most `max_event_bytes` bytes, in its wire form and in
/// its OTLP/JSON form both (the conformance suite and debugging tools read the JSON form).
///
/// # Errors
/// [`EncodeError`] when the event is still too large after every string attribute was cut to
/// its minimum, which takes thousands of metadata keys.
pub fn encode(trace: &ExportTrace, options: &EncodeOptions, max_event_bytes: usize) -> Result<EncodedEvent, EncodeError> {
    let mut message = spans::resource_spans(trace, options);
    let mut truncated = false;
    if let Some(max_chars) = options.max_attribute_chars {
        truncated |= cap_attribute_chars(&mut message, max_chars);
    }

    let budget = max_event_bytes.saturating_sub(MARK_RESERVE);
    let mut rounds = 0;
    loop {
        let size = largest_form(&message, options.encoding)?;
        let limit = if truncated { budget } else { max_event_bytes };
        if size <= limit {
            break;
        }
        rounds += 1;
        if rounds > MAX_SHRINK_ROUNDS || !shrink_largest_value(&mut message, size - budget) {
            return Err(EncodeError(format!(
                "the trace's spans take {size} bytes after every attribute was cut, over this destination's event limit of {max_event_bytes} bytes"
            )));
        }
        truncated = true;
    }
    if truncated {
        mark_truncated(&mut message);
    }
    Ok(EncodedEvent {
        generation_id: trace.ids.generation_id.clone(),
        bytes: event_bytes(&message, options.encoding)?,
        truncated,
    })
}

/// Serialises the event as it goes into a request body.
pub fn event_bytes(message: &ResourceSpans, encoding: Encoding) -> Result<Vec<u8>, EncodeError> {
    match encoding {
        Encoding::Protobuf => Ok(ExportTraceServiceRequest { resource_spans: vec![message.clone()] }.encode_to_vec()),
        Encoding::Json => serde_json::to_vec(&otlp_json::resource_spans(message)).map_err(|error| EncodeError(error.to_string())),
    }
}

/// Returns the larger of the wire size and the OTLP/JSON size.
fn largest_form(message: &ResourceSpans, encoding: Encoding) -> Result<usize, EncodeError> {
    let json_size = serde_json::to_vec(&otlp_json::resource_spans(message))
        .map_err(|error| EncodeError(error.to_string()))?
        .len();
    Ok(match encoding {
        Encoding::Json => json_size,
        Encoding::Protobuf => json_size.max(message.encoded_len() + 6),
    })
}

/// Collects every string value of every span and event, for cutting.
fn string_values(message: &mut ResourceSpans) -> Vec<&mut String> {
    let mut values = Vec::new();
    for scope_spans in &mut message.scope_spans {
        for span in &mut scope_spans.spans {
            let events = span.events.iter_mut().flat_map(|event| event.attributes.iter_mut());
            for pair in span.attributes.iter_mut().chain(events) {
                collect_strings(pair.value.as_mut(), &mut values);
            }
        }
    }
    values
}

fn collect_strings<'a>(value: Option<&'a mut AnyValue>, into: &mut Vec<&'a mut String>) {
    match value.and_then(|value| value.value.as_mut()) {
        Some(any_value::Value::StringValue(text)) => into.push(text),
        Some(any_value::Value::ArrayValue(array)) => {
            for item in &mut array.values {
                collect_strings(Some(item), into);
            }
        }
        _ => {}
    }
}

/// Cuts every string value longer than `max_chars` characters, marker included. Returns
/// whether any was cut.
pub fn cap_attribute_chars(message: &mut ResourceSpans, max_chars: usize) -> bool {
    let marker_chars = TRUNCATION_MARKER.chars().count();
    let mut cut_any = false;
    for text in string_values(message) {
        if text.chars().count() <= max_chars {
            continue;
        }
        let keep = max_chars.saturating_sub(marker_chars);
        let end = text.char_indices().nth(keep).map(|(index, _)| index).unwrap_or(text.len());
        text.truncate(end);
        if max_chars >= marker_chars {
            text.push_str(TRUNCATION_MARKER);
        }
        cut_any = true;
    }
    cut_any
}

/// Cuts the longest string value by about `excess` bytes, with a marker. Returns false when no
/// value is longer than the minimum any more.
fn shrink_largest_value(message: &mut ResourceSpans, excess: usize) -> bool {
    let mut values = string_values(message);
    let Some(longest) = values.iter_mut().max_by_key(|text| text.len()) else {
        return false;
    };
    if longest.len() <= MIN_VALUE_BYTES {
        return false;
    }
    // JSON escaping can make a byte of text take several bytes in the JSON form, so cut a
    // little more than the excess to finish in few rounds.
    let target = longest.len().saturating_sub(excess + excess / 8 + TRUNCATION_MARKER.len()).max(MIN_VALUE_BYTES);
    let cut = broadcast_core::text::truncate_with_marker(longest, target).into_owned();
    **longest = cut;
    true
}

fn mark_truncated(message: &mut ResourceSpans) {
    for scope_spans in &mut message.scope_spans {
        for span in &mut scope_spans.spans {
            if !span.attributes.iter().any(|pair| pair.key == TRUNCATED_ATTRIBUTE) {
                span.attributes.push(KeyValue::new(TRUNCATED_ATTRIBUTE, AnyValue::bool(true)));
            }
        }
    }
}
