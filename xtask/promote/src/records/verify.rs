//! Re-checking promotion records: their shape, their signature (when a public key is
//! configured), that their commit is in HEAD's history, and that the inputs at that commit
//! hash to their subject; then what changed since. `verify` and the status report share
//! `verify_all`, which asks git once for every record's commit and inputs (one
//! `git cat-file --batch`, and beside it one `git rev-list`) and finds what changed since
//! without git, from the recorded digests and the stat memo. `rerun_differences` compares a fresh run's report
//! with the record, figure by figure (pure).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};

use super::dsse;
use super::inputs::{self, InputFile};
use super::{PUBLIC_KEY_ENV, Statement};
use crate::config::{Component, Config};
use crate::digest::Digest;
use crate::engine::digest_memo::{self, DigestMemo};
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

/// One record to check: whose it is and its bytes (from `read`).
pub struct Record<'a> {
    pub component: &'a Component,
    pub bytes: Vec<u8>,
}

/// Which inputs `Verification::changed` covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// The recorded inputs that changed or are gone: their digests against the stat memo,
    /// without the import graph (the status report).
    Recorded,
    /// Those, and the files the component reads now that the record does not list, which
    /// takes the import graph of the whole project (`verify`).
    AllInputs,
}

/// A record's bytes. It is outside input: a regular file of bounded size, never a FIFO that
/// blocks (an error naming it, exit 2).
pub fn read(record: &Path) -> Result<Vec<u8>> {
    crate::input_file::read(record, "promotion record", crate::input_file::DOCUMENT_MAX)?
        .with_context(|| format!("{} is gone", record.display()))
}

/// Verifies `record` of `component`; `top` is the repository's top folder.
pub fn verify(
    config: &Config,
    top: &Path,
    component: &Component,
    record: &Path,
) -> Result<Verification> {
    let records = [Record {
        component,
        bytes: read(record)?,
    }];
    let mut all = verify_all(config, top, &records, Since::AllInputs)?;
    all.pop().context("no verification for the record")
}

/// The public key records must be signed with, when one is configured.
fn public_key() -> Result<Option<PublicKey>> {
    match crate::edge_env::get().var(PUBLIC_KEY_ENV) {
        Some(text) => Ok(Some(PublicKey::parse(text).map_err(|e| {
            crate::errors::usage(format!("{PUBLIC_KEY_ENV} is not a public key: {e}"))
        })?)),
        None => Ok(None),
    }
}

