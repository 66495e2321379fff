//! The ratchet's verdict as text for a terminal, Markdown for the job summary and workflow
//! annotations for the pull request's diff. Pure.

use std::fmt::Write as _;

use super::{Comparison, Flagged, Worse};
use crate::github::annotations::{Annotation, Level};
use crate::markdown::{self, Place};
use crate::plural;

/// Findings listed under "existing" before the rest are counted (all with `-v`).
const EXISTING_SHOWN: usize = 5;

/// One line per thing that got worse, then the fixed and (up to a few, or all when `verbose`)
/// existing findings.
pub fn text(comparisons: &[Comparison], base: &str, verbose: bool) -> String {
    let mut out = String::new();
    for comparison in comparisons {
        let verdict = if comparison.is_worse() {
            "worse"
        } else {
            "not worse"
        };
        let _ = writeln!(
            out,
            "{} ({}) against {base}: {verdict}{}",
            comparison.component,
            comparison.stage,
            if comparison.in_base {
                ""
            } else {
                " (new: not in the base commit)"
            }
        );
        for worse in &comparison.worse {
            let (what, fix) = describe(worse);
            let _ = writeln!(out, "  worse     {what}");
            if let Some(fix) = fix {
                let _ = writeln!(out, "            fix: {fix}");
            }
        }
        for finding in &comparison.fixed {
            let _ = writeln!(out, "  fixed     {}", finding_line(finding));
        }
        let shown = if verbose {
            comparison.existing.len()
        } else {
            EXISTING_SHOWN
        };
        for finding in comparison.existing.iter().take(shown) {
            let _ = writeln!(out, "  existing  {}", finding_line(finding));
        }
        if comparison.existing.len() > shown {
            let _ = writeln!(
                out,
                "  existing  and {} more (-v lists them)",
                plural::count(comparison.existing.len() - shown, "finding")
            );
        }
        if let (Some(before), Some(after)) = (comparison.base_coverage, comparison.head_coverage) {
            let _ = writeln!(out, "  coverage  {before:.2}% -> {after:.2}%");
        }
    }
    out
}

fn finding_line(finding: &Flagged) -> String {
    format!(
        "{} {} {}: {}",
        finding.location(),
        finding.tool,
        finding.rule,
        finding.message
    )
}

/// What got worse, in a sentence, and its fix.
pub fn describe(worse: &Worse) -> (String, Option<String>) {
    match worse {
        Worse::NewFinding { finding, fix } => (
            format!("new finding {}", finding_line(finding)),
            Some(fix.clone()),
        ),
        Worse::CoverageDropped { base, head, slack } => (
            format!(
                "coverage fell from {base:.2}% to {head:.2}% ({:.2} points; {slack} allowed)",
                base - head
            ),
            Some("add tests for the code this change added or uncovered".to_owned()),
        ),
        Worse::CoverageLost { base } => (
            format!("coverage was {base:.2}% and is no longer measured"),
            Some("make sure the component's tests still run and import it".to_owned()),
        ),
        Worse::GateFailed { gate, summary, fix } => (
            format!("the {gate} gate of its stage passed on the base and fails now: {summary}"),
            fix.clone(),
        ),
    }
}

/// The job summary: a table of verdicts, then each component's worse items.
pub fn markdown(comparisons: &[Comparison], base: &str) -> String {
    let mut out = format!("## Ratchet against `{}`\n\n", markdown::code(base));
    out.push_str("| Component | Stage | Verdict | Worse | Fixed | Existing |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for c in comparisons {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            markdown::text(&c.component),
            c.stage,
            if c.is_worse() {
                "❌ worse"
            } else {
                "✅ not worse"
            },
            c.worse.len(),
            c.fixed.len(),
            c.existing.len()
        );
    }
    for c in comparisons.iter().filter(|c| c.is_worse()) {
        let _ = writeln!(out, "\n### {}\n", markdown::text(&c.component));
        for worse in &c.worse {
            let (what, fix) = describe(worse);
            let _ = write!(out, "- {}", markdown::text(&what));
            if let Some(fix) = fix {
                let _ = write!(out, " — fix: {}", markdown::prose(&fix, Place::Line, 500));
            }
            out.push('\n');
        }
    }
    out
}

/// One error annotation per thing that got worse, on its line when it has one; `prefix` is
/// the project root relative to the repository, where GitHub resolves files.
pub fn annotations(comparisons: &[Comparison], prefix: &str) -> Vec<Annotation> {
    let repo_path = |file: &str| {
        if prefix.is_empty() || prefix == "." {
            file.to_owned()
        } else {
            format!("{prefix}/{file}")
        }
    };
    let mut all = Vec::new();
    for c in comparisons {
        for worse in &c.worse {
            let (what, fix) = describe(worse);
            let message = match fix {
                Some(fix) => format!("{what}\nfix: {fix}"),
                None => what,
            };
            let (file, line, column) = match worse {
                Worse::NewFinding { finding, .. } if !finding.file.is_empty() => {
                    (Some(repo_path(&finding.file)), finding.line, finding.column)
                }
                _ => (None, None, None),
            };
            all.push(Annotation {
                level: Level::Error,
                file,
                line,
                column,
                title: format!("ratchet: {} got worse", c.component),
                message,
            });
        }
    }
    all
}
