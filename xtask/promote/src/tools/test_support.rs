//! Shared by the tool parsers' tests: the path normalizer of the checkout the captured outputs
//! came from, and a finished process built from its exit code and bytes.

use std::time::Duration;

use super::PathNormalizer;
use crate::process::Finished;

/// The outputs under `xtask/promote/test_data/` were captured in `/work/main/examples/tta`.
pub fn normalizer() -> PathNormalizer {
    PathNormalizer::fixed(&["/work/main/examples/tta"])
}

/// A process that exited with `code` after printing `stdout` and `stderr`.
pub fn finished(code: i32, stdout: &[u8], stderr: &[u8]) -> Finished {
    Finished {
        code: Some(code),
        signal: None,
        stdout: stdout.to_vec(),
        stderr: stderr.to_vec(),
        duration: Duration::ZERO,
    }
}
