//! Recording stage changes in MATURITY.md: a promotion only on the evidence of a promotable
//! report (and a deployment, when the caller has one), a demotion only downwards. The text
//! change is pure (`apply`); `write` does the one atomic file write.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};

use super::managed::{self, Contents};
use super::parse;
use crate::config::Config;
use crate::errors::usage;
use crate::fsutil;
use crate::markdown::{self, Place};
use crate::report::PromotionReport;
use crate::vocab::Stage;

/// Evidence that the component runs in the target environment, from a deploy that succeeded.
/// The deploy phase fills it in; a record only mentions what it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentConfirmation {
    /// The environment deployed to: `staging` or `production`, the target stage's id.
    pub environment: String,
    /// The compose service that runs the component.
    pub service: String,
    /// The image the service runs, as docker names it (`sha256:...`).
    pub image_id: String,
    pub deployed_at: DateTime<Utc>,
}

/// One change of stage, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct StageChange {
    pub from: Stage,
    pub to: Stage,
    pub at: DateTime<Utc>,
    /// The coverage behind the change, in percent; `None` for a demotion.
    pub coverage: Option<f64>,
    /// The threshold of the target stage, shown beside the coverage.
    pub threshold: Option<f64>,
    pub notes: String,
    /// The promotion record beside MATURITY.md (`promotions/<stage>-<date>.json`), linked
    /// from the history row.
    pub record: Option<String>,
}

impl StageChange {
    /// The promotion a report proves. Refused unless the report says promotable, from the
    /// stage before its target; a deployment, when given, must be to the target's environment.
    pub fn promotion(
        report: &PromotionReport,
        deployment: Option<&DeploymentConfirmation>,
        at: DateTime<Utc>,
    ) -> Result<StageChange> {
        if !report.promotable {
            return Err(usage(format!(
                "{} is not promotable to {}: nothing recorded",
                report.component, report.to_stage
            )));
        }
        if report.from_stage.next() != Some(report.to_stage) {
            return Err(usage(format!(
                "{} -> {} is not a promotion by one stage: nothing recorded",
                report.from_stage, report.to_stage
            )));
        }
        let gates = report.quality_gates.len();
        let mut notes = format!("promoted: all {gates} gates passed");
        if let Some(deployment) = deployment {
            if !deployment
                .environment
                .eq_ignore_ascii_case(report.to_stage.id())
            {
                return Err(usage(format!(
                    "the deployment of {} went to `{}`, not to {}: nothing recorded",
                    report.component,
                    deployment.environment.escape_debug(),
                    report.to_stage.id()
                )));
            }
            notes.push_str(&format!(
                "; deployed {} as service {} to {} at {}",
                deployment.image_id,
                deployment.service,
                deployment.environment,
                timestamp(deployment.deployed_at)
            ));
        }
        let threshold = match report.gate(crate::vocab::GateKind::Coverage) {
            Some(crate::gates::GateResult {
                outcome: crate::gates::Outcome::Coverage { threshold, .. },
                ..
            }) => Some(*threshold),
            _ => None,
        };
        Ok(StageChange {
            from: report.from_stage,
            to: report.to_stage,
            at,
            coverage: report.summary.coverage,
            threshold,
            notes,
            record: None,
        })
    }

    /// A demotion: only to a lower stage, and only with a reason.
    pub fn demotion(
        from: Stage,
        to: Stage,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<StageChange> {
        // One line: the reason goes into a table cell (where `row` escapes it).
        let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
        if reason.is_empty() {
            return Err(usage("a demotion needs a reason: pass --reason TEXT"));
        }
        if to >= from {
            return Err(usage(format!(
                "{to} is not below {from}: a demotion goes to a lower stage (promote with `cargo xtask promote`)"
            )));
        }
        Ok(StageChange {
            from,
            to,
            at,
            coverage: None,
            threshold: None,
            notes: format!("demoted: {reason}"),
            record: None,
        })
    }

    fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} |",
            timestamp(self.at),
            self.from,
            self.to,
            self.coverage
                .map_or_else(|| "—".to_owned(), |c| format!("{c:.2}%")),
            self.notes_cell()
        )
    }

    /// The notes, escaped, and the link to the record. The link's path is ours
    /// (`promotions/<stage>-<date>[-n].json`), checked to hold nothing Markdown would read.
    fn notes_cell(&self) -> String {
        let notes = markdown::prose(&self.notes, Place::Cell, usize::MAX);
        match &self.record {
            Some(path)
                if path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) =>
            {
                format!("{notes}; [record]({path})")
            }
            _ => notes,
        }
    }

    fn coverage_line(&self) -> String {
        match (self.coverage, self.threshold) {
            (Some(c), Some(t)) => format!("{c:.2}% at the {} promotion (needs {t}%)", self.to),
            (Some(c), None) => format!("{c:.2}% at the {} promotion", self.to),
            _ => format!("not measured (demoted to {})", self.to),
        }
    }
}

