//! What one step produced for one component: the data reports, gates and the cache share.

use serde::{Deserialize, Serialize};

use super::pytest::{Coverage, TestCounts};
use super::{Finding, StepKind, Tool, ToolFailure};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Passed,
    Failed,
    Error,
    Skipped,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub name: StepKind,
    pub tool: Tool,
    pub version: String,
    /// The command for this component alone, as a user would run it from the project root.
    pub command: Vec<String>,
    pub status: StepStatus,
    pub cached: bool,
    pub duration_ms: u64,
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StepError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<TestCounts>,
    /// `None` for pytest means pytest-cov measured none of the component's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// Why the step ran although the cache was on, and its verdict is not stored (`cache
    /// audit` found it flaky), or why a cached answer was replaced by a fresh run's (an
    /// audit sample contradicted it). Never stored in an entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_cached: Option<String>,
}

impl StepResult {
    /// A result that carries only an error: the tool is missing, crashed, hung or lied.
    pub fn error(
        name: StepKind,
        version: &str,
        command: Vec<String>,
        error: StepError,
        duration_ms: u64,
    ) -> Self {
        StepResult {
            name,
            tool: name.tool(),
            version: version.to_owned(),
            command,
            status: StepStatus::Error,
            cached: false,
            duration_ms,
            findings: Vec::new(),
            error: Some(error),
            tests: None,
            coverage: None,
            not_cached: None,
        }
    }

    /// Whether this result may be stored: only verdicts, never errors of any kind, and never
    /// a step whose row in the tool table says it is not cached (live services).
    pub fn cacheable(&self) -> bool {
        self.name.spec().cached
            && matches!(self.status, StepStatus::Passed | StepStatus::Failed)
            && self.error.is_none()
    }
}