/// Verifies every record, in order; `top` is the repository's top folder. Git runs twice at
/// once (a batch and a history walk) whatever the number of records and inputs, and not at
/// all when no record names a commit.
pub fn verify_all(
    config: &Config,
    top: &Path,
    records: &[Record<'_>],
    since: Since,
) -> Result<Vec<Verification>> {
    let key = public_key()?;
    let mut verifications: Vec<Verification> = records
        .iter()
        .map(|r| check_record(&r.bytes, &r.component.name, key.as_ref()))
        .collect();
    let found = at_commits(top, &verifications)?;
    for (verification, at) in verifications.iter_mut().zip(&found) {
        if let (Some(statement), Some(at)) = (&verification.statement, at) {
            verification.problems.extend(git_problems(statement, at));
        }
    }
    let memo = DigestMemo::open(&config.cache_dir().join(digest_memo::FILE_NAME));
    let scope = (since == Since::AllInputs).then(|| crate::affected::scope(config, top));
    for (verification, record) in verifications.iter_mut().zip(records) {
        let Some(statement) = &verification.statement else {
            continue;
        };
        let recorded = &statement.predicate.inputs;
        let mut changed = changed_recorded(top, recorded, &memo);
        if let Some(scope) = &scope {
            let listed: BTreeSet<&str> = recorded.iter().map(|f| f.path.as_str()).collect();
            for path in inputs::paths_in(scope, config, top, record.component) {
                if !listed.contains(path.as_str()) {
                    changed.push((path, "new"));
                }
            }
        }
        changed.sort();
        verification.changed = changed;
    }
    Ok(verifications)
}

/// The checks that need no git: the record's shape, its signature, whose it is, its subject.
fn check_record(bytes: &[u8], component: &str, key: Option<&PublicKey>) -> Verification {
    let mut verification = Verification {
        statement: None,
        problems: Vec::new(),
        signature: String::new(),
        changed: Vec::new(),
    };
    let opened = match dsse::open(bytes) {
        Ok(opened) => opened,
        Err(problem) => {
            verification.problems.push(problem);
            return verification;
        }
    };
    verification.signature = match (&opened.envelope, key) {
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
    if predicate.component != component {
        verification.problems.push(format!(
            "the record is about `{}`, not {component}",
            predicate.component.escape_debug(),
        ));
    }
    match statement.subject.first() {
        None => verification
            .problems
            .push("the record has no subject".to_owned()),
        Some(subject) => {
            if inputs::subject_digest(&predicate.inputs) != subject.digest.sha256 {
                verification
                    .problems
                    .push("the listed inputs do not hash to the subject's sha256".to_owned());
            }
            for file in &predicate.inputs {
                if !inputs::is_plain(&file.path) {
                    verification.problems.push(format!(
                        "the record names `{}` as an input, not a path inside the repository",
                        file.path.escape_debug()
                    ));
                }
            }
            if !is_object_id(&subject.digest.git_commit) {
                verification.problems.push(format!(
                    "the record's commit `{}` is not a full commit id",
                    subject.digest.git_commit.escape_debug()
                ));
            }
        }
    }
    verification.statement = Some(statement);
    verification
}

/// A full git object id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits. A record naming
/// `HEAD` or a branch would be checked against whatever that names today.
fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What git holds at a record's commit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AtCommit {
    /// Whether the commit is in this checkout.
    present: bool,
    /// The commit's tree, read from the commit object.
    tree: Option<String>,
    /// Per recorded input, in order: the sha256 of its bytes at the commit, `None` when the
    /// commit has no such file.
    files: Vec<Option<String>>,
    /// Whether the commit is HEAD or one of its ancestors; `Err` when git could not tell.
    in_head_history: Result<bool, String>,
}

/// The commit of a record whose git checks can run.
fn commit_of(verification: &Verification) -> Option<(&Statement, &str)> {
    let statement = verification.statement.as_ref()?;
    let commit = statement.subject.first()?.digest.git_commit.as_str();
    is_object_id(commit).then_some((statement, commit))
}

/// What one batch answer says: whether it is a commit, its tree, a blob's sha256.
type Answer = Option<(bool, Option<String>, Option<String>)>;

/// Every record's commit, tree and inputs from one `git cat-file --batch`, and their place
/// in HEAD's history from one `git rev-list`; `None` for a record whose git checks cannot run.
fn at_commits(top: &Path, verifications: &[Verification]) -> Result<Vec<Option<AtCommit>>> {
    let mut specs = Vec::new();
    for (statement, commit) in verifications.iter().filter_map(commit_of) {
        specs.push(commit.to_owned());
        specs.extend(
            statement
                .predicate
                .inputs
                .iter()
                .map(|f| format!("{commit}:{}", f.path)),
        );
    }
    if specs.is_empty() {
        return Ok(verifications.iter().map(|_| None).collect());
    }
    let mut candidates: Vec<String> = verifications
        .iter()
        .filter_map(commit_of)
        .map(|(_, commit)| commit.to_owned())
        .collect();
    candidates.sort();
    candidates.dedup();
    // Hashed as they are read, so no blob is kept after its digest. The answers come in the
    // order asked: per record its commit, then its inputs. HEAD's history is asked beside
    // the batch, so the two processes cost the time of one.
    let mut answers: Vec<Answer> = Vec::with_capacity(specs.len());
    let (batch, history) = std::thread::scope(|scope| {
        let history = scope.spawn(|| git::not_in_head_history(top, &candidates));
        let batch = git::cat_file_batch(top, &specs, |_, object| {
            answers.push(object.map(|o| {
                let tree = (o.kind == "commit").then(|| tree_line(o.bytes)).flatten();
                let digest = (o.kind == "blob").then(|| Digest::of(o.bytes).to_string());
                (o.kind == "commit", tree, digest)
            }));
        });
        let history = history
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("git rev-list panicked")));
        (batch, history)
    });
    batch?;
    let mut answers = answers.into_iter();
    let mut found: Vec<Option<AtCommit>> = Vec::with_capacity(verifications.len());
    let mut commits = Vec::new();
    for verification in verifications {
        let Some((statement, commit)) = commit_of(verification) else {
            found.push(None);
            continue;
        };
        let commit_answer = answers.next().flatten();
        let present = commit_answer
            .as_ref()
            .is_some_and(|(is_commit, ..)| *is_commit);
        if present {
            commits.push(commit.to_owned());
        }
        let files = answers
            .by_ref()
            .take(statement.predicate.inputs.len())
            .map(|a| a.and_then(|(_, _, digest)| digest))
            .collect();
        found.push(Some(AtCommit {
            present,
            tree: commit_answer.and_then(|(_, tree, _)| tree),
            files,
            in_head_history: Ok(true),
        }));
    }
    commits.sort();
    commits.dedup();
    // An id naming a tree or a blob makes rev-list fail for all: ask again for the commits
    // the batch found.
    let history = match history {
        Err(_) if commits != candidates => git::not_in_head_history(top, &commits),
        history => history,
    };
    let outside = history.map_err(|e| format!("{e:#}"));
    for (at, verification) in found.iter_mut().zip(verifications) {
        if let (Some(at), Some((_, commit))) = (at.as_mut(), commit_of(verification)) {
            at.in_head_history = match &outside {
                Ok(outside) => Ok(!outside.contains(commit)),
                Err(e) => Err(e.clone()),
            };
        }
    }
    Ok(found)
}

