//! What `--fix` and the README scaffold may write: regular files inside the repository, which
//! git can show a diff of. A symlink in scope (to a file or a folder, inside or outside the
//! repository) could carry an edit to a file git does not track here, and so could a file with
//! other hard links; a read-only file says it is not to be changed; a scope that resolves
//! outside the project root is outside by definition.
//! Each is refused and named before anything is written, `--allow-dirty` or not.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::errors::usage;

/// Refuses the fix when anything in `scope` (paths relative to `root`) is a symlink, a file
/// with other hard links, or resolves outside `root`. Paths that do not exist yet (a README
/// to scaffold) are checked through their nearest existing folder.
pub fn refuse_links(root: &Path, scope: &[String]) -> Result<()> {
    let canonical_root = root
        .canonicalize()
        .with_context(|| format!("failed to resolve {}", root.display()))?;
    let mut refused = Vec::new();
    for relative in scope {
        let path = root.join(relative);
        match std::fs::symlink_metadata(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
        }
        // The path itself, or a folder on the way to it, may lead elsewhere.
        let existing = path
            .ancestors()
            .find(|p| p.symlink_metadata().is_ok())
            .unwrap_or(root);
        let resolved = existing
            .canonicalize()
            .with_context(|| format!("failed to resolve {}", existing.display()))?;
        if !resolved.starts_with(&canonical_root) {
            refused.push(format!(
                "{relative} (resolves to {}, outside {})",
                resolved.display(),
                canonical_root.display()
            ));
            continue;
        }
        if path.symlink_metadata().is_ok() {
            refused.extend(links_under(root, &path));
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    refused.sort();
    refused.dedup();
    Err(usage(format!(
        "--fix writes only regular, writable files of this repository, and these are not:\n{}\nreplace them with regular files (or make them writable) or leave them out of the component, then run --fix again (--allow-dirty does not lift this)",
        refused
            .iter()
            .map(|line| format!("  {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    )))
}

/// Symlinks and multiply linked files at or under `path`, without following any link.
fn links_under(root: &Path, path: &Path) -> Vec<String> {
    let shown = |p: &Path| -> String {
        p.strip_prefix(root)
            .map(crate::fsutil::unix)
            .unwrap_or_else(|_| p.display().to_string())
    };
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = vec![path.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(metadata) = next.symlink_metadata() else {
            continue;
        };
        if metadata.file_type().is_symlink() {
            let target = std::fs::read_link(&next)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            found.push(format!("{} (a symlink to {target})", shown(&next)));
        } else if metadata.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&next) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if metadata.is_file() && metadata.nlink() > 1 {
            found.push(format!(
                "{} (a file with {} hard links)",
                shown(&next),
                metadata.nlink()
            ));
        } else if metadata.is_file() && metadata.mode() & 0o222 == 0 {
            // Its mode says it is not to be changed; a fix moved into place would change it.
            found.push(format!(
                "{} (read-only, mode {:o})",
                shown(&next),
                metadata.mode() & 0o7777
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_hard_links_and_outside_folders_are_refused_by_name() {
        let outside = tempfile::tempdir().unwrap();
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        std::fs::create_dir_all(root.join("pkg/sub")).unwrap();
        std::fs::write(root.join("pkg/ok.py"), "x = 1\n").unwrap();
        assert!(refuse_links(root, &["pkg".into(), "pkg/README.md".into()]).is_ok());

        std::fs::write(outside.path().join("outside.py"), "import os\n").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("outside.py"),
            root.join("pkg/sub/evil.py"),
        )
        .unwrap();
        std::fs::hard_link(outside.path().join("outside.py"), root.join("pkg/twin.py")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("away")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(root.join("pkg/frozen.py"), "x = 1\n").unwrap();
        std::fs::set_permissions(
            root.join("pkg/frozen.py"),
            std::fs::Permissions::from_mode(0o444),
        )
        .unwrap();
        let error = refuse_links(root, &["pkg".into(), "away/README.md".into()]).unwrap_err();
        assert_eq!(
            crate::errors::exit_code_of(&error),
            crate::errors::exit::USAGE
        );
        let message = error.to_string();
        assert!(
            message.contains("pkg/sub/evil.py (a symlink to "),
            "{message}"
        );
        assert!(
            message.contains("pkg/twin.py (a file with 2 hard links)"),
            "{message}"
        );
        assert!(
            message.contains("away/README.md (resolves to "),
            "{message}"
        );
        assert!(
            message.contains("pkg/frozen.py (read-only, mode 444)"),
            "{message}"
        );
    }
}
