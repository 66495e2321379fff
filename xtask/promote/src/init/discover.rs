//! Finding the components of an existing monorepo laid out like our users': packages
//! (namespace packages too), `*_component.py` modules and modules defining a `Component`
//! subclass under `src/components/` (or `components/`), one component per name (a package and
//! its same-named wrapper module are one), tests named after them under `tests/` (folders as
//! one entry), README and MATURITY.md files beside a package, in a folder of a module's name
//! or under `docs/components/<name>/`, and the groups the repo's own issue form offers. Reads
//! files; writes nothing.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use regex::Regex;

use super::infer::{ModuleOf, SourceFile};
use crate::config::SourceKind;
use crate::errors::usage;
use crate::fsutil::unix;
use crate::maturity;
use crate::vocab::Stage;

/// Where component code may live, relative to the monorepo root, in order of preference.
const COMPONENT_DIRS: &[&str] = &["src/components", "components"];

#[derive(Debug, Clone)]
pub struct Monorepo {
    /// The folder holding the components, e.g. `src/components`.
    pub components_dir: String,
    pub components: Vec<Found>,
    /// The project's own interpreter, when it has a `.venv`.
    pub python: Option<String>,
    pub has_pyproject: bool,
    /// Whether the project pins its environment with uv (`uv sync` creates `.venv`).
    pub uv_lock: bool,
    /// Python files of every component, for inferring dependencies.
    pub sources: Vec<SourceFile>,
    /// Folders and modules that looked like components but are not, with the reason.
    pub skipped: Vec<Skipped>,
    /// The functional groups the repository's own issue form offers, with the form's path.
    pub form_groups: Option<(String, Vec<String>)>,
}

#[derive(Debug, Clone)]
pub struct Found {
    pub name: String,
    pub display_name: String,
    pub source: String,
    pub kind: SourceKind,
    /// The dotted module the code is imported as.
    pub module: String,
    /// Dotted modules of a wrapper module that belongs to the component as well.
    pub extra_modules: Vec<String>,
    /// The `*_component.py` module that wraps the package, when both share the name.
    pub wrapper: Option<String>,
    /// A first-party package outside the components folder that the module wraps.
    pub wraps: Option<String>,
    pub tests: Vec<String>,
    /// Set only when the README is not where the registry looks by default.
    pub readme: Option<String>,
    /// Where the MATURITY.md was found, if anywhere.
    pub maturity_found: Option<String>,
    /// Set only when the MATURITY.md is not where the registry looks by default.
    pub maturity: Option<String>,
    /// The MATURITY.md found only says its content moved elsewhere.
    pub moved: bool,
    pub stage: Option<Stage>,
    pub group: Option<String>,
}

impl Found {
    /// Every dotted module that is this component's code: the package and its wrapper.
    pub fn modules_of(&self) -> Vec<ModuleOf> {
        std::iter::once(self.module.clone())
            .chain(self.extra_modules.iter().cloned())
            .map(|module| ModuleOf {
                name: self.name.clone(),
                module,
            })
            .collect()
    }
}

fn group_line() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?im)^[\s>*_\-]*(?:functional\s+)?group\s*(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*([^\r\n*_]+?)\s*$")
            .expect("valid regex")
    })
}

/// The functional group a MATURITY.md or README names (`**Functional Group**: AI/Agent Systems`).
pub fn group_of(text: &str) -> Option<String> {
    group_line()
        .captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim().to_owned())
        .filter(|g| !g.is_empty())
}

/// `narrative_arc_orchestrator` -> `narrative-arc-orchestrator`, when that is a valid
/// registry name.
pub fn component_name(stem: &str) -> Option<String> {
    let name = stem.to_ascii_lowercase().replace('_', "-");
    let name = name.trim_matches('-').to_owned();
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.contains("--");
    valid.then_some(name)
}

/// `model-management` -> `Model Management`, when no file names the component better.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().collect::<String>() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first `# Title` of a Markdown text, without a ` — suffix`.
fn heading(text: &str) -> Option<String> {
    let line = text.lines().find_map(|l| l.strip_prefix("# "))?.trim();
    let name = ["—", "–", " - ", ":"]
        .iter()
        .find_map(|sep| line.split_once(sep).map(|(n, _)| n))
        .unwrap_or(line)
        .trim();
    (!name.is_empty()).then(|| name.to_owned())
}

