//! From plans to reports: runs every plan's steps in one engine run (so batches span
//! components), gathers the facts gates need as one `Evidence` per component, and builds each
//! report once from its evidence (`gates::decide` decides). Shared by `promote` and everything
//! else that needs a verdict; `--integration` and phase 5 add their facts to the evidence
//! before the report is built.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{NaiveDateTime, SecondsFormat, Utc};

use crate::config::Config;
use crate::deploy::integration::IntegrationRun;
use crate::deploy::model::Deployment;
use crate::engine::{self, RunContext, StepId};
use crate::gates::{self, Facts};
use crate::imports::components::Owners;
use crate::maturity;
use crate::plan::ComponentPlan;
use crate::readme;
use crate::report::PromotionReport;
use crate::report::model::{REPORT_SCHEMA_VERSION, RunSummary};
use crate::tools::StepKind;
use crate::tools::result::StepResult;
use crate::vocab::GateKind;
use crate::vocab::Stage;

/// Everything one component's gates are decided from: the plan, its step results, the facts
/// gathered outside the tools, and the sections the report shows for phase 5 and
/// `--integration`.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub plan: ComponentPlan,
    pub steps: BTreeMap<StepKind, StepResult>,
    pub facts: Facts,
    pub now: NaiveDateTime,
    pub generated_at: String,
    /// Private: the report's section and the gate's typed fact are one thing, set together by
    /// `add_deployment` / `add_integration`, so a report never shows a run its gate did not
    /// read.
    deployment: Option<Deployment>,
    integration: Option<IntegrationRun>,
}

impl Evidence {
    /// Evidence without a deploy or an integration run (those are added once they ran).
    pub fn new(
        plan: ComponentPlan,
        steps: BTreeMap<StepKind, StepResult>,
        facts: Facts,
        now: NaiveDateTime,
        generated_at: String,
    ) -> Self {
        Evidence {
            plan,
            steps,
            facts,
            now,
            generated_at,
            deployment: None,
            integration: None,
        }
    }

    /// An `--integration` run: the typed fact the integration gate reads, and the report's
    /// section.
    pub fn add_integration(&mut self, run: IntegrationRun) {
        self.facts.integration = Some(crate::deploy::gate::integration_fact(&run));
        self.integration = Some(run);
    }

    /// A finished deploy: the typed fact the deployment gate reads (with the health timeout it
    /// was held to and the commands that restore the service), and the report's section.
    pub fn add_deployment(
        &mut self,
        deployment: Deployment,
        health_timeout: std::time::Duration,
        recovery: &str,
    ) {
        self.facts.deployment = Some(crate::deploy::gate::deployment_fact(
            &deployment,
            health_timeout,
            recovery,
        ));
        self.deployment = Some(deployment);
    }
}

/// Runs the plans and returns their reports in plan order.
pub fn assess(ctx: &RunContext<'_>, plans: &[ComponentPlan]) -> Result<Vec<PromotionReport>> {
    reports(ctx.config, &gather(ctx, plans)?)
}

/// Runs the plans and returns their evidence in plan order, for commands that add facts
/// (integration runs, deploys) before the reports are built.
pub fn gather(ctx: &RunContext<'_>, plans: &[ComponentPlan]) -> Result<Vec<Evidence>> {
    let components = plans
        .iter()
        .map(|plan| ctx.config.require_component(&plan.component))
        .collect::<Result<Vec<_>>>()?;
    let book = maturity::Book::read(ctx.config, components)?;
    gather_with(ctx, plans, &book, Utc::now().naive_utc())
}

/// `assess` with MATURITY.md states already read (`book`) and the clock given (`now`, UTC).
pub fn assess_with(
    ctx: &RunContext<'_>,
    plans: &[ComponentPlan],
    book: &maturity::Book,
    now: NaiveDateTime,
) -> Result<Vec<PromotionReport>> {
    reports(ctx.config, &gather_with(ctx, plans, book, now)?)
}

/// The report of each evidence, in order.
pub fn reports(config: &Config, evidence: &[Evidence]) -> Result<Vec<PromotionReport>> {
    evidence.iter().map(|e| report(config, e)).collect()
}

fn gather_with(
    ctx: &RunContext<'_>,
    plans: &[ComponentPlan],
    book: &maturity::Book,
    now: NaiveDateTime,
) -> Result<Vec<Evidence>> {
    let requests: Vec<StepId> = plans
        .iter()
        .flat_map(|plan| {
            plan.steps
                .iter()
                .map(|kind| (plan.component.clone(), *kind))
        })
        .collect();
    let mut results = engine::run_steps(ctx, &requests);
    // The import graph's owners, built once for every plan's dependencies gate.
    let owners = std::cell::OnceCell::new();
    let prometheus = crate::evidence::Session::new(ctx.config);
    let evidence = plans
        .iter()
        .map(|plan| {
            let steps: BTreeMap<_, _> = plan
                .steps
                .iter()
                .filter_map(|kind| {
                    results
                        .remove(&(plan.component.clone(), *kind))
                        .map(|result| (*kind, result))
                })
                .collect();
            let mut facts = facts(ctx.config, &ctx.index, &ctx.warm, plan, book, &owners)?;
            facts.production = production_facts(&prometheus, plan, now);
            Ok(Evidence::new(
                plan.clone(),
                steps,
                facts,
                now,
                Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            ))
        })
        .collect();
    if let Some(warning) = prometheus.take_warning() {
        crate::ui::warn(format!("Production evidence: {warning}"));
    }
    evidence
}

