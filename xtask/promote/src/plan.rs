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

/// When the plan asks for a gate that no step of the tool table feeds: its evidence is a fact
/// (`gates::Facts`: the stage, the README, the dependencies' stages, the observation period,
/// the integration run, the deploy). Together with the table's `feeds`, this says where every
/// gate comes from; the plan derives each phase's gates from the two.
pub struct FactGate {
    pub gate: GateKind,
    /// The phase that asks for it; `None`: only on request (`--integration`).
    pub phase: Option<Phase>,
    /// Asked only for a promotion into this stage.
    pub only_into: Option<Stage>,
}

pub static FACT_GATES: &[FactGate] = &[
    FactGate {
        gate: GateKind::Stage,
        phase: Some(Phase::Validate),
        only_into: None,
    },
    FactGate {
        gate: GateKind::Docs,
        phase: Some(Phase::Docs),
        only_into: None,
    },
    FactGate {
        gate: GateKind::Dependencies,
        phase: Some(Phase::Validate),
        only_into: None,
    },
    FactGate {
        gate: GateKind::Observation,
        phase: Some(Phase::Validate),
        only_into: Some(Stage::Production),
    },
    // The Production evidence a Prometheus gives (`[observability]`).
    FactGate {
        gate: GateKind::Uptime,
        phase: Some(Phase::Validate),
        only_into: Some(Stage::Production),
    },
    FactGate {
        gate: GateKind::Latency,
        phase: Some(Phase::Validate),
        only_into: Some(Stage::Production),
    },
    FactGate {
        gate: GateKind::Monitoring,
        phase: Some(Phase::Validate),
        only_into: Some(Stage::Production),
    },
    // A passing rollback drill (`--phase 5 --drill`), from the deployment history.
    FactGate {
        gate: GateKind::Rollback,
        phase: Some(Phase::Validate),
        only_into: Some(Stage::Production),
    },
    FactGate {
        gate: GateKind::Integration,
        phase: None,
        only_into: None,
    },
    FactGate {
        gate: GateKind::Deployment,
        phase: Some(Phase::Deploy),
        only_into: None,
    },
];

/// The phases a selected phase runs the checks and gates of: validation runs those of every
/// phase before the deploy; every other phase its own.
fn covered(phase: Phase) -> impl Fn(Phase) -> bool {
    move |other| match phase {
        Phase::Validate => other <= Phase::Validate,
        _ => other == phase,
    }
}

/// The gates a phase asks for, promoting into `to`: those its checks feed (the tool table)
/// and those decided from facts in it.
fn gates_of(phase: Phase, to: Stage) -> impl Iterator<Item = GateKind> {
    let covers = covered(phase);
    let fed = STEPS
        .iter()
        .filter(|s| !s.modifies_files && !s.on_request)
        .filter(move |s| covered(phase)(s.phase))
        .flat_map(|s| s.feeds.iter().copied());
    let facts = FACT_GATES
        .iter()
        .filter(move |f| f.phase.is_some_and(&covers) && f.only_into.is_none_or(|s| s == to))
        .map(|f| f.gate);
    fed.chain(facts)
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
        let asked = FACT_GATES
            .iter()
            .filter(|f| f.phase.is_none())
            .map(|f| f.gate);
        for gate in asked {
            if !self.gates.contains(&gate) {
                self.gates.push(gate);
            }
        }
        self.gates.sort();
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
    for &phase in &phases.0 {
        for spec in checks().filter(|s| covered(phase)(s.phase)) {
            add_step(spec.kind, &mut steps);
        }
        gates.extend(gates_of(phase, to));
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
                StepKind::DetectSecrets,
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

    /// Every gate comes from somewhere (a step of the tool table or a fact, never both), and
    /// is listed where users and tools see gates: the report schema's enum, the issue form
    /// (as evidence of a criterion, or named as no criterion) and the request's gate table.
    #[test]
    fn every_gate_is_fed_and_listed() {
        let schema: serde_json::Value = serde_json::from_str(include_str!(
            "../../../schemas/promotion-report.schema.json"
        ))
        .unwrap();
        let listed: Vec<&str> = schema["properties"]["quality_gates"]["propertyNames"]["enum"]
            .as_array()
            .expect("the schema lists the gates")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let ids: Vec<&str> = GateKind::ALL.iter().map(|g| g.id()).collect();
        assert_eq!(
            listed, ids,
            "the schema's gate enum is GateKind::ALL, in order"
        );
        for id in &listed {
            let parsed: GateKind = serde_json::from_value(serde_json::json!(id)).unwrap();
            assert!(GateKind::ALL.contains(&parsed));
        }
        let config = crate::config::parse(
            &(crate::config::test_registry_head(&["G"])
                + "[components.a]\ndisplay_name = \"A\"\ngroup = \"G\"\nsource = \"src/a\"\n"),
            &std::env::temp_dir().join("xtask.toml"),
        )
        .unwrap();
        let in_form: Vec<GateKind> = [Stage::Staging, Stage::Production]
            .into_iter()
            .flat_map(|to| crate::request::form::criteria(&config, to))
            .flat_map(|c| c.evidence)
            .chain(crate::request::form::NOT_A_CRITERION.iter().copied())
            .collect();
        let template = include_str!("../templates/promotion-request.md.j2");
        assert!(
            template.contains("{% for gate in gates"),
            "the request lists every gate"
        );
        for &gate in GateKind::ALL {
            let by_step = STEPS.iter().any(|s| s.feeds.contains(&gate));
            let by_fact = FACT_GATES.iter().any(|f| f.gate == gate);
            assert!(
                by_step != by_fact,
                "{gate}: fed by a step {by_step}, by a fact {by_fact}"
            );
            assert!(
                in_form.contains(&gate),
                "{gate} is not in the issue form's criteria"
            );
        }
    }
}
