//! Re-checking a promotion record: its shape, its signature (when a public key is
//! configured), that its commit is in HEAD's history, and that the inputs at that commit hash
//! to its subject; then what changed since. `rerun_differences` compares a fresh run's report
//! with the record, figure by figure (pure).

use std::path::Path;

use anyhow::{Context, Result};

use super::dsse;
use super::inputs::{self, InputFile};
use super::{PUBLIC_KEY_ENV, Statement};
use crate::config::{Component, Config};
use crate::digest::Digest;
use crate::git;
use crate::ratchet::figures::ReportView;
use crate::remote_cache::signing::PublicKey;

/// What re-checking found.
#[derive(Debug)]
pub struct Verification {
    pub statement: Option<Statement>,
    /// Why the record does not verify; empty when it does.
    pub problems: Vec<String>,
    /// How the signature was treated, for people.
    pub signature: String,
    /// Inputs that differ from the record now: (path, how).
    pub changed: Vec<(String, &'static str)>,
}

impl Verification {
    pub fn verified(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies `record` of `component`; `top` is the repository's top folder.
pub fn verify(
    config: &Config,
    top: &Path,
    component: &Component,
    record: &Path,
) -> Result<Verification> {
    // A record is outside bytes: a regular file of bounded size, never a FIFO that blocks.
    let bytes =
        crate::input_file::read(record, "promotion record", crate::input_file::DOCUMENT_MAX)?
            .with_context(|| format!("{} is gone", record.display()))?;
    let mut verification = Verification {
        statement: None,
        problems: Vec::new(),
        signature: String::new(),
        changed: Vec::new(),
    };
    let opened = match dsse::open(&bytes) {
        Ok(opened) => opened,
        Err(problem) => {
            verification.problems.push(problem);
            return Ok(verification);
        }
    };
    let key = match crate::edge_env::get().var(PUBLIC_KEY_ENV) {
        Some(text) => Some(PublicKey::parse(text).map_err(|e| {
            crate::errors::usage(format!("{PUBLIC_KEY_ENV} is not a public key: {e}"))
        })?),
        None => None,
    };
    verification.signature = match (&opened.envelope, &key) {
        (Some(envelope), Some(key)) => {
            if dsse::verify(envelope, &opened.payload, key) {
                format!("signature checked with {key}")
            } else {
                verification.problems.push(format!(
                    "the signature does not match the record with {key}: the record was changed after it was signed, or signed by another key"
                ));
                "signature does not match".to_owned()
            }
        }
        (None, Some(_)) => {
            verification.problems.push(format!(
                "the record is not signed, but {PUBLIC_KEY_ENV} asks for a signature"
            ));
            "unsigned".to_owned()
        }
        (Some(envelope), None) => format!(
            "signed by {}; not checked (set {PUBLIC_KEY_ENV} to check it)",
            envelope
                .signatures
                .first()
                .map_or("nobody", |s| s.keyid.as_str())
        ),
        (None, None) => "unsigned".to_owned(),
    };
    let statement = opened.statement;
    let predicate = &statement.predicate;
    if predicate.component != component.name {
        verification.problems.push(format!(
            "the record is about `{}`, not {}",
            predicate.component.escape_debug(),
            component.name
        ));
    }
    let Some(subject) = statement.subject.first() else {
        verification
            .problems
            .push("the record has no subject".to_owned());
        verification.statement = Some(statement);
        return Ok(verification);
    };
    if inputs::subject_digest(&predicate.inputs) != subject.digest.sha256 {
        verification
            .problems
            .push("the listed inputs do not hash to the subject's sha256".to_owned());
    }
    let commit = &subject.digest.git_commit;
    if git::resolve_commit(top, commit)?.is_none() {
        verification.problems.push(format!(
            "commit {commit} is not in this checkout (fetch the history)"
        ));
    } else {
        if !git::is_ancestor(top, commit, "HEAD")? {
            verification
                .problems
                .push(format!("commit {commit} is not an ancestor of HEAD"));
        }
        if git::tree_of(top, commit)? != subject.digest.git_tree {
            verification.problems.push(format!(
                "the tree of commit {commit} is not the recorded one"
            ));
        }
        for file in &predicate.inputs {
            match git::file_at(top, commit, &file.path)? {
                None => verification.problems.push(format!(
                    "{} is not in commit {commit} (was it committed?)",
                    file.path
                )),
                Some(bytes) if Digest::of(&bytes).to_string() != file.sha256 => {
                    verification.problems.push(format!(
                        "{} at commit {commit} is not what the record measured",
                        file.path
                    ));
                }
                Some(_) => {}
            }
        }
    }
    verification.changed = changed_since(config, top, component, &predicate.inputs);
    verification.statement = Some(statement);
    Ok(verification)
}

/// The inputs that differ now from `recorded`: changed, deleted, or new to the component.
fn changed_since(
    config: &Config,
    top: &Path,
    component: &Component,
    recorded: &[InputFile],
) -> Vec<(String, &'static str)> {
    let mut changed = Vec::new();
    for file in recorded {
        match std::fs::read(top.join(&file.path)) {
            Err(_) => changed.push((file.path.clone(), "deleted")),
            Ok(bytes) if Digest::of(&bytes).to_string() != file.sha256 => {
                changed.push((file.path.clone(), "changed"));
            }
            Ok(_) => {}
        }
    }
    for path in inputs::paths(config, top, component) {
        if !recorded.iter().any(|f| f.path == path) {
            changed.push((path, "new"));
        }
    }
    changed.sort();
    changed
}

/// Differences between the record and a fresh run of its gates: verdicts and figures.
pub fn rerun_differences(statement: &Statement, fresh: &ReportView) -> Vec<String> {
    let mut differences = Vec::new();
    for (gate, recorded) in &statement.predicate.gates {
        // The record is outside bytes: its gate ids are matched to ours by their text.
        let Some(now) = fresh
            .quality_gates
            .iter()
            .find_map(|(kind, now)| (kind.id() == gate).then_some(now))
        else {
            differences.push(format!("the {gate} gate was not decided again"));
            continue;
        };
        let passed = recorded.get("passed").and_then(serde_json::Value::as_bool);
        if passed != Some(now.passed) {
            differences.push(format!(
                "the {gate} gate {} then and {} now",
                if passed == Some(true) {
                    "passed"
                } else {
                    "failed"
                },
                if now.passed { "passes" } else { "fails" }
            ));
        }
        let measured = recorded.get("measured").cloned().unwrap_or_default();
        if measured != now.measured {
            differences.push(format!(
                "the {gate} gate measured {measured} then and {} now",
                now.measured
            ));
        }
    }
    for step in &statement.predicate.steps {
        if let Some(now) = fresh.steps.iter().find(|s| s.name.id() == step.step)
            && now.findings().len() != step.findings
        {
            differences.push(format!(
                "{} reported {} then and {} now",
                step.step,
                crate::plural::count(step.findings, "finding"),
                now.findings().len()
            ));
        }
    }
    differences
}
