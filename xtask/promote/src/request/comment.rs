//! The comment `validate-request` leaves on a promotion request, and the label it decides:
//! `promotion:in-review` when every gate passed, `promotion:blocked` otherwise, including when
//! the request itself was rejected. Pure: verdict in, Markdown out, within GitHub's limit.

use anyhow::Result;
use serde::Serialize;

use super::body::BODY_LIMIT;
use super::form;
use crate::markdown::{Place, inline};
use crate::report::{PromotionReport, markdown};

/// Identifies our comments among the issue's others.
pub const MARKER: &str = "<!-- xtask:promotion-validation -->";

/// What validation decided.
pub enum Verdict<'a> {
    /// The request was refused before anything ran; the message says why (already escaped).
    Rejected(&'a str),
    /// The checks ran; the report says how it went.
    Checked(&'a PromotionReport),
}

impl Verdict<'_> {
    /// The label the workflow sets (and the opposite one it removes).
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Checked(report) if report.promotable => form::LABEL_IN_REVIEW,
            _ => form::LABEL_BLOCKED,
        }
    }
}

#[derive(Serialize)]
struct GateRow {
    id: String,
    passed: bool,
    summary: String,
}

#[derive(Serialize)]
struct BlockerRow {
    gate: String,
    message: String,
    fix: String,
}

#[derive(Serialize, Default)]
struct CommentContext {
    marker: &'static str,
    rejection: Option<String>,
    display_name: String,
    from_stage: &'static str,
    to_stage: &'static str,
    promotable: bool,
    label: &'static str,
    gates: Vec<GateRow>,
    blockers: Vec<BlockerRow>,
    notes: Vec<String>,
    details: Option<String>,
    cached_steps: usize,
    step_count: usize,
    run_url: Option<String>,
}

/// The comment for `verdict`. `notes` are extra lines (already escaped); `run_url` links the
/// workflow run when there is one.
pub fn render(verdict: &Verdict<'_>, notes: &[String], run_url: Option<&str>) -> Result<String> {
    let mut context = CommentContext {
        marker: MARKER,
        label: verdict.label(),
        notes: notes.to_vec(),
        run_url: run_url.map(str::to_owned),
        ..CommentContext::default()
    };
    match verdict {
        Verdict::Rejected(message) => context.rejection = Some((*message).to_owned()),
        Verdict::Checked(report) => {
            context.display_name = inline(&report.display_name, 100);
            context.from_stage = report.from_stage.title();
            context.to_stage = report.to_stage.title();
            context.promotable = report.promotable;
            context.gates = report
                .quality_gates
                .iter()
                .map(|(id, gate)| GateRow {
                    id: id.id().to_owned(),
                    passed: gate.passed(),
                    summary: inline(&gate.summary(), 300),
                })
                .collect();
            context.blockers = report
                .blockers
                .iter()
                .map(|b| BlockerRow {
                    gate: inline(b.gate.id(), 40),
                    message: crate::markdown::prose(
                        b.message.trim_end_matches('.'),
                        Place::Line,
                        300,
                    ),
                    fix: crate::markdown::prose(&b.fix, Place::Line, 300),
                })
                .collect();
            context.cached_steps = report.summary.cached_steps;
            context.step_count = report.summary.steps;
            // The summary escapes mentions itself (crate::markdown), code spans included.
            context.details = Some(markdown::render(report));
        }
    }
    let text = crate::render::request_markdown("promotion-comment.md.j2", &context)?;
    if text.encode_utf16().count() <= BODY_LIMIT {
        return Ok(text);
    }
    // The full report is the only part that can grow without bound; the artifact has it.
    context.details = None;
    context
        .notes
        .push("The full report did not fit in a comment: see the workflow run's artifact.".into());
    crate::render::request_markdown("promotion-comment.md.j2", &context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::form::FieldId;
    use crate::request::parse::{Rejection, shown};
    use crate::testutil::{assessed_report, registry};

    const RUN: &str = "https://github.com/o/r/actions/runs/42";

    #[test]
    fn a_promotable_request_goes_to_review() {
        let report = assessed_report(&registry(), "carbon", 0, 72.06);
        let verdict = Verdict::Checked(&report);
        assert_eq!(verdict.label(), form::LABEL_IN_REVIEW);
        let text = render(&verdict, &[], Some(RUN)).unwrap();
        assert!(text.starts_with(MARKER));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_blocked_request_lists_its_blockers_and_notes() {
        let report = assessed_report(&registry(), "narrative-arc-orchestrator", 3, 47.1);
        let verdict = Verdict::Checked(&report);
        assert_eq!(verdict.label(), form::LABEL_BLOCKED);
        let note = format!(
            "The title {} differs from the form's pattern.",
            shown("fix it")
        );
        let text = render(&verdict, &[note], Some(RUN)).unwrap();
        assert!(
            text.contains("**Not promotable yet**: 4 blockers."),
            "{text}"
        );
        assert!(
            text.contains("### Notes\n\n- The title `fix it` differs"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_rejected_request_says_why_and_quotes_the_value_inertly() {
        let rejection = Rejection::new(
            Some(FieldId::Component),
            format!("{} is not a component in xtask.toml", shown("$(id)`x`")),
        );
        let verdict = Verdict::Rejected(&rejection.to_string());
        assert_eq!(verdict.label(), form::LABEL_BLOCKED);
        let text = render(&verdict, &[], None).unwrap();
        insta::assert_snapshot!(text, @r"
        <!-- xtask:promotion-validation -->
        ## ⛔ Promotion request rejected

        This request could not be validated, so no check ran: Component Name: `$(id)'x'` is not a component in xtask.toml

        Edit the issue so that every section of the form is present and each choice is one the form offers (the values in `xtask.toml`); validation runs again on every edit.
        ");
    }

    #[test]
    fn a_comment_too_long_for_github_drops_the_full_report() {
        let mut report = assessed_report(&registry(), "llm", 2000, 80.0);
        for finding in report.steps[0].findings_mut().unwrap() {
            finding.message = "y".repeat(3000);
        }
        let text = render(&Verdict::Checked(&report), &[], None).unwrap();
        assert!(text.encode_utf16().count() <= BODY_LIMIT);
        assert!(!text.contains("<details>"));
        assert!(text.contains("did not fit in a comment"));
    }
}
