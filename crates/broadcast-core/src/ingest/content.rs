//! Message content: a string or an array of typed parts, in OpenAI or Anthropic form.
//!
//! Inline base64 data is never copied into the trace. Data URIs, `input_audio.data`,
//! Anthropic `base64` sources and `file_data` keep only their media type and decoded size
//! ([`inline_bytes`]). http(s) URLs are kept as given.

use serde_json::{Map, Value};

use super::coerce::as_text;
use super::error::IngestError;
use crate::model::ContentPart;

/// Reads `content` (a string, an array of parts, or null) at JSON path `field`.
///
/// Empty strings give no part. Anthropic `tool_use`, `tool_result` and `thinking` blocks
/// become [`ContentPart::Other`] here; message readers that know the role handle them first.
pub(crate) fn read_content(
    value: Option<&Value>,
    field: &str,
) -> Result<Vec<ContentPart>, IngestError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) if text.is_empty() => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![ContentPart::Text { text: text.clone() }]),
        Some(Value::Array(parts)) => {
            let mut content = Vec::with_capacity(parts.len());
            for (position, part) in parts.iter().enumerate() {
                let part_field = format!("{field}[{position}]");
                if let Some(part) = read_part(part, &part_field)? {
                    content.push(part);
                }
            }
            Ok(content)
        }
        Some(other) => Err(IngestError::invalid(
            field,
            other,
            "expected a string, an array of content parts or null; send the content as the provider received it",
        )),
    }
}

/// Reads one content part; `None` for an empty text part.
pub(crate) fn read_part(part: &Value, field: &str) -> Result<Option<ContentPart>, IngestError> {
    let object =
        match part {
            Value::String(text) if text.is_empty() => return Ok(None),
            Value::String(text) => return Ok(Some(ContentPart::Text { text: text.clone() })),
            Value::Object(object) => object,
            other => return Err(IngestError::invalid(
                field,
                other,
                "expected a content part object such as {\"type\": \"text\", \"text\": \"...\"}",
            )),
        };

    let kind = as_text(object.get("type")).unwrap_or("");
    let part = match kind {
        "text" | "input_text" | "output_text" => match object.get("text") {
            Some(Value::String(text)) if text.is_empty() => return Ok(None),
            Some(Value::String(text)) => ContentPart::Text { text: text.clone() },
            Some(other) => {
                return Err(IngestError::invalid(
                    format!("{field}.text"),
                    other,
                    "expected the text of a text part as a string",
                ))
            }
            None => return Ok(None),
        },
        "image_url" => openai_image(object.get("image_url")),
        "input_image" => openai_image(object.get("image_url").or(object.get("url"))),
        "image" => anthropic_source_image(object.get("source")),
        "input_audio" => audio(object.get("input_audio")),
        "file" => openai_file(object.get("file")),
        "document" => anthropic_document(object),
        // Video parts (OpenRouter `video_url`) have no model variant; a file part keeps the URL
        // or the size of inline data.
        "video_url" => video(object.get("video_url")),
        "" => ContentPart::Other {
            kind: "untyped".to_string(),
        },
        other => ContentPart::Other {
            kind: other.to_string(),
        },
    };
    Ok(Some(part))
}

/// Reads OpenAI's `image_url`, which is `{url, detail}` or, in older clients, a bare URL string.
fn openai_image(image_url: Option<&Value>) -> ContentPart {
    let (url, detail) = match image_url {
        Some(Value::String(url)) => (Some(url.as_str()), None),
        Some(Value::Object(object)) => (as_text(object.get("url")), as_text(object.get("detail"))),
        _ => (None, None),
    };
    let reference = url.map(classify_reference).unwrap_or(Reference::None);
    let (url, media_type, inline_bytes) = reference.into_fields();
    ContentPart::Image {
        url,
        media_type,
        inline_bytes,
        detail: detail.map(str::to_string),
    }
}

/// Reads an Anthropic image block's `source`: `base64`, `url` or `file`.
fn anthropic_source_image(source: Option<&Value>) -> ContentPart {
    let (url, media_type, inline_bytes) = anthropic_source(source).into_fields();
    ContentPart::Image {
        url,
        media_type,
        inline_bytes,
        detail: None,
    }
}

