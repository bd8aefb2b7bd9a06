//! Request bodies: packing events, gzip, and decoding a body back into its events.

use std::io::{Read, Write};

use broadcast_core::EncodedEvent;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use prost::Message as _;
use serde_json::Value;

use crate::proto::ExportTraceServiceRequest;
use crate::{otlp_json, Compression, Encoding};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Largest body `decode_request` inflates, so a corrupt or hostile body cannot exhaust memory.
const MAX_INFLATED_BYTES: u64 = 256 * 1024 * 1024;

/// Builds an `ExportTraceServiceRequest` body from encoded events. The framing adds 20 bytes
/// plus one per event in JSON and nothing in protobuf, within the 64 bytes plus one per event
/// the engine keeps free.
pub fn request_body(events: &[EncodedEvent], encoding: Encoding) -> Vec<u8> {
    let size: usize = events.iter().map(|event| event.bytes.len() + 1).sum();
    match encoding {
        Encoding::Protobuf => {
            let mut body = Vec::with_capacity(size);
            for event in events {
                body.extend_from_slice(&event.bytes);
            }
            body
        }
        Encoding::Json => {
            let mut body = Vec::with_capacity(size + 20);
            body.extend_from_slice(br#"{"resourceSpans":["#);
            for (index, event) in events.iter().enumerate() {
                if index > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&event.bytes);
            }
            body.extend_from_slice(b"]}");
            body
        }
    }
}

/// Returns an empty export request, which OTLP receivers accept as a no-op.
pub fn empty_body(encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => Vec::new(),
        Encoding::Json => br#"{"resourceSpans":[]}"#.to_vec(),
    }
}

/// Compresses `body` as the `Content-Encoding` requires.
///
/// # Errors
/// The I/O error of the gzip encoder, which writes to memory.
pub fn compress(body: Vec<u8>, compression: Compression) -> std::io::Result<Vec<u8>> {
    match compression {
        Compression::None => Ok(body),
        Compression::Gzip => {
            let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::default());
            encoder.write_all(&body)?;
            encoder.finish()
        }
    }
}

/// Decodes a request body (protobuf or OTLP/JSON, gzipped or not) into one OTLP/JSON value
/// per `ResourceSpans`.
///
/// # Errors
/// A message saying which layer failed: gzip, JSON or protobuf.
pub fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
    if body.starts_with(&GZIP_MAGIC) {
        let mut inflated = Vec::new();
        GzDecoder::new(body)
            .take(MAX_INFLATED_BYTES)
            .read_to_end(&mut inflated)
            .map_err(|error| format!("request body is not valid gzip: {error}"))?;
        return decode_plain(&inflated);
    }
    decode_plain(body)
}

fn decode_plain(body: &[u8]) -> Result<Vec<Value>, String> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    match first {
        None => Ok(Vec::new()),
        Some(b'{') => {
            let value: Value = serde_json::from_slice(body).map_err(|error| format!("request body is not OTLP/JSON: {error}"))?;
            match value.get("resourceSpans") {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => Ok(items.clone()),
                Some(_) => Err("`resourceSpans` in the request body is not an array".to_string()),
            }
        }
        Some(_) => {
            let request = ExportTraceServiceRequest::decode(body)
                .map_err(|error| format!("request body is not an OTLP protobuf ExportTraceServiceRequest: {error}"))?;
            Ok(request.resource_spans.iter().map(otlp_json::resource_spans).collect())
        }
    }
}
