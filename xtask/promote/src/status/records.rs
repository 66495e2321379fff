//! Promotion records in the status report: per component with a record, whether its newest
//! record verifies (through `records::verify::verify_all`, the verifier `verify` uses) and which
//! recorded inputs changed since; the display cells the Markdown and HTML reports share.
//! A component without a record has no `record` in the JSON and shows "no record".

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::StatusReport;
use crate::config::Config;
use crate::plural;
use crate::records::{self, verify};
use crate::vocab::Stage;

/// At most this many changed files are named in a Markdown or HTML cell; more are counted,
/// with the `verify -v` command that lists them.
pub const LISTED: usize = 3;

/// A component's newest promotion record, as the status run found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordStatus {
    /// The record file, relative to the folder holding xtask.toml.
    pub file: String,
    /// The stage it promoted to, when the record could be read.
    pub stage: Option<Stage>,
    /// When (RFC 3339), when the record could be read.
    pub promoted_at: Option<String>,
    pub verified: bool,
    /// Why it does not verify; empty when it does.
    pub problems: Vec<String>,
    /// How the signature was treated: checked with a key, signed but not checked, unsigned.
    pub signature: String,
    /// The recorded inputs that changed or are gone since the promotion.
    pub changed_since: Vec<ChangedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedFile {
    /// Relative to the repository's top folder, as the record names it.
    pub path: String,
    /// `changed` or `deleted`.
    pub how: String,
}

/// Every component's newest record, verified together: git runs only when some component has
/// a record, and then twice for all of them (see `verify_all`). A record that cannot be read
/// (a FIFO, too large) is a problem of that component, not a failed report.
pub fn gather(config: &Config) -> Result<Vec<(String, RecordStatus)>> {
    let mut found = Vec::new();
    for component in &config.components {
        if let Some(path) = records::newest(&records::folder(config, component))? {
            found.push((component, path));
        }
    }
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let shown = |path: &Path| crate::github::ci::repo_relative(config, path);
    let unreadable = |path: &Path, problem: String| RecordStatus {
        file: shown(path),
        stage: None,
        promoted_at: None,
        verified: false,
        problems: vec![problem],
        signature: String::new(),
        changed_since: Vec::new(),
    };
    // Found without starting git: a warm status pays only for the checks themselves.
    let top = match crate::git::find_toplevel(&config.workspace_root) {
        Some(top) => top,
        None => {
            let problem = "not in a git checkout, so its commit cannot be checked".to_owned();
            return Ok(found
                .iter()
                .map(|(c, path)| (c.name.clone(), unreadable(path, problem.clone())))
                .collect());
        }
    };
    let mut statuses: Vec<Option<RecordStatus>> = Vec::with_capacity(found.len());
    let mut readable = Vec::new();
    for (component, path) in &found {
        match verify::read(path) {
            Ok(bytes) => {
                statuses.push(None);
                readable.push(verify::Record { component, bytes });
            }
            Err(e) => statuses.push(Some(unreadable(path, format!("{e:#}")))),
        }
    }
    let verified = match verify::verify_all(config, &top, &readable, verify::Since::Recorded) {
        Ok(verified) => verified,
        // A public key that is not one is the user's to fix: exit 2, as `verify` does.
        Err(e) if crate::errors::exit_code_of(&e) == crate::errors::exit::USAGE => {
            return Err(e.context("failed to verify the promotion records"));
        }
        // Git failing is a problem of the records it could not check, not of the report.
        Err(e) => {
            let problem = format!("git could not check the record: {e:#}");
            readable
                .iter()
                .map(|_| verify::Verification {
                    statement: None,
                    problems: vec![problem.clone()],
                    signature: String::new(),
                    changed: Vec::new(),
                })
                .collect()
        }
    };
    let mut verified = verified.into_iter();
    Ok(found
        .iter()
        .zip(statuses)
        .filter_map(|((component, path), status)| {
            // `verify_all` answers every readable record, in order.
            let status =
                status.or_else(|| verified.next().map(|v| from_verification(shown(path), &v)))?;
            Some((component.name.clone(), status))
        })
        .collect())
}