/// The tree id on a commit object's first line.
fn tree_line(commit: &[u8]) -> Option<String> {
    let first = commit.split(|&b| b == b'\n').next()?;
    let tree = std::str::from_utf8(first.strip_prefix(b"tree ")?).ok()?;
    Some(tree.to_owned())
}

/// What git says against the record: commit missing, not in HEAD's history, another tree,
/// an input missing at the commit or with other bytes. Pure.
fn git_problems(statement: &Statement, at: &AtCommit) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(subject) = statement.subject.first() else {
        return problems;
    };
    let commit = &subject.digest.git_commit;
    if !at.present {
        problems.push(format!(
            "commit {commit} is not in this checkout (fetch the history)"
        ));
        return problems;
    }
    match &at.in_head_history {
        Ok(true) => {}
        Ok(false) => problems.push(format!("commit {commit} is not an ancestor of HEAD")),
        Err(e) => problems.push(format!(
            "git could not tell whether commit {commit} is an ancestor of HEAD: {e}"
        )),
    }
    if at.tree.as_deref() != Some(subject.digest.git_tree.as_str()) {
        problems.push(format!(
            "the tree of commit {commit} is not the recorded one"
        ));
    }
    for (file, now) in statement.predicate.inputs.iter().zip(&at.files) {
        match now {
            None => problems.push(format!(
                "{} is not in commit {commit} (was it committed?)",
                file.path
            )),
            Some(digest) if *digest != file.sha256 => problems.push(format!(
                "{} at commit {commit} is not what the record measured",
                file.path
            )),
            Some(_) => {}
        }
    }
    problems
}

