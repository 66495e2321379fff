//! The few files that make `cargo xtask` work in a repository that adopts xtask promote: a thin
//! `xtask` crate (a `Cargo.toml` with one dependency, a `main.rs` of a few lines), the workspace
//! that holds it, and the cargo alias. Pure: `init` decides which of them are missing.

use std::path::{Path, PathBuf};

/// Where the thin crate gets `xtask-promote` from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dependency {
    /// A git repository at a tag: the default; updating is a change of the tag.
    Git { url: String, tag: String },
    /// A local checkout's `xtask/promote` folder (`init --xtask-path`).
    Path(PathBuf),
}

impl Dependency {
    /// This build's own repository and version: what a user gets without a flag.
    pub fn default_git() -> Dependency {
        Dependency::Git {
            url: env!("CARGO_PKG_REPOSITORY").to_owned(),
            tag: format!("v{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The dependency's line in `xtask/Cargo.toml`, as TOML.
    fn toml_value(&self) -> String {
        match self {
            Dependency::Git { url, tag } => {
                format!("{{ git = {}, tag = {} }}", quoted(url), quoted(tag))
            }
            Dependency::Path(path) => {
                format!("{{ path = {} }}", quoted(&path.to_string_lossy()))
            }
        }
    }
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// One file `init` may write, relative to the repository's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: &'static str,
    pub text: String,
}

/// The cargo alias: the same line this repository uses.
pub const ALIAS_LINE: &str = "xtask = \"run --package xtask --\"";

/// The workspace holding the thin crate, for a repository without a `Cargo.toml` at its root.
/// Profiles are read only from a workspace's root, so the optimisation the runner's hashing and
/// parsing need in debug builds lives here.
const WORKSPACE: &str = r#"# The workspace of this repository's cargo xtask (`xtask/`); nothing else here is Rust.
[workspace]
resolver = "3"
members = ["xtask"]

# xtask promote hashes every input file (sha2) and parses every Python file (tree-sitter); in a
# debug build (what `cargo xtask` makes) they run ~50x slower without these.
[profile.dev.package.sha2]
opt-level = 3

[profile.dev.package.tree-sitter]
opt-level = 3

[profile.dev.package.tree-sitter-python]
opt-level = 3
"#;

const MAIN_RS: &str = r#"//! This repository's cargo xtask: the whole program is the `xtask-promote` library.

fn main() -> std::process::ExitCode {
    xtask_promote::main()
}
"#;

/// `xtask/Cargo.toml` depending on `dependency`.
fn manifest(dependency: &Dependency) -> String {
    let update = match dependency {
        Dependency::Git { .. } => {
            "# Updating xtask promote is a change of the tag below; `cargo xtask` rebuilds on its next run."
        }
        Dependency::Path(_) => {
            "# xtask promote from a local checkout: updating it is a `git pull` there."
        }
    };
    format!(
        r#"# This repository's cargo xtask: `cargo xtask ...` (the alias in .cargo/config.toml) builds and
# runs it. All of xtask promote is the one dependency.
{update}
[package]
name = "xtask"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
xtask-promote = {dep}
"#,
        dep = dependency.toml_value()
    )
}

const CARGO_CONFIG: &str = r#"# `cargo xtask ...` builds and runs this repository's thin xtask crate (xtask/). No `--quiet`:
# the first run compiles xtask promote and its dependencies (minutes), and cargo's progress says so.
[alias]
"#;

/// Every file of the thin crate, its workspace and the alias, for a repository that has none
/// of them. `init` writes those that are missing and never replaces one.
pub fn files(dependency: &Dependency) -> Vec<File> {
    vec![
        File {
            path: "Cargo.toml",
            text: WORKSPACE.to_owned(),
        },
        File {
            path: "xtask/Cargo.toml",
            text: manifest(dependency),
        },
        File {
            path: "xtask/src/main.rs",
            text: MAIN_RS.to_owned(),
        },
        File {
            path: ".cargo/config.toml",
            text: format!("{CARGO_CONFIG}{ALIAS_LINE}\n"),
        },
    ]
}

/// Whether an existing `.cargo/config.toml` already defines `cargo xtask`. Pure.
pub fn has_xtask_alias(config: &str) -> bool {
    match config.parse::<toml::Table>() {
        Ok(table) => table
            .get("alias")
            .and_then(toml::Value::as_table)
            .is_some_and(|aliases| aliases.contains_key("xtask")),
        Err(_) => false,
    }
}

/// Whether an existing root `Cargo.toml` is a workspace that lists `xtask` among its members.
/// Pure; a manifest that does not parse says no.
pub fn workspace_has_xtask(manifest: &str) -> bool {
    let Ok(table) = manifest.parse::<toml::Table>() else {
        return false;
    };
    table
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .is_some_and(|members| {
            members.iter().any(|m| {
                m.as_str()
                    .is_some_and(|m| Path::new(m.trim_end_matches('/')) == Path::new("xtask"))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thin_crate_has_one_dependency_and_a_main_of_a_few_lines() {
        let files = files(&Dependency::Git {
            url: "https://example.org/xtask-promote".into(),
            tag: "v0.1.0".into(),
        });
        let manifest = &files[1].text;
        let table: toml::Table = manifest.parse().unwrap();
        let deps = table["dependencies"].as_table().unwrap();
        assert_eq!(deps.len(), 1);
        assert_eq!(
            deps["xtask-promote"].to_string(),
            r#"{ git = "https://example.org/xtask-promote", tag = "v0.1.0" }"#
        );
        assert!(files[2].text.lines().count() <= 6);
        let workspace: toml::Table = files[0].text.parse().unwrap();
        assert!(workspace_has_xtask(&files[0].text), "{workspace:?}");
        assert!(has_xtask_alias(&files[3].text));
        insta::assert_snapshot!(
            files
                .iter()
                .map(|f| format!("==> {} <==\n{}", f.path, f.text))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn a_path_dependency_is_quoted_as_toml() {
        let files = files(&Dependency::Path(PathBuf::from(
            r#"/src/we "x"/xtask/promote"#,
        )));
        let table: toml::Table = files[1].text.parse().unwrap();
        assert_eq!(
            table["dependencies"]["xtask-promote"]["path"].as_str(),
            Some(r#"/src/we "x"/xtask/promote"#)
        );
    }

    #[test]
    fn existing_aliases_and_workspaces_are_recognised() {
        assert!(has_xtask_alias(
            "[alias]\nxtask = \"run --package xtask --\"\n"
        ));
        assert!(!has_xtask_alias("[alias]\nb = \"build\"\n"));
        assert!(!has_xtask_alias("not toml ["));
        assert!(workspace_has_xtask(
            "[workspace]\nmembers = [\"xtask/\", \"a\"]\n"
        ));
        assert!(!workspace_has_xtask(
            "[workspace]\nmembers = [\"crates/*\"]\n"
        ));
        assert!(!workspace_has_xtask("[package]\nname = \"a\"\n"));
    }
}