/// An RFC 3339 UTC time to the second, as records write it.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What recording did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The new text of the file.
    Changed(String),
    /// The file already says the component is in the target stage: nothing to write.
    AlreadyRecorded,
}

/// The file's text after `change`. A file that already states the target stage is left alone,
/// so recording the same change twice writes once. A file that states a stage other than the
/// change's `from` is refused: the evidence was gathered for another starting point.
pub fn apply(text: &str, change: &StageChange) -> Result<Applied> {
    // A leading BOM is kept as it was; everything else works on the text after it.
    let (bom, text) = match text.strip_prefix(parse::BOM) {
        Some(rest) => (parse::BOM, rest),
        None => ("", text),
    };
    if let Some(defect) = parse::defect(text) {
        return Err(usage(format!(
            "MATURITY.md cannot be recorded into: {defect}"
        )));
    }
    let current = parse::parse_stage(text).unwrap_or(Stage::Development);
    if current == change.to {
        return Ok(Applied::AlreadyRecorded);
    }
    if current != change.from {
        return Err(usage(format!(
            "MATURITY.md says {current}, but the change is {} -> {}: run the command again",
            change.from, change.to
        )));
    }
    let mut rows = parse::find(text)
        .and_then(|section| text.get(section.range))
        .map(managed::rows)
        .unwrap_or_default();
    rows.push(change.row());
    let contents = Contents {
        stage: change.to,
        since: timestamp(change.at),
        coverage: change.coverage_line(),
        rows,
    };
    let new = managed::splice(text, &contents);
    // The new text must state one stage, the recorded one: a second stage line elsewhere in
    // the file (which agreed with the first before) would now contradict the section.
    if let Some(defect) = parse::defect(&new) {
        return Err(usage(format!(
            "recording {} -> {} would leave MATURITY.md inconsistent: {defect}",
            change.from, change.to
        )));
    }
    Ok(Applied::Changed(format!("{bom}{new}")))
}

/// Applies a change to the MATURITY.md at `path` (created with a title when missing) and
/// writes it atomically, holding the file's lock in `locks_dir` from the read to the rename, so
/// two commands recording into one file serialise and the later one works on top of the
/// earlier one's text. `make` builds the change from the stage the file states under the lock
/// (a demotion goes down from whatever it is now; a promotion is refused by `apply` when the
/// file no longer states the stage its evidence started from). Returns whether the file
/// changed and the change that the file now states.
pub fn write(
    locks_dir: &Path,
    path: &Path,
    title: &str,
    make: impl FnOnce(Stage) -> Result<StageChange>,
) -> Result<(bool, StageChange)> {
    let _lock = crate::deploy::lock::acquire(locks_dir, &lock_name(path))?;
    // A record replaces the file by a rename: through a symlink or a hard link that would
    // part the file from its other names, and a read-only file says it is not to be changed.
    fsutil::refuse_unreplaceable(path, "MATURITY.md")?;
    let text = crate::input_file::read_text(path, "MATURITY.md", crate::input_file::DOCUMENT_MAX)?
        .unwrap_or_else(|| format!("# {title} — Maturity\n"));
    let current = parse::parse_stage(&text).unwrap_or(Stage::Development);
    let change = make(current)?;
    match apply(&text, &change)
        .with_context(|| format!("failed to record the change in {}", path.display()))?
    {
        Applied::AlreadyRecorded => Ok((false, change)),
        Applied::Changed(new) => {
            // A signal that came while we waited or worked means stop: nothing is recorded.
            if crate::process::interrupted() {
                return Err(crate::errors::interrupted(format!(
                    "interrupted: nothing recorded in {}",
                    path.display()
                )));
            }
            fsutil::write_atomic(path, new.as_bytes())?;
            Ok((true, change))
        }
    }
}

/// The lock of one MATURITY.md: its path with every character outside a safe alphabet
/// replaced, plus a short digest of the whole path so two paths never share a name.
fn lock_name(path: &Path) -> String {
    use sha2::Digest;
    let text = path.to_string_lossy();
    let safe: String = text
        .chars()
        .rev()
        .take(60)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let digest = sha2::Sha256::digest(text.as_bytes());
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("maturity-{safe}-{short}")
}

/// Records the promotion `report` proves in its component's MATURITY.md. Returns whether the
/// file changed (it does not when the file already states the target stage).
///
/// `deployment` is the evidence of a successful deploy to the target environment, for
/// components that have one; the caller decides when it is required.
pub fn record_promotion(
    config: &Config,
    report: &PromotionReport,
    deployment: Option<&DeploymentConfirmation>,
    at: DateTime<Utc>,
    record: Option<String>,
) -> Result<bool> {
    let component = config.require_component(&report.component)?;
    let change = StageChange {
        record,
        ..StageChange::promotion(report, deployment, at)?
    };
    write(
        &config.locks_dir(),
        &config.project_path(&component.maturity),
        &component.display_name,
        |_| Ok(change),
    )
    .map(|(changed, _)| changed)
}

#[cfg(test)]
mod tests;
