//! Deciding the gates: step results and facts in, gate results and blockers (each with a fix)
//! out. Pure: no IO, no clock (the caller passes `now`), so every rule is unit-tested.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{Component, Config};
use crate::engine::RUN_DIR;
use crate::engine::result::{ErrorKind, StepResult, StepStatus};
use crate::maturity::observation::{Observation, days_hours};
use crate::plan::{ComponentPlan, GateKind};
use crate::readme::ReadmeCheck;
use crate::stage::Stage;
use crate::tools::{Severity, StepKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub passed: bool,
    pub measured: Value,
    pub threshold: Value,
    /// What `measured` and `threshold` count: findings, percent, sections, stage, days...
    pub unit: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blocker {
    pub gate: String,
    pub message: String,
    /// What to do about it, ideally a command.
    pub fix: String,
}

/// Facts gathered outside the tools.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub readme: Option<ReadmeCheck>,
    /// Each direct dependency with its current stage.
    pub dependencies: Vec<(String, Stage)>,
    /// When the component entered Staging (UTC), from MATURITY.md history.
    pub staging_since: Option<NaiveDateTime>,
    /// The other components the component's code imports, from the import graph, each with
    /// the first `file:line`; `None` when imports were not read.
    pub imported: Option<Vec<crate::imports::components::Use>>,
    /// `file:line` of the component's dynamic imports of a computed module name.
    pub unresolved_imports: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub gates: Vec<(GateKind, GateResult)>,
    pub blockers: Vec<Blocker>,
}

impl Decision {
    pub fn all_passed(&self) -> bool {
        self.gates.iter().all(|(_, gate)| gate.passed)
    }
}

struct Judge<'a> {
    plan: &'a ComponentPlan,
    component: &'a Component,
    config: &'a Config,
    steps: &'a BTreeMap<StepKind, StepResult>,
    blockers: Vec<Blocker>,
}

pub fn decide(
    plan: &ComponentPlan,
    component: &Component,
    config: &Config,
    steps: &BTreeMap<StepKind, StepResult>,
    facts: &Facts,
    now: NaiveDateTime,
) -> Decision {
    let mut judge = Judge {
        plan,
        component,
        config,
        steps,
        blockers: Vec::new(),
    };
    let mut gates = Vec::new();
    for &kind in &plan.gates {
        let result = match kind {
            GateKind::Stage => judge.stage(),
            GateKind::Lint => judge.lint(),
            GateKind::Types => judge.types(),
            GateKind::Docs => judge.docs(facts.readme.as_ref()),
            GateKind::Security => judge.security(),
            GateKind::Tests => judge.tests(),
            GateKind::Coverage => judge.coverage(),
            GateKind::Dependencies => judge.dependencies(facts),
            GateKind::Observation => judge.observation(facts.staging_since, now),
        };
        gates.push((kind, result));
    }
    Decision {
        gates,
        blockers: judge.blockers,
    }
}

/// `1 file`, `3 files`.
fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

