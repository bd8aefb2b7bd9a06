//! `cargo xtask bench`.

use std::path::Path;

pub fn run(_root: &Path, _arguments: &[String]) -> anyhow::Result<()> {
    // TODO: the end-to-end benchmark is being written.
    anyhow::bail!("the benchmark is not written yet")
}