fn read(path: &Path) -> Result<Option<String>> {
    crate::input_file::read_text(path, "the file", crate::input_file::DOCUMENT_MAX)
}

/// Relative paths (with `/`) of the files under `dir`, sorted; `.gitignore` is honoured even
/// outside git, and tool output folders are skipped.
fn files_under(root: &Path, dir: &str) -> Vec<String> {
    let start = root.join(dir);
    if !start.is_dir() {
        return Vec::new();
    }
    let mut files: Vec<String> = ignore::WalkBuilder::new(&start)
        .require_git(false)
        .hidden(true)
        .filter_entry(|e| {
            !matches!(
                e.file_name().to_str(),
                Some("__pycache__" | ".pytest_cache" | ".ruff_cache" | "node_modules")
            )
        })
        .build()
        .flatten()
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .filter_map(|e| e.path().strip_prefix(root).ok().map(unix))
        .collect();
    files.sort();
    files
}

/// The dotted package of the components folder: `src/components` with an `__init__.py` in
/// `components` but not in `src` is the package `components`.
fn package_of(root: &Path, dir: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = root.join(dir);
    while let Some(name) = current.file_name().and_then(|n| n.to_str()) {
        parts.insert(0, name.to_owned());
        // Walk up while the parent is a package too, but never above the monorepo.
        let parent = match current.parent() {
            Some(parent) if parent.starts_with(root) && parent != root => parent.to_path_buf(),
            _ => break,
        };
        if !parent.join("__init__.py").is_file() {
            break;
        }
        current = parent;
    }
    parts.join(".")
}

/// Stems of modules that start an application rather than being a component of it: `init`
/// lists them as skipped instead of guessing (`app_component.py` launching the whole stack).
const ENTRY_POINTS: &[&str] = &[
    "app", "main", "cli", "server", "wsgi", "asgi", "manage", "settings", "config",
];

/// A class deriving from a base named `Component`: a component module whatever its file name
/// (`character_arc_manager.py` defining `CharacterArcManagerComponent(Component)`).
fn component_class() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?m)^class\s+\w+\s*\([^)]*\bComponent\b[^)]*\)\s*:").expect("valid regex")
    })
}

/// Something in the components folder that `init` did not make a component, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// A package or module of the components folder that can be a component.
#[derive(Debug, Clone)]
struct Candidate {
    name: String,
    /// Relative to the monorepo root.
    path: String,
    kind: SourceKind,
    /// The file or folder name without `.py`.
    stem: String,
}

impl Candidate {
    /// The stem without `_component`.
    fn base(&self) -> &str {
        self.stem.strip_suffix("_component").unwrap_or(&self.stem)
    }
}

/// One component: the package that holds its code and the module that wraps it, when a
/// package and a module share its name (`gameplay_loop/` and `gameplay_loop_component.py`).
#[derive(Debug, Default)]
struct Merged {
    package: Option<Candidate>,
    module: Option<Candidate>,
}

/// Whether a folder holds Python code directly (a package, or a namespace package without
/// `__init__.py`), rather than only documents.
fn holds_python(dir: &Path) -> bool {
    dir.join("__init__.py").is_file()
        || std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                e.file_type().is_ok_and(|t| t.is_file())
                    && e.file_name().to_str().is_some_and(|n| n.ends_with(".py"))
            })
        })
}

/// The component a MATURITY.md or README title names (`# Gameplay Loop Maturity Status`,
/// `# Carbon Component — Maturity`): the heading without the words that describe the document.
fn title_of(text: &str) -> Option<String> {
    let heading = heading(text)?;
    let mut words: Vec<&str> = heading.split_whitespace().collect();
    while let Some(last) = words.last()
        && ["maturity", "status", "component", "readme"]
            .contains(&last.to_ascii_lowercase().as_str())
    {
        words.pop();
    }
    (!words.is_empty()).then(|| words.join(" "))
}

/// A MATURITY.md that only says its content moved elsewhere states no stage of its own.
fn is_moved_stub(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("has moved") || lower.contains("new location")
}

