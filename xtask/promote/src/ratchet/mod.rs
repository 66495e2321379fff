//! The ratchet: nothing a change touches may get worse. Per component, the head's figures are
//! compared with the base's: no new finding (lint, types, security), coverage no more than
//! `[ratchet] coverage_slack` points lower, and no gate of the stage the component is in that
//! passed on the base and fails now. Findings the base already had are "existing", findings
//! it had and the head has not are "fixed"; neither fails the check.
//!
//! `compare` is pure; `figures` turns a promotion report into `Figures`, `base` runs the base
//! commit in a temporary worktree, `render` writes the verdict for people and for GitHub.

pub mod base;
pub mod figures;
pub mod fingerprint;
pub mod render;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::vocab::{GateKind, Stage};

/// One finding of a lint, type or security tool, with what identifies it across commits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flagged {
    pub tool: String,
    pub rule: String,
    /// Relative to the project root.
    pub file: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
    /// Whether `--fix` fixes it.
    pub fixable: bool,
    /// A digest of the flagged line's text with its whitespace normalised (the message when
    /// the finding has no line): it survives the line moving, not the line changing.
    pub fingerprint: String,
}

impl Flagged {
    /// What a finding is matched by across commits, besides its occurrence index.
    fn identity(&self) -> (&str, &str, &str, &str) {
        (&self.tool, &self.rule, &self.file, &self.fingerprint)
    }

    /// `file:line`, or the file alone.
    pub fn location(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        }
    }
}

/// The gate verdicts of one run, as the report states them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateFigure {
    pub passed: bool,
    pub summary: String,
    /// The blocker's fix when the gate failed.
    pub fix: Option<String>,
}

/// What one run measured for one component.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Figures {
    pub findings: Vec<Flagged>,
    pub coverage: Option<f64>,
    /// Gate -> verdict, for the gates the ratchet holds (not `stage` or `observation`,
    /// which depend on the calendar, not the change).
    pub gates: BTreeMap<GateKind, GateFigure>,
}

/// Why one component got worse.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Worse {
    /// A finding the base did not have.
    NewFinding { finding: Flagged, fix: String },
    /// Coverage fell by more than the slack.
    CoverageDropped { base: f64, head: f64, slack: f64 },
    /// The base measured coverage, the head measured none.
    CoverageLost { base: f64 },
    /// A gate of the component's stage passed on the base and fails on the head.
    GateFailed {
        gate: GateKind,
        summary: String,
        fix: Option<String>,
    },
}

/// The ratchet's verdict for one component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub component: String,
    pub stage: Stage,
    /// Whether the base had the component at all.
    pub in_base: bool,
    pub worse: Vec<Worse>,
    pub existing: Vec<Flagged>,
    pub fixed: Vec<Flagged>,
    pub base_coverage: Option<f64>,
    pub head_coverage: Option<f64>,
}

impl Comparison {
    pub fn is_worse(&self) -> bool {
        !self.worse.is_empty()
    }
}

/// Gates whose verdict depends on the calendar or on the stage itself rather than the code.
pub const IGNORED_GATES: &[GateKind] = &[GateKind::Stage, GateKind::Observation];

/// Coverage is compared on the rounded figures the reports carry; this absorbs their rounding.
const ROUNDING: f64 = 1e-9;

