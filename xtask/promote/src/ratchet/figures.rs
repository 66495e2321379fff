//! A promotion report (as its JSON, so the head's in-process reports and the base run's
//! printed ones go through one reader) -> the ratchet's `Figures` for its component. The
//! flagged lines are read from the checkout the report was made in, for their fingerprints.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use indexmap::IndexMap;
use serde::Deserialize;

use super::{Figures, Flagged, GateFigure, IGNORED_GATES, fingerprint};
use crate::tools::Tool;
use crate::tools::result::StepResult;
use crate::vocab::GateKind;

#[derive(Debug, Deserialize)]
pub struct ReportView {
    pub component: String,
    #[serde(default)]
    pub quality_gates: IndexMap<GateKind, GateView>,
    #[serde(default)]
    blockers: Vec<BlockerView>,
    #[serde(default)]
    pub steps: Vec<StepResult>,
    summary: SummaryView,
}

#[derive(Debug, Deserialize)]
pub struct GateView {
    pub passed: bool,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub measured: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct BlockerView {
    gate: GateKind,
    #[serde(default)]
    fix: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SummaryView {
    #[serde(default)]
    coverage: Option<f64>,
}

impl ReportView {
    /// Steps without a verdict for a reason of the machine (a tool missing, crashed, timed
    /// out): figures with such a hole cannot be compared, so the ratchet stops (exit 3).
    pub fn infrastructure_errors(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|s| {
                let error = s.step_error()?;
                error
                    .kind
                    .is_infrastructure()
                    .then(|| format!("{}: {}", s.name.id(), error.message))
            })
            .collect()
    }
}

/// Reads the reports `promote --format json` printed: one object, or an array of them.
pub fn parse_reports(json: &[u8]) -> Result<Vec<ReportView>> {
    let value: serde_json::Value =
        serde_json::from_slice(json).context("the base run did not print a JSON report")?;
    let reports = match value {
        serde_json::Value::Array(items) => items,
        single => vec![single],
    };
    reports
        .into_iter()
        .map(|report| {
            serde_json::from_value(report).context("the base run's report does not parse")
        })
        .collect()
}

/// Figures of one report; `project_root` is the checkout's project root, where the findings'
/// files are.
pub fn of_report(report: &ReportView, project_root: &Path) -> Figures {
    let mut sources: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut findings = Vec::new();
    // Tests are held by the tests and coverage gates; a failing test is not a finding of the
    // code that a line could identify.
    let checked = report.steps.iter().filter(|s| s.tool() != Tool::Pytest);
    for step in checked {
        for finding in step.findings() {
            let source = sources.entry(finding.file.clone()).or_insert_with(|| {
                (!finding.file.is_empty())
                    .then(|| std::fs::read_to_string(project_root.join(&finding.file)).ok())
                    .flatten()
            });
            let line_text = finding
                .line
                .zip(source.as_deref())
                .and_then(|(line, text)| fingerprint::line_text(text, line));
            findings.push(Flagged {
                tool: step.tool().name().to_owned(),
                rule: finding.code.clone(),
                file: finding.file.clone(),
                line: finding.line,
                column: finding.column,
                message: finding.message.clone(),
                fixable: finding.fixable,
                fingerprint: match line_text {
                    Some(text) => fingerprint::of_line(text),
                    None => fingerprint::of_message(&finding.message),
                },
            });
        }
    }
    let gates = report
        .quality_gates
        .iter()
        .filter(|(kind, _)| !IGNORED_GATES.contains(kind))
        .map(|(&kind, gate)| {
            let fix = report
                .blockers
                .iter()
                .find(|b| b.gate == kind)
                .and_then(|b| b.fix.clone());
            (
                kind,
                GateFigure {
                    passed: gate.passed,
                    summary: gate.summary.clone(),
                    fix,
                },
            )
        })
        .collect();
    Figures {
        findings,
        coverage: report.summary.coverage,
        gates,
    }
}
