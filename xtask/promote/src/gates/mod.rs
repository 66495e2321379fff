//! Deciding the gates: step results and typed facts in, gate results (typed outcomes) and
//! blockers (each with a fix) out. Pure: no IO, no clock (the caller passes `now`), so every
//! rule is unit-tested. This is the only place that decides a gate, `passed` or `promotable`.

pub mod outcome;

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::config::{Component, Config};
use crate::engine::RUN_DIR;
use crate::maturity::observation::{Observation, days_hours};
use crate::plan::ComponentPlan;
use crate::plural::{count, count_as};
use crate::readme::ReadmeCheck;
use crate::tools::result::{ErrorKind, StepResult, StepStatus};
use crate::tools::table::{STEPS, StepSpec};
use crate::tools::{Severity, StepKind, UNFORMATTED};
use crate::vocab::GateKind;
use crate::vocab::Stage;
pub use outcome::{
    CoverageMeasure, Dependencies, DeployResult, DeploymentFact, DrillFact, DrillRun, GateResult,
    IntegrationFact, Outcome,
};
use outcome::{severity_name, utc};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blocker {
    /// Serialised as the gate's id (`coverage`), as the report schema lists it.
    pub gate: GateKind,
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
    /// Phase 5: the finished deploy; `None` until it ran (the validation that decides whether
    /// to deploy is decided without the deployment gate).
    pub deployment: Option<DeploymentFact>,
    /// `--integration`: the integration run.
    pub integration: Option<IntegrationFact>,
    /// Production: what Prometheus and the compose file say (`evidence::Session::gather`).
    pub production: Option<crate::evidence::ProductionFacts>,
    /// Production: the newest rollback drill, from the deployment history.
    pub drill: Option<DrillFact>,
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub gates: Vec<(GateKind, GateResult)>,
    pub blockers: Vec<Blocker>,
    /// Every gate decided passed (for partial runs, e.g. `--phase 2`).
    pub passed: bool,
    /// Every gate passed and the plan covers validation, which runs every gate.
    pub promotable: bool,
}

struct Judge<'a> {
    plan: &'a ComponentPlan,
    component: &'a Component,
    config: &'a Config,
    steps: &'a BTreeMap<StepKind, StepResult>,
    /// The tool table: which steps feed which gate (`STEPS`; a test passes its own rows).
    table: &'a [StepSpec],
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
    decide_by(STEPS, plan, component, config, steps, facts, now)
}

/// `decide` with the tool table given: a gate reads exactly the steps whose row feeds it.
fn decide_by(
    table: &[StepSpec],
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
        table,
        blockers: Vec::new(),
    };
    let mut gates = Vec::new();
    for &kind in &plan.gates {
        let result = match kind {
            // Decided once the deploy ran: before that, the decision is whether to deploy.
            GateKind::Deployment => match &facts.deployment {
                Some(fact) => judge.deployment(fact),
                None => continue,
            },
            GateKind::Integration => match &facts.integration {
                Some(fact) => judge.integration(fact),
                None => judge.missing_evidence(kind, "the integration run"),
            },
            GateKind::Stage => judge.stage(),
            GateKind::Lint => judge.lint(),
            GateKind::Types => judge.types(),
            GateKind::Docs => judge.docs(facts.readme.as_ref()),
            GateKind::Security => judge.security(),
            GateKind::Tests => judge.tests(),
            GateKind::Coverage => judge.coverage(),
            GateKind::Dependencies => judge.dependencies(facts),
            GateKind::Observation => judge.observation(facts.staging_since, now),
            GateKind::Rollback => match &facts.drill {
                Some(fact) => judge.rollback(fact, now),
                None => judge.missing_evidence(kind, "the rollback drill lookup"),
            },
            GateKind::Uptime | GateKind::Latency | GateKind::Monitoring => {
                match &facts.production {
                    Some(production) => judge.production(kind, production),
                    None => judge.missing_evidence(kind, "the Prometheus queries"),
                }
            }
        };
        gates.push((kind, result));
    }
    let passed = gates.iter().all(|(_, gate)| gate.passed());
    Decision {
        gates,
        blockers: judge.blockers,
        passed,
        promotable: passed && plan.phases.decides_promotion(),
    }
}

/// The tools of the steps with a finding that `counts`, joined for a message: `ruff`,
/// `bandit and detect-secrets`.
fn tools_with(fed: &[&StepResult], counts: impl Fn(&crate::tools::Finding) -> bool) -> String {
    let mut tools: Vec<&str> = Vec::new();
    for step in fed {
        let name = step.tool().name();
        if step.findings().iter().any(&counts) && !tools.contains(&name) {
            tools.push(name);
        }
    }
    tools.join(" and ")
}