impl Judge<'_> {
    fn command(&self, tail: &str) -> String {
        format!("cargo xtask promote {} {tail}", self.component.name)
    }

    fn block(&mut self, gate: GateKind, message: String, fix: String) {
        self.blockers.push(Blocker {
            gate: gate.id().to_owned(),
            message,
            fix,
        });
    }

    /// A gate whose step did not give a verdict: it fails, with what went wrong and how to
    /// get the step running. Never a pass.
    fn step_error(&mut self, gate: GateKind, step: &StepResult) -> GateResult {
        let error = step.error.as_ref();
        let message = error.map_or_else(
            || format!("{} did not run", step.name),
            |e| e.message.clone(),
        );
        let fix = match error.map(|e| e.kind) {
            Some(ErrorKind::NotFound) => "run `cargo xtask setup`, then try again".to_owned(),
            Some(ErrorKind::TimedOut) => format!(
                "find out why `{}` hangs, or raise its limit under [timeouts] in xtask.toml",
                step.command.join(" ")
            ),
            Some(ErrorKind::NoTests) => format!(
                "write tests for {} and list their existing files or folders under `tests` in xtask.toml",
                self.component.name
            ),
            Some(ErrorKind::Interrupted) => "run the command again".to_owned(),
            _ => format!(
                "run `{}` from {} to see the failure",
                self.pasteable(step),
                self.config.project.root.display()
            ),
        };
        self.block(
            gate,
            format!("{} could not give a verdict: {message}", step.name),
            fix,
        );
        GateResult {
            passed: false,
            measured: Value::Null,
            threshold: json!(0),
            unit: "findings".to_owned(),
            summary: format!(
                "{} {}",
                step.name,
                error.map_or("did not run", |_| "errored")
            ),
        }
    }

    /// A gate whose evidence was never gathered: a bug in planning, and never a pass.
    fn missing_evidence(&mut self, gate: GateKind, what: &str) -> GateResult {
        self.block(
            gate,
            format!("{what} did not run"),
            "this is a bug in xtask: please report it".to_owned(),
        );
        GateResult {
            passed: false,
            measured: Value::Null,
            threshold: Value::Null,
            unit: String::new(),
            summary: format!("{what} did not run"),
        }
    }

    fn stage(&mut self) -> GateResult {
        let (from, to) = (self.plan.from, self.plan.to);
        let passed = from.next() == Some(to);
        if !passed {
            let (message, fix) = if to <= from {
                (
                    format!(
                        "{} is already in {from}: {to} is not a promotion",
                        self.component.name
                    ),
                    format!(
                        "to move a component down, run `cargo xtask demote {} --to {} --reason ...`",
                        self.component.name,
                        to.id()
                    ),
                )
            } else {
                let next = from.next().unwrap_or(to);
                (
                    format!("stages cannot be skipped: {from} -> {to} passes over {next}"),
                    self.command(&format!("--target {}", next.id())),
                )
            };
            self.block(GateKind::Stage, message, format!("`{fix}`"));
        }
        GateResult {
            passed,
            measured: json!(format!("{from} -> {to}")),
            threshold: json!(format!(
                "{from} -> {}",
                from.next().map_or("none", Stage::title)
            )),
            unit: "stage".to_owned(),
            summary: if passed {
                format!("{from} -> {to}")
            } else {
                format!("{from} -> {to} is not allowed")
            },
        }
    }

    fn lint(&mut self) -> GateResult {
        let (Some(check), Some(format)) = (
            self.steps.get(&StepKind::RuffCheck),
            self.steps.get(&StepKind::RuffFormat),
        ) else {
            return self.missing_evidence(GateKind::Lint, StepKind::RuffCheck.id());
        };
        for step in [check, format] {
            if step.status == StepStatus::Error {
                return self.step_error(GateKind::Lint, step);
            }
        }
        let findings = check.findings.len();
        let fixable = check.findings.iter().filter(|f| f.fixable).count();
        let unformatted = format.findings.len();
        let passed = findings == 0 && unformatted == 0;
        if !passed {
            let mut parts = Vec::new();
            if findings > 0 {
                parts.push(format!(
                    "{findings} ruff findings ({fixable} safely fixable)"
                ));
            }
            if unformatted > 0 {
                parts.push(plural(unformatted, "file", "files") + " not formatted");
            }
            let by_hand = findings - fixable;
            let fix = if fixable + unformatted > 0 {
                let mut fix = format!("run `{}`", self.command("--phase 1 --fix"));
                if by_hand > 0 {
                    fix.push_str(&format!(", then fix the remaining {by_hand} by hand"));
                }
                fix
            } else {
                format!(
                    "fix the {findings} findings listed above by hand, then run `{}`",
                    self.command("--phase 1")
                )
            };
            self.block(GateKind::Lint, parts.join(" and "), fix);
        }
        GateResult {
            passed,
            measured: json!(findings + unformatted),
            threshold: json!(0),
            unit: "findings".to_owned(),
            summary: format!(
                "{}, {} to format",
                plural(findings, "finding", "findings"),
                plural(unformatted, "file", "files")
            ),
        }
    }

    fn types(&mut self) -> GateResult {
        let Some(step) = self.steps.get(&StepKind::Pyright) else {
            return self.missing_evidence(GateKind::Types, StepKind::Pyright.id());
        };
        if step.status == StepStatus::Error {
            return self.step_error(GateKind::Types, step);
        }
        let errors = step
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = step.findings.len() - errors;
        let passed = errors == 0;
        if !passed {
            self.block(
                GateKind::Types,
                format!("{errors} pyright errors"),
                format!(
                    "fix the type errors listed above, then run `{}`",
                    self.command("--phase 2")
                ),
            );
        }
        GateResult {
            passed,
            measured: json!(errors),
            threshold: json!(0),
            unit: "errors".to_owned(),
            summary: format!("{errors} errors, {warnings} warnings"),
        }
    }

    fn docs(&mut self, readme: Option<&ReadmeCheck>) -> GateResult {
        let Some(readme) = readme else {
            return self.missing_evidence(GateKind::Docs, "the README check");
        };
        let required = self.config.policy.readme_sections.len();
        let present = required - readme.missing_sections.len().min(required);
        let passed = readme.passed();
        if !readme.exists {
            self.block(
                GateKind::Docs,
                format!("no README at {}", readme.path),
                format!(
                    "run `{}` to scaffold it from the README template (built in, or your templates/component-readme.md.j2), then fill in the prose",
                    self.command("--phase 3 --fix")
                ),
            );
        } else if !passed {
            self.block(
                GateKind::Docs,
                format!(
                    "{} lacks the sections {}",
                    readme.path,
                    readme.missing_sections.join(", ")
                ),
                format!(
                    "add {} to {}",
                    readme
                        .missing_sections
                        .iter()
                        .map(|s| format!("`## {s}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    readme.path
                ),
            );
        }
        GateResult {
            passed,
            measured: json!(present),
            threshold: json!(required),
            unit: "sections".to_owned(),
            summary: if !readme.exists {
                "README missing".to_owned()
            } else {
                format!("{present} of {required} required sections")
            },
        }
    }

    fn security(&mut self) -> GateResult {
        let Some(step) = self.steps.get(&StepKind::Bandit) else {
            return self.missing_evidence(GateKind::Security, StepKind::Bandit.id());
        };
        if step.status == StepStatus::Error {
            return self.step_error(GateKind::Security, step);
        }
        let floor = crate::tools::bandit::severity_of(self.config.policy.security_fail_on);
        let blocking: Vec<_> = step
            .findings
            .iter()
            .filter(|f| f.severity >= floor)
            .collect();
        let below = step.findings.len() - blocking.len();
        let passed = blocking.is_empty();
        if !passed {
            let listed: Vec<String> = blocking
                .iter()
                .take(3)
                .map(|f| format!("{} at {}", f.code, f.location()))
                .collect();
            self.block(
                GateKind::Security,
                // Only the severity word is ours to lowercase: test ids and paths are pasted
                // into `# nosec` and opened on case-sensitive file systems as they are.
                format!(
                    "{} at or above {} severity ({})",
                    plural(blocking.len(), "bandit finding", "bandit findings"),
                    severity_name(self.config.policy.security_fail_on),
                    listed.join(", ")
                ),
                "fix them, or mark a reviewed false positive with `# nosec <test id>` and a reason"
                    .to_owned(),
            );
        }
        GateResult {
            passed,
            measured: json!(blocking.len()),
            threshold: json!(0),
            unit: "findings".to_owned(),
            summary: format!(
                "{} blocking, {below} below the {} threshold",
                blocking.len(),
                severity_name(self.config.policy.security_fail_on)
            ),
        }
    }

    /// A step's command as a user can paste it in the project root: pytest's `python` is the
    /// interpreter xtask ran (the project's, else the tool venv's), and the arguments that
    /// name this run's private output folder are left out.
    fn pasteable(&self, step: &StepResult) -> String {
        let mut words = step.command.iter().filter(|w| !w.contains(RUN_DIR));
        let program = words.next().cloned().unwrap_or_default();
        let program = if program == "python" {
            let python = self
                .config
                .project
                .python
                .clone()
                .unwrap_or_else(|| self.config.tool_venv().join("bin").join("python"));
            python
                .strip_prefix(&self.config.project.root)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| python.display().to_string())
        } else {
            program
        };
        std::iter::once(program)
            .chain(words.cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn tests(&mut self) -> GateResult {
        let Some(step) = self.steps.get(&StepKind::Pytest) else {
            return self.missing_evidence(GateKind::Tests, StepKind::Pytest.id());
        };
        if step.status == StepStatus::Error {
            return self.step_error(GateKind::Tests, step);
        }
        let counts = step.tests.unwrap_or_default();
        let broken = counts.failed + counts.errors;
        let passed = broken == 0;
        if !passed {
            // A module that cannot be imported is not a failing test: say what is missing.
            let uncollected: Vec<&str> = step
                .findings
                .iter()
                .filter_map(|f| f.message.split_once(": cannot be collected: "))
                .map(|(_, cause)| cause)
                .collect();
            let message = match uncollected.first() {
                Some(cause) => format!(
                    "{} test modules cannot be collected ({cause}){}",
                    uncollected.len(),
                    if counts.failed > 0 {
                        format!(", and {} of {} tests failed", counts.failed, counts.total)
                    } else {
                        String::new()
                    }
                ),
                None => format!("{broken} of {} tests failed", counts.total),
            };
            let fix = if uncollected.is_empty() {
                format!(
                    "fix the failing tests listed above; `{}` reruns them",
                    self.pasteable(step)
                )
            } else {
                format!(
                    "install what the tests import into the project's environment (its test dependencies), then `{}` reruns them",
                    self.pasteable(step)
                )
            };
            self.block(GateKind::Tests, message, fix);
        }
        GateResult {
            passed,
            measured: json!(broken),
            threshold: json!(0),
            unit: "failed tests".to_owned(),
            summary: format!(
                "{} passed, {} failed, {} errors, {} skipped",
                counts.passed, counts.failed, counts.errors, counts.skipped
            ),
        }
    }

    fn coverage(&mut self) -> GateResult {
        let threshold = self.config.thresholds.coverage_for(self.plan.to);
        let Some(step) = self.steps.get(&StepKind::Pytest) else {
            return self.missing_evidence(GateKind::Coverage, StepKind::Pytest.id());
        };
        let fail = |judge: &mut Self, message: String, fix: String, summary: &str| {
            judge.block(GateKind::Coverage, message, fix);
            GateResult {
                passed: false,
                measured: Value::Null,
                threshold: json!(threshold),
                unit: "percent".to_owned(),
                summary: summary.to_owned(),
            }
        };
        if step.status == StepStatus::Error {
            return fail(
                self,
                "coverage was not measured because pytest gave no verdict".to_owned(),
                "get the tests running (see the tests gate)".to_owned(),
                "not measured",
            );
        }
        let Some(coverage) = step.coverage else {
            return fail(
                self,
                format!(
                    "no coverage data: pytest-cov measured none of {}",
                    self.component.source
                ),
                format!(
                    "make sure the tests import {} from the project's installed package, and that the project's coverage config does not omit it",
                    self.component.source
                ),
                "no data",
            );
        };
        let passed = coverage.percent >= threshold;
        if !passed {
            self.block(
                GateKind::Coverage,
                format!(
                    "coverage {:.2}% is below the {} threshold of {threshold}%",
                    coverage.percent,
                    self.plan.to.id()
                ),
                format!(
                    "add tests for {} (+{:.2} points needed)",
                    self.component.source,
                    threshold - coverage.percent
                ),
            );
        }
        GateResult {
            passed,
            measured: json!(coverage.percent),
            threshold: json!(threshold),
            unit: "percent".to_owned(),
            summary: format!(
                "{:.2}% of {} {} (needs {threshold}%)",
                coverage.percent,
                coverage.total,
                if coverage.branch {
                    "lines and branches"
                } else {
                    "lines"
                }
            ),
        }
    }

    /// Declared dependencies below the target stage block; so does importing a component that
    /// is not declared (its stage was never checked). A declared one that is never imported is
    /// only reported: a registry may declare a runtime dependency the code reaches indirectly.
    fn dependencies(&mut self, facts: &Facts) -> GateResult {
        let dependencies = &facts.dependencies;
        let imported = facts.imported.as_deref();
        let to = self.plan.to;
        let behind: Vec<&(String, Stage)> = dependencies.iter().filter(|(_, s)| *s < to).collect();
        for (name, stage) in &behind {
            self.block(
                GateKind::Dependencies,
                format!("dependency {name} is in {stage}, below {to}"),
                format!(
                    "promote {name} first: `cargo xtask promote {name} --target {}`",
                    to.id()
                ),
            );
        }
        let declared = &self.component.depends_on;
        let undeclared: Vec<&crate::imports::components::Use> = imported
            .unwrap_or_default()
            .iter()
            .filter(|u| !declared.contains(&u.component))
            .collect();
        if !undeclared.is_empty() {
            let mut wanted: Vec<&str> = declared.iter().map(String::as_str).collect();
            wanted.extend(undeclared.iter().map(|u| u.component.as_str()));
            let list = wanted
                .iter()
                .map(|name| format!("\"{name}\""))
                .collect::<Vec<_>>()
                .join(", ");
            for used in &undeclared {
                self.block(
                    GateKind::Dependencies,
                    format!(
                        "{}:{} imports {}, which {} does not declare as a dependency",
                        used.file, used.line, used.component, self.component.name
                    ),
                    format!(
                        "declare it in xtask.toml: depends_on = [{list}] under [components.{}]",
                        self.component.name
                    ),
                );
            }
        }
        let unused: Vec<&str> = match imported {
            Some(uses) => declared
                .iter()
                .filter(|name| !uses.iter().any(|u| &u.component == *name))
                .map(String::as_str)
                .collect(),
            None => Vec::new(),
        };
        let mut summary = if dependencies.is_empty() {
            "no dependencies".to_owned()
        } else if behind.is_empty() {
            format!("all {} at {to} or above", dependencies.len())
        } else {
            format!("{} of {} below {to}", behind.len(), dependencies.len())
        };
        if !undeclared.is_empty() {
            summary.push_str(&format!(
                "; imports {} undeclared",
                undeclared
                    .iter()
                    .map(|u| u.component.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !unused.is_empty() {
            summary.push_str(&format!(
                "; warning: declared but never imported: {}",
                unused.join(", ")
            ));
        }
        if let Some(first) = facts.unresolved_imports.first() {
            summary.push_str(&format!(
                "; {} not followed (module computed at run time: {first})",
                plural(
                    facts.unresolved_imports.len(),
                    "dynamic import",
                    "dynamic imports"
                )
            ));
        }
        GateResult {
            passed: behind.is_empty() && undeclared.is_empty(),
            measured: json!(
                dependencies
                    .iter()
                    .map(|(name, stage)| json!({"component": name, "stage": stage}))
                    .collect::<Vec<_>>()
            ),
            threshold: json!(to),
            unit: "stage".to_owned(),
            summary,
        }
    }

    fn observation(&mut self, since: Option<NaiveDateTime>, now: NaiveDateTime) -> GateResult {
        let days = self.config.policy.observation_days;
        let Some(since) = since else {
            self.block(
                GateKind::Observation,
                "no date of entering Staging is recorded in MATURITY.md".to_owned(),
                format!(
                    "record the Staging promotion in {} (`cargo xtask promote {} --record` writes it; by hand, a history row `| YYYY-MM-DD | Development | Staging | ... |`)",
                    self.component.maturity, self.component.name
                ),
            );
            return GateResult {
                passed: false,
                measured: Value::Null,
                threshold: json!(days),
                unit: "days".to_owned(),
                summary: "no Staging date recorded".to_owned(),
            };
        };
        let observed = Observation::new(since, days, now);
        let passed = observed.complete();
        if !passed {
            self.block(
                GateKind::Observation,
                format!(
                    "{} in Staging since {}: {} of the {days} days observed",
                    self.component.name,
                    utc(since),
                    days_hours(observed.elapsed)
                ),
                format!(
                    "wait until {} ({} more)",
                    observed.earliest.format("%Y-%m-%d %H:%M UTC"),
                    days_hours(observed.remaining)
                ),
            );
        }
        GateResult {
            passed,
            measured: json!(observed.elapsed_days()),
            threshold: json!(days),
            unit: "days".to_owned(),
            summary: if passed {
                format!("in Staging since {}", utc(since))
            } else {
                format!(
                    "{} days to go, earliest {}",
                    observed.remaining_days(),
                    observed.earliest.format("%Y-%m-%d %H:%M UTC")
                )
            },
        }
    }
}

/// The configured severity as users write it in xtask.toml.
fn severity_name(level: crate::config::SecuritySeverity) -> &'static str {
    match level {
        crate::config::SecuritySeverity::Low => "low",
        crate::config::SecuritySeverity::Medium => "medium",
        crate::config::SecuritySeverity::High => "high",
    }
}

/// A UTC time for messages: the date alone at midnight (how users' rows are read), else to
/// the minute.
fn utc(at: NaiveDateTime) -> String {
    if at.time() == chrono::NaiveTime::MIN {
        at.format("%Y-%m-%d").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

#[cfg(test)]
mod tests;