/// The candidates of the components folder, and what was passed over with a reason.
fn candidates(root: &Path, components_dir: &str) -> Result<(Vec<Candidate>, Vec<Skipped>)> {
    let dir = root.join(components_dir);
    let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .with_context(|| format!("failed to read {}", dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(|n| (n.to_owned(), e.path())))
        .collect();
    entries.sort();
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    for (file_name, path) in entries {
        let rel = format!("{components_dir}/{file_name}");
        let (kind, stem) = if path.is_dir() {
            // A folder with only a README or MATURITY.md is the documents home of a module.
            if file_name.starts_with(['.', '_']) || !holds_python(&path) {
                continue;
            }
            (SourceKind::Package, file_name.clone())
        } else if let Some(stem) = file_name.strip_suffix(".py") {
            if stem.starts_with('_')
                || stem.starts_with("test_")
                || stem.ends_with("_test")
                || stem == "conftest"
            {
                continue;
            }
            let wrapper = stem.ends_with("_component")
                || read(&path)?.is_some_and(|text| component_class().is_match(&text));
            if !wrapper {
                continue;
            }
            (SourceKind::Module, stem.to_owned())
        } else {
            continue;
        };
        let mut candidate = Candidate {
            name: String::new(),
            path: rel.clone(),
            kind,
            stem,
        };
        let base = candidate.base().to_owned();
        if ENTRY_POINTS.contains(&base.as_str()) {
            skipped.push(Skipped {
                path: rel,
                reason: format!(
                    "`{base}` starts an application rather than being a component of it"
                ),
            });
            continue;
        }
        let Some(mut name) = component_name(&base) else {
            skipped.push(Skipped {
                path: rel,
                reason: format!(
                    "`{base}` does not make a registry name (lowercase letters, digits, hyphens)"
                ),
            });
            continue;
        };
        // A package whose MATURITY.md names a shorter component is that component
        // (`therapeutic_systems_enhanced/` titled "Therapeutic Systems Maturity Status").
        if kind == SourceKind::Package
            && let Some(title) = read(&path.join("MATURITY.md"))?
                .as_deref()
                .and_then(title_of)
            && let Some(titled) = component_name(&title.replace(' ', "_"))
            && name.starts_with(&format!("{titled}-"))
        {
            name = titled;
        }
        candidate.name = name;
        found.push(candidate);
    }
    Ok((found, skipped))
}

/// A `Component` module named after a package with a suffix (`narrative_coherence_engine.py`
/// beside `narrative_coherence/`) wraps that package: it takes the package's name, so `merge`
/// makes them one component, unless the package already has a wrapper of its own name.
fn adopt_prefixed_modules(candidates: &mut [Candidate]) {
    let packages: Vec<(String, String)> = candidates
        .iter()
        .filter(|c| c.kind == SourceKind::Package)
        .map(|c| (c.stem.clone(), c.name.clone()))
        .collect();
    let taken: Vec<String> = candidates
        .iter()
        .filter(|c| c.kind == SourceKind::Module)
        .map(|c| c.name.clone())
        .collect();
    for candidate in candidates
        .iter_mut()
        .filter(|c| c.kind == SourceKind::Module && !c.stem.ends_with("_component"))
    {
        if packages.iter().any(|(_, name)| *name == candidate.name) {
            continue;
        }
        if let Some((_, name)) = packages
            .iter()
            .filter(|(stem, _)| candidate.stem.starts_with(&format!("{stem}_")))
            .max_by_key(|(stem, _)| stem.len())
            && !taken.contains(name)
        {
            candidate.name = name.clone();
        }
    }
}

/// One entry per name: a package and a module of the same name are one component whose code
/// is the package; a second package or module of a taken name is skipped, named.
fn merge(candidates: Vec<Candidate>, skipped: &mut Vec<Skipped>) -> Vec<(String, Merged)> {
    let mut merged: Vec<(String, Merged)> = Vec::new();
    for candidate in candidates {
        if !merged.iter().any(|(n, _)| *n == candidate.name) {
            merged.push((candidate.name.clone(), Merged::default()));
        }
        let Some((_, entry)) = merged.iter_mut().find(|(n, _)| *n == candidate.name) else {
            continue;
        };
        let slot = match candidate.kind {
            SourceKind::Package => &mut entry.package,
            SourceKind::Module => &mut entry.module,
        };
        match slot {
            None => *slot = Some(candidate),
            Some(kept) => {
                // `x_component.py` is the wrapper by the users' convention; keep it over `x.py`.
                let (keep, other) = if candidate.kind == SourceKind::Module
                    && candidate.stem.ends_with("_component")
                    && !kept.stem.ends_with("_component")
                {
                    (candidate, kept.clone())
                } else {
                    (kept.clone(), candidate)
                };
                skipped.push(Skipped {
                    path: other.path.clone(),
                    reason: format!("{} is already the component `{}`", keep.path, keep.name),
                });
                *slot = Some(keep);
            }
        }
    }
    merged
}

/// The first-party package a module component wraps from outside the components folder
/// (`agent_orchestration_component.py` around `src/agent_orchestration/`).
fn wrapped_outside(root: &Path, components_dir: &str, base: &str) -> Option<String> {
    ["src", ""]
        .iter()
        .map(|parent| {
            if parent.is_empty() {
                base.to_owned()
            } else {
                format!("{parent}/{base}")
            }
        })
        .filter(|dir| !dir.starts_with(&format!("{components_dir}/")))
        .find(|dir| root.join(dir).is_dir() && holds_python(&root.join(dir)))
}

/// Scans the monorepo at `root`.
pub fn scan(root: &Path) -> Result<Monorepo> {
    let components_dir = COMPONENT_DIRS
        .iter()
        .find(|dir| root.join(dir).is_dir())
        .ok_or_else(|| {
            usage(format!(
                "found no components under {}: init looks for packages and `*_component.py` modules in {}",
                root.display(),
                COMPONENT_DIRS.join(" or ")
            ))
        })?
        .to_string();
    let layout = Layout {
        root,
        package: package_of(root, &components_dir),
        components_dir,
        test_files: files_under(root, "tests")
            .into_iter()
            .filter(|f| f.ends_with(".py"))
            .collect(),
    };

    let (mut candidates, mut skipped) = candidates(root, &layout.components_dir)?;
    adopt_prefixed_modules(&mut candidates);
    let merged = merge(candidates, &mut skipped);

    let mut components = Vec::new();
    let mut sources = Vec::new();
    for (name, entry) in merged {
        let (primary, wrapper) = match (entry.package, entry.module) {
            (Some(package), module) => (package, module),
            (None, Some(module)) => (module, None),
            (None, None) => continue,
        };
        components.push(layout.component(name, primary, wrapper, &mut sources)?);
    }
    if components.is_empty() {
        return Err(usage(format!(
            "found no components in {}: init looks for packages (folders with Python files), `*_component.py` modules and modules defining a `Component` subclass",
            root.join(&layout.components_dir).display()
        )));
    }
    let python = [".venv/bin/python", "venv/bin/python"]
        .iter()
        .find(|p| root.join(p).exists())
        .map(|p| (*p).to_owned());
    let form = issue_form(root)?;
    Ok(Monorepo {
        components_dir: layout.components_dir,
        components,
        python,
        has_pyproject: root.join("pyproject.toml").is_file(),
        uv_lock: root.join("uv.lock").is_file(),
        sources,
        skipped,
        form_groups: form,
    })
}

/// What `scan` learns about the monorepo before it looks at each component.
struct Layout<'a> {
    root: &'a Path,
    components_dir: String,
    /// The dotted package of the components folder (`src.components` or `components`).
    package: String,
    /// Every Python file under `tests/`.
    test_files: Vec<String>,
}

