//! What a Python environment has installed, read from its `*.dist-info` folder names without
//! starting Python: asking `pyright --version` alone costs a node start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// PEP 503 normalisation: `Pytest_Cov` and `pytest-cov` are the same distribution.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_dash {
                out.push('-');
            }
            last_dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_dash = false;
        }
    }
    out
}

/// `pytest_cov-7.1.0.dist-info` -> `("pytest-cov", "7.1.0")`.
pub fn parse_dist_info(folder_name: &str) -> Option<(String, String)> {
    let stem = folder_name.strip_suffix(".dist-info")?;
    // Distribution names cannot contain `-` in folder names (it is escaped to `_`), so the
    // first `-` separates name from version.
    let (name, version) = stem.split_once('-')?;
    if name.is_empty() || version.is_empty() {
        return None;
    }
    Some((normalize_name(name), version.to_owned()))
}

/// The `site-packages` folders of a venv (normally one: `lib/pythonX.Y/site-packages`).
pub fn site_packages(venv: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(venv.join(lib)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("python") {
                let candidate = entry.path().join("site-packages");
                if candidate.is_dir() && !found.contains(&candidate) {
                    found.push(candidate);
                }
            }
        }
    }
    found.sort();
    found
}

/// Installed distributions and their versions, by normalised name.
pub fn installed(site_packages: &[PathBuf]) -> BTreeMap<String, String> {
    let mut packages = BTreeMap::new();
    for dir in site_packages {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Some((name, version)) = parse_dist_info(&entry.file_name().to_string_lossy()) {
                packages.insert(name, version);
            }
        }
    }
    packages
}

/// The folder an editable install points at, from its `direct_url.json`, if it is one.
pub fn editable_location(site_packages: &[PathBuf], distribution: &str) -> Option<PathBuf> {
    let wanted = normalize_name(distribution);
    for dir in site_packages {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some((name, _)) = parse_dist_info(&file_name.to_string_lossy()) else {
                continue;
            };
            if name != wanted {
                continue;
            }
            let text = std::fs::read_to_string(entry.path().join("direct_url.json")).ok()?;
            let value: serde_json::Value = serde_json::from_str(&text).ok()?;
            let url = value.get("url")?.as_str()?;
            return url.strip_prefix("file://").map(PathBuf::from);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_info_names_split_into_name_and_version() {
        assert_eq!(
            parse_dist_info("pytest_cov-7.1.0.dist-info"),
            Some(("pytest-cov".into(), "7.1.0".into()))
        );
        assert_eq!(
            parse_dist_info("ruff-0.17.5.dist-info"),
            Some(("ruff".into(), "0.17.5".into()))
        );
        assert_eq!(parse_dist_info("ruff"), None);
        assert_eq!(parse_dist_info("__editable__.tta_example-0.1.0.pth"), None);
    }

    #[test]
    fn names_normalise_like_pep_503() {
        assert_eq!(normalize_name("Pytest__Cov"), "pytest-cov");
        assert_eq!(normalize_name("tta.example"), "tta-example");
    }

    #[test]
    fn reads_a_fake_site_packages() {
        let venv = tempfile::tempdir().unwrap();
        let site = venv.path().join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("ruff-0.17.5.dist-info")).unwrap();
        std::fs::create_dir_all(site.join("tta_example-0.1.0.dist-info")).unwrap();
        std::fs::write(
            site.join("tta_example-0.1.0.dist-info/direct_url.json"),
            r#"{"url": "file:///work/tta", "dir_info": {"editable": true}}"#,
        )
        .unwrap();
        let dirs = site_packages(venv.path());
        assert_eq!(dirs, vec![site.clone()]);
        let packages = installed(&dirs);
        assert_eq!(packages.get("ruff").map(String::as_str), Some("0.17.5"));
        assert_eq!(
            editable_location(&dirs, "tta-example"),
            Some(PathBuf::from("/work/tta"))
        );
    }
}
