//! Cache keys: sha256 over a canonical description of one step for one component. Everything
//! that can change the step's result goes in; nothing that cannot (timings, absolute temp
//! paths, mtimes) does.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::inputs::{self, InputIndex, StepInputs};
use crate::cache::SCHEMA_VERSION;
use crate::config::{Policy, Thresholds};

/// The canonical description that is hashed. Field order is fixed by the struct and maps are
/// sorted, so the same step always serialises to the same bytes.
#[derive(Debug, Serialize)]
pub struct KeyMaterial<'a> {
    pub schema: u32,
    pub step: &'a str,
    pub tool: &'a str,
    pub version: &'a str,
    /// Arguments for this component alone, with placeholders for per-run paths.
    pub argv: &'a [String],
    pub interpreter: &'a str,
    pub sources: BTreeMap<String, String>,
    pub tests: BTreeMap<String, String>,
    pub dependencies: BTreeMap<String, String>,
    pub configs: BTreeMap<String, String>,
    pub thresholds: &'a Thresholds,
    pub policy: &'a Policy,
}

pub struct KeyParts<'a> {
    pub step: &'a str,
    pub tool: &'a str,
    pub version: &'a str,
    pub argv: &'a [String],
    pub interpreter: &'a str,
    pub thresholds: &'a Thresholds,
    pub policy: &'a Policy,
}

impl<'a> KeyMaterial<'a> {
    pub fn new(parts: KeyParts<'a>, index: &InputIndex, files: &StepInputs) -> Self {
        KeyMaterial {
            schema: SCHEMA_VERSION,
            step: parts.step,
            tool: parts.tool,
            version: parts.version,
            argv: parts.argv,
            interpreter: parts.interpreter,
            sources: inputs::digest_list(index, &files.sources),
            tests: inputs::digest_list(index, &files.tests),
            dependencies: inputs::digest_list(index, &files.dependencies),
            configs: inputs::digest_list(index, &files.configs),
            thresholds: parts.thresholds,
            policy: parts.policy,
        }
    }

    pub fn digest(&self) -> String {
        let bytes = serde_json::to_vec(self).expect("key material always serialises");
        inputs::hex(&Sha256::digest(&bytes))
    }
}
