//! Which components a component's code imports, read from the import graph. Files belong to a
//! component by its declared source, or as the package it wraps: a thin
//! `src/components/agent_orchestration_component.py` (component `agent-orchestration`) wraps the
//! first-party top-level package `agent_orchestration` wherever it lives. A component's code is
//! what it owns plus every first-party file that reaches without entering another component's
//! files (shared helpers); each import from there into another component's files is a use. Pure.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::config::{Component, Config, SourceKind};

use super::graph::{EdgeKind, Graph};

#[cfg(test)]
mod tests;

/// The first place a component's code imports another component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Use {
    /// The component imported.
    pub component: String,
    /// The importing file, relative to the project root, and the import's line.
    pub file: String,
    pub line: usize,
}

/// Which component each file of the graph belongs to. Built once per command: the owner of every
/// file of the graph is found once, by hash lookups of its folder prefixes, so asking for a
/// component's code does not scan every file against every component.
pub struct Owners<'a> {
    config: &'a Config,
    graph: Arc<Graph>,
    /// Top-level package name -> the component wrapping it.
    wrapped: HashMap<String, &'a Component>,
    /// Declared module sources (file paths) -> component.
    modules: HashMap<&'a str, &'a Component>,
    /// Declared package sources (folders, no trailing `/`) -> component.
    packages: HashMap<&'a str, &'a Component>,
    /// Package sources no folder prefix can equal (empty, or ending in `/`): checked one by one.
    unusual: Vec<&'a Component>,
    /// The owner of each graph file, by its position in `graph.files()`.
    by_file: Vec<Option<&'a Component>>,
    /// Each component's own graph files, in graph order, by component name.
    owned: HashMap<&'a str, Vec<String>>,
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
    pub fn new(config: &'a Config, graph: impl Into<Arc<Graph>>) -> Owners<'a> {
        let graph = graph.into();
        let mut wrapped = HashMap::new();
        let mut modules = HashMap::new();
        let mut packages = HashMap::new();
        let mut unusual = Vec::new();
        for component in &config.components {
            for name in wrapped_names(component) {
                wrapped.entry(name).or_insert(component);
            }
            let source = component.source.as_str();
            // Of two components with the same source, the later one owns (as a scan taking the
            // last of the longest matches would).
            match component.source_kind {
                SourceKind::Module => {
                    modules.insert(source, component);
                }
                SourceKind::Package if source.is_empty() || source.ends_with('/') => {
                    unusual.push(component);
                }
                SourceKind::Package => {
                    packages.insert(source, component);
                }
            }
        }
        let mut owners = Owners {
            config,
            graph: graph.clone(),
            wrapped,
            modules,
            packages,
            unusual,
            by_file: Vec::new(),
            owned: HashMap::new(),
        };
        let by_file: Vec<Option<&'a Component>> =
            graph.files().iter().map(|f| owners.find_owner(f)).collect();
        for (file, owner) in graph.files().iter().zip(&by_file) {
            if let Some(owner) = owner {
                owners
                    .owned
                    .entry(owner.name.as_str())
                    .or_default()
                    .push(file.clone());
            }
        }
        owners.by_file = by_file;
        owners
    }

    /// The component `path` belongs to: the innermost declared source holding it, else the
    /// component wrapping its top-level package.
    pub fn owner(&self, path: &str) -> Option<&'a Component> {
        match self.graph.position_of(path) {
            Some(position) => self.by_file[position],
            None => self.find_owner(path),
        }
    }

    /// The innermost declared source holding `path`: the longest of a module source equal to
    /// it, a package source that is one of its folder prefixes, and an unusual source that owns
    /// it (ties go to the later component, as `max_by_key` would).
    fn declared_owner(&self, path: &str) -> Option<&'a Component> {
        let module = self.modules.get(path).copied();
        let package = path
            .match_indices('/')
            .rev()
            .find_map(|(slash, _)| self.packages.get(&path[..slash]).copied());
        module
            .into_iter()
            .chain(package)
            .chain(self.unusual.iter().copied().filter(|c| c.owns(path)))
            .max_by_key(|c| c.source.len())
    }

    fn find_owner(&self, path: &str) -> Option<&'a Component> {
        if let Some(declared) = self.declared_owner(path) {
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
        let starts: &[String] = self
            .owned
            .get(component.name.as_str())
            .map_or(&[], |files| files.as_slice());
        self.graph
            .closure_where(starts, |_, to, kind| {
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
