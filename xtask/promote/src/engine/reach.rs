//! Shared code a component reaches: the first-party files its import statements reach outside
//! every component (`src/shared/textutil.py`), found on the import graph. The checks of the
//! component (lint, format, types, security, coverage) take them in with its own source, so a
//! shared helper is never outside every gate; a shared package registered as a component of its
//! own is that component's code instead, and a dependency of those that import it.

use std::collections::BTreeMap;

use crate::config::{Component, Config};
use crate::imports::components::Owners;

use super::inputs::InputIndex;

/// Component name -> the shared files its code reaches, sorted; components reaching none are
/// left out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SharedCode(BTreeMap<String, Vec<String>>);

impl SharedCode {
    /// Reads the project's import graph (parses come from the parse cache by digest).
    pub fn of(config: &Config, index: &InputIndex) -> SharedCode {
        let owners = Owners::new(config, crate::imports::project(&config.project.root, index));
        SharedCode::from_owners(config, &owners)
    }

    /// Pure over the graph: each component's code less what some component owns.
    pub fn from_owners(config: &Config, owners: &Owners<'_>) -> SharedCode {
        let mut map = BTreeMap::new();
        for component in &config.components {
            let mut shared: Vec<String> = owners
                .code(component)
                .into_iter()
                .filter(|file| file.ends_with(".py") && owners.owner(file).is_none())
                .collect();
            shared.sort();
            shared.dedup();
            if !shared.is_empty() {
                map.insert(component.name.clone(), shared);
            }
        }
        SharedCode(map)
    }

    /// The shared files `component` reaches.
    pub fn of_component(&self, component: &Component) -> &[String] {
        self.0.get(&component.name).map_or(&[], Vec::as_slice)
    }

    /// Whether `file` is `component`'s: its own source or shared code it reaches.
    pub fn checked_with(&self, component: &Component, file: &str) -> bool {
        component.owns(file) || self.of_component(component).iter().any(|f| f == file)
    }

    /// The folders coverage measures `component`'s shared code in (`--cov=file.py` measures
    /// nothing, so each file's folder), sorted.
    pub fn coverage_folders(&self, component: &Component) -> Vec<String> {
        let mut folders: Vec<String> = self
            .of_component(component)
            .iter()
            .map(|file| {
                file.rsplit_once('/')
                    .map_or(".", |(folder, _)| folder)
                    .to_owned()
            })
            .collect();
        folders.sort();
        folders.dedup();
        folders
    }
}
