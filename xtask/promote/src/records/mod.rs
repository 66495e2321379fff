//! Promotion records: what `promote --record` measured, written beside the component's
//! MATURITY.md as `promotions/<stage>-<date>.json` so anyone can re-check the claim later.
//! A record is an in-toto Statement v1: its subject is the component's inputs (one sha256
//! over the sorted input digests, with the git commit and tree), its predicate (our type,
//! `schemas/promotion-record.schema.json`) the stages, every gate with its figures and
//! thresholds, and every step's tool, version, cache key and time. Locally a record is the
//! Statement itself, or a DSSE envelope signed with the Ed25519 key in
//! `XTASK_RECORD_SIGNING_KEY`; CI signs it with GitHub's artifact attestations.

pub mod dsse;
pub mod inputs;
pub mod verify;
pub mod write;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::config::{Component, Config};
use crate::report::PromotionReport;
use crate::vocab::Stage;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Our predicate type; `gh attestation verify --predicate-type` takes the same URI.
pub const PREDICATE_TYPE: &str = "https://xtask-promote.dev/attestations/promotion/v1";
/// The environment variable holding the secret key that signs records (`cache keygen`'s form).
pub const SIGNING_KEY_ENV: &str = "XTASK_RECORD_SIGNING_KEY";
/// The environment variable holding the public key `verify` checks signatures with.
pub const PUBLIC_KEY_ENV: &str = "XTASK_RECORD_PUBLIC_KEY";
/// The folder beside MATURITY.md that holds the records.
pub const FOLDER: &str = "promotions";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Predicate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub name: String,
    pub digest: SubjectDigest,
}

/// in-toto's DigestSet: `sha256` over the inputs, and the git commit and tree they are from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectDigest {
    pub sha256: String,
    #[serde(rename = "gitCommit")]
    pub git_commit: String,
    #[serde(rename = "gitTree")]
    pub git_tree: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    pub component: String,
    pub from_stage: Stage,
    pub to_stage: Stage,
    /// RFC 3339 UTC, to the second.
    pub promoted_at: String,
    /// The inputs, relative to the repository's top folder, sorted, with their sha256.
    pub inputs: Vec<inputs::InputFile>,
    /// Gate id -> the report's gate: `passed`, `measured`, `threshold`, `unit`, `summary`.
    pub gates: IndexMap<String, serde_json::Value>,
    pub steps: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    /// The deploy behind a promotion of a compose service, as the report has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<serde_json::Value>,
    pub generator: Generator,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    pub step: String,
    pub tool: String,
    pub version: String,
    /// The declared cache key (hex), when the tool could be resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
    pub status: String,
    pub cached: bool,
    pub duration_ms: u64,
    pub findings: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    pub name: String,
    pub version: String,
}

/// Where a component's records live.
pub fn folder(config: &Config, component: &Component) -> PathBuf {
    let maturity = config.project_path(&component.maturity);
    maturity
        .parent()
        .map_or_else(|| PathBuf::from(FOLDER), |dir| dir.join(FOLDER))
}

/// The Statement for a promotable report. Pure: the inputs, commit, tree and keys are given.
pub fn statement(
    report: &PromotionReport,
    promoted_at: &str,
    commit: &str,
    tree: &str,
    files: Vec<inputs::InputFile>,
    keys: &[(String, String)],
) -> Result<Statement> {
    let gates = match serde_json::to_value(&report.quality_gates)? {
        serde_json::Value::Object(map) => map.into_iter().collect(),
        _ => IndexMap::new(),
    };
    let steps = report
        .steps
        .iter()
        .map(|step| StepRecord {
            step: step.name.id().to_owned(),
            tool: step.tool().name().to_owned(),
            version: step.version.clone(),
            cache_key: keys
                .iter()
                .find(|(id, _)| id == step.name.id())
                .map(|(_, key)| key.clone()),
            status: serde_json::to_value(step.status())
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            cached: step.cached,
            duration_ms: step.duration_ms,
            findings: step.findings().len(),
        })
        .collect();
    let deployment = report
        .deployment
        .as_ref()
        .map(serde_json::to_value)
        .transpose()?;
    Ok(Statement {
        statement_type: STATEMENT_TYPE.to_owned(),
        subject: vec![Subject {
            name: report.component.clone(),
            digest: SubjectDigest {
                sha256: inputs::subject_digest(&files),
                git_commit: commit.to_owned(),
                git_tree: tree.to_owned(),
            },
        }],
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: Predicate {
            component: report.component.clone(),
            from_stage: report.from_stage,
            to_stage: report.to_stage,
            promoted_at: promoted_at.to_owned(),
            inputs: files,
            gates,
            steps,
            coverage: report.summary.coverage,
            deployment,
            generator: Generator {
                name: "xtask-promote".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
        },
    })
}

/// A file name no other record of `folder` has: `<stage>-<date>.json`, then `-2`, `-3`, ...
pub fn file_name(folder: &Path, stage: Stage, date: &str) -> String {
    let base = format!("{}-{date}", stage.id());
    let mut name = format!("{base}.json");
    let mut n = 2;
    while folder.join(&name).exists() {
        name = format!("{base}-{n}.json");
        n += 1;
    }
    name
}

/// The record's bytes: the Statement, or a signed DSSE envelope around it.
pub fn encode(
    statement: &Statement,
    key: Option<&crate::remote_cache::signing::SecretKey>,
) -> Result<Vec<u8>> {
    let payload = serde_json::to_vec_pretty(statement).context("failed to serialise the record")?;
    let mut bytes = match key {
        None => payload,
        Some(key) => serde_json::to_vec_pretty(&dsse::sign(&payload, key))?,
    };
    bytes.push(b'\n');
    Ok(bytes)
}

/// The newest record of a component: the one with the latest `promoted_at` (then name).
pub fn newest(folder: &Path) -> Result<Option<PathBuf>> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("failed to list {}", folder.display())),
    };
    let mut best: Option<(String, PathBuf)> = None;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        // Unreadable or odd files rank last here; `verify` names them when it reads them.
        let stamp =
            crate::input_file::read(&path, "promotion record", crate::input_file::DOCUMENT_MAX)
                .ok()
                .flatten()
                .and_then(|bytes| dsse::open(&bytes).ok())
                .map(|opened| opened.statement.predicate.promoted_at)
                .unwrap_or_default();
        let rank = format!("{stamp}\0{}", path.display());
        if best.as_ref().is_none_or(|(b, _)| rank > *b) {
            best = Some((rank, path));
        }
    }
    Ok(best.map(|(_, path)| path))
}