fn from_verification(file: String, v: &verify::Verification) -> RecordStatus {
    let predicate = v.statement.as_ref().map(|s| &s.predicate);
    RecordStatus {
        file,
        stage: predicate.map(|p| p.to_stage),
        promoted_at: predicate.map(|p| p.promoted_at.clone()),
        verified: v.verified(),
        problems: v.problems.clone(),
        signature: v.signature.clone(),
        changed_since: v
            .changed
            .iter()
            .map(|(path, how)| ChangedFile {
                path: path.clone(),
                how: (*how).to_owned(),
            })
            .collect(),
    }
}

/// Puts each component's record into the report.
pub fn attach(report: &mut StatusReport, records: Vec<(String, RecordStatus)>) {
    for (name, record) in records {
        if let Some(component) = report.components.iter_mut().find(|c| c.name == name) {
            component.record = Some(record);
        }
    }
}

/// A row of the records table.
#[derive(Debug, Serialize)]
pub struct RecordRow {
    pub name: String,
    /// `Staging, 2026-12-07`, or `—`.
    pub record: String,
    pub verification: String,
    pub changed: String,
}

/// One row per component when any component has a record (those without one say so); none
/// when no component has one, and the reports leave the section out.
pub fn rows(report: &StatusReport) -> Vec<RecordRow> {
    if report.components.iter().all(|c| c.record.is_none()) {
        return Vec::new();
    }
    report
        .components
        .iter()
        .map(|c| match &c.record {
            None => RecordRow {
                name: c.name.clone(),
                record: "—".to_owned(),
                verification: "no record".to_owned(),
                changed: "—".to_owned(),
            },
            Some(record) => RecordRow {
                name: c.name.clone(),
                record: record_cell(record),
                verification: verification_cell(record),
                changed: changed_cell(&c.name, record),
            },
        })
        .collect()
}

/// The stage and day the record promoted to: `Staging, 2026-12-07`.
pub fn record_cell(record: &RecordStatus) -> String {
    match (&record.stage, &record.promoted_at) {
        (Some(stage), Some(at)) => format!("{stage}, {}", at.get(..10).unwrap_or(at)),
        _ => format!("`{}`", record.file),
    }
}

/// `✅ record verified (unsigned)`, or `❌` and what is wrong.
pub fn verification_cell(record: &RecordStatus) -> String {
    if record.verified {
        format!("✅ record verified ({})", record.signature)
    } else {
        format!("❌ {}", record.problems.join("; "))
    }
}

