//! What one step produced for one component: the data reports, gates and the cache share.

use serde::{Deserialize, Serialize};

use super::pytest::{Coverage, TestCounts};
use super::{Finding, StepKind, Tool, ToolFailure};

/// A step's status as the reports name it; read from its outcome (`StepResult::status`),
/// never stored beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Passed,
    Failed,
    Error,
}

/// Why a step could not give a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    NotFound,
    Crashed,
    TimedOut,
    BadOutput,
    NoTests,
    Interrupted,
}

impl ErrorKind {
    /// Errors of the machine rather than of the component: they make the exit code 3.
    pub fn is_infrastructure(self) -> bool {
        !matches!(self, ErrorKind::NoTests)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepError {
    pub kind: ErrorKind,
    pub message: String,
}

impl StepError {
    pub fn from_failure(failure: &ToolFailure) -> Self {
        StepError {
            kind: match failure {
                ToolFailure::Crashed { .. } => ErrorKind::Crashed,
                ToolFailure::BadOutput { .. } => ErrorKind::BadOutput,
                ToolFailure::NoTests { .. } | ToolFailure::NoEvidence { .. } => ErrorKind::NoTests,
            },
            message: failure.to_string(),
        }
    }
}

/// What one step decided: exactly one of a checker's verdict, a test run, or no verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// A checker's (or a fix's) verdict over its findings, by the step's verdict rule.
    Verdict {
        passed: bool,
        findings: Vec<Finding>,
    },
    /// A test run: it failed when a test failed or erred; its findings are those tests.
    /// `coverage` is `None` when pytest-cov measured none of the component's files (or the
    /// run does not measure it).
    TestRun {
        counts: TestCounts,
        coverage: Option<Coverage>,
        findings: Vec<Finding>,
    },
    /// No verdict: the tool is missing, crashed, hung or lied.
    Error(StepError),
}

impl StepOutcome {
    pub fn status(&self) -> StepStatus {
        match self {
            StepOutcome::Verdict { passed: true, .. } => StepStatus::Passed,
            StepOutcome::Verdict { passed: false, .. } => StepStatus::Failed,
            StepOutcome::TestRun { counts, .. } if counts.failed + counts.errors > 0 => {
                StepStatus::Failed
            }
            StepOutcome::TestRun { .. } => StepStatus::Passed,
            StepOutcome::Error(_) => StepStatus::Error,
        }
    }
}

/// What one step produced for one component. Serialised as the report schema's step object
/// (`name`, `tool`, `version`, `command`, `status`, `cached`, `duration_ms`, `findings`,
/// `error`, `tests`, `coverage`, `not_cached`), the shape cache entries store too; reading
/// one back refuses a status, error and counts that disagree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "Wire", try_from = "Wire")]
pub struct StepResult {
    pub name: StepKind,
    pub version: String,
    /// The command for this component alone, as a user would run it from the project root.
    pub command: Vec<String>,
    pub outcome: StepOutcome,
    pub cached: bool,
    pub duration_ms: u64,
    /// Why the step ran although the cache was on, and its verdict is not stored (`cache
    /// audit` found it flaky), or why a cached answer was replaced by a fresh run's (an
    /// audit sample contradicted it). Never stored in an entry.
    pub not_cached: Option<String>,
}

impl StepResult {
    fn new(
        name: StepKind,
        version: &str,
        command: Vec<String>,
        outcome: StepOutcome,
        duration_ms: u64,
    ) -> Self {
        StepResult {
            name,
            version: version.to_owned(),
            command,
            outcome,
            cached: false,
            duration_ms,
            not_cached: None,
        }
    }

    /// A checker's verdict (a fix's too: it passes with no findings).
    pub fn verdict(
        name: StepKind,
        version: &str,
        command: Vec<String>,
        passed: bool,
        findings: Vec<Finding>,
        duration_ms: u64,
    ) -> Self {
        let outcome = StepOutcome::Verdict { passed, findings };
        Self::new(name, version, command, outcome, duration_ms)
    }

    /// A test run's counts, coverage and failing tests.
    pub fn test_run(
        name: StepKind,
        version: &str,
        command: Vec<String>,
        counts: TestCounts,
        coverage: Option<Coverage>,
        findings: Vec<Finding>,
        duration_ms: u64,
    ) -> Self {
        let outcome = StepOutcome::TestRun {
            counts,
            coverage,
            findings,
        };
        Self::new(name, version, command, outcome, duration_ms)
    }

    /// A result that carries only an error: the tool is missing, crashed, hung or lied.
    pub fn error(
        name: StepKind,
        version: &str,
        command: Vec<String>,
        error: StepError,
        duration_ms: u64,
    ) -> Self {
        Self::new(
            name,
            version,
            command,
            StepOutcome::Error(error),
            duration_ms,
        )
    }