/// A component's README and MATURITY.md: where they are and what they say.
struct Docs {
    readme: Option<String>,
    maturity: Option<String>,
    maturity_found: Option<String>,
    moved: bool,
    display_name: String,
    group: Option<String>,
    stage: Option<Stage>,
}

impl Layout<'_> {
    /// The component `name` whose source is `primary` (and `wrapper`, the module around a
    /// package); its Python files are added to `sources`.
    fn component(
        &self,
        name: String,
        primary: Candidate,
        wrapper: Option<Candidate>,
        sources: &mut Vec<SourceFile>,
    ) -> Result<Found> {
        let package = &self.package;
        let kind = primary.kind;
        let module = format!("{package}.{}", primary.stem);
        let wraps = match kind {
            SourceKind::Module => wrapped_outside(self.root, &self.components_dir, primary.base()),
            SourceKind::Package => None,
        };
        for (file, file_package) in self.python_files(&primary, &module, wrapper.as_ref()) {
            let Some(text) = read(&self.root.join(&file))? else {
                continue;
            };
            sources.push(SourceFile {
                component: name.clone(),
                package: file_package,
                text,
            });
        }
        let stems = test_stems(&name, &primary, wrapper.as_ref(), wraps.as_deref());
        let stem_refs: Vec<&str> = stems.iter().map(String::as_str).collect();
        let tests = tests_for(&self.test_files, &stem_refs);
        let docs = self.docs(&name, &primary)?;
        Ok(Found {
            stage: docs.stage,
            readme: docs.readme,
            maturity: docs.maturity,
            maturity_found: docs.maturity_found,
            moved: docs.moved,
            display_name: docs.display_name,
            group: docs.group,
            name,
            source: primary.path,
            kind,
            module,
            extra_modules: wrapper
                .iter()
                .map(|w| format!("{package}.{}", w.stem))
                .collect(),
            wrapper: wrapper.map(|w| w.path),
            wraps,
            tests,
        })
    }

    /// The component's Python files, each with the package its relative imports start from.
    fn python_files(
        &self,
        primary: &Candidate,
        module: &str,
        wrapper: Option<&Candidate>,
    ) -> Vec<(String, String)> {
        let source = &primary.path;
        let mut files: Vec<(String, String)> = match primary.kind {
            SourceKind::Module => vec![(source.clone(), self.package.clone())],
            SourceKind::Package => files_under(self.root, source)
                .into_iter()
                .filter(|f| f.ends_with(".py"))
                .map(|file| {
                    let inner = file
                        .strip_prefix(&format!("{source}/"))
                        .unwrap_or(&file)
                        .trim_end_matches(".py");
                    let mut parts: Vec<&str> = inner.split('/').collect();
                    // `x/__init__.py` is package `x`; `x/y.py` lives in package `x`.
                    parts.pop();
                    let file_package = std::iter::once(module)
                        .chain(parts)
                        .collect::<Vec<_>>()
                        .join(".");
                    (file.clone(), file_package)
                })
                .collect(),
        };
        if let Some(wrapper) = wrapper {
            files.push((wrapper.path.clone(), self.package.clone()));
        }
        files
    }

    /// The component's README and MATURITY.md. A module's live beside it in a folder of its
    /// name when the repo has one (`src/components/carbon/MATURITY.md`), else under
    /// docs/components/.
    fn docs(&self, name: &str, primary: &Candidate) -> Result<Docs> {
        let (root, components_dir) = (self.root, &self.components_dir);
        let kind = primary.kind;
        let source = &primary.path;
        let base = primary.base();
        let beside = format!("{components_dir}/{base}");
        let docs_home = match kind {
            SourceKind::Package => source.clone(),
            SourceKind::Module if root.join(&beside).is_dir() => beside,
            SourceKind::Module => format!("docs/components/{name}"),
        };
        // Where the registry looks when it is not told (see `config::build_component`).
        let registry_default = match kind {
            SourceKind::Package => source.clone(),
            SourceKind::Module => format!("docs/components/{name}"),
        };
        let locate = |file: &str| -> Option<String> {
            let mut paths = vec![format!("{docs_home}/{file}")];
            if kind == SourceKind::Module {
                paths.push(format!("docs/components/{name}/{file}"));
                paths.push(format!("docs/components/{base}/{file}"));
                paths.push(format!("{components_dir}/{base}_{file}"));
            }
            paths.into_iter().find(|p| root.join(p).is_file())
        };
        let readme_found = locate("README.md");
        let maturity_found = locate("MATURITY.md");
        let maturity_text = match &maturity_found {
            Some(path) => read(&root.join(path))?,
            None => None,
        };
        let readme_text = match &readme_found {
            Some(path) => read(&root.join(path))?,
            None => None,
        };
        let place = |found: &Option<String>, file: &str| {
            Some(
                found
                    .clone()
                    .unwrap_or_else(|| format!("{docs_home}/{file}")),
            )
            .filter(|p| *p != format!("{registry_default}/{file}"))
        };
        Ok(Docs {
            readme: place(&readme_found, "README.md"),
            maturity: place(&maturity_found, "MATURITY.md"),
            moved: maturity_text.as_deref().is_some_and(is_moved_stub),
            display_name: maturity_text
                .as_deref()
                .and_then(title_of)
                .or_else(|| readme_text.as_deref().and_then(title_of))
                .unwrap_or_else(|| title_case(name)),
            group: maturity_text
                .as_deref()
                .and_then(group_of)
                .or_else(|| readme_text.as_deref().and_then(group_of)),
            stage: maturity_text.as_deref().and_then(maturity::parse_stage),
            maturity_found,
        })
    }
}

