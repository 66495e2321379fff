//! The plain words every layer shares, at the bottom of the crate: the maturity stages, the
//! promotion phases, the quality gates and the security severities. Nothing here reads a file,
//! the config or a tool; everything above may use it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The maturity stages a component moves through, in order: Development -> Staging -> Production.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Development,
    Staging,
    Production,
}

impl Stage {
    /// The stage a promotion from `self` goes to by default; `None` at the top.
    pub fn next(self) -> Option<Stage> {
        match self {
            Stage::Development => Some(Stage::Staging),
            Stage::Staging => Some(Stage::Production),
            Stage::Production => None,
        }
    }

    /// The lowercase identifier used in files, flags and JSON.
    pub fn id(self) -> &'static str {
        match self {
            Stage::Development => "development",
            Stage::Staging => "staging",
            Stage::Production => "production",
        }
    }

    /// The capitalised name our users write in MATURITY.md and issue titles.
    pub fn title(self) -> &'static str {
        match self {
            Stage::Development => "Development",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

impl FromStr for Stage {
    type Err = String;

    /// Accepts any case of the three names; anything else is refused with the list.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "development" => Ok(Stage::Development),
            "staging" => Ok(Stage::Staging),
            "production" => Ok(Stage::Production),
            _ => Err(format!(
                "unknown stage `{text}`: expected development, staging or production"
            )),
        }
    }
}

/// The users' promotion phases (their promote script's `--phase N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "u8")]
pub enum Phase {
    Lint = 1,
    Types = 2,
    Docs = 3,
    Validate = 4,
    Deploy = 5,
}

impl From<Phase> for u8 {
    fn from(phase: Phase) -> u8 {
        phase as u8
    }
}

impl Phase {
    pub fn title(self) -> &'static str {
        match self {
            Phase::Lint => "lint",
            Phase::Types => "type check",
            Phase::Docs => "documentation",
            Phase::Validate => "validate",
            Phase::Deploy => "deploy",
        }
    }
}

/// The quality gates, in the order reports list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateKind {
    Stage,
    Lint,
    Types,
    Docs,
    Security,
    Tests,
    Coverage,
    Dependencies,
    Observation,
    /// `--integration`: tests against live services (see `ComponentPlan::with_integration`).
    Integration,
    /// Phase 5: the deploy ended healthy.
    Deployment,
    /// Production: uptime in the current stage over the observation window (Prometheus).
    Uptime,
    /// Production: the declared latency SLA met over the window (Prometheus).
    Latency,
    /// Production: a healthy scrape target, an alerting rule and a healthcheck.
    Monitoring,
    /// Production: a passing rollback drill inside the observation window (`--drill`).
    Rollback,
}

impl GateKind {
    /// Every gate, in report order. A unit test (`plan::tests`) checks that each is fed by a
    /// step of the tool table or by a fact, and is listed by the report schema, the issue form
    /// and the request template.
    #[cfg(test)]
    pub const ALL: &[GateKind] = &[
        GateKind::Stage,
        GateKind::Lint,
        GateKind::Types,
        GateKind::Docs,
        GateKind::Security,
        GateKind::Tests,
        GateKind::Coverage,
        GateKind::Dependencies,
        GateKind::Observation,
        GateKind::Integration,
        GateKind::Deployment,
        GateKind::Uptime,
        GateKind::Latency,
        GateKind::Monitoring,
        GateKind::Rollback,
    ];

    pub fn id(self) -> &'static str {
        match self {
            GateKind::Stage => "stage",
            GateKind::Lint => "lint",
            GateKind::Types => "types",
            GateKind::Docs => "docs",
            GateKind::Security => "security",
            GateKind::Tests => "tests",
            GateKind::Coverage => "coverage",
            GateKind::Dependencies => "dependencies",
            GateKind::Observation => "observation",
            GateKind::Integration => "integration",
            GateKind::Deployment => "deployment",
            GateKind::Uptime => "uptime",
            GateKind::Latency => "latency",
            GateKind::Monitoring => "monitoring",
            GateKind::Rollback => "rollback",
        }
    }
}

impl fmt::Display for GateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Bandit severities, ordered; the security gate fails at or above the configured one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecuritySeverity {
    Low,
    Medium,
    High,
}

impl SecuritySeverity {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_ordered_and_chain() {
        assert!(Stage::Development < Stage::Staging && Stage::Staging < Stage::Production);
        assert_eq!(Stage::Development.next(), Some(Stage::Staging));
        assert_eq!(Stage::Production.next(), None);
    }

    #[test]
    fn parsing_is_case_insensitive_and_strict() {
        assert_eq!("STAGING".parse::<Stage>(), Ok(Stage::Staging));
        assert_eq!(" Production ".parse::<Stage>(), Ok(Stage::Production));
        assert!("prod".parse::<Stage>().is_err());
        assert!("staging2".parse::<Stage>().is_err());
    }
}