/// The Prometheus evidence of a plan that decides the Production gates, over the window ending
/// at `now`, from the stage the component is in.
fn production_facts(
    prometheus: &crate::evidence::Session<'_>,
    plan: &ComponentPlan,
    now: NaiveDateTime,
) -> Option<crate::evidence::ProductionFacts> {
    let wanted = [GateKind::Uptime, GateKind::Latency, GateKind::Monitoring];
    if !plan.gates.iter().any(|gate| wanted.contains(gate)) {
        return None;
    }
    let healthcheck =
        crate::deploy::declared::healthcheck(prometheus.config(), &plan.component, plan.from);
    Some(prometheus.gather(
        &plan.component,
        plan.from,
        now.and_utc().timestamp(),
        healthcheck,
    ))
}

/// The facts a plan's gates need that do not come from tools; MATURITY.md states come from
/// `book`, so each file is read once per command.
/// `owners` is filled on first use and shared by the plans of one command.
pub fn facts<'c>(
    config: &'c Config,
    index: &engine::inputs::InputIndex,
    warm: &engine::warm::WarmRun,
    plan: &ComponentPlan,
    book: &maturity::Book,
    owners: &OnceCell<Owners<'c>>,
) -> Result<Facts> {
    let component = config.require_component(&plan.component)?;
    let mut facts = Facts::default();
    if plan.gates.contains(&GateKind::Docs) {
        // A README that is not a regular file (a FIFO would block) is refused, naming it.
        let text = crate::input_file::read_text(
            &config.project_path(&component.readme),
            &format!("the README of {}", component.name),
            crate::input_file::DOCUMENT_MAX,
        )?;
        facts.readme = Some(readme::check(
            &component.readme,
            text.as_deref(),
            &config.policy.readme_sections_for(plan.to),
        ));
    }
    if plan.gates.contains(&GateKind::Dependencies) {
        for name in &component.depends_on {
            let dependency = config.require_component(name)?;
            facts
                .dependencies
                .push((name.clone(), book.state(config, dependency)?.stage));
        }
        // The graph's answers are facts of the tree: the warm-run record holds them while
        // nothing under the project changes, so a warm run builds no graph.
        let (imported, unresolved) = warm.fact(&format!("imports {}", component.name), || {
            let owners = owners.get_or_init(|| {
                Owners::new(config, crate::imports::project(&config.project.root, index))
            });
            (owners.uses(component), owners.unresolved(component))
        });
        facts.imported = Some(imported);
        facts.unresolved_imports = unresolved;
    }
    if plan.gates.contains(&GateKind::Observation) {
        facts.staging_since = book.state(config, component)?.entered(Stage::Staging);
    }
    if plan.gates.contains(&GateKind::Rollback) {
        // A small local file: the drill is read from the history of the stage it is in.
        facts.drill = Some(crate::deploy::record::drill_fact(
            config,
            &component.name,
            plan.from,
            config.policy.observation_days,
        ));
    }
    Ok(facts)
}

/// The report of one component, built once from its evidence: pure, so tests and fixtures
/// build reports exactly the way a run does.
pub fn report(config: &Config, evidence: &Evidence) -> Result<PromotionReport> {
    let component = config.require_component(&evidence.plan.component)?;
    let plan = &evidence.plan;
    let decision = gates::decide(
        plan,
        component,
        config,
        &evidence.steps,
        &evidence.facts,
        evidence.now,
    );
    let ordered: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|kind| evidence.steps.get(kind).cloned())
        .collect();
    let coverage = ordered.iter().find_map(|s| s.coverage().map(|c| c.percent));
    Ok(PromotionReport {
        schema_version: REPORT_SCHEMA_VERSION,
        component: component.name.clone(),
        display_name: component.display_name.clone(),
        group: component.group.clone(),
        from_stage: plan.from,
        to_stage: plan.to,
        phases: plan.phases.0.iter().map(|p| *p as u8).collect(),
        promotable: decision.promotable,
        passed: decision.passed,
        generated_at: evidence.generated_at.clone(),
        quality_gates: decision.gates.into_iter().collect(),
        blockers: decision.blockers,
        summary: RunSummary {
            steps: ordered.len(),
            cached_steps: ordered.iter().filter(|s| s.cached).count(),
            findings: ordered.iter().map(|s| s.findings().len()).sum(),
            coverage,
        },
        steps: ordered,
        deployment: evidence.deployment.clone(),
        integration: evidence.integration.clone(),
    })
}
