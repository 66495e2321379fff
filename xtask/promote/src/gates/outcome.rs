//! What a gate found, typed: one outcome per gate kind, so readers (reports, status, the
//! request body) match on evidence instead of parsing display strings or JSON back. The JSON
//! report's `measured`, `threshold`, `unit` and `summary` are derived here, in one place, so
//! the schema stays what it was.

use chrono::NaiveDateTime;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::{Value, json};

use crate::maturity::observation::Observation;
use crate::plural::{count, count_as};
use crate::tools::StepKind;
use crate::tools::pytest::{Coverage, TestCounts};
use crate::tools::result::StepError;
use crate::vocab::SecuritySeverity;
use crate::vocab::Stage;

/// One gate's verdict and the evidence behind it. Whether it passed is not stored: it is
/// read from the outcome (`passed`), so the verdict and the figures a report shows cannot
/// disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The step the gate reads gave no verdict (`errored`) or did not run: never a pass.
    NoVerdict {
        step: StepKind,
        errored: bool,
    },
    /// Evidence that was never gathered: a planning bug, never a pass.
    Missing {
        what: String,
    },
    Stage {
        from: Stage,
        to: Stage,
    },
    Lint {
        findings: usize,
        unformatted: usize,
    },
    Types {
        errors: usize,
        warnings: usize,
    },
    Docs {
        exists: bool,
        /// Required sections there and written (no scaffold placeholder left in them).
        present: usize,
        required: usize,
        /// Sections still holding a scaffold placeholder, in README order.
        unfinished: Vec<String>,
    },
    Security {
        blocking: usize,
        below: usize,
        fail_on: SecuritySeverity,
    },
    Tests(TestCounts),
    Coverage {
        threshold: f64,
        measured: CoverageMeasure,
    },
    Dependencies(Dependencies),
    Observation {
        required_days: u32,
        /// `None` when MATURITY.md records no date of entering Staging.
        observed: Option<Observation>,
    },
    Deployment(DeploymentFact),
    Integration(IntegrationFact),
    /// Uptime, latency and monitoring (`evidence::outcome`).
    Production(crate::evidence::outcome::ProductionOutcome),
    /// The newest rollback drill, and how old it was when the gate was decided.
    Rollback {
        fact: DrillFact,
        /// When the gate was decided: the drill's age, and so the verdict, are read against it.
        now: NaiveDateTime,
    },
}

/// The rollback drills of a component as the gates see them; `deploy::gate::drill_fact`
/// converts the deployment history into it.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillFact {
    /// The environment drilled: that of the stage the component is in.
    pub environment: Stage,
    /// The observation window a passing drill must fall inside.
    pub window_days: u32,
    /// The newest drill there (`None`: never drilled); an error when the history cannot be read.
    pub last: Result<Option<DrillRun>, String>,
}

/// One drill, as the gate reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillRun {
    /// When it finished (UTC).
    pub finished_at: NaiveDateTime,
    pub passed: bool,
    /// The short ID of the previous proven image it rolled back to.
    pub back_image: String,
    /// The short ID of the image it started from and rolled forward to.
    pub forward_image: String,
    /// Why it did not pass.
    pub failure: Option<String>,
}

impl DrillFact {
    /// The rule, in one place: the newest drill passed and finished no more than the window
    /// before `now`. A drill dated after `now` (clocks a little apart) counts as just now.
    pub fn passes(&self, now: NaiveDateTime) -> bool {
        matches!(&self.last, Ok(Some(run)) if run.passed
            && now.signed_duration_since(run.finished_at)
                <= chrono::Duration::days(i64::from(self.window_days)))
    }

    /// Days from the newest drill to `now`, to a tenth.
    pub fn age_days(&self, now: NaiveDateTime) -> Option<f64> {
        let run = self.last.as_ref().ok()?.as_ref()?;
        let seconds = now
            .signed_duration_since(run.finished_at)
            .num_seconds()
            .max(0);
        Some((seconds as f64 / 86_400.0 * 10.0).round() / 10.0)
    }

