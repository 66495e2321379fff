//! Which components a change affects, for CI's matrix: each changed file is mapped to the
//! components whose results read it (their sources, tests and test helpers, README and
//! MATURITY.md, the sources of what they depend on), a file every step reads (xtask.toml, the
//! project's tool configs, the xtask itself) affects them all, and every component that
//! depends on an affected one, transitively, is affected too.
//!
//! What a component reads comes from two sources, joined: the inputs its steps hash (declared
//! paths and the registry's dependencies) and the first-party import graph (`crate::imports`)
//! from its sources and tests, so a package outside every component folder, a test helper
//! package and a conftest's imports count too. A deleted (or new) file matters to a component
//! whose closure imports it by name.
//!
//! `map` is pure; `scope` walks the working tree to learn what each component reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::config::Config;
use crate::engine::inputs::{self, InputIndex};

/// What changes which component, with every path relative to the repository's top folder.
#[derive(Debug, Clone, Default)]
pub struct ChangeScope {
    /// Files whose change affects every component.
    pub everything: BTreeSet<String>,
    /// Folders (ending in `/`) whose every file affects every component.
    pub everything_under: Vec<String>,
    /// The project root (ending in `/`, or empty); a `conftest.py` anywhere under it may
    /// change how any test imports, even one deleted in this change.
    pub project: String,
    pub components: Vec<ComponentScope>,
}

#[derive(Debug, Clone, Default)]
pub struct ComponentScope {
    pub name: String,
    /// Files the component's steps read today, and every file their import closure reaches.
    pub files: BTreeSet<String>,
    /// Paths the closure's imports would read if they existed: deleting a module that is
    /// still imported, or adding one that an import now finds, changes what the tests run.
    pub wanted: BTreeSet<String>,
    /// Paths it owns by declaration (its source folder with a trailing `/`, its module, test
    /// entries, README, MATURITY.md), which also catch files this change deleted.
    pub owned: Vec<String>,
}

impl ComponentScope {
    fn touches(&self, path: &str) -> bool {
        self.files.contains(path)
            || self.wanted.contains(path)
            || self.owned.iter().any(|owned| {
                path == owned.trim_end_matches('/')
                    || (owned.ends_with('/') && path.starts_with(owned.as_str()))
            })
    }
}

/// The answer: affected components in registry order, and why each is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Affected {
    pub components: Vec<String>,
    /// Component -> the first reason found (a changed file, or the component it depends on).
    pub reasons: BTreeMap<String, String>,
}

/// The `strategy.matrix` value for the affected components: `{"component": [...]}`.
#[derive(Debug, Serialize)]
pub struct Matrix<'a> {
    pub component: &'a [String],
}

impl Affected {
    pub fn matrix_json(&self) -> String {
        serde_json::to_string(&Matrix {
            component: &self.components,
        })
        .expect("a list of names serialises")
    }

    /// Every component, for when the change cannot be known (no base commit).
    pub fn all(config: &Config, reason: &str) -> Affected {
        Affected {
            components: config.components.iter().map(|c| c.name.clone()).collect(),
            reasons: config
                .components
                .iter()
                .map(|c| (c.name.clone(), reason.to_owned()))
                .collect(),
        }
    }
}

fn affects_everything(scope: &ChangeScope, path: &str) -> bool {
    scope.everything.contains(path)
        || scope
            .everything_under
            .iter()
            .any(|folder| path.starts_with(folder.as_str()))
        || (path.starts_with(scope.project.as_str())
            && path.rsplit('/').next() == Some("conftest.py"))
}

/// Maps `changed` (relative to the repository top) to affected components. Pure.
pub fn map(config: &Config, scope: &ChangeScope, changed: &[String]) -> Affected {
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    for path in changed {
        if affects_everything(scope, path) {
            for component in &config.components {
                reasons.entry(component.name.clone()).or_insert_with(|| {
                    format!("{path} changed (every component's checks depend on it)")
                });
            }
            continue;
        }
        for component in scope.components.iter().filter(|c| c.touches(path)) {
            reasons
                .entry(component.name.clone())
                .or_insert_with(|| format!("{path} changed"));
        }
    }
    let direct: Vec<String> = reasons.keys().cloned().collect();
    for name in direct {
        for dependent in config.graph.transitive_dependents(&name) {
            reasons
                .entry(dependent)
                .or_insert_with(|| format!("depends on {name}"));
        }
    }
    Affected {
        components: config
            .components
            .iter()
            .filter(|c| reasons.contains_key(&c.name))
            .map(|c| c.name.clone())
            .collect(),
        reasons,
    }
}

fn prefixed(prefix: &str, path: &str) -> String {
    format!("{prefix}{path}")
}

/// `path` relative to `top`, as a prefix that ends in `/` (empty for `top` itself).
fn folder_prefix(top: &Path, path: &Path) -> String {
    match path.strip_prefix(top) {
        Ok(relative) if relative.as_os_str().is_empty() => String::new(),
        Ok(relative) => format!("{}/", crate::fsutil::unix(relative)),
        Err(_) => format!("{}/", crate::fsutil::unix(path)),
    }
}

