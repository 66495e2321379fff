//! The inputs a promotion record names: every file the component's checks read as `affected`
//! knows them (its steps' declared inputs and its import closure, dependencies included),
//! relative to the repository's top folder, except its own MATURITY.md and records, which the
//! promotion itself changes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{Component, Config};
use crate::digest::Digest;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
}

/// The component's input paths (relative to `top`), sorted.
pub fn paths(config: &Config, top: &Path, component: &Component) -> Vec<String> {
    paths_in(&crate::affected::scope(config, top), config, top, component)
}

/// `paths` from a scope computed once for several components.
pub fn paths_in(
    scope: &crate::affected::ChangeScope,
    config: &Config,
    top: &Path,
    component: &Component,
) -> Vec<String> {
    let top = std::fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf());
    let maturity = config.project_path(&component.maturity);
    let maturity = std::fs::canonicalize(&maturity).unwrap_or(maturity);
    let own_maturity = maturity
        .strip_prefix(&top)
        .map(crate::fsutil::unix)
        .unwrap_or_default();
    let records = own_maturity.rsplit_once('/').map_or_else(
        || format!("{}/", super::FOLDER),
        |(dir, _)| format!("{dir}/{}/", super::FOLDER),
    );
    let mut paths: Vec<String> = scope
        .components
        .iter()
        .find(|c| c.name == component.name)
        .map(|c| c.files.iter().cloned().collect())
        .unwrap_or_default();
    paths.retain(|p| *p != own_maturity && !p.starts_with(&records));
    paths.sort();
    paths.dedup();
    paths
}

/// The files at `paths` under `top` as they are now; a missing file is left out.
pub fn digest_files(top: &Path, paths: &[String]) -> Vec<InputFile> {
    paths
        .iter()
        .filter_map(|path| {
            let bytes = std::fs::read(top.join(path)).ok()?;
            Some(InputFile {
                path: path.clone(),
                sha256: Digest::of(&bytes).to_string(),
            })
        })
        .collect()
}

/// Whether a recorded path is plain: relative, inside the repository, no `.` or `..` step.
/// A record is outside input, and `/etc/passwd` or `../x` is no input of a component.
pub fn is_plain(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(['\\', '\0', '\n', '\r'])
        && path.split('/').all(|step| !matches!(step, "" | "." | ".."))
}

/// One sha256 over the sorted (path, digest) pairs: the record's subject.
pub fn subject_digest(files: &[InputFile]) -> String {
    let mut sorted: Vec<&InputFile> = files.iter().collect();
    sorted.sort();
    let mut material = Vec::new();
    for file in sorted {
        material.extend_from_slice(file.path.as_bytes());
        material.push(0);
        material.extend_from_slice(file.sha256.as_bytes());
        material.push(b'\n');
    }
    Digest::of(&material).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, sha256: &str) -> InputFile {
        InputFile {
            path: path.into(),
            sha256: sha256.into(),
        }
    }

    #[test]
    fn the_subject_ignores_order_but_not_content_or_names() {
        let a = subject_digest(&[file("a.py", "11"), file("b.py", "22")]);
        assert_eq!(a, subject_digest(&[file("b.py", "22"), file("a.py", "11")]));
        assert_ne!(a, subject_digest(&[file("a.py", "11"), file("b.py", "23")]));
        assert_ne!(a, subject_digest(&[file("a.py", "11"), file("c.py", "22")]));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn only_plain_relative_paths_are_inputs() {
        for good in ["a.py", "src/components/x_component.py", "a b/c.py"] {
            assert!(is_plain(good), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x.py",
            "a/../../x",
            "./a.py",
            "a//b",
            "a/",
            "a\nb",
        ] {
            assert!(!is_plain(bad), "{bad:?}");
        }
    }
}
