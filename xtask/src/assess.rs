//! From plans to reports: runs every plan's steps in one engine run (so batches span
//! components), gathers the facts gates need, decides, and builds one report per component.
//! Shared by `promote` and everything else that needs a verdict.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{NaiveDateTime, SecondsFormat, Utc};

use crate::config::Config;
use crate::engine::{self, RunContext, StepId};
use crate::gates::{self, Facts};
use crate::imports::components::Owners;
use crate::maturity;
use crate::plan::{ComponentPlan, GateKind};
use crate::readme;
use crate::report::PromotionReport;
use crate::report::model::{REPORT_SCHEMA_VERSION, RunSummary};
use crate::stage::Stage;

/// Runs the plans and returns their reports in plan order.
pub fn assess(ctx: &RunContext<'_>, plans: &[ComponentPlan]) -> Result<Vec<PromotionReport>> {
    let components = plans
        .iter()
        .map(|plan| ctx.config.require_component(&plan.component))
        .collect::<Result<Vec<_>>>()?;
    let book = maturity::Book::read(ctx.config, components)?;
    assess_with(ctx, plans, &book, Utc::now().naive_utc())
}

/// `assess` with MATURITY.md states already read (`book`) and the clock given (`now`, UTC).
pub fn assess_with(
    ctx: &RunContext<'_>,
    plans: &[ComponentPlan],
    book: &maturity::Book,
    now: NaiveDateTime,
) -> Result<Vec<PromotionReport>> {
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
    plans
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
            build_report(ctx, plan, steps, book, now, &owners)
        })
        .collect()
}

/// The facts a plan's gates need that do not come from tools; MATURITY.md states come from
/// `book`, so each file is read once per command.
/// `owners` is filled on first use and shared by the plans of one command.
pub fn facts<'c>(
    config: &'c Config,
    index: &engine::inputs::InputIndex,
    plan: &ComponentPlan,
    book: &maturity::Book,
    owners: &OnceCell<Owners<'c>>,
) -> Result<Facts> {
    let component = config.require_component(&plan.component)?;
    let mut facts = Facts::default();
    if plan.gates.contains(&GateKind::Docs) {
        let text = std::fs::read_to_string(config.project_path(&component.readme)).ok();
        facts.readme = Some(readme::check(
            &component.readme,
            text.as_deref(),
            &config.policy.readme_sections,
        ));
    }
    if plan.gates.contains(&GateKind::Dependencies) {
        for name in &component.depends_on {
            let dependency = config.require_component(name)?;
            facts
                .dependencies
                .push((name.clone(), book.state(config, dependency)?.stage));
        }
        let owners = owners.get_or_init(|| {
            Owners::new(config, crate::imports::project(&config.project.root, index))
        });
        facts.imported = Some(owners.uses(component));
        facts.unresolved_imports = owners.unresolved(component);
    }
    if plan.gates.contains(&GateKind::Observation) {
        facts.staging_since = book.state(config, component)?.entered(Stage::Staging);
    }
    Ok(facts)
}

fn build_report<'c>(
    ctx: &RunContext<'c>,
    plan: &ComponentPlan,
    steps: BTreeMap<crate::tools::StepKind, crate::engine::result::StepResult>,
    book: &maturity::Book,
    now: NaiveDateTime,
    owners: &OnceCell<Owners<'c>>,
) -> Result<PromotionReport> {
    let config = ctx.config;
    let component = config.require_component(&plan.component)?;
    let facts = facts(config, &ctx.index, plan, book, owners)?;
    let generated_at = chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    Ok(report_from(
        config,
        component,
        plan,
        &steps,
        &facts,
        now,
        generated_at,
    ))
}

/// The report of one component, from its plan, its step results and the facts: pure, so
/// tests and fixtures build reports exactly the way a run does.
pub fn report_from(
    config: &Config,
    component: &crate::config::Component,
    plan: &ComponentPlan,
    steps: &BTreeMap<crate::tools::StepKind, crate::engine::result::StepResult>,
    facts: &Facts,
    now: NaiveDateTime,
    generated_at: String,
) -> PromotionReport {
    let decision = gates::decide(plan, component, config, steps, facts, now);
    let ordered: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|kind| steps.get(kind).cloned())
        .collect();
    let coverage = ordered.iter().find_map(|s| s.coverage.map(|c| c.percent));
    let passed = decision.all_passed();
    PromotionReport {
        schema_version: REPORT_SCHEMA_VERSION,
        component: component.name.clone(),
        display_name: component.display_name.clone(),
        group: component.group.clone(),
        from_stage: plan.from,
        to_stage: plan.to,
        phases: plan.phases.0.iter().map(|p| *p as u8).collect(),
        promotable: passed && plan.phases.decides_promotion(),
        passed,
        generated_at,
        quality_gates: decision
            .gates
            .into_iter()
            .map(|(kind, gate)| (kind.id().to_owned(), gate))
            .collect(),
        blockers: decision.blockers,
        summary: RunSummary {
            steps: ordered.len(),
            cached_steps: ordered.iter().filter(|s| s.cached).count(),
            findings: ordered.iter().map(|s| s.findings.len()).sum(),
            coverage,
        },
        steps: ordered,
        deployment: None,
        integration: None,
    }
}
