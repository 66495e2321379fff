//! The rollout plan: in which waves the components below a target stage can be promoted to
//! it, from the dependency graph and the current stages. What the users' rollout guide works
//! out by hand. Pure.
//!
//! A component joins a wave when each of its dependencies is at the target stage already or
//! joined an earlier wave. Components that can never join (a dependency cycle, which the
//! registry refuses but this function does not assume away) are listed as unschedulable.

use std::collections::HashMap;

use super::model::{RolloutPlan, Wave, WaveMember};
use crate::vocab::Stage;

/// A component as the planner sees it.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub name: &'a str,
    pub stage: Stage,
    pub depends_on: &'a [String],
    /// Promotable to the target right now.
    pub ready: bool,
}

/// The waves toward `target`. `nodes` come in the order members of a wave are listed (the
/// registry's topological order keeps it stable and readable).
pub fn plan(nodes: &[Node<'_>], target: Stage) -> RolloutPlan {
    // Kahn's algorithm in layers: a wave is every component whose last dependency below the
    // target joined the wave before (linear in the graph, where trying every remaining
    // component once per wave was quadratic on a long dependency chain).
    let below: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.stage < target)
        .map(|(index, n)| (n.name, index))
        .collect();
    let mut waiting_on = vec![0usize; nodes.len()];
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        if !below.contains_key(node.name) {
            continue;
        }
        // A dependency at the target already, or one the registry does not know (it refuses
        // unknown names before we get here), holds no wave back.
        for dependency in node.depends_on {
            if let Some(&on) = below.get(dependency.as_str()) {
                waiting_on[index] += 1;
                dependants[on].push(index);
            }
        }
    }
    let mut joining: Vec<usize> = (0..nodes.len())
        .filter(|&i| below.contains_key(nodes[i].name) && waiting_on[i] == 0)
        .collect();
    let mut placed = vec![false; nodes.len()];
    let mut waves = Vec::new();
    while !joining.is_empty() {
        joining.sort_unstable();
        let mut next = Vec::new();
        for &index in &joining {
            placed[index] = true;
            for &dependant in &dependants[index] {
                waiting_on[dependant] -= 1;
                if waiting_on[dependant] == 0 {
                    next.push(dependant);
                }
            }
        }
        waves.push(Wave {
            number: waves.len() + 1,
            components: joining
                .iter()
                .map(|&i| WaveMember {
                    name: nodes[i].name.to_owned(),
                    ready: nodes[i].ready,
                })
                .collect(),
        });
        joining = next;
    }
    RolloutPlan {
        target,
        waves,
        unschedulable: (0..nodes.len())
            .filter(|&i| below.contains_key(nodes[i].name) && !placed[i])
            .map(|i| nodes[i].name.to_owned())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn deps(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn wave_names(plan: &RolloutPlan) -> Vec<Vec<&str>> {
        plan.waves
            .iter()
            .map(|w| w.components.iter().map(|m| m.name.as_str()).collect())
            .collect()
    }

    /// The example registry's graph, with the stages its MATURITY.md files give.
    fn example() -> Vec<(&'static str, Stage, Vec<String>)> {
        use Stage::*;
        vec![
            ("neo4j", Staging, deps(&[])),
            ("docker", Development, deps(&[])),
            ("carbon", Development, deps(&[])),
            ("model-management", Development, deps(&[])),
            ("llm", Development, deps(&["model-management"])),
            (
                "agent-orchestration",
                Development,
                deps(&["llm", "model-management"]),
            ),
            (
                "narrative-arc-orchestrator",
                Development,
                deps(&["neo4j", "llm"]),
            ),
            (
                "narrative-coherence",
                Staging,
                deps(&["neo4j", "narrative-arc-orchestrator"]),
            ),
            (
                "therapeutic-systems",
                Development,
                deps(&["neo4j", "narrative-coherence"]),
            ),
            (
                "gameplay-loop",
                Development,
                deps(&["neo4j", "narrative-arc-orchestrator", "therapeutic-systems"]),
            ),
            (
                "character-arc-manager",
                Development,
                deps(&["neo4j", "llm", "narrative-arc-orchestrator"]),
            ),
            (
                "player-experience",
                Development,
                deps(&[
                    "gameplay-loop",
                    "character-arc-manager",
                    "therapeutic-systems",
                ]),
            ),
        ]
    }

    fn nodes(spec: &[(&'static str, Stage, Vec<String>)]) -> Vec<Node<'static>> {
        spec.iter()
            .map(|(name, stage, depends_on)| Node {
                name,
                stage: *stage,
                depends_on: Box::leak(depends_on.clone().into_boxed_slice()),
                ready: *name == "carbon",
            })
            .collect()
    }

    /// Every member of wave k has each dependency at the target already or in a wave < k.
    fn assert_after_dependencies(spec: &[(&str, Stage, Vec<String>)], plan: &RolloutPlan) {
        let wave_of: BTreeMap<&str, usize> = plan
            .waves
            .iter()
            .flat_map(|w| {
                w.components
                    .iter()
                    .map(move |m| (m.name.as_str(), w.number))
            })
            .collect();
        for (name, stage, depends_on) in spec {
            if *stage >= plan.target {
                assert!(!wave_of.contains_key(name), "{name} is already there");
                continue;
            }
            let Some(wave) = wave_of.get(name) else {
                assert!(
                    plan.unschedulable.iter().any(|n| n == name),
                    "{name} is missing"
                );
                continue;
            };
            for dependency in depends_on {
                let dependency_stage = spec.iter().find(|(n, ..)| n == dependency).unwrap().1;
                let earlier = wave_of.get(dependency.as_str()).is_some_and(|w| w < wave);
                assert!(
                    dependency_stage >= plan.target || earlier,
                    "{name} (wave {wave}) comes before its dependency {dependency}"
                );
            }
        }
    }

    #[test]
    fn the_example_promotes_to_staging_in_dependency_order() {
        let spec = example();
        let plan = plan(&nodes(&spec), Stage::Staging);
        assert_eq!(
            wave_names(&plan),
            vec![
                // therapeutic-systems only needs neo4j and narrative-coherence, both in
                // Staging already: it can go first, not last as the hand-made guide has it.
                vec![
                    "docker",
                    "carbon",
                    "model-management",
                    "therapeutic-systems"
                ],
                vec!["llm"],
                vec!["agent-orchestration", "narrative-arc-orchestrator"],
                vec!["gameplay-loop", "character-arc-manager"],
                vec!["player-experience"],
            ]
        );
        assert!(plan.waves[0].components[1].ready, "carbon is ready now");
        assert!(plan.unschedulable.is_empty());
        assert_after_dependencies(&spec, &plan);
    }

    #[test]
    fn production_waves_include_everything_below_production() {
        let spec = example();
        let plan = plan(&nodes(&spec), Stage::Production);
        let total: usize = plan.waves.iter().map(|w| w.components.len()).sum();
        assert_eq!(total, 12);
        assert_eq!(
            wave_names(&plan)[0],
            vec!["neo4j", "docker", "carbon", "model-management"]
        );
        assert_after_dependencies(&spec, &plan);
    }

    #[test]
    fn components_already_at_the_target_need_no_wave() {
        let spec = vec![
            ("a", Stage::Production, deps(&[])),
            ("b", Stage::Staging, deps(&["a"])),
        ];
        let plan = plan(&nodes(&spec), Stage::Staging);
        assert!(plan.waves.is_empty() && plan.unschedulable.is_empty());
    }

    #[test]
    fn a_cycle_is_unschedulable_instead_of_looping() {
        // The users' rollout guide has gameplay-loop and therapeutic-systems need each other.
        let spec = vec![
            ("neo4j", Stage::Staging, deps(&[])),
            ("docker", Stage::Development, deps(&[])),
            (
                "gameplay-loop",
                Stage::Development,
                deps(&["neo4j", "therapeutic-systems"]),
            ),
            (
                "therapeutic-systems",
                Stage::Development,
                deps(&["gameplay-loop"]),
            ),
            (
                "player-experience",
                Stage::Development,
                deps(&["gameplay-loop"]),
            ),
        ];
        let plan = plan(&nodes(&spec), Stage::Staging);
        assert_eq!(wave_names(&plan), vec![vec!["docker"]]);
        assert_eq!(
            plan.unschedulable,
            vec!["gameplay-loop", "therapeutic-systems", "player-experience"]
        );
        assert_after_dependencies(&spec, &plan);
    }

    /// The first implementation, kept as the specification: each pass takes every remaining
    /// component whose dependencies below the target were all placed before.
    fn reference(nodes: &[Node<'_>], target: Stage) -> RolloutPlan {
        let stage_of: BTreeMap<&str, Stage> = nodes.iter().map(|n| (n.name, n.stage)).collect();
        let mut remaining: Vec<&Node<'_>> = nodes.iter().filter(|n| n.stage < target).collect();
        let mut placed: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        let mut waves = Vec::new();
        while !remaining.is_empty() {
            let (joining, waiting): (Vec<&Node<'_>>, Vec<&Node<'_>>) =
                remaining.into_iter().partition(|node| {
                    node.depends_on.iter().all(|d| {
                        stage_of.get(d.as_str()).is_none_or(|s| *s >= target)
                            || placed.contains(d.as_str())
                    })
                });
            if joining.is_empty() {
                return RolloutPlan {
                    target,
                    waves,
                    unschedulable: waiting.iter().map(|n| n.name.to_owned()).collect(),
                };
            }
            placed.extend(joining.iter().map(|n| n.name));
            waves.push(Wave {
                number: waves.len() + 1,
                components: joining
                    .iter()
                    .map(|n| WaveMember {
                        name: n.name.to_owned(),
                        ready: n.ready,
                    })
                    .collect(),
            });
            remaining = waiting;
        }
        RolloutPlan {
            target,
            waves,
            unschedulable: Vec::new(),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Any graph (cycles, self-dependencies, repeated and unknown names, any stages) plans
        /// exactly as the specification does.
        #[test]
        fn plans_as_the_specification_does(
            graph in proptest::collection::vec(
                (0u8..3, proptest::collection::vec(0usize..12, 0..4)),
                0..10,
            ),
            target in 1u8..3,
        ) {
            let stage = |n: u8| match n {
                0 => Stage::Development,
                1 => Stage::Staging,
                _ => Stage::Production,
            };
            let spec: Vec<(&'static str, Stage, Vec<String>)> = graph
                .iter()
                .enumerate()
                .map(|(i, (s, ds))| {
                    let name: &'static str = Box::leak(format!("c{i}").into_boxed_str());
                    (name, stage(*s), ds.iter().map(|d| format!("c{d}")).collect())
                })
                .collect();
            let nodes = nodes(&spec);
            let target = stage(target);
            let fast = plan(&nodes, target);
            let slow = reference(&nodes, target);
            proptest::prop_assert_eq!(wave_names(&fast), wave_names(&slow));
            proptest::prop_assert_eq!(fast.unschedulable, slow.unschedulable);
        }
    }

    #[test]
    fn a_long_chain_is_one_wave_per_link() {
        let spec: Vec<(&'static str, Stage, Vec<String>)> = (0..2000)
            .map(|i| {
                let name: &'static str = Box::leak(format!("c{i}").into_boxed_str());
                let depends = if i == 0 {
                    vec![]
                } else {
                    vec![format!("c{}", i - 1)]
                };
                (name, Stage::Development, depends)
            })
            .collect();
        let plan = plan(&nodes(&spec), Stage::Staging);
        assert_eq!(plan.waves.len(), 2000);
        assert_eq!(plan.waves[1999].components[0].name, "c1999");
        assert_after_dependencies(&spec, &plan);
    }
}
