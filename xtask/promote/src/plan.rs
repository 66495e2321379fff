//! From flags to work: which phases, which steps and which gates, for which component and
//! target. Reads nothing but the config and the stage it is given; spawns nothing.

use std::fmt;

use crate::config::Component;
use crate::errors::usage;
use crate::tools::StepKind;
use crate::tools::table::STEPS;
use crate::vocab::{GateKind, Phase, Stage};

/// What `--phase` selected: one phase, or `all` (1-4; deploy runs only when asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseSelection(pub Vec<Phase>);

impl PhaseSelection {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let phases = match text.trim().to_ascii_lowercase().as_str() {
            "all" => vec![Phase::Lint, Phase::Types, Phase::Docs, Phase::Validate],
            "1" => vec![Phase::Lint],
            "2" => vec![Phase::Types],
            "3" => vec![Phase::Docs],
            "4" => vec![Phase::Validate],
            "5" => vec![Phase::Deploy],
            other => {
                return Err(usage(format!(
                    "unknown phase `{}`: expected 1 (lint), 2 (types), 3 (docs), 4 (validate), 5 (deploy) or all",
                    other.escape_debug()
                )));
            }
        };
        Ok(PhaseSelection(phases))
    }

    pub fn contains(&self, phase: Phase) -> bool {
        self.0.contains(&phase)
    }

    /// Whether the selection decides promotability: validation (phase 4) runs every gate.
    pub fn decides_promotion(&self) -> bool {
        self.contains(Phase::Validate)
    }
}

impl fmt::Display for PhaseSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let numbers: Vec<String> = self.0.iter().map(|p| (*p as u8).to_string()).collect();
        f.write_str(&numbers.join(","))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComponentPlan {
    pub component: String,
    pub from: Stage,
    pub to: Stage,
    pub phases: PhaseSelection,
    /// Fixing steps first, then checks, each once.
    pub steps: Vec<StepKind>,
    pub gates: Vec<GateKind>,
    pub fix: bool,
}

impl ComponentPlan {
    /// `--integration`: the plan also decides the integration gate (the run comes as a fact).
    pub fn with_integration(mut self) -> Self {
        if !self.gates.contains(&GateKind::Integration) {
            self.gates.push(GateKind::Integration);
            self.gates.sort();
        }
        self
    }
}