/// Learns what every component reads, walking the working tree (which CI checks out at the
/// head commit). `top` is the repository's top folder.
pub fn scope(config: &Config, top: &Path) -> ChangeScope {
    let top = std::fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf());
    let root = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let project = folder_prefix(&top, &root(&config.project.root));
    let workspace = folder_prefix(&top, &root(&config.workspace_root));
    let config_file = config
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| crate::config::CONFIG_FILE_NAME.to_owned());

    let mut everything: BTreeSet<String> = [
        config_file.as_str(),
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
    ]
    .iter()
    .map(|f| prefixed(&workspace, f))
    .collect();
    // Every config file a tool may read, present or not: adding or deleting one matters too.
    everything.extend(inputs::config_files().iter().map(|f| prefixed(&project, f)));

    // The stat memo a run keeps: unchanged files are statted, not read, to find their parses.
    let index = InputIndex::new(&config.project.root)
        .with_memo(Some(
            config
                .cache_dir()
                .join(crate::engine::digest_memo::FILE_NAME),
        ))
        .with_parse_cache(Some(
            config.cache_dir().join(crate::imports::graph::PARSE_CACHE),
        ));
    let graph = crate::imports::Graph::build_with(
        &config.project.root,
        crate::imports::python_files(&config.project.root),
        index.parses(),
        &|file| index.digest(file),
    );
    let components = config
        .components
        .iter()
        .map(|component| {
            let starts: Vec<String> = inputs::sources(&index, component)
                .into_iter()
                .chain(inputs::tests(&index, component))
                .collect();
            let closure = graph.closure(&starts);
            let wanted = graph
                .missing_of(&closure)
                .iter()
                .map(|file| prefixed(&project, file))
                .collect();
            let mut files = BTreeSet::new();
            for file in closure
                .into_iter()
                .chain(inputs::dependency_files(&index, config, component))
            {
                files.insert(prefixed(&project, &file));
            }
            let mut owned = vec![match component.source_kind {
                crate::config::SourceKind::Package => {
                    prefixed(&project, &format!("{}/", component.source))
                }
                crate::config::SourceKind::Module => prefixed(&project, &component.source),
            }];
            owned.extend(component.tests.iter().map(|t| prefixed(&project, t)));
            owned.push(prefixed(&project, &component.readme));
            owned.push(prefixed(&project, &component.maturity));
            ComponentScope {
                name: component.name.clone(),
                files,
                wanted,
                owned,
            }
        })
        .collect();
    ChangeScope {
        everything,
        everything_under: vec![prefixed(&workspace, "xtask/")],
        project,
        components,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry_scope() -> (Config, ChangeScope) {
        let config = crate::testutil::registry();
        let top = config.workspace_root.clone();
        let scope = scope(&config, &top);
        (config, scope)
    }

    fn affected(changed: &[&str]) -> Vec<String> {
        let (config, scope) = registry_scope();
        let changed: Vec<String> = changed.iter().map(|s| (*s).to_owned()).collect();
        map(&config, &scope, &changed).components
    }

    #[test]
    fn a_source_file_affects_its_component_and_every_dependent() {
        assert_eq!(
            affected(&["examples/tta/src/components/narrative_arc_orchestrator/arcs.py"]),
            [
                "narrative-arc-orchestrator",
                "narrative-coherence",
                "therapeutic-systems",
                "gameplay-loop",
                "character-arc-manager",
                "player-experience"
            ]
        );
    }

    #[test]
    fn a_module_the_shared_conftest_imports_affects_every_component_tested() {
        // tests/conftest.py imports components.llm, so every test module runs its code:
        // carbon's tests fail at collection when llm is broken (issue 9).
        let (config, scope) = registry_scope();
        let result = map(
            &config,
            &scope,
            &["examples/tta/src/components/llm/client.py".to_owned()],
        );
        assert_eq!(result.components.len(), 12, "{:?}", result.components);
        assert_eq!(
            result.reasons["carbon"],
            "examples/tta/src/components/llm/client.py changed"
        );
    }

    #[test]
    fn a_leaf_component_affects_only_itself() {
        assert_eq!(
            affected(&["examples/tta/src/components/carbon_component.py"]),
            ["carbon"]
        );
        assert_eq!(
            affected(&["examples/tta/tests/test_player_experience.py"]),
            ["player-experience"]
        );
        assert_eq!(
            affected(&["examples/tta/docs/components/docker/MATURITY.md"]),
            ["docker"]
        );
    }

    #[test]
    fn a_deleted_file_still_maps_through_what_the_component_owns() {
        assert_eq!(
            affected(&["examples/tta/src/components/model_management/gone.py"]).first(),
            Some(&"model-management".to_owned())
        );
    }

    #[test]
    fn shared_configs_the_registry_and_the_xtask_affect_everything() {
        for path in [
            "examples/tta/pyproject.toml",
            "examples/tta/ruff.toml",
            "xtask.toml",
            "Cargo.lock",
            "xtask/promote/src/gates.rs",
            "examples/tta/tests/conftest.py",
        ] {
            assert_eq!(affected(&[path]).len(), 12, "{path}");
        }
    }

    #[test]
    fn files_no_step_reads_affect_nothing() {
        assert!(
            affected(&[
                "README.md",
                ".github/workflows/quality.yml",
                "examples/tta/README.md"
            ])
            .is_empty()
        );
        assert!(affected(&[]).is_empty());
    }

    #[test]
    fn the_matrix_is_json_with_one_key_and_reasons_name_the_cause() {
        let (config, scope) = registry_scope();
        let result = map(
            &config,
            &scope,
            &["examples/tta/src/components/narrative_arc_orchestrator/causal_graph.py".to_owned()],
        );
        assert_eq!(
            result.reasons["narrative-arc-orchestrator"],
            "examples/tta/src/components/narrative_arc_orchestrator/causal_graph.py changed"
        );
        // Dependents read the changed file too, so the file is their first reason.
        assert!(
            result.reasons["gameplay-loop"].ends_with("changed"),
            "{:?}",
            result.reasons
        );
        let matrix: serde_json::Value = serde_json::from_str(&result.matrix_json()).unwrap();
        assert_eq!(matrix["component"][0], "narrative-arc-orchestrator");
        assert_eq!(Affected::default().matrix_json(), r#"{"component":[]}"#);
    }
}