    /// One line: the newest drill, its date and verdict.
    pub fn describe(&self, passed: bool) -> String {
        match &self.last {
            Err(reason) => format!("the drill history cannot be read: {reason}"),
            Ok(None) => format!("no rollback drill in {}", self.environment),
            Ok(Some(run)) if !run.passed => format!(
                "the last drill ({}) failed: {}",
                utc(run.finished_at),
                run.failure.as_deref().unwrap_or("no reason recorded")
            ),
            Ok(Some(run)) if passed => format!(
                "drill passed on {} ({} -> {} -> {})",
                utc(run.finished_at),
                run.forward_image,
                run.back_image,
                run.forward_image
            ),
            Ok(Some(run)) => format!(
                "the last passing drill ({}) is older than the {}-day window",
                utc(run.finished_at),
                self.window_days
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CoverageMeasure {
    Measured(Coverage),
    /// pytest gave no verdict, so coverage was not measured.
    NotMeasured,
    /// pytest ran but pytest-cov measured none of the component's files.
    NoData,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dependencies {
    /// Each declared dependency with its current stage.
    pub stages: Vec<(String, Stage)>,
    pub target: Stage,
    /// Components the code imports without declaring them.
    pub undeclared: Vec<String>,
    /// Declared dependencies the code never imports (a warning only).
    pub unused: Vec<String>,
    /// `file:line` of dynamic imports of a computed module name.
    pub dynamic: Vec<String>,
}

impl Dependencies {
    pub fn behind(&self) -> impl Iterator<Item = &(String, Stage)> {
        self.stages.iter().filter(|(_, stage)| *stage < self.target)
    }
}

/// A finished deploy as the gates see it; `deploy::gate::deployment_fact` converts the
/// deploy's own record into it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentFact {
    pub service: String,
    pub health_timeout_secs: u64,
    pub result: DeployResult,
    /// The commands that restore the service when the rollback failed.
    pub recovery: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeployResult {
    Deployed {
        /// The short ID of the image now running.
        image: String,
        seconds_to_healthy: f64,
    },
    RolledBack {
        previous_image: String,
        failure: String,
        proof: String,
    },
    RollbackFailed {
        failure: String,
        proof: String,
    },
}

/// An `--integration` run as the gates see it; `deploy::gate::integration_fact` converts the
/// run into it.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationFact {
    pub services: Vec<String>,
    pub services_healthy: bool,
    /// pytest's verdict was a pass.
    pub tests_passed: bool,
    pub tests: Option<TestCounts>,
    /// Why the tests gave no verdict.
    pub error: Option<StepError>,
    pub command: Vec<String>,
    /// The first finding's message (why a service did not come up, say).
    pub first_finding: Option<String>,
    /// `None` when nothing was brought up; else whether the services were removed, and how we
    /// know.
    pub teardown: Option<(bool, String)>,
}

impl IntegrationFact {
    /// The integration rule, in one place: the tests passed against healthy services and the
    /// services were removed afterwards.
    pub fn passed(&self) -> bool {
        let removed = self.teardown.as_ref().is_none_or(|(removed, _)| *removed);
        self.tests_passed && self.services_healthy && removed
    }

    pub fn failed_tests(&self) -> u64 {
        self.tests.map_or(0, |t| t.failed + t.errors)
    }

    fn counts_text(&self) -> String {
        format!(
            "{} passed, {} failed",
            self.tests.map_or(0, |t| t.passed),
            self.failed_tests()
        )
    }
}

/// The configured severity as users write it in xtask.toml.
pub fn severity_name(level: SecuritySeverity) -> &'static str {
    match level {
        SecuritySeverity::Low => "low",
        SecuritySeverity::Medium => "medium",
        SecuritySeverity::High => "high",
    }
}

/// A UTC time for messages: the date alone at midnight (how users' rows are read), else to
/// the minute.
pub fn utc(at: NaiveDateTime) -> String {
    if at.time() == chrono::NaiveTime::MIN {
        at.format("%Y-%m-%d").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

pub(super) fn earliest(observed: &Observation) -> String {
    observed.earliest.format("%Y-%m-%d %H:%M UTC").to_string()
}

impl Outcome {
    /// Each gate's rule over the figures its outcome holds: the one place a gate's verdict is
    /// read from (`gates::decide` builds the outcomes and blocks by it).
    pub fn passed(&self) -> bool {
        match self {
            Outcome::NoVerdict { .. } | Outcome::Missing { .. } => false,
            Outcome::Stage { from, to } => from.next() == Some(*to),
            Outcome::Lint {
                findings,
                unformatted,
            } => *findings == 0 && *unformatted == 0,
            Outcome::Types { errors, .. } => *errors == 0,
            // Every required section there and written, none holding a scaffold placeholder.
            Outcome::Docs {
                exists,
                present,
                required,
                unfinished,
            } => *exists && present == required && unfinished.is_empty(),
            Outcome::Security { blocking, .. } => *blocking == 0,
            Outcome::Tests(counts) => counts.failed + counts.errors == 0,
            Outcome::Coverage {
                threshold,
                measured,
            } => matches!(measured, CoverageMeasure::Measured(c) if c.percent >= *threshold),
            Outcome::Dependencies(dependencies) => {
                dependencies.behind().next().is_none() && dependencies.undeclared.is_empty()
            }
            Outcome::Observation { observed, .. } => observed.is_some_and(|o| o.complete()),
            Outcome::Deployment(fact) => matches!(fact.result, DeployResult::Deployed { .. }),
            Outcome::Integration(fact) => fact.passed(),
            Outcome::Production(outcome) => outcome.passed(),
            Outcome::Rollback { fact, now } => fact.passes(*now),
        }
    }
}

impl From<Outcome> for GateResult {
    fn from(outcome: Outcome) -> Self {
        GateResult { outcome }
    }
}

impl GateResult {
    pub fn passed(&self) -> bool {
        self.outcome.passed()
    }

    /// What the gate counted (findings, errors, failed tests), for the gates that count.
    pub fn count(&self) -> Option<u64> {
        let count = match &self.outcome {
            Outcome::Lint {
                findings,
                unformatted,
            } => findings + unformatted,
            Outcome::Types { errors, .. } => *errors,
            Outcome::Security { blocking, .. } => *blocking,
            Outcome::Tests(counts) => return Some(counts.failed + counts.errors),
            _ => return None,
        };
        Some(count as u64)
    }

    /// The figure the gate compared, as the JSON report's `measured`.
    pub fn measured(&self) -> Value {
        match &self.outcome {
            Outcome::NoVerdict { .. } | Outcome::Missing { .. } => Value::Null,
            Outcome::Stage { from, to } => json!(format!("{from} -> {to}")),
            Outcome::Lint { .. }
            | Outcome::Types { .. }
            | Outcome::Security { .. }
            | Outcome::Tests(_) => json!(self.count()),
            Outcome::Docs { present, .. } => json!(present),
            Outcome::Coverage { measured, .. } => match measured {
                CoverageMeasure::Measured(coverage) => json!(coverage.percent),
                _ => Value::Null,
            },
            Outcome::Dependencies(dependencies) => json!(
                dependencies
                    .stages
                    .iter()
                    .map(|(name, stage)| json!({"component": name, "stage": stage}))
                    .collect::<Vec<_>>()
            ),
            Outcome::Observation { observed, .. } => {
                observed.map_or(Value::Null, |o| json!(o.elapsed_days()))
            }
            Outcome::Deployment(fact) => match &fact.result {
                DeployResult::Deployed {
                    seconds_to_healthy, ..
                } => json!((seconds_to_healthy * 10.0).round() / 10.0),
                _ => json!(self.summary()),
            },
            Outcome::Production(outcome) => outcome.measured(),
            Outcome::Rollback { fact, now } => {
                fact.age_days(*now).map_or(Value::Null, |d| json!(d))
            }
            Outcome::Integration(fact) => {
                if self.passed() {
                    json!(fact.failed_tests())
                } else {
                    json!(fact.counts_text())
                }
            }
        }
    }

    /// What `measured` had to reach, as the JSON report's `threshold`.
    pub fn threshold(&self) -> Value {
        match &self.outcome {
            Outcome::Missing { .. } => Value::Null,
            Outcome::Stage { from, .. } => json!(format!(
                "{from} -> {}",
                from.next().map_or("none", Stage::title)
            )),
            Outcome::Docs { required, .. } => json!(required),
            Outcome::Coverage { threshold, .. } => json!(threshold),
            Outcome::Dependencies(dependencies) => json!(dependencies.target),
            Outcome::Observation { required_days, .. } => json!(required_days),
            Outcome::Production(outcome) => outcome.threshold(),
            Outcome::Rollback { fact, .. } => json!(fact.window_days),
            Outcome::Deployment(fact) => match fact.result {
                DeployResult::Deployed { .. } => json!(fact.health_timeout_secs),
                _ => json!("healthy"),
            },
            _ => json!(0),
        }
    }

    /// What `measured` and `threshold` count.
    pub fn unit(&self) -> &'static str {
        match &self.outcome {
            Outcome::NoVerdict { .. } | Outcome::Lint { .. } | Outcome::Security { .. } => {
                "findings"
            }
            Outcome::Missing { .. } => "",
            Outcome::Stage { .. } | Outcome::Dependencies(_) => "stage",
            Outcome::Types { .. } => "errors",
            Outcome::Docs { .. } => "sections",
            Outcome::Tests(_) | Outcome::Integration(_) => "failed tests",
            Outcome::Coverage { .. } => "percent",
            Outcome::Observation { .. } => "days",
            Outcome::Production(outcome) => outcome.unit(),
            Outcome::Rollback { .. } => "days since the drill",
            Outcome::Deployment(fact) => match fact.result {
                DeployResult::Deployed { .. } => "seconds to healthy",
                _ => "outcome",
            },
        }
    }

    /// One line for people: the gate table's last column.
    pub fn summary(&self) -> String {
        match &self.outcome {
            Outcome::NoVerdict { step, errored } => {
                format!(
                    "{step} {}",
                    if *errored { "errored" } else { "did not run" }
                )
            }
            Outcome::Missing { what } => format!("{what} did not run"),
            Outcome::Stage { from, to } => {
                if self.passed() {
                    format!("{from} -> {to}")
                } else {
                    format!("{from} -> {to} is not allowed")
                }
            }
            Outcome::Lint {
                findings,
                unformatted,
            } => lint_summary(*findings, *unformatted),
            Outcome::Types { errors, warnings } => {
                format!(
                    "{}, {}",
                    count(*errors, "error"),
                    count(*warnings, "warning")
                )
            }
            Outcome::Docs {
                exists,
                present,
                required,
                unfinished,
            } => {
                if *exists && !unfinished.is_empty() {
                    format!(
                        "{present} of {} written; placeholders left in {}",
                        count(*required, "required section"),
                        unfinished.join(", ")
                    )
                } else if *exists {
                    format!("{present} of {}", count(*required, "required section"))
                } else {
                    "README missing".to_owned()
                }
            }
            Outcome::Security {
                blocking,
                below,
                fail_on,
            } => format!(
                "{blocking} blocking, {below} below the {} threshold",
                severity_name(*fail_on)
            ),
            Outcome::Tests(counts) => tests_summary(counts),
            Outcome::Coverage {
                threshold,
                measured,
            } => match measured {
                CoverageMeasure::NotMeasured => "not measured".to_owned(),
                CoverageMeasure::NoData => "no data".to_owned(),
                CoverageMeasure::Measured(coverage) => format!(
                    "{:.2}% of {} {} (needs {threshold}%)",
                    coverage.percent,
                    coverage.total,
                    if coverage.branch {
                        "lines and branches"
                    } else {
                        "lines"
                    }
                ),
            },
            Outcome::Dependencies(dependencies) => dependencies_summary(dependencies),
            Outcome::Observation { observed, .. } => match observed {
                None => "no Staging date recorded".to_owned(),
                Some(observed) if observed.complete() => {
                    format!("in Staging since {}", utc(observed.since))
                }
                Some(observed) => format!(
                    "{} to go, earliest {}",
                    crate::maturity::observation::days_hours(observed.remaining),
                    earliest(observed)
                ),
            },
            Outcome::Deployment(fact) => match &fact.result {
                DeployResult::Deployed {
                    image,
                    seconds_to_healthy,
                } => format!(
                    "{} healthy on {image} in {seconds_to_healthy:.1}s",
                    fact.service
                ),
                DeployResult::RolledBack { previous_image, .. } => {
                    format!("deploy failed, rolled back to {previous_image}")
                }
                DeployResult::RollbackFailed { .. } => format!(
                    "deploy failed and the rollback failed: {} may be down",
                    fact.service
                ),
            },
            Outcome::Integration(fact) => integration_summary(fact, self.passed()),
            Outcome::Production(outcome) => outcome.summary(),
            Outcome::Rollback { fact, .. } => fact.describe(self.passed()),
        }
    }

    /// `measured` for a table cell: `—` when nothing was measured, lists as `name (stage)`.
    pub fn measured_text(&self) -> String {
        match &self.outcome {
            Outcome::Dependencies(dependencies) => dependencies
                .stages
                .iter()
                .map(|(name, stage)| format!("{name} ({})", stage.id()))
                .collect::<Vec<_>>()
                .join(", "),
            _ => value_text(&self.measured()),
        }
    }

    /// `threshold` for a table cell.
    pub fn threshold_text(&self) -> String {
        match &self.outcome {
            Outcome::Dependencies(dependencies) => dependencies.target.id().to_owned(),
            _ => value_text(&self.threshold()),
        }
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The lint figure is one count, the one every view shows (status table, JSON `measured`,
/// JUnit, summary): ruff's findings plus the files ruff would reformat.
fn lint_summary(findings: usize, unformatted: usize) -> String {
    let total = count(findings + unformatted, "finding");
    if findings > 0 && unformatted > 0 {
        format!(
            "{total}: {} from ruff check, {} to format",
            findings,
            count_as(unformatted, "file", "files")
        )
    } else if unformatted > 0 {
        format!(
            "{total}: {} to format",
            count_as(unformatted, "file", "files")
        )
    } else {
        total
    }
}

/// pytest's counts, `1 error` and `2 errors` alike.
pub fn tests_summary(counts: &TestCounts) -> String {
    format!(
        "{} passed, {} failed, {}, {} skipped",
        counts.passed,
        counts.failed,
        count(counts.errors, "error"),
        counts.skipped
    )
}

fn dependencies_summary(dependencies: &Dependencies) -> String {
    let to = dependencies.target;
    let total = dependencies.stages.len();
    let behind = dependencies.behind().count();
    let mut summary = if total == 0 {
        "no dependencies".to_owned()
    } else if behind == 0 {
        format!("all {total} at {to} or above")
    } else {
        format!("{behind} of {total} below {to}")
    };
    if !dependencies.undeclared.is_empty() {
        summary.push_str(&format!(
            "; imports {} undeclared",
            dependencies.undeclared.join(", ")
        ));
    }
    if !dependencies.unused.is_empty() {
        summary.push_str(&format!(
            "; warning: declared but never imported: {}",
            dependencies.unused.join(", ")
        ));
    }
    if let Some(first) = dependencies.dynamic.first() {
        summary.push_str(&format!(
            "; {} not followed (module computed at run time: {first})",
            count(dependencies.dynamic.len(), "dynamic import")
        ));
    }
    summary
}

fn integration_summary(fact: &IntegrationFact, passed: bool) -> String {
    if passed {
        let against = if fact.services.is_empty() {
            String::new()
        } else {
            format!(" against {}", fact.services.join(", "))
        };
        return format!("{}{against}", fact.counts_text());
    }
    if fact.error.is_some() {
        "integration tests errored".to_owned()
    } else if !fact.services_healthy {
        "services not healthy".to_owned()
    } else if !fact.tests_passed {
        fact.counts_text()
    } else {
        "services left behind".to_owned()
    }
}

/// The rollback gate's `facts`: the environment, the window and the newest drill.
fn drill_facts(fact: &DrillFact) -> Value {
    let mut facts = json!({
        "environment": fact.environment,
        "window_days": fact.window_days,
    });
    match &fact.last {
        Err(reason) => facts["error"] = json!(reason),
        Ok(None) => facts["drill"] = Value::Null,
        Ok(Some(run)) => {
            facts["drill"] = json!({
                "finished_at": run.finished_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "passed": run.passed,
                "back_image": run.back_image,
                "forward_image": run.forward_image,
                "failure": run.failure,
            });
        }
    }
    facts
}

/// The JSON report's shape of a gate (the schema's `gate`), derived from the typed outcome.
impl Serialize for GateResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut gate = serializer.serialize_struct("GateResult", 6)?;
        gate.serialize_field("passed", &self.passed())?;
        gate.serialize_field("measured", &self.measured())?;
        gate.serialize_field("threshold", &self.threshold())?;
        gate.serialize_field("unit", self.unit())?;
        gate.serialize_field("summary", &self.summary())?;
        // The Production gates carry what they measured (window, coverage, worst hour...).
        match &self.outcome {
            Outcome::Production(outcome) => gate.serialize_field("facts", &outcome.facts())?,
            Outcome::Rollback { fact, .. } => gate.serialize_field("facts", &drill_facts(fact))?,
            _ => gate.skip_field("facts")?,
        }
        gate.end()
    }
}