/// Tests are named after any of the component's names: its folder or module, the module
/// without `_component`, the registry name, and a package it wraps.
fn test_stems(
    name: &str,
    primary: &Candidate,
    wrapper: Option<&Candidate>,
    wraps: Option<&str>,
) -> Vec<String> {
    let mut stems: Vec<String> = vec![primary.stem.clone(), primary.base().to_owned()];
    if let Some(wrapper) = wrapper {
        stems.extend([wrapper.stem.clone(), wrapper.base().to_owned()]);
    }
    stems.push(name.replace('-', "_"));
    if let Some(wraps) = wraps {
        stems.extend(wraps.rsplit('/').next().map(str::to_owned));
    }
    stems.sort();
    stems.dedup();
    stems
}

/// Where the repository's own promotion form lives; one written by `cargo xtask workflows`
/// carries our header and says nothing about the repo.
pub const ISSUE_FORM: &str = ".github/ISSUE_TEMPLATE/component_promotion.yml";

#[derive(serde::Deserialize)]
struct FormYaml {
    #[serde(default)]
    body: Vec<FormItem>,
}

#[derive(serde::Deserialize)]
struct FormItem {
    #[serde(default)]
    attributes: Option<FormAttributes>,
}

#[derive(serde::Deserialize)]
struct FormAttributes {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    options: Vec<FormOption>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum FormOption {
    Text(String),
    Labelled { label: String },
}

/// The functional groups the repository's own issue form offers (a dropdown labelled
/// "Functional Group"), with the form's path; `None` when it has no such form or it is ours.
fn issue_form(root: &Path) -> Result<Option<(String, Vec<String>)>> {
    let Some(text) = read(&root.join(ISSUE_FORM))? else {
        return Ok(None);
    };
    if text.starts_with(&format!("# Generated by `{}`", crate::generated::COMMAND)) {
        return Ok(None);
    }
    // A form we cannot read names no groups; init says so rather than failing.
    let Ok(form) = serde_saphyr::from_str::<FormYaml>(&text) else {
        return Ok(None);
    };
    let groups = form
        .body
        .iter()
        .filter_map(|item| item.attributes.as_ref())
        .find(|a| {
            a.label
                .as_deref()
                .is_some_and(|l| l.to_ascii_lowercase().contains("group"))
        })
        .map(|a| {
            a.options
                .iter()
                .map(|o| match o {
                    FormOption::Text(t) | FormOption::Labelled { label: t } => t.trim().to_owned(),
                })
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    Ok((!groups.is_empty()).then(|| (ISSUE_FORM.to_owned(), groups)))
}

/// Test files and folders named after a component, under `tests/`: a folder named `<stem>`
/// or `test_<stem>` at any depth is listed as one entry (pytest collects it whole); files
/// outside those folders count when named `test_<stem>.py`, `test_<stem>_component.py`,
/// `test_<stem>_component_*.py` or `<stem>_test.py`, and inside an `integration` folder also
/// `test_<stem>_*.py`.
pub fn tests_for(test_files: &[String], stems: &[&str]) -> Vec<String> {
    let mut folders: Vec<String> = Vec::new();
    for path in test_files {
        let parts: Vec<&str> = path.split('/').collect();
        let Some((file, folder_parts)) = parts.split_last() else {
            continue;
        };
        if !(file.starts_with("test_") || file.ends_with("_test.py")) {
            continue;
        }
        if let Some(at) = folder_parts.iter().enumerate().skip(1).find_map(|(i, f)| {
            stems
                .iter()
                .any(|stem| *f == *stem || *f == format!("test_{stem}"))
                .then_some(i)
        }) {
            let folder: Vec<&str> = folder_parts.iter().take(at + 1).copied().collect();
            folders.push(folder.join("/"));
        }
    }
    folders.sort();
    folders.dedup();
    // A folder inside another listed folder is already collected with it.
    let outer: Vec<String> = folders
        .iter()
        .filter(|f| !folders.iter().any(|o| f.starts_with(&format!("{o}/"))))
        .cloned()
        .collect();
    let mut found: Vec<String> = test_files
        .iter()
        .filter(|path| !outer.iter().any(|o| path.starts_with(&format!("{o}/"))))
        .filter(|path| {
            let parts: Vec<&str> = path.split('/').collect();
            let file = parts.last().copied().unwrap_or_default();
            let in_integration = parts.iter().rev().skip(1).any(|f| *f == "integration");
            stems.iter().any(|stem| {
                file == format!("test_{stem}.py")
                    || file == format!("test_{stem}_component.py")
                    || (file.starts_with(&format!("test_{stem}_component_"))
                        && file.ends_with(".py"))
                    || file == format!("{stem}_test.py")
                    || (in_integration
                        && file.starts_with(&format!("test_{stem}_"))
                        && file.ends_with(".py"))
            })
        })
        .cloned()
        .collect();
    found.extend(outer);
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_folders_and_modules() {
        assert_eq!(
            component_name("narrative_arc_orchestrator").as_deref(),
            Some("narrative-arc-orchestrator")
        );
        assert_eq!(component_name("LLM").as_deref(), Some("llm"));
        assert_eq!(component_name("2fa"), None);
        assert_eq!(component_name("a__b"), None);
        assert_eq!(title_case("model-management"), "Model Management");
    }

    #[test]
    fn tests_are_matched_by_name_not_by_prefix() {
        let files: Vec<String> = [
            "tests/test_llm.py",
            "tests/test_llm_tools.py",
            "tests/test_neo4j_component.py",
            "tests/test_narrative_arc_orchestrator_component.py",
            "tests/integration/llm/test_fallback.py",
            "tests/integration/llm/helpers.py",
            "tests/integration/llm/deep/test_more.py",
            "tests/integration/test_llm_fallbacks.py",
            "tests/test_neo4j_component_enhanced.py",
            "tests/conftest.py",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            tests_for(&files, &["llm"]),
            vec![
                "tests/integration/llm",
                "tests/integration/test_llm_fallbacks.py",
                "tests/test_llm.py"
            ]
        );
        assert_eq!(
            tests_for(&files, &["neo4j_component", "neo4j"]),
            vec![
                "tests/test_neo4j_component.py",
                "tests/test_neo4j_component_enhanced.py"
            ]
        );
        assert_eq!(
            tests_for(&files, &["narrative_arc_orchestrator"]),
            vec!["tests/test_narrative_arc_orchestrator_component.py"]
        );
    }

    #[test]
    fn titles_name_the_component_not_the_document() {
        assert_eq!(
            title_of("# Gameplay Loop Maturity Status\n\n> moved").as_deref(),
            Some("Gameplay Loop")
        );
        assert_eq!(
            title_of("# Carbon Component Maturity Status\n").as_deref(),
            Some("Carbon")
        );
        assert_eq!(title_of("# LLM — Maturity\n").as_deref(), Some("LLM"));
        assert_eq!(title_of("# Maturity Status\n"), None);
        assert!(is_moved_stub("> ⚠️ **This document has moved!**"));
        assert!(!is_moved_stub("**Current Stage**: Staging"));
    }

    #[test]
    fn groups_are_read_when_a_file_names_one() {
        assert_eq!(
            group_of("# X\n**Functional Group**: AI/Agent Systems\n").as_deref(),
            Some("AI/Agent Systems")
        );
        assert_eq!(
            group_of("Group: Core Infrastructure").as_deref(),
            Some("Core Infrastructure")
        );
        assert_eq!(group_of("no group here"), None);
    }
}
