//! The starting `xtask.toml` for a discovered monorepo, from `templates/xtask.toml.j2`: every
//! value quoted as TOML, every guess explained in a comment. Pure.

use anyhow::{Context, Result};
use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use super::discover::Monorepo;
use super::infer::DroppedEdge;
use crate::config::SourceKind;
use crate::tools::table::TOOLS;

const TEMPLATE: &str = include_str!("../../templates/xtask.toml.j2");

/// The group of components that no file assigns to one.
pub const UNGROUPED: &str = "Ungrouped";

/// The uv version this xtask is tested with (`setup` may install with it).
const UV: (&str, &str) = ("uv", "0.13.8");

/// The tool versions this xtask is tested with (the same pins as its own xtask.toml): every
/// required tool of the tool table with its companions, then uv.
pub fn pins() -> Vec<(&'static str, &'static str)> {
    TOOLS
        .iter()
        .filter(|spec| !spec.optional)
        .flat_map(|spec| spec.tested.iter().copied())
        .chain([UV])
        .collect()
}

/// The optional tools as commented-out pins, so a new registry shows how to turn one on.
fn optional_pins() -> Vec<String> {
    TOOLS
        .iter()
        .filter(|spec| spec.optional)
        .flat_map(|spec| spec.tested.iter())
        .map(|(tool, version)| {
            format!(
                "# {tool} = {} (optional: pin it to turn it on)",
                quoted(version)
            )
        })
        .collect()
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| quoted(i))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[derive(Serialize)]
struct ComponentView {
    comments: Vec<String>,
    name: String,
    display_name: String,
    group: String,
    source: String,
    tests: Option<String>,
    depends_on: Option<String>,
    readme: Option<String>,
    maturity: Option<String>,
}

#[derive(Serialize)]
struct RegistryView {
    /// Where the groups come from, for the comment above them.
    groups_from: String,
    groups: Vec<String>,
    /// Lines about what init passed over, for the header.
    skipped: Vec<String>,
    /// The project pins its environment with uv but has no `.venv` yet.
    uv_without_venv: bool,
    python: Option<String>,
    /// `true` or `false`, as TOML writes it.
    install: &'static str,
    pins: Vec<String>,
    components: Vec<ComponentView>,
}

/// The groups the registry lists: only those the repository names — the options of its own
/// issue form, then any a MATURITY.md or README states — and `Ungrouped` when a component
/// has none of them. Never a list the repo did not write.
pub fn groups(repo: &Monorepo) -> Vec<String> {
    let mut groups: Vec<String> = repo
        .form_groups
        .as_ref()
        .map(|(_, groups)| groups.clone())
        .unwrap_or_default();
    for component in &repo.components {
        if let Some(group) = &component.group
            && !groups.contains(group)
        {
            groups.push(group.clone());
        }
    }
    if repo.components.iter().any(|c| c.group.is_none()) {
        groups.push(UNGROUPED.to_owned());
    }
    groups
}

/// The text of the registry. `dependencies` come from `infer::dependencies` after
/// `infer::break_cycles`, whose `dropped` edges are explained beside their component.
pub fn render(
    repo: &Monorepo,
    dependencies: &[(String, Vec<String>)],
    dropped: &[DroppedEdge],
) -> Result<String> {
    let components = repo
        .components
        .iter()
        .map(|c| {
            let mut comments = Vec::new();
            comments.push(match (&c.maturity_found, c.stage) {
                (Some(path), Some(stage)) => format!("Stage: {stage} (from {path})"),
                (Some(path), None) => {
                    format!("Stage: none stated in {path}, so Development until it says")
                }
                (None, _) => "Stage: no MATURITY.md, so Development until one says".to_owned(),
            });
            if c.group.is_none() {
                comments.push(format!(
                    "No file names its group: pick one of `groups` instead of \"{UNGROUPED}\"."
                ));
            }
            if let Some(wrapper) = &c.wrapper {
                comments.push(format!(
                    "Its wrapper module {wrapper} belongs to it; the checks run on the package, where the code is."
                ));
            }
            if let Some(wraps) = &c.wraps {
                comments.push(format!(
                    "It wraps {wraps}, outside {}: the tests named after that package are listed here.",
                    repo.components_dir
                ));
            }
            if c.moved && let Some(path) = &c.maturity_found {
                comments.push(format!(
                    "{path} says its content has moved and states no stage: the display name comes from its title."
                ));
            }
            if c.tests.is_empty() {
                comments.push(
                    "No tests found named after it: list its tests here, or the tests gate fails."
                        .to_owned(),
                );
            }
            for edge in dropped.iter().filter(|e| e.from == c.name) {
                comments.push(format!(
                    "It imports {}, but that closes a cycle ({}), which the registry refuses: decide which way the dependency really goes.",
                    edge.to,
                    edge.cycle.join(" -> ")
                ));
            }
            if c.kind == SourceKind::Module && c.maturity_found.is_none() {
                let home = c
                    .maturity
                    .as_deref()
                    .and_then(|p| p.rsplit_once('/').map(|(dir, _)| dir.to_owned()))
                    .unwrap_or_else(|| format!("docs/components/{}", c.name));
                comments.push(format!(
                    "This module component keeps its README and MATURITY.md in {home}/."
                ));
            }
            let depends_on = dependencies
                .iter()
                .find(|(name, _)| *name == c.name)
                .map(|(_, deps)| deps.clone())
                .unwrap_or_default();
            ComponentView {
                comments,
                name: c.name.clone(),
                display_name: quoted(&c.display_name),
                group: quoted(c.group.as_deref().unwrap_or(UNGROUPED)),
                source: quoted(&c.source),
                tests: (!c.tests.is_empty()).then(|| list(&c.tests)),
                depends_on: (!depends_on.is_empty()).then(|| list(&depends_on)),
                readme: c.readme.as_deref().map(quoted),
                maturity: c.maturity.as_deref().map(quoted),
            }
        })
        .collect();
    let groups_from = match &repo.form_groups {
        Some((path, _)) => {
            format!("the options of {path}, then the groups the components' files state")
        }
        None if repo.components.iter().any(|c| c.group.is_some()) => {
            "the groups the components' MATURITY.md or README files state".to_owned()
        }
        None => "nothing: no file of the repo names a functional group; list yours".to_owned(),
    };
    let view = RegistryView {
        groups_from,
        groups: groups(repo).iter().map(|g| quoted(g)).collect(),
        skipped: repo
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.path, s.reason))
            .collect(),
        uv_without_venv: repo.uv_lock && repo.python.is_none(),
        python: repo.python.as_deref().map(quoted),
        install: if repo.has_pyproject { "true" } else { "false" },
        pins: pins()
            .iter()
            .map(|(tool, version)| format!("{tool} = {}", quoted(version)))
            .chain(optional_pins())
            .collect(),
        components,
    };
    let mut env = crate::render::block_environment();
    env.add_template("xtask.toml.j2", TEMPLATE)
        .context("the xtask.toml template does not compile")?;
    env.get_template("xtask.toml.j2")?
        .render(Value::from(Serde(&view)))
        .context("failed to render xtask.toml")
}