fn audio(input_audio: Option<&Value>) -> ContentPart {
    let object = input_audio.and_then(Value::as_object);
    let format = object.and_then(|object| as_text(object.get("format")));
    let data = object.and_then(|object| as_text(object.get("data")));
    ContentPart::Audio {
        format: format.map(str::to_string),
        inline_bytes: data.map(base64_decoded_len),
    }
}

/// Reads OpenAI's `file` part: `file_data` is a data URI (or, through OpenRouter, a URL).
fn openai_file(file: Option<&Value>) -> ContentPart {
    let object = file.and_then(Value::as_object);
    let filename = object.and_then(|object| as_text(object.get("filename")));
    let data = object.and_then(|object| as_text(object.get("file_data")));
    let reference = data.map(classify_reference).unwrap_or(Reference::None);
    let (url, media_type, inline_bytes) = reference.into_fields();
    ContentPart::File {
        filename: filename.map(str::to_string),
        media_type,
        url,
        inline_bytes,
    }
}

/// Reads an Anthropic `document` block, using its `title` as the file name.
fn anthropic_document(object: &Map<String, Value>) -> ContentPart {
    let (url, media_type, inline_bytes) = anthropic_source(object.get("source")).into_fields();
    ContentPart::File {
        filename: as_text(object.get("title")).map(str::to_string),
        media_type,
        url,
        inline_bytes,
    }
}

fn video(video_url: Option<&Value>) -> ContentPart {
    let url = match video_url {
        Some(Value::String(url)) => Some(url.as_str()),
        Some(Value::Object(object)) => as_text(object.get("url")),
        _ => None,
    };
    let (url, media_type, inline_bytes) = url
        .map(classify_reference)
        .unwrap_or(Reference::None)
        .into_fields();
    ContentPart::File {
        filename: None,
        media_type,
        url,
        inline_bytes,
    }
}

/// The location of a media part's bytes: a URL or inline data.
enum Reference {
    None,
    Url(String),
    Inline {
        media_type: Option<String>,
        bytes: u64,
    },
}

impl Reference {
    /// Returns `(url, media_type, inline_bytes)`.
    fn into_fields(self) -> (Option<String>, Option<String>, Option<u64>) {
        match self {
            Reference::None => (None, None, None),
            Reference::Url(url) => (Some(url), None, None),
            Reference::Inline { media_type, bytes } => (None, media_type, Some(bytes)),
        }
    }
}

/// Reads an Anthropic `source`: `{type: base64, media_type, data}`, `{type: url, url}`,
/// `{type: text, media_type, data}` (a plain-text document) or `{type: file, file_id}`.
fn anthropic_source(source: Option<&Value>) -> Reference {
    let Some(object) = source.and_then(Value::as_object) else {
        return Reference::None;
    };
    let media_type = as_text(object.get("media_type")).map(str::to_string);
    let data = as_text(object.get("data"));
    match as_text(object.get("type")) {
        Some("base64") => Reference::Inline {
            media_type,
            bytes: data.map(base64_decoded_len).unwrap_or(0),
        },
        Some("text") => Reference::Inline {
            media_type,
            bytes: data.map(|text| text.len() as u64).unwrap_or(0),
        },
        Some("url") => match as_text(object.get("url")) {
            Some(url) => classify_reference(url),
            None => Reference::None,
        },
        _ => Reference::None,
    }
}

/// Classifies a URL-or-data string.
///
/// `data:` URIs become inline data. Strings with a scheme (`https://`, `gs://`) are kept as
/// URLs. Anything else is taken as raw base64, which some clients send without a `data:` prefix.
fn classify_reference(text: &str) -> Reference {
    if let Some(rest) = strip_prefix_ignore_case(text, "data:") {
        return data_uri(rest);
    }
    let looks_like_url =
        text.contains("://") && text.len() <= 8192 && !text.contains(char::is_whitespace);
    if looks_like_url {
        return Reference::Url(text.to_string());
    }
    Reference::Inline {
        media_type: None,
        bytes: base64_decoded_len(text),
    }
}

/// Reads the part of a data URI after `data:`: `<media type>[;params][;base64],<data>`.
fn data_uri(rest: &str) -> Reference {
    let (header, data) = rest.split_once(',').unwrap_or((rest, ""));
    let mut pieces = header.split(';');
    let media_type = pieces
        .next()
        .map(str::trim)
        .filter(|media_type| !media_type.is_empty())
        .map(str::to_string);
    let is_base64 = pieces.any(|piece| piece.trim().eq_ignore_ascii_case("base64"));
    let bytes = if is_base64 {
        base64_decoded_len(data)
    } else {
        // NOTE: percent-encoded data is counted by its encoded length, an upper bound.
        data.len() as u64
    };
    Reference::Inline { media_type, bytes }
}