    /// The tool that runs this step: the step's row says it.
    pub fn tool(&self) -> Tool {
        self.name.tool()
    }

    pub fn status(&self) -> StepStatus {
        self.outcome.status()
    }

    /// What the step found; none when it gave no verdict.
    pub fn findings(&self) -> &[Finding] {
        match &self.outcome {
            StepOutcome::Verdict { findings, .. } | StepOutcome::TestRun { findings, .. } => {
                findings
            }
            StepOutcome::Error(_) => &[],
        }
    }

    /// A verdict's or a test run's findings, for tests that rewrite them; `None` for an error.
    #[cfg(test)]
    pub fn findings_mut(&mut self) -> Option<&mut Vec<Finding>> {
        match &mut self.outcome {
            StepOutcome::Verdict { findings, .. } | StepOutcome::TestRun { findings, .. } => {
                Some(findings)
            }
            StepOutcome::Error(_) => None,
        }
    }

    /// Why the step gave no verdict.
    pub fn step_error(&self) -> Option<&StepError> {
        match &self.outcome {
            StepOutcome::Error(error) => Some(error),
            _ => None,
        }
    }

    /// A test run's counts.
    pub fn tests(&self) -> Option<TestCounts> {
        match &self.outcome {
            StepOutcome::TestRun { counts, .. } => Some(*counts),
            _ => None,
        }
    }

    /// A test run's coverage; `None` for pytest means pytest-cov measured none of the
    /// component's files.
    pub fn coverage(&self) -> Option<Coverage> {
        match &self.outcome {
            StepOutcome::TestRun { coverage, .. } => *coverage,
            _ => None,
        }
    }

    /// Whether this result may be stored: only verdicts, never errors of any kind, and never
    /// a step whose row in the tool table says it is not cached (live services).
    pub fn cacheable(&self) -> bool {
        self.name.spec().cached && !matches!(self.outcome, StepOutcome::Error(_))
    }
}

/// The step object of the report schema, field for field, in its order.
#[derive(Serialize, Deserialize)]
struct Wire {
    name: StepKind,
    tool: Tool,
    version: String,
    command: Vec<String>,
    status: StepStatus,
    cached: bool,
    duration_ms: u64,
    findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<StepError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tests: Option<TestCounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    coverage: Option<Coverage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_cached: Option<String>,
}

impl From<StepResult> for Wire {
    fn from(result: StepResult) -> Self {
        let status = result.status();
        let tool = result.tool();
        let (findings, error, tests, coverage) = match result.outcome {
            StepOutcome::Verdict { findings, .. } => (findings, None, None, None),
            StepOutcome::TestRun {
                counts,
                coverage,
                findings,
            } => (findings, None, Some(counts), coverage),
            StepOutcome::Error(error) => (Vec::new(), Some(error), None, None),
        };
        Wire {
            name: result.name,
            tool,
            version: result.version,
            command: result.command,
            status,
            cached: result.cached,
            duration_ms: result.duration_ms,
            findings,
            error,
            tests,
            coverage,
            not_cached: result.not_cached,
        }
    }
}

impl TryFrom<Wire> for StepResult {
    type Error = String;

    /// Outside bytes (a cache entry, the ratchet's base report): a step object whose parts
    /// disagree is refused, never read as one of its halves.
    fn try_from(wire: Wire) -> Result<Self, String> {
        let step = wire.name;
        if wire.tool != step.tool() {
            return Err(format!(
                "step {step} is run by {}, not {}",
                step.tool().name(),
                wire.tool.name()
            ));
        }
        let runs_tests = step.spec().output.runs_tests();
        let outcome = match (wire.status, wire.error, wire.tests) {
            (StepStatus::Error, Some(error), None)
                if wire.findings.is_empty() && wire.coverage.is_none() =>
            {
                StepOutcome::Error(error)
            }
            (status, None, Some(counts)) if runs_tests && status != StepStatus::Error => {
                StepOutcome::TestRun {
                    counts,
                    coverage: wire.coverage,
                    findings: wire.findings,
                }
            }
            (status, None, None)
                if !runs_tests && status != StepStatus::Error && wire.coverage.is_none() =>
            {
                StepOutcome::Verdict {
                    passed: status == StepStatus::Passed,
                    findings: wire.findings,
                }
            }
            _ => {
                return Err(format!(
                    "the {step} result's status, error and test counts disagree"
                ));
            }
        };
        if outcome.status() != wire.status {
            return Err(format!(
                "the {step} result says {:?} but its counts say {:?}",
                wire.status,
                outcome.status()
            ));
        }
        Ok(StepResult {
            name: step,
            version: wire.version,
            command: wire.command,
            outcome,
            cached: wire.cached,
            duration_ms: wire.duration_ms,
            not_cached: wire.not_cached,
        })
    }
}