impl<'a> Judge<'a> {
    /// The results of every step whose row in the tool table feeds `gate`, in step order.
    fn fed(&self, gate: GateKind) -> Vec<&'a StepResult> {
        let table = self.table;
        self.steps
            .values()
            .filter(|step| {
                table
                    .iter()
                    .any(|row| row.kind == step.name && row.feeds.contains(&gate))
            })
            .collect()
    }

    /// A gate none of whose steps ran: a bug in planning, never a pass. Named after the first
    /// row that feeds it.
    fn unfed(&mut self, gate: GateKind) -> GateResult {
        let first = self
            .table
            .iter()
            .find(|row| row.feeds.contains(&gate))
            .map_or("a step", |row| row.id);
        self.missing_evidence(gate, first)
    }

    fn command(&self, tail: &str) -> String {
        format!("cargo xtask promote {} {tail}", self.component.name)
    }

    fn block(&mut self, gate: GateKind, message: String, fix: String) {
        self.blockers.push(Blocker { gate, message, fix });
    }

    /// A gate whose step did not give a verdict: it fails, with what went wrong and how to
    /// get the step running. Never a pass.
    fn step_error(&mut self, gate: GateKind, step: &StepResult) -> GateResult {
        let error = step.step_error();
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
        GateResult::from(Outcome::NoVerdict {
            step: step.name,
            errored: error.is_some(),
        })
    }

    /// A gate whose evidence was never gathered: a bug in planning, and never a pass.
    fn missing_evidence(&mut self, gate: GateKind, what: &str) -> GateResult {
        self.block(
            gate,
            format!("{what} did not run"),
            "this is a bug in xtask: please report it".to_owned(),
        );
        GateResult::from(Outcome::Missing {
            what: what.to_owned(),
        })
    }

    /// A passing rollback drill inside the observation window, on the environment of the
    /// stage the component is in. No drill, a failed one or an old one fails, naming the drill.
    fn rollback(&mut self, fact: &DrillFact, now: NaiveDateTime) -> GateResult {
        if !fact.passes(now) {
            let message = fact.describe(false);
            let fix = format!(
                "run the rollback drill in {}: `{}` (it needs two proven deploys there)",
                fact.environment,
                self.command("--phase 5 --drill")
            );
            self.block(GateKind::Rollback, message, fix);
        }
        GateResult::from(Outcome::Rollback {
            fact: fact.clone(),
            now,
        })
    }

    /// The Production gates, decided by `evidence::gate`.
    fn production(
        &mut self,
        kind: GateKind,
        facts: &crate::evidence::ProductionFacts,
    ) -> GateResult {
        use crate::evidence::gate;
        let verdict = match kind {
            GateKind::Uptime => gate::uptime(facts, self.config),
            GateKind::Latency => gate::latency(facts, &self.component.name),
            _ => gate::monitoring(facts, &self.component.name),
        };
        if let Some((message, fix)) = verdict.blocker {
            self.block(kind, message, fix);
        }
        GateResult::from(Outcome::Production(verdict.outcome))
    }

    fn stage(&mut self) -> GateResult {
        let (from, to) = (self.plan.from, self.plan.to);
        let outcome = Outcome::Stage { from, to };
        if !outcome.passed() {
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
        GateResult::from(outcome)
    }

    fn lint(&mut self) -> GateResult {
        let fed = self.fed(GateKind::Lint);
        if fed.is_empty() {
            return self.unfed(GateKind::Lint);
        }
        if let Some(step) = fed.iter().find(|s| s.status() == StepStatus::Error) {
            return self.step_error(GateKind::Lint, step);
        }
        // A formatter's check names each file it would rewrite; every other finding is a
        // lint finding.
        let all = || fed.iter().flat_map(|s| s.findings());
        let unformatted = all().filter(|f| f.code == UNFORMATTED).count();
        let findings = all().filter(|f| f.code != UNFORMATTED).count();
        let fixable = all().filter(|f| f.code != UNFORMATTED && f.fixable).count();
        let outcome = Outcome::Lint {
            findings,
            unformatted,
        };
        if !outcome.passed() {
            let mut parts = Vec::new();
            if findings > 0 {
                parts.push(format!(
                    "{} ({fixable} safely fixable)",
                    count(
                        findings,
                        &format!("{} finding", tools_with(&fed, |f| f.code != UNFORMATTED))
                    )
                ));
            }
            if unformatted > 0 {
                parts.push(count_as(unformatted, "file", "files") + " not formatted");
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
                    "fix the {} listed above by hand, then run `{}`",
                    count(findings, "finding"),
                    self.command("--phase 1")
                )
            };
            self.block(GateKind::Lint, parts.join(" and "), fix);
        }
        GateResult::from(outcome)
    }

    fn types(&mut self) -> GateResult {
        // Every step whose row in the tool table feeds this gate: pyright, and mypy when the
        // project turns it on.
        let fed = self.fed(GateKind::Types);
        if fed.is_empty() {
            return self.unfed(GateKind::Types);
        }
        if let Some(step) = fed.iter().find(|s| s.status() == StepStatus::Error) {
            return self.step_error(GateKind::Types, step);
        }
        let count_of = |step: &StepResult| {
            let errors = step
                .findings()
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            (errors, step.findings().len() - errors)
        };
        let errors: usize = fed.iter().map(|s| count_of(s).0).sum();
        let warnings: usize = fed.iter().map(|s| count_of(s).1).sum();
        let outcome = Outcome::Types { errors, warnings };
        if !outcome.passed() {
            let per_tool: Vec<String> = fed
                .iter()
                .filter(|s| count_of(s).0 > 0)
                .map(|s| {
                    let tool = s.tool().name();
                    count(count_of(s).0, &format!("{tool} error"))
                })
                .collect();
            self.block(
                GateKind::Types,
                per_tool.join(", "),
                format!(
                    "fix the type errors listed above, then run `{}`",
                    self.command("--phase 2")
                ),
            );
        }
        GateResult::from(outcome)
    }

    fn docs(&mut self, readme: Option<&ReadmeCheck>) -> GateResult {
        let Some(readme) = readme else {
            return self.missing_evidence(GateKind::Docs, "the README check");
        };
        let sections = self.config.policy.readme_sections_for(self.plan.to);
        let required = sections.len();
        // A section still holding a scaffold note is not written, whatever its heading says.
        let present = readme.written(&sections);
        let unfinished: Vec<String> = readme
            .unfinished_sections()
            .into_iter()
            .map(str::to_owned)
            .collect();
        if !readme.exists {
            self.block(
                GateKind::Docs,
                format!("no README at {}", readme.path),
                format!(
                    "run `{}` to scaffold it from the README template (built in, or your templates/component-readme.md.j2), then fill in the prose",
                    self.command("--phase 3 --fix")
                ),
            );
        } else if !readme.missing_sections.is_empty() {
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
        if readme.exists && !unfinished.is_empty() {
            let first = readme
                .placeholders
                .first()
                .map(|p| p.text.as_str())
                .unwrap_or_default();
            self.block(
                GateKind::Docs,
                format!(
                    "{} still holds scaffold placeholders in {} (`{first}`)",
                    readme.path,
                    unfinished.join(", ")
                ),
                format!(
                    "replace each note in angle brackets in {} with the real text",
                    readme.path
                ),
            );
        }
        let result = GateResult::from(Outcome::Docs {
            exists: readme.exists,
            present,
            required,
            unfinished,
        });
        // The outcome's figures decide; the README's own reading must agree with them.
        debug_assert_eq!(result.passed(), readme.passed(), "{readme:?}");
        result
    }

    fn security(&mut self) -> GateResult {
        let fed = self.fed(GateKind::Security);
        if fed.is_empty() {
            return self.unfed(GateKind::Security);
        }
        if let Some(step) = fed.iter().find(|s| s.status() == StepStatus::Error) {
            return self.step_error(GateKind::Security, step);
        }
        let floor = Severity::from(self.config.policy.security_fail_on);
        let all = || fed.iter().flat_map(|s| s.findings());
        let blocking: Vec<_> = all().filter(|f| f.severity >= floor).collect();
        let below = all().count() - blocking.len();
        let outcome = Outcome::Security {
            blocking: blocking.len(),
            below,
            fail_on: self.config.policy.security_fail_on,
        };
        if !outcome.passed() {
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
                    count(
                        blocking.len(),
                        &format!("{} finding", tools_with(&fed, |f| f.severity >= floor))
                    ),
                    severity_name(self.config.policy.security_fail_on),
                    listed.join(", ")
                ),
                "fix them, or mark a reviewed false positive with `# nosec <test id>` and a reason"
                    .to_owned(),
            );
        }
        GateResult::from(outcome)
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
        // One test run feeds it (pytest's); a second would be another component's suite.
        let Some(&step) = self.fed(GateKind::Tests).first() else {
            return self.unfed(GateKind::Tests);
        };
        if step.status() == StepStatus::Error {
            return self.step_error(GateKind::Tests, step);
        }
        let counts = step.tests().unwrap_or_default();
        let broken = counts.failed + counts.errors;
        let outcome = Outcome::Tests(counts);
        if !outcome.passed() {
            // A module that cannot be imported is not a failing test: say what is missing.
            let uncollected: Vec<&str> = step
                .findings()
                .iter()
                .filter_map(|f| f.message.split_once(": cannot be collected: "))
                .map(|(_, cause)| cause)
                .collect();
            let message = match uncollected.first() {
                Some(cause) => format!(
                    "{} cannot be collected ({cause}){}",
                    count(uncollected.len(), "test module"),
                    if counts.failed > 0 {
                        format!(
                            ", and {} of {} failed",
                            counts.failed,
                            count(counts.total, "test")
                        )
                    } else {
                        String::new()
                    }
                ),
                None => format!("{broken} of {} failed", count(counts.total, "test")),
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
        GateResult::from(outcome)
    }

    fn coverage(&mut self) -> GateResult {
        let threshold = self.config.thresholds.coverage_for(self.plan.to);
        let Some(&step) = self.fed(GateKind::Coverage).first() else {
            return self.unfed(GateKind::Coverage);
        };
        let fail = |judge: &mut Self, message: String, fix: String, measured| {
            judge.block(GateKind::Coverage, message, fix);
            GateResult::from(Outcome::Coverage {
                threshold,
                measured,
            })
        };
        if step.status() == StepStatus::Error {
            return fail(
                self,
                "coverage was not measured because pytest gave no verdict".to_owned(),
                "get the tests running (see the tests gate)".to_owned(),
                CoverageMeasure::NotMeasured,
            );
        }
        let Some(coverage) = step.coverage() else {
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
                CoverageMeasure::NoData,
            );
        };
        let outcome = Outcome::Coverage {
            threshold,
            measured: CoverageMeasure::Measured(coverage),
        };
        if !outcome.passed() {
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
        GateResult::from(outcome)
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
        GateResult::from(Outcome::Dependencies(Dependencies {
            stages: dependencies.clone(),
            target: to,
            undeclared: undeclared.iter().map(|u| u.component.clone()).collect(),
            unused: unused.iter().map(|name| (*name).to_owned()).collect(),
            dynamic: facts.unresolved_imports.clone(),
        }))
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
            return GateResult::from(Outcome::Observation {
                required_days: days,
                observed: None,
            });
        };
        let observed = Observation::new(since, days, now);
        let outcome = Outcome::Observation {
            required_days: days,
            observed: Some(observed),
        };
        if !outcome.passed() {
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
                    outcome::earliest(&observed),
                    days_hours(observed.remaining)
                ),
            );
        }
        GateResult::from(outcome)
    }
}