/// Plans one component. `current` is its stage from MATURITY.md; `target` the `--target`
/// flag, else the next stage. A component at the top stage with no target has nothing to do.
pub fn plan_component(
    component: &Component,
    current: Stage,
    phases: &PhaseSelection,
    target: Option<Stage>,
    fix: bool,
) -> anyhow::Result<ComponentPlan> {
    let to = match target.or_else(|| current.next()) {
        Some(to) => to,
        None => {
            return Err(usage(format!(
                "{} is already in {current}, the last stage: there is nothing to promote it to",
                component.name
            )));
        }
    };
    let mut steps = Vec::new();
    let mut gates = Vec::new();
    let add_step = |kind: StepKind, steps: &mut Vec<StepKind>| {
        if !steps.contains(&kind) {
            steps.push(kind);
        }
    };
    // The checks of a phase come from the tool table; validation runs every check. A step of
    // an optional tool the project has not turned on is dropped by the engine, which has the
    // config (`engine::run_steps`).
    let checks = || STEPS.iter().filter(|s| !s.modifies_files && !s.on_request);
    if fix && (phases.contains(Phase::Lint) || phases.contains(Phase::Validate)) {
        for spec in STEPS.iter().filter(|s| s.modifies_files) {
            add_step(spec.kind, &mut steps);
        }
    }
    for phase in &phases.0 {
        match phase {
            Phase::Lint | Phase::Types => {
                for spec in checks().filter(|s| s.phase == *phase) {
                    add_step(spec.kind, &mut steps);
                    gates.extend(spec.feeds);
                }
            }
            Phase::Docs => gates.push(GateKind::Docs),
            Phase::Validate => {
                for spec in checks() {
                    add_step(spec.kind, &mut steps);
                }
                gates.extend([
                    GateKind::Stage,
                    GateKind::Lint,
                    GateKind::Types,
                    GateKind::Docs,
                    GateKind::Security,
                    GateKind::Tests,
                    GateKind::Coverage,
                    GateKind::Dependencies,
                ]);
                if to == Stage::Production {
                    gates.extend([
                        GateKind::Observation,
                        GateKind::Uptime,
                        GateKind::Latency,
                        GateKind::Monitoring,
                    ]);
                }
            }
            Phase::Deploy => gates.push(GateKind::Deployment),
        }
    }
    // A redeploy to the stage the component is already in (a fix shipped to Staging, say) is
    // not a promotion, so the stage gate does not apply; every other gate still does.
    if phases.contains(Phase::Deploy) && to == current {
        gates.retain(|gate| *gate != GateKind::Stage);
    }
    gates.sort();
    gates.dedup();
    Ok(ComponentPlan {
        component: component.name.clone(),
        from: current,
        to,
        phases: phases.clone(),
        steps,
        gates,
        fix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceKind;

    fn component() -> Component {
        Component {
            name: "narrative-arc-orchestrator".into(),
            display_name: "Narrative Arc Orchestrator".into(),
            group: "AI/Agent Systems".into(),
            source: "src/components/narrative_arc_orchestrator".into(),
            source_kind: SourceKind::Package,
            tests: vec![],
            depends_on: vec![],
            readme: "README.md".into(),
            maturity: "MATURITY.md".into(),
        }
    }

    #[test]
    fn phase_selection_parses_numbers_and_all() {
        assert_eq!(PhaseSelection::parse("2").unwrap().0, vec![Phase::Types]);
        assert_eq!(PhaseSelection::parse("all").unwrap().0.len(), 4);
        let error = PhaseSelection::parse("6").unwrap_err();
        assert_eq!(
            crate::errors::exit_code_of(&error),
            crate::errors::exit::USAGE
        );
    }

    #[test]
    fn phase_two_runs_only_the_type_checkers() {
        let plan = plan_component(
            &component(),
            Stage::Development,
            &PhaseSelection::parse("2").unwrap(),
            None,
            false,
        )
        .unwrap();
        assert_eq!(plan.steps, vec![StepKind::Pyright, StepKind::Mypy]);
        assert_eq!(plan.gates, vec![GateKind::Types]);
        assert_eq!(plan.to, Stage::Staging);
    }

    #[test]
    fn all_runs_every_check_once_and_fixes_first() {
        let plan = plan_component(
            &component(),
            Stage::Development,
            &PhaseSelection::parse("all").unwrap(),
            None,
            true,
        )
        .unwrap();
        assert_eq!(
            plan.steps,
            vec![
                StepKind::RuffFix,
                StepKind::RuffFormatApply,
                StepKind::RuffCheck,
                StepKind::RuffFormat,
                StepKind::Pyright,
                StepKind::Mypy,
                StepKind::Bandit,
                StepKind::Pytest
            ]
        );
        assert!(!plan.gates.contains(&GateKind::Observation));
    }

    #[test]
    fn production_adds_the_observation_gate() {
        let plan = plan_component(
            &component(),
            Stage::Staging,
            &PhaseSelection::parse("4").unwrap(),
            None,
            false,
        )
        .unwrap();
        assert_eq!(plan.to, Stage::Production);
        assert!(plan.gates.contains(&GateKind::Observation));
    }

    #[test]
    fn nothing_above_production() {
        let error = plan_component(
            &component(),
            Stage::Production,
            &PhaseSelection::parse("all").unwrap(),
            None,
            false,
        )
        .unwrap_err();
        assert!(error.to_string().contains("last stage"));
    }

    #[test]
    fn a_redeploy_drops_only_the_stage_gate_and_a_skip_keeps_it() {
        let deploy = PhaseSelection(vec![Phase::Validate, Phase::Deploy]);
        let redeploy = plan_component(
            &component(),
            Stage::Staging,
            &deploy,
            Some(Stage::Staging),
            false,
        )
        .unwrap();
        assert!(!redeploy.gates.contains(&GateKind::Stage));
        assert!(redeploy.gates.contains(&GateKind::Coverage));
        assert_eq!(redeploy.gates.last(), Some(&GateKind::Deployment));
        let skip = plan_component(
            &component(),
            Stage::Development,
            &deploy,
            Some(Stage::Production),
            false,
        )
        .unwrap();
        assert!(skip.gates.contains(&GateKind::Stage));
        // Validation alone to the same stage keeps the stage gate, which refuses it.
        let validate = PhaseSelection(vec![Phase::Validate]);
        let same = plan_component(
            &component(),
            Stage::Staging,
            &validate,
            Some(Stage::Staging),
            false,
        )
        .unwrap()
        .with_integration();
        assert!(same.gates.contains(&GateKind::Stage));
        assert_eq!(
            &same.gates[same.gates.len() - 2..],
            &[GateKind::Dependencies, GateKind::Integration]
        );
    }
}
