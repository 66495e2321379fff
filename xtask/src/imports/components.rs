//! Which components a component's code imports, read from the import graph. Files belong to a
//! component by its declared source, or as the package it wraps: a thin
//! `src/components/agent_orchestration_component.py` (component `agent-orchestration`) wraps the
//! first-party top-level package `agent_orchestration` wherever it lives. A component's code is
//! what it owns plus every first-party file that reaches without entering another component's
//! files (shared helpers); each import from there into another component's files is a use. Pure.

use std::collections::{BTreeMap, HashMap};

use crate::config::{Component, Config, SourceKind};

use super::graph::{EdgeKind, Graph};

#[cfg(test)]
mod tests;

/// The first place a component's code imports another component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The component imported.
    pub component: String,
    /// The importing file, relative to the project root, and the import's line.
    pub file: String,
    pub line: usize,
}

/// Which component each file of the graph belongs to.
pub struct Owners<'a> {
    config: &'a Config,
    graph: &'a Graph,
    /// Top-level package name -> the component wrapping it.
    wrapped: HashMap<String, &'a Component>,
}

/// The package name a component may wrap: its name with `_`, and a module component's stem
/// without `_component`.
fn wrapped_names(component: &Component) -> Vec<String> {
    let mut names = vec![component.name.replace('-', "_")];
    if component.source_kind == SourceKind::Module {
        let stem = component
            .source
            .rsplit('/')
            .next()
            .unwrap_or(&component.source)
            .trim_end_matches(".py");
        names.push(stem.trim_end_matches("_component").to_owned());
    }
    names.dedup();
    names
}

impl<'a> Owners<'a> {
    pub fn new(config: &'a Config, graph: &'a Graph) -> Owners<'a> {
        let mut wrapped = HashMap::new();
        for component in &config.components {
            for name in wrapped_names(component) {
                wrapped.entry(name).or_insert(component);
            }
        }
        Owners {
            config,
            graph,
            wrapped,
        }
    }

    /// The component `path` belongs to: the innermost declared source holding it, else the
    /// component wrapping its top-level package.
    pub fn owner(&self, path: &str) -> Option<&'a Component> {
        if let Some(declared) = self
            .config
            .components
            .iter()
            .filter(|c| c.owns(path))
            .max_by_key(|c| c.source.len())
        {
            return Some(declared);
        }
        self.graph
            .source_modules_of(path)
            .iter()
            .find_map(|module| {
                let top = module.split('.').next().unwrap_or(module);
                // A one-segment module is a top-level file, not a package anyone wraps.
                (module.contains('.') || path.ends_with("/__init__.py"))
                    .then(|| self.wrapped.get(top).copied())
                    .flatten()
            })
    }

    /// The files of `component`'s code: what it owns and what its imports reach outside other
    /// components' files. Only import statements count here, and never the `__init__.py` of a
    /// package enclosing components' sources (`src/components/__init__.py`): that a parent
    /// package runs on import, and may import every component, is not this component's choice.
    pub fn code(&self, component: &Component) -> Vec<String> {
        let starts: Vec<String> = self
            .graph
            .files()
            .iter()
            .filter(|f| self.owner(f).is_some_and(|o| o.name == component.name))
            .cloned()
            .collect();
        self.graph
            .closure_where(&starts, |_, to, kind| {
                kind == EdgeKind::Import
                    && !self.encloses_components(to)
                    && self.owner(to).is_none_or(|o| o.name == component.name)
            })
            .into_iter()
            .collect()
    }

    /// Whether `file` is the `__init__.py` of a folder holding some component's source.
    fn encloses_components(&self, file: &str) -> bool {
        let Some(folder) = file.strip_suffix("__init__.py") else {
            return false;
        };
        self.config
            .components
            .iter()
            .any(|c| c.source.starts_with(folder) && c.source.len() > folder.len() && !c.owns(file))
    }

    /// Every other component `component`'s code imports, in registry order, each with the
    /// first importing file and line (files in path order).
    pub fn uses(&self, component: &Component) -> Vec<Use> {
        let mut found: BTreeMap<&str, Use> = BTreeMap::new();
        for file in self.code(component) {
            for (target, line) in self.graph.imports_of(&file) {
                if let Some(other) = self.owner(target)
                    && other.name != component.name
                {
                    found.entry(other.name.as_str()).or_insert_with(|| Use {
                        component: other.name.clone(),
                        file: file.clone(),
                        line,
                    });
                }
            }
        }
        self.config
            .components
            .iter()
            .filter_map(|c| found.remove(c.name.as_str()))
            .collect()
    }

    /// `file:line` of each dynamic import in `component`'s code whose module is not a literal:
    /// what it loads is unknown until it runs, so the check cannot see it.
    pub fn unresolved(&self, component: &Component) -> Vec<String> {
        self.code(component)
            .iter()
            .flat_map(|file| {
                self.graph
                    .dynamic_of(file)
                    .iter()
                    .map(move |line| format!("{file}:{line}"))
            })
            .collect()
    }
}