/// The pure comparison: `base` is `None` when the component did not exist on the base commit,
/// so every finding it has counts as new.
pub fn compare(
    component: &str,
    stage: Stage,
    base: Option<&Figures>,
    head: &Figures,
    coverage_slack: f64,
) -> Comparison {
    let empty = Figures::default();
    let in_base = base.is_some();
    let base = base.unwrap_or(&empty);
    let (new, existing, fixed) = match_findings(&base.findings, &head.findings);
    let mut worse: Vec<Worse> = new
        .into_iter()
        .map(|finding| Worse::NewFinding {
            fix: fix_for(component, &finding),
            finding,
        })
        .collect();
    match (base.coverage, head.coverage) {
        (Some(before), Some(after)) if after + coverage_slack + ROUNDING < before => {
            worse.push(Worse::CoverageDropped {
                base: before,
                head: after,
                slack: coverage_slack,
            });
        }
        (Some(before), None) => worse.push(Worse::CoverageLost { base: before }),
        _ => {}
    }
    for (gate, now) in &head.gates {
        if IGNORED_GATES.contains(gate) || now.passed {
            continue;
        }
        // A gate the base failed too is not this change's doing; one the base did not decide
        // (a new component) is held as if it had passed.
        let passed_before = base.gates.get(gate).is_none_or(|before| before.passed);
        if passed_before {
            worse.push(Worse::GateFailed {
                gate: *gate,
                summary: now.summary.clone(),
                fix: now.fix.clone(),
            });
        }
    }
    Comparison {
        component: component.to_owned(),
        stage,
        in_base,
        worse,
        existing,
        fixed,
        base_coverage: base.coverage,
        head_coverage: head.coverage,
    }
}

/// Splits findings into (new, existing, fixed). Findings match by tool, rule, file and
/// fingerprint; among equal ones the n-th on the base matches the n-th on the head (in line
/// order), so a second copy of a flagged line is new while the first stays existing.
fn match_findings(
    base: &[Flagged],
    head: &[Flagged],
) -> (Vec<Flagged>, Vec<Flagged>, Vec<Flagged>) {
    let base_groups = group(base);
    let head_groups = group(head);
    let mut new = Vec::new();
    let mut existing = Vec::new();
    for (key, members) in &head_groups {
        let before = base_groups.get(key).map_or(0, Vec::len);
        for (index, finding) in members.iter().enumerate() {
            if index < before {
                existing.push((*finding).clone());
            } else {
                new.push((*finding).clone());
            }
        }
    }
    let mut fixed = Vec::new();
    for (key, members) in &base_groups {
        let after = head_groups.get(key).map_or(0, Vec::len);
        fixed.extend(members.iter().skip(after).map(|f| (*f).clone()));
    }
    let order = |a: &Flagged, b: &Flagged| {
        (&a.file, a.line, a.column, &a.rule).cmp(&(&b.file, b.line, b.column, &b.rule))
    };
    new.sort_by(order);
    existing.sort_by(order);
    fixed.sort_by(order);
    (new, existing, fixed)
}

type Key<'a> = (&'a str, &'a str, &'a str, &'a str);

/// Findings by identity, each group in line order.
fn group(findings: &[Flagged]) -> BTreeMap<Key<'_>, Vec<&Flagged>> {
    let mut groups: BTreeMap<Key<'_>, Vec<&Flagged>> = BTreeMap::new();
    for finding in findings {
        groups.entry(finding.identity()).or_default().push(finding);
    }
    for members in groups.values_mut() {
        members.sort_by_key(|f| (f.line, f.column));
    }
    groups
}

/// The fix hint of a new finding, by the tool that reported it.
fn fix_for(component: &str, finding: &Flagged) -> String {
    match finding.tool.as_str() {
        "ruff" if finding.fixable => {
            format!("run `cargo xtask promote {component} --phase 1 --fix` (a safe fix exists)")
        }
        "ruff" if finding.rule == "unformatted" => {
            format!("run `cargo xtask promote {component} --phase 1 --fix` to format it")
        }
        "ruff" => format!(
            "change the code so ruff's {} no longer applies",
            finding.rule
        ),
        "pyright" | "mypy" => format!(
            "fix the type error ({} {}), or annotate what the checker cannot infer",
            finding.tool, finding.rule
        ),
        "bandit" => format!(
            "remove the risky call ({}), or mark a reviewed false positive with `# nosec {}`",
            finding.rule, finding.rule
        ),
        tool => format!("fix what {tool} reports"),
    }
}

#[cfg(test)]
mod tests;