/// Returns the decoded size of base64 text: three bytes per four characters, minus one per
/// `=` of padding. Whitespace is ignored. Truncated or invalid base64 gives an estimate.
pub(crate) fn base64_decoded_len(text: &str) -> u64 {
    let characters = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .count() as u64;
    let padding = text
        .trim_end()
        .bytes()
        .rev()
        .take(2)
        .take_while(|byte| *byte == b'=')
        .count() as u64;
    (characters * 3 / 4).saturating_sub(padding)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(value: Value) -> Vec<ContentPart> {
        read_content(Some(&value), "content").expect("content is valid")
    }

    #[test]
    fn base64_size_accounts_padding() {
        assert_eq!(base64_decoded_len("UklGRiQAAABXQVZF"), 12);
        assert_eq!(base64_decoded_len("QQ=="), 1);
        assert_eq!(base64_decoded_len("QUI="), 2);
        assert_eq!(base64_decoded_len("QU\nJD"), 3);
        assert_eq!(base64_decoded_len(""), 0);
    }

    #[test]
    fn string_content_is_one_text_part() {
        assert_eq!(
            parts(json!("hi")),
            vec![ContentPart::Text { text: "hi".into() }]
        );
        assert!(parts(json!("")).is_empty());
        assert!(parts(Value::Null).is_empty());
    }

    #[test]
    fn data_uri_image_keeps_only_type_and_size() {
        let content = parts(
            json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD", "detail": "low"}}]),
        );
        assert_eq!(
            content,
            vec![ContentPart::Image {
                url: None,
                media_type: Some("image/png".into()),
                inline_bytes: Some(3),
                detail: Some("low".into()),
            }]
        );
    }

    #[test]
    fn http_image_url_kept() {
        let content =
            parts(json!([{"type": "image_url", "image_url": "https://example.com/a.png"}]));
        assert!(
            matches!(&content[0], ContentPart::Image { url: Some(url), inline_bytes: None, .. } if url == "https://example.com/a.png")
        );
    }

    #[test]
    fn anthropic_base64_image_dropped_to_size() {
        let content = parts(
            json!([{"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJDRA=="}}]),
        );
        assert_eq!(
            content,
            vec![ContentPart::Image {
                url: None,
                media_type: Some("image/jpeg".into()),
                inline_bytes: Some(4),
                detail: None,
            }]
        );
    }

    #[test]
    fn file_data_uri_dropped_to_size() {
        let content = parts(
            json!([{"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,QUJD"}}]),
        );
        assert_eq!(
            content,
            vec![ContentPart::File {
                filename: Some("a.pdf".into()),
                media_type: Some("application/pdf".into()),
                url: None,
                inline_bytes: Some(3),
            }]
        );
    }

    #[test]
    fn audio_keeps_format_and_size() {
        let content = parts(
            json!([{"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}]),
        );
        assert_eq!(
            content,
            vec![ContentPart::Audio {
                format: Some("wav".into()),
                inline_bytes: Some(12)
            }]
        );
    }

    #[test]
    fn anthropic_document_url_kept() {
        let content = parts(
            json!([{"type": "document", "title": "Spec", "source": {"type": "url", "url": "https://example.com/a.pdf"}}]),
        );
        assert!(
            matches!(&content[0], ContentPart::File { filename: Some(title), url: Some(_), inline_bytes: None, .. } if title == "Spec")
        );
    }

    #[test]
    fn unknown_part_kept_by_name() {
        assert_eq!(
            parts(json!([{"type": "thinking", "thinking": "x"}])),
            vec![ContentPart::Other {
                kind: "thinking".into()
            }]
        );
    }

    #[test]
    fn number_content_rejected_with_path() {
        let error = read_content(Some(&json!(5)), "request.messages[0].content")
            .expect_err("a number is not content");
        assert_eq!(error.field, "request.messages[0].content");
        assert_eq!(error.value, "5");
    }

    #[test]
    fn number_part_rejected_with_path() {
        let error = read_content(Some(&json!(["ok", 7])), "request.messages[0].content")
            .expect_err("a number is not a part");
        assert_eq!(error.field, "request.messages[0].content[1]");
    }
}
