//! Project tasks: `cargo xtask test-all` and `cargo xtask bench`.

mod bench;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};

const USAGE: &str = "usage: cargo xtask <test-all | bench> [options]

  test-all   build the broadcast binary, then run every test of the workspace
             (unit tests, the destination conformance suite, corpus and field-case
             tests, end-to-end runs of the binary)
  bench      measure serve end to end against a baseline; see docs/benchmarks.md";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let result = match arguments.first().map(String::as_str) {
        Some("test-all") => test_all(&arguments[1..]),
        Some("bench") => bench::run(&workspace_root(), &arguments[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The real request/response corpus the tests read.
pub fn corpus_dir(root: &Path) -> PathBuf {
    std::env::var_os("BROADCAST_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/corpus/real"))
}

fn test_all(extra: &[String]) -> anyhow::Result<()> {
    let root = workspace_root();
    let corpus = corpus_dir(&root);
    if !corpus.is_dir() {
        bail!(
            "the test corpus is missing at {}; put the shared folder beside the repository or set BROADCAST_CORPUS_DIR",
            corpus.display()
        );
    }
    run(Command::new(cargo()).current_dir(&root).args(["build", "--package", "broadcast-cli"]))?;
    let binary = root.join("target/debug/broadcast");
    run(Command::new(cargo())
        .current_dir(&root)
        .env("BROADCAST_BIN", &binary)
        .env("BROADCAST_CORPUS_DIR", &corpus)
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(extra))
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}
