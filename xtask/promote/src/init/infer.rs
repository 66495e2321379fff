//! Dependencies between components inferred from the imports in their sources, and a
//! dependency cycle (which the registry refuses) broken at the edge that closes it. Pure.

use std::collections::BTreeSet;

use super::imports;

/// A component as inference sees it: its name and the dotted module its code lives in.
#[derive(Debug, Clone)]
pub struct ModuleOf {
    pub name: String,
    /// `components.llm` for a package, `components.neo4j_component` for a module.
    pub module: String,
}

/// One Python file of a component.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub component: String,
    /// The package relative imports start from (see `imports::resolve`).
    pub package: String,
    pub text: String,
}

/// The component a dotted module belongs to: the longest component module that is it or
/// contains it.
fn owner<'a>(components: &'a [ModuleOf], module: &str) -> Option<&'a str> {
    components
        .iter()
        .filter(|c| {
            module == c.module
                || module
                    .strip_prefix(c.module.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        })
        .max_by_key(|c| c.module.len())
        .map(|c| c.name.as_str())
}

/// Each component's dependencies, in `components` order: every other component one of its
/// files imports.
pub fn dependencies(components: &[ModuleOf], files: &[SourceFile]) -> Vec<(String, Vec<String>)> {
    components
        .iter()
        .map(|component| {
            let mut used = BTreeSet::new();
            for file in files.iter().filter(|f| f.component == component.name) {
                for import in imports::parse(&file.text) {
                    for module in imports::resolve(&import, &file.package) {
                        if let Some(other) = owner(components, &module)
                            && other != component.name
                        {
                            used.insert(other.to_owned());
                        }
                    }
                }
            }
            let ordered = components
                .iter()
                .filter(|c| used.contains(&c.name))
                .map(|c| c.name.clone())
                .collect();
            (component.name.clone(), ordered)
        })
        .collect()
}

/// Names with every component after its dependencies; among those ready at the same time,
/// alphabetical. The graph must be acyclic (see `break_cycles`); anything left on a cycle
/// comes last, alphabetically.
pub fn dependency_order(graph: &[(String, Vec<String>)]) -> Vec<String> {
    let mut placed: Vec<String> = Vec::new();
    let mut waiting: Vec<&(String, Vec<String>)> = graph.iter().collect();
    waiting.sort_by(|a, b| a.0.cmp(&b.0));
    while !waiting.is_empty() {
        let ready = waiting
            .iter()
            .position(|(_, deps)| deps.iter().all(|d| placed.contains(d)))
            .unwrap_or(0);
        placed.push(waiting.remove(ready).0.clone());
    }
    placed
}

/// An edge `init` left out because it closed a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedEdge {
    pub from: String,
    pub to: String,
    /// The cycle as found, start repeated at the end.
    pub cycle: Vec<String>,
}

/// Removes edges until the graph has no cycle: each time, the edge that closes the first
/// cycle a depth-first walk (in component order) finds. Returns the edges removed.
pub fn break_cycles(graph: &mut [(String, Vec<String>)]) -> Vec<DroppedEdge> {
    let mut dropped = Vec::new();
    while let Some(cycle) = find_cycle(graph) {
        let (from, to) = (
            cycle[cycle.len() - 2].clone(),
            cycle[cycle.len() - 1].clone(),
        );
        if let Some((_, deps)) = graph.iter_mut().find(|(name, _)| *name == from) {
            deps.retain(|d| *d != to);
        }
        dropped.push(DroppedEdge { from, to, cycle });
    }
    dropped
}

