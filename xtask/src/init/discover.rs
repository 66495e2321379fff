//! Finding the components of an existing monorepo laid out like our users': packages and
//! `*_component.py` modules under `src/components/` (or `components/`), tests named after
//! them under `tests/`, README and MATURITY.md files beside a package or under
//! `docs/components/<name>/`. Reads files; writes nothing.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use regex::Regex;

use super::infer::{ModuleOf, SourceFile};
use crate::config::{SourceKind, unix};
use crate::errors::usage;
use crate::maturity;
use crate::stage::Stage;

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
    /// Python files of every component, for inferring dependencies.
    pub sources: Vec<SourceFile>,
}

#[derive(Debug, Clone)]
pub struct Found {
    pub name: String,
    pub display_name: String,
    pub source: String,
    pub kind: SourceKind,
    /// The dotted module the code is imported as.
    pub module: String,
    pub tests: Vec<String>,
    /// Set only when the README is not where the registry looks by default.
    pub readme: Option<String>,
    /// Where the MATURITY.md was found, if anywhere.
    pub maturity_found: Option<String>,
    /// Set only when the MATURITY.md is not where the registry looks by default.
    pub maturity: Option<String>,
    pub stage: Option<Stage>,
    pub group: Option<String>,
}

impl Found {
    pub fn module_of(&self) -> ModuleOf {
        ModuleOf {
            name: self.name.clone(),
            module: self.module.clone(),
        }
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
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("failed to read {}", path.display())),
    }
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
    let package = package_of(root, &components_dir);
    let test_files: Vec<String> = files_under(root, "tests")
        .into_iter()
        .filter(|f| f.ends_with(".py"))
        .collect();

    let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(root.join(&components_dir))
        .with_context(|| format!("failed to read {}", root.join(&components_dir).display()))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(|n| (n.to_owned(), e.path())))
        .collect();
    entries.sort();

    let mut components = Vec::new();
    let mut sources = Vec::new();
    for (file_name, path) in entries {
        let (stem, kind) = if path.is_dir() && path.join("__init__.py").is_file() {
            (file_name.clone(), SourceKind::Package)
        } else if let Some(stem) = file_name.strip_suffix(".py")
            && stem.ends_with("_component")
        {
            (stem.to_owned(), SourceKind::Module)
        } else {
            continue;
        };
        let base = stem.strip_suffix("_component").unwrap_or(&stem);
        let Some(name) = component_name(if kind == SourceKind::Module {
            base
        } else {
            &stem
        }) else {
            continue;
        };
        let source = format!("{components_dir}/{file_name}");
        let module = format!("{package}.{stem}");

        // Python files, each with the package its relative imports start from.
        let files = match kind {
            SourceKind::Module => vec![source.clone()],
            SourceKind::Package => files_under(root, &source)
                .into_iter()
                .filter(|f| f.ends_with(".py"))
                .collect(),
        };
        for file in &files {
            let Some(text) = read(&root.join(file))? else {
                continue;
            };
            let file_package = match kind {
                SourceKind::Module => package.clone(),
                SourceKind::Package => {
                    let inner = file
                        .strip_prefix(&format!("{source}/"))
                        .unwrap_or(file)
                        .trim_end_matches(".py");
                    let mut parts: Vec<&str> = inner.split('/').collect();
                    // `x/__init__.py` is package `x`; `x/y.py` lives in package `x`.
                    parts.pop();
                    std::iter::once(module.as_str())
                        .chain(parts)
                        .collect::<Vec<_>>()
                        .join(".")
                }
            };
            sources.push(SourceFile {
                component: name.clone(),
                package: file_package,
                text,
            });
        }

        let tests = tests_for(&test_files, &[stem.as_str(), base]);
        let docs_home = match kind {
            SourceKind::Package => source.clone(),
            SourceKind::Module => format!("docs/components/{name}"),
        };
        let candidates = |file: &str| -> Vec<String> {
            let mut paths = vec![format!("{docs_home}/{file}")];
            if kind == SourceKind::Module {
                paths.push(format!("docs/components/{base}/{file}"));
                paths.push(format!("{components_dir}/{base}_{file}"));
            }
            paths
        };
        let locate = |file: &str| -> Option<String> {
            candidates(file)
                .into_iter()
                .find(|p| root.join(p).is_file())
        };
        let readme_found = locate("README.md");
        let maturity_found = locate("MATURITY.md");
        let default = |file: &str| format!("{docs_home}/{file}");
        let maturity_text = match &maturity_found {
            Some(path) => read(&root.join(path))?,
            None => None,
        };
        let readme_text = match &readme_found {
            Some(path) => read(&root.join(path))?,
            None => None,
        };
        let display_name = maturity_text
            .as_deref()
            .and_then(heading)
            .map(|h| h.trim_end_matches("Maturity").trim().to_owned())
            .filter(|h| !h.is_empty())
            .or_else(|| readme_text.as_deref().and_then(heading))
            .unwrap_or_else(|| title_case(&name));
        let group = maturity_text
            .as_deref()
            .and_then(group_of)
            .or_else(|| readme_text.as_deref().and_then(group_of));
        components.push(Found {
            stage: maturity_text.as_deref().and_then(maturity::parse_stage),
            readme: readme_found.clone().filter(|p| *p != default("README.md")),
            maturity: maturity_found
                .clone()
                .filter(|p| *p != default("MATURITY.md")),
            maturity_found,
            display_name,
            group,
            name,
            source,
            kind,
            module,
            tests,
        });
    }
    if components.is_empty() {
        return Err(usage(format!(
            "found no components in {}: init looks for packages (folders with __init__.py) and `*_component.py` modules",
            root.join(&components_dir).display()
        )));
    }
    let python = [".venv/bin/python", "venv/bin/python"]
        .iter()
        .find(|p| root.join(p).exists())
        .map(|p| (*p).to_owned());
    Ok(Monorepo {
        components_dir,
        components,
        python,
        has_pyproject: root.join("pyproject.toml").is_file(),
        sources,
    })
}

/// Test files named after a component: `test_<stem>.py`, `test_<stem>_component.py`,
/// `<stem>_test.py`, or anything in a `<stem>/` or `test_<stem>/` folder under `tests/`.
pub fn tests_for(test_files: &[String], stems: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = test_files
        .iter()
        .filter(|path| {
            let parts: Vec<&str> = path.split('/').collect();
            let file = parts.last().copied().unwrap_or_default();
            let folders = &parts[..parts.len().saturating_sub(1)];
            stems.iter().any(|stem| {
                file == format!("test_{stem}.py")
                    || file == format!("test_{stem}_component.py")
                    || file == format!("{stem}_test.py")
                    || (folders
                        .iter()
                        .skip(1)
                        .any(|f| *f == *stem || *f == format!("test_{stem}"))
                        && file.starts_with("test_"))
            })
        })
        .cloned()
        .collect();
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
            "tests/conftest.py",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            tests_for(&files, &["llm"]),
            vec![
                "tests/integration/llm/test_fallback.py",
                "tests/test_llm.py"
            ]
        );
        assert_eq!(
            tests_for(&files, &["neo4j_component", "neo4j"]),
            vec!["tests/test_neo4j_component.py"]
        );
        assert_eq!(
            tests_for(&files, &["narrative_arc_orchestrator"]),
            vec!["tests/test_narrative_arc_orchestrator_component.py"]
        );
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
