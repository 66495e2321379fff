//! Adoption: `cargo xtask init` discovers the components of an existing monorepo
//! (`discover`), infers their dependencies from the Python imports between them (`imports`,
//! `infer`) and writes a starting registry (`registry`).

pub mod discover;
pub mod imports;
pub mod infer;
pub mod registry;
pub mod scaffold;

use std::path::Path;

use anyhow::Result;

/// What `init` found and the registry text it would write.
#[derive(Debug)]
pub struct Adoption {
    pub repo: discover::Monorepo,
    pub dependencies: Vec<(String, Vec<String>)>,
    pub dropped: Vec<infer::DroppedEdge>,
    pub text: String,
}

/// Scans `root` and renders its registry; writes nothing.
pub fn adopt(root: &Path) -> Result<Adoption> {
    let mut repo = discover::scan(root)?;
    let modules: Vec<infer::ModuleOf> = repo
        .components
        .iter()
        .flat_map(discover::Found::modules_of)
        .collect();
    // A component with a wrapper module appears once per module; every entry of a name reads
    // the same files, so the first is the component's.
    let mut dependencies = infer::dependencies(&modules, &repo.sources);
    let mut seen = std::collections::BTreeSet::new();
    dependencies.retain(|(name, _)| seen.insert(name.clone()));
    let dropped = infer::break_cycles(&mut dependencies);
    // The registry's order is the order of every report: dependencies first, as a reader
    // of the rollout expects.
    let order = infer::dependency_order(&dependencies);
    repo.components
        .sort_by_key(|c| order.iter().position(|n| *n == c.name));
    dependencies.sort_by_key(|(name, _)| order.iter().position(|n| n == name));
    for (_, deps) in &mut dependencies {
        deps.sort_by_key(|d| order.iter().position(|n| n == d));
    }
    let text = registry::render(&repo, &dependencies, &dropped)?;
    Ok(Adoption {
        repo,
        dependencies,
        dropped,
        text,
    })
}

#[cfg(test)]
mod tests;
