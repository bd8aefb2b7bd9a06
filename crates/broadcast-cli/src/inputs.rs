//! Reading envelope files for `broadcast send`.

use std::path::{Path, PathBuf};

use broadcast_core::ingest::split_envelopes;
use serde_json::Value;

/// One envelope and where it came from, such as `corpus/a.json` or `batch.jsonl line 4`.
pub struct SourcedEnvelope {
    pub source: String,
    pub envelope: Value,
}

/// Input that could not be read; the rest of the input is still sent.
pub struct InputError {
    pub source: String,
    pub message: String,
}

/// Reads every envelope from `paths`: `.json` files (one envelope or an array), `.jsonl` or
/// `.ndjson` files (one envelope per line), and directories of such files (not recursive,
/// sorted by name; other files are skipped).
pub fn read_inputs(paths: &[PathBuf]) -> (Vec<SourcedEnvelope>, Vec<InputError>) {
    let mut envelopes = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            match envelope_files_in(path) {
                Ok(files) => {
                    for file in files {
                        read_file(&file, &mut envelopes, &mut errors);
                    }
                }
                Err(error) => errors.push(InputError {
                    source: path.display().to_string(),
                    message: format!("cannot list directory: {error}"),
                }),
            }
        } else {
            read_file(path, &mut envelopes, &mut errors);
        }
    }
    (envelopes, errors)
}

fn envelope_files_in(directory: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        if path.is_file() && is_envelope_file(&path) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn is_envelope_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|extension| extension.to_str()),
        Some("json" | "jsonl" | "ndjson")
    )
}

fn read_file(path: &Path, envelopes: &mut Vec<SourcedEnvelope>, errors: &mut Vec<InputError>) {
    let source = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            errors.push(InputError {
                source,
                message: format!("cannot read file: {error}"),
            });
            return;
        }
    };
    match split_envelopes(&bytes) {
        Ok(found) => {
            let single = found.len() == 1;
            for (index, envelope) in found.into_iter().enumerate() {
                let source = if single { source.clone() } else { format!("{source} [{index}]") };
                envelopes.push(SourcedEnvelope { source, envelope });
            }
        }
        Err(error) => errors.push(InputError {
            source,
            message: error.to_string(),
        }),
    }
}