/// `none`, the files themselves when few, else their number and the command that lists them.
pub fn changed_cell(component: &str, record: &RecordStatus) -> String {
    let files = &record.changed_since;
    let counted = plural::count_as(files.len(), "file", "files");
    if files.is_empty() {
        "none".to_owned()
    } else if files.len() <= LISTED && files.iter().all(|f| !f.path.contains('`')) {
        let listed: Vec<String> = files
            .iter()
            .map(|f| format!("`{}` ({})", f.path, f.how))
            .collect();
        format!("{counted} changed since: {}", listed.join(", "))
    } else {
        format!("{counted} changed since; `cargo xtask verify {component} -v` lists them")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(problems: &[&str], changed: &[&str]) -> RecordStatus {
        RecordStatus {
            file: "docs/carbon/promotions/staging-2026-12-07.json".to_owned(),
            stage: Some(Stage::Staging),
            promoted_at: Some("2026-12-07T10:00:00Z".to_owned()),
            verified: problems.is_empty(),
            problems: problems.iter().map(|p| (*p).to_owned()).collect(),
            signature: "unsigned".to_owned(),
            changed_since: changed
                .iter()
                .map(|p| ChangedFile {
                    path: (*p).to_owned(),
                    how: "changed".to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_verified_record_says_so_and_a_broken_one_says_why() {
        assert_eq!(
            verification_cell(&record(&[], &[])),
            "✅ record verified (unsigned)"
        );
        assert_eq!(
            verification_cell(&record(&["the signature does not match", "x"], &[])),
            "❌ the signature does not match; x"
        );
        assert_eq!(record_cell(&record(&[], &[])), "Staging, 2026-12-07");
        let mut unread = record(&["a FIFO"], &[]);
        unread.stage = None;
        assert_eq!(
            record_cell(&unread),
            "`docs/carbon/promotions/staging-2026-12-07.json`"
        );
    }

    #[test]
    fn few_changed_files_are_named_and_many_point_to_verify() {
        assert_eq!(changed_cell("carbon", &record(&[], &[])), "none");
        assert_eq!(
            changed_cell("carbon", &record(&[], &["src/a.py"])),
            "1 file changed since: `src/a.py` (changed)"
        );
        assert_eq!(
            changed_cell("carbon", &record(&[], &["a", "b", "c", "d"])),
            "4 files changed since; `cargo xtask verify carbon -v` lists them"
        );
        // A path that would end the code span early is not quoted.
        assert_eq!(
            changed_cell("carbon", &record(&[], &["a`b.py"])),
            "1 file changed since; `cargo xtask verify carbon -v` lists them"
        );
    }

    #[test]
    fn the_section_appears_once_some_component_has_a_record() {
        let mut report = crate::status::fixture::status();
        assert!(rows(&report).is_empty());
        let first = report.components[0].name.clone();
        attach(
            &mut report,
            vec![(first.clone(), record(&[], &["src/a.py"]))],
        );
        let rows = rows(&report);
        assert_eq!(rows.len(), report.components.len());
        assert_eq!(rows[0].name, first);
        assert_eq!(rows[0].verification, "✅ record verified (unsigned)");
        assert!(rows[1..].iter().all(|r| r.verification == "no record"));
    }

    /// The fixture's report with a verified record (one file changed since), a record whose
    /// signature does not match, and components without one.
    fn with_records() -> StatusReport {
        let mut report = crate::status::fixture::status();
        let names: Vec<String> = report.components.iter().map(|c| c.name.clone()).collect();
        let mut broken = record(
            &[
                "the signature does not match the record with ed25519:ab12: the record was changed after it was signed, or signed by another key",
            ],
            &["a.py", "b.py", "c.py", "d.py"],
        );
        broken.signature = "signature does not match".to_owned();
        attach(
            &mut report,
            vec![
                (
                    names[0].clone(),
                    record(&[], &["src/components/x_component.py"]),
                ),
                (names[1].clone(), broken),
            ],
        );
        report
    }

    fn section<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
        let from = text.find(start).expect("the section is there");
        let to = text[from..].find(end).map_or(text.len(), |i| from + i);
        &text[from..to]
    }

    #[test]
    fn the_markdown_and_html_reports_show_each_record() {
        let report = with_records();
        let markdown = crate::status::markdown::render(&report).unwrap();
        let markdown = section(&markdown, "## Promotion records", "## Rollout plan");
        assert!(
            markdown.contains("✅ record verified (unsigned)"),
            "{markdown}"
        );
        assert!(markdown.contains("no record"), "{markdown}");
        insta::assert_snapshot!("records_markdown", markdown);
        let html = crate::status::html::render(&report).unwrap();
        let html = section(
            &html,
            "<section id=\"records\">",
            "<section id=\"rollout\">",
        );
        assert!(html.contains("<code>cargo xtask verify"), "{html}");
        insta::assert_snapshot!("records_html", html);
    }

    #[test]
    fn the_json_names_the_changed_files_and_leaves_out_missing_records() {
        let report = with_records();
        let text = crate::status::json::render(&report).unwrap();
        let back: StatusReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let components = value["components"].as_array().unwrap();
        assert_eq!(
            components[0]["record"]["changed_since"],
            serde_json::json!([{"path": "src/components/x_component.py", "how": "changed"}])
        );
        assert_eq!(components[1]["record"]["verified"], false);
        assert!(components[2].get("record").is_none());
        insta::assert_json_snapshot!("records_json", components[1]["record"]);
    }
}