fn find_cycle(graph: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &[(String, Vec<String>)],
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        let deps = graph
            .iter()
            .find(|(name, _)| name == node)
            .map(|(_, d)| d.clone())
            .unwrap_or_default();
        for dep in deps {
            if let Some(cycle) = visit(&dep, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .iter()
        .find_map(|(name, _)| visit(name, graph, &mut done, &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(name: &str, module: &str) -> ModuleOf {
        ModuleOf {
            name: name.into(),
            module: module.into(),
        }
    }

    fn file(component: &str, package: &str, text: &str) -> SourceFile {
        SourceFile {
            component: component.into(),
            package: package.into(),
            text: text.into(),
        }
    }

    #[test]
    fn imports_between_components_become_dependencies() {
        let components = [
            component("neo4j", "components.neo4j_component"),
            component("model-management", "components.model_management"),
            component("llm", "components.llm"),
            component(
                "narrative-arc-orchestrator",
                "components.narrative_arc_orchestrator",
            ),
        ];
        let files = [
            file(
                "llm",
                "components.llm",
                "from components.llm.prompts import Message\nfrom components.model_management import Provider\nimport os\n",
            ),
            file(
                "narrative-arc-orchestrator",
                "components.narrative_arc_orchestrator",
                "from ..llm import LLMClient\nfrom components import neo4j_component\nfrom .arcs import Arc\n",
            ),
            file("neo4j", "components", "import itertools\n"),
        ];
        let graph = dependencies(&components, &files);
        assert_eq!(
            graph,
            vec![
                ("neo4j".to_owned(), vec![]),
                ("model-management".to_owned(), vec![]),
                ("llm".to_owned(), vec!["model-management".to_owned()]),
                (
                    "narrative-arc-orchestrator".to_owned(),
                    vec!["neo4j".to_owned(), "llm".to_owned()]
                ),
            ]
        );
    }

    #[test]
    fn dependencies_come_first_then_alphabetical() {
        let graph = vec![
            ("llm".to_owned(), vec!["model-management".to_owned()]),
            ("carbon".to_owned(), vec![]),
            ("model-management".to_owned(), vec![]),
            ("agent".to_owned(), vec!["llm".to_owned()]),
        ];
        assert_eq!(
            dependency_order(&graph),
            vec!["carbon", "model-management", "llm", "agent"]
        );
    }

    #[test]
    fn a_module_prefix_is_not_a_match() {
        let components = [
            component("llm", "components.llm"),
            component("llm-tools", "components.llm_tools"),
        ];
        let files = [file(
            "llm-tools",
            "components.llm_tools",
            "import components.llm_tools.x\n",
        )];
        assert_eq!(dependencies(&components, &files)[1].1, Vec::<String>::new());
    }

    #[test]
    fn a_cycle_is_broken_at_the_edge_that_closes_it() {
        // The users' rollout guide has gameplay-loop and therapeutic-systems need each other.
        let mut graph = vec![
            ("neo4j".to_owned(), vec![]),
            (
                "gameplay-loop".to_owned(),
                vec!["neo4j".to_owned(), "therapeutic-systems".to_owned()],
            ),
            (
                "therapeutic-systems".to_owned(),
                vec!["neo4j".to_owned(), "gameplay-loop".to_owned()],
            ),
        ];
        let dropped = break_cycles(&mut graph);
        assert_eq!(
            dropped,
            vec![DroppedEdge {
                from: "therapeutic-systems".into(),
                to: "gameplay-loop".into(),
                cycle: vec![
                    "gameplay-loop".into(),
                    "therapeutic-systems".into(),
                    "gameplay-loop".into()
                ],
            }]
        );
        assert_eq!(graph[2].1, vec!["neo4j".to_owned()]);
        assert!(find_cycle(&graph).is_none());
        assert!(break_cycles(&mut graph).is_empty());
    }

    #[test]
    fn longer_and_several_cycles_are_all_broken() {
        let mut graph = vec![
            ("a".to_owned(), vec!["b".to_owned()]),
            ("b".to_owned(), vec!["c".to_owned()]),
            ("c".to_owned(), vec!["a".to_owned(), "d".to_owned()]),
            ("d".to_owned(), vec!["e".to_owned()]),
            ("e".to_owned(), vec!["d".to_owned()]),
        ];
        let dropped = break_cycles(&mut graph);
        assert_eq!(dropped.len(), 2);
        assert_eq!(dropped[0].cycle, vec!["a", "b", "c", "a"]);
        assert!(find_cycle(&graph).is_none());
    }
}
