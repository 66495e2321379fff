//! The dependency graph between components: checked for cycles, walked for transitive
//! dependencies (cache keys), dependents (affected components) and a topological order.

use std::collections::BTreeSet;

use super::Component;

#[derive(Debug, Clone)]
pub struct DependencyGraph {
    names: Vec<String>,
    /// `edges[i]` are the indices component `i` depends on, in file order.
    edges: Vec<Vec<usize>>,
}

impl DependencyGraph {
    /// The graph of `components`. The loader refuses a cyclic one (`find_cycle`), naming the
    /// `depends_on` entry that closes the cycle with its place in the file.
    pub(super) fn new(components: &[Component]) -> Self {
        let names: Vec<String> = components.iter().map(|c| c.name.clone()).collect();
        let index = |name: &str| names.iter().position(|n| n == name);
        let edges = components
            .iter()
            .map(|c| c.depends_on.iter().filter_map(|d| index(d)).collect())
            .collect();
        DependencyGraph { names, edges }
    }

    /// The first cycle found by a depth-first walk, as names with the start repeated at the end.
    pub(super) fn find_cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let mut marks = vec![Mark::New; self.names.len()];
        let mut path: Vec<usize> = Vec::new();

        fn visit(
            node: usize,
            graph: &DependencyGraph,
            marks: &mut [Mark],
            path: &mut Vec<usize>,
        ) -> Option<Vec<String>> {
            marks[node] = Mark::OnPath;
            path.push(node);
            for &next in &graph.edges[node] {
                match marks[next] {
                    Mark::OnPath => {
                        let start = path.iter().position(|&n| n == next).unwrap_or(0);
                        let mut cycle: Vec<String> = path[start..]
                            .iter()
                            .map(|&n| graph.names[n].clone())
                            .collect();
                        cycle.push(graph.names[next].clone());
                        return Some(cycle);
                    }
                    Mark::New => {
                        if let Some(cycle) = visit(next, graph, marks, path) {
                            return Some(cycle);
                        }
                    }
                    Mark::Done => {}
                }
            }
            path.pop();
            marks[node] = Mark::Done;
            None
        }

        (0..self.names.len()).find_map(|start| {
            if marks[start] == Mark::New {
                visit(start, self, &mut marks, &mut path)
            } else {
                None
            }
        })
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Every component `name` depends on, directly or not, sorted by name.
    pub fn transitive_dependencies(&self, name: &str) -> Vec<String> {
        let Some(start) = self.index(name) else {
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut stack = self.edges[start].clone();
        while let Some(node) = stack.pop() {
            if seen.insert(self.names[node].clone()) {
                stack.extend(&self.edges[node]);
            }
        }
        seen.into_iter().collect()
    }

    /// Every component that depends on `name`, directly or not, sorted by name.
    pub fn transitive_dependents(&self, name: &str) -> Vec<String> {
        let Some(target) = self.index(name) else {
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut stack = vec![target];
        while let Some(node) = stack.pop() {
            for (other, deps) in self.edges.iter().enumerate() {
                if deps.contains(&node) && seen.insert(self.names[other].clone()) {
                    stack.push(other);
                }
            }
        }
        seen.into_iter().collect()
    }

    /// Names ordered so that every component comes after all of its dependencies; ties keep
    /// file order, so the result is stable.
    pub fn topological_order(&self) -> Vec<String> {
        let mut placed = vec![false; self.names.len()];
        let mut order = Vec::with_capacity(self.names.len());
        while order.len() < self.names.len() {
            let before = order.len();
            for node in 0..self.names.len() {
                if !placed[node] && self.edges[node].iter().all(|&d| placed[d]) {
                    placed[node] = true;
                    order.push(self.names[node].clone());
                }
            }
            // The graph is acyclic by construction; this guard only stops an infinite loop.
            if order.len() == before {
                break;
            }
        }
        order
    }
}