/// The recorded inputs whose bytes differ now, or that are gone: by the stat memo, so an
/// unchanged file is statted, not read.
fn changed_recorded(
    top: &Path,
    recorded: &[InputFile],
    memo: &DigestMemo,
) -> Vec<(String, &'static str)> {
    recorded
        .iter()
        .filter(|file| inputs::is_plain(&file.path))
        .filter_map(|file| {
            let path = top.join(&file.path);
            // Only a regular file is read: a FIFO put in an input's place would block.
            match std::fs::metadata(&path) {
                Err(_) => return Some((file.path.clone(), "deleted")),
                Ok(meta) if !meta.is_file() => return Some((file.path.clone(), "changed")),
                Ok(_) => {}
            }
            match memo.digest(&path) {
                None => Some((file.path.clone(), "deleted")),
                Some(digest) if crate::digest::hex(&digest) != file.sha256 => {
                    Some((file.path.clone(), "changed"))
                }
                Some(_) => None,
            }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Generator, Predicate, Subject, SubjectDigest};

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn statement(commit: &str, files: &[(&str, &str)]) -> Statement {
        let inputs: Vec<InputFile> = files
            .iter()
            .map(|(path, sha256)| InputFile {
                path: (*path).to_owned(),
                sha256: (*sha256).to_owned(),
            })
            .collect();
        Statement {
            statement_type: super::super::STATEMENT_TYPE.to_owned(),
            subject: vec![Subject {
                name: "carbon".to_owned(),
                digest: SubjectDigest {
                    sha256: inputs::subject_digest(&inputs),
                    git_commit: commit.to_owned(),
                    git_tree: "7ree".to_owned(),
                },
            }],
            predicate_type: super::super::PREDICATE_TYPE.to_owned(),
            predicate: Predicate {
                component: "carbon".to_owned(),
                from_stage: crate::vocab::Stage::Development,
                to_stage: crate::vocab::Stage::Staging,
                promoted_at: "2026-12-07T10:00:00Z".to_owned(),
                inputs,
                gates: Default::default(),
                steps: Vec::new(),
                coverage: None,
                deployment: None,
                generator: Generator {
                    name: "xtask-promote".to_owned(),
                    version: "0".to_owned(),
                },
            },
        }
    }

    fn at(files: &[Option<&str>]) -> AtCommit {
        AtCommit {
            present: true,
            tree: Some("7ree".to_owned()),
            files: files.iter().map(|f| f.map(str::to_owned)).collect(),
            in_head_history: Ok(true),
        }
    }

    #[test]
    fn a_record_whose_commit_holds_its_inputs_has_no_git_problem() {
        let record = statement(COMMIT, &[("a.py", "11"), ("b.py", "22")]);
        assert_eq!(
            git_problems(&record, &at(&[Some("11"), Some("22")])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_thing_git_contradicts_is_named() {
        let record = statement(COMMIT, &[("a.py", "11"), ("b.py", "22")]);
        let mut wrong = at(&[Some("12"), None]);
        wrong.tree = Some("other".to_owned());
        wrong.in_head_history = Ok(false);
        assert_eq!(
            git_problems(&record, &wrong),
            vec![
                format!("commit {COMMIT} is not an ancestor of HEAD"),
                format!("the tree of commit {COMMIT} is not the recorded one"),
                format!("a.py at commit {COMMIT} is not what the record measured"),
                format!("b.py is not in commit {COMMIT} (was it committed?)"),
            ]
        );
        let missing = AtCommit {
            present: false,
            ..at(&[None, None])
        };
        assert_eq!(
            git_problems(&record, &missing),
            vec![format!(
                "commit {COMMIT} is not in this checkout (fetch the history)"
            )]
        );
    }

    #[test]
    fn a_record_naming_a_branch_or_a_path_outside_is_refused_before_git() {
        let bytes = serde_json::to_vec(&statement("HEAD", &[("../../etc/passwd", "11")])).unwrap();
        let checked = check_record(&bytes, "carbon", None);
        assert_eq!(
            checked.problems,
            vec![
                "the record names `../../etc/passwd` as an input, not a path inside the repository"
                    .to_owned(),
                "the record's commit `HEAD` is not a full commit id".to_owned(),
            ]
        );
        assert!(commit_of(&checked).is_none(), "git is not asked about it");
        let fine = serde_json::to_vec(&statement(COMMIT, &[("a.py", "11")])).unwrap();
        let checked = check_record(&fine, "carbon", None);
        assert!(checked.verified(), "{:?}", checked.problems);
        assert_eq!(checked.signature, "unsigned");
        let other = check_record(&fine, "neo4j", None);
        assert_eq!(
            other.problems,
            vec!["the record is about `carbon`, not neo4j"]
        );
    }

    #[test]
    fn the_tree_is_read_from_the_commit_objects_first_line() {
        assert_eq!(
            tree_line(b"tree abc123\nparent def\n\nmessage").as_deref(),
            Some("abc123")
        );
        assert_eq!(tree_line(b"parent def\n"), None);
    }

    #[test]
    fn changed_since_names_changed_and_deleted_inputs_and_never_opens_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("same.py"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join("edited.py"), "x = 2\n").unwrap();
        let fifo = dir.path().join("fifo.py");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
        let was = Digest::of(b"x = 1\n").to_string();
        let recorded: Vec<InputFile> = [
            "edited.py",
            "fifo.py",
            "gone.py",
            "same.py",
            "/etc/hostname",
        ]
        .iter()
        .map(|path| InputFile {
            path: (*path).to_owned(),
            sha256: was.clone(),
        })
        .collect();
        let changed = changed_recorded(dir.path(), &recorded, &DigestMemo::in_memory());
        assert_eq!(
            changed,
            vec![
                ("edited.py".to_owned(), "changed"),
                ("fifo.py".to_owned(), "changed"),
                ("gone.py".to_owned(), "deleted"),
            ]
        );
    }
}