impl Judge<'_> {
    /// A failed deploy blocks like any other gate: with its cause, the proof of the rollback,
    /// and either the retry or, when the rollback failed, the commands that restore the service.
    fn deployment(&mut self, fact: &DeploymentFact) -> GateResult {
        let retry = self.command(&format!("--phase 5 --target {}", self.plan.to.id()));
        let service = &fact.service;
        match &fact.result {
            DeployResult::Deployed { .. } => {}
            DeployResult::RolledBack { failure, proof, .. } => self.block(
                GateKind::Deployment,
                format!("deploy of {service} failed: {failure} (rolled back: {proof})"),
                format!(
                    "read the service's last log lines under `deployment.logs` in promotion.json, fix the image, then run `{retry}`"
                ),
            ),
            DeployResult::RollbackFailed { failure, proof } => self.block(
                GateKind::Deployment,
                format!("deploy of {service} failed: {failure}; the rollback failed: {proof}"),
                fact.recovery.clone(),
            ),
        }
        GateResult::from(Outcome::Deployment(fact.clone()))
    }

    /// Integration tests pass only with healthy services, a passing pytest verdict and the
    /// services removed again.
    fn integration(&mut self, fact: &IntegrationFact) -> GateResult {
        let retry = self.command("--phase 4 --integration");
        if !fact.passed() {
            let (message, fix) = if let Some(error) = &fact.error {
                let fix = match error.kind {
                    ErrorKind::Interrupted => format!("run `{retry}` again"),
                    ErrorKind::NoTests => "mark the tests that need the services with @pytest.mark.integration and list their files under `tests`".to_owned(),
                    _ => format!(
                        "run `{}` from the project root to see the failure",
                        fact.command.join(" ")
                    ),
                };
                (
                    format!(
                        "integration tests could not give a verdict: {}",
                        error.message
                    ),
                    fix,
                )
            } else if !fact.services_healthy {
                (
                    fact.first_finding.clone().unwrap_or_else(|| {
                        "the integration services did not become healthy".to_owned()
                    }),
                    "read the services' last log lines under `integration.logs` in promotion.json, fix them, then run the command again".to_owned(),
                )
            } else if !fact.tests_passed {
                (
                    format!("{} integration tests failed", fact.failed_tests()),
                    format!("fix the failing tests listed above, then run `{retry}`"),
                )
            } else {
                let teardown = fact
                    .teardown
                    .as_ref()
                    .map(|(_, message)| message.clone())
                    .unwrap_or_default();
                (teardown.clone(), teardown)
            };
            self.block(GateKind::Integration, message, fix);
        }
        GateResult::from(Outcome::Integration(fact.clone()))
    }
}

#[cfg(test)]
mod tests;
