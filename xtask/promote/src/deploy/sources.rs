//! The files a deploy makes compose read, checked before anything runs: the environment's
//! compose file is a regular file inside the repository (a symlink may point only inside it),
//! and every file the compose file pulls in (`extends` files, `env_file`s, `include`s) stays
//! inside too. A file from outside would change what is deployed, or inject variables, without
//! being part of what was validated. Each refusal is a usage error (exit 2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;

use crate::errors::usage;

/// How deep `extends` and `include` may nest; compose itself refuses cycles.
const MAX_DEPTH: usize = 16;

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    services: Option<BTreeMap<String, Option<RawService>>>,
    #[serde(default)]
    include: Option<Vec<RawInclude>>,
}

#[derive(Deserialize)]
struct RawService {
    #[serde(default)]
    extends: Option<RawExtends>,
    #[serde(default)]
    env_file: Option<OneOrMany<RawEnvFile>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawExtends {
    Full {
        #[serde(default)]
        file: Option<String>,
    },
    /// A service of the same file (tried second: it would accept anything).
    Service(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawEnvFile {
    Path(String),
    Full {
        path: String,
        #[serde(default)]
        required: Option<bool>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawInclude {
    Path(String),
    Full {
        path: OneOrMany<String>,
        #[serde(default)]
        env_file: Option<OneOrMany<String>>,
    },
}

/// A file a compose file makes compose read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `extends`, `env_file` or `include`.
    pub kind: &'static str,
    /// As written.
    pub written: String,
    /// May be missing (`required: false`).
    pub optional: bool,
}

impl Reference {
    /// Whether compose parses the referenced file as a compose file (it may reference more).
    fn is_compose(&self) -> bool {
        self.kind != "env_file"
    }
}

/// Pure: the files `yaml` (a compose file as written) references.
pub fn references(yaml: &str) -> Result<Vec<Reference>, String> {
    let raw: RawFile = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    let mut add = |kind, written: &str, optional| {
        found.push(Reference {
            kind,
            written: written.to_owned(),
            optional,
        })
    };
    for service in raw.services.unwrap_or_default().into_values().flatten() {
        if let Some(RawExtends::Full { file: Some(file) }) = &service.extends {
            add("extends", file, false);
        }
        for env_file in many(service.env_file) {
            match env_file {
                RawEnvFile::Path(path) => add("env_file", &path, false),
                RawEnvFile::Full { path, required } => {
                    add("env_file", &path, required == Some(false))
                }
            }
        }
    }
    for include in raw.include.unwrap_or_default() {
        match include {
            RawInclude::Path(path) => add("include", &path, false),
            RawInclude::Full { path, env_file } => {
                for path in many(Some(path)) {
                    add("include", &path, false);
                }
                for path in many(env_file) {
                    add("env_file", &path, false);
                }
            }
        }
    }
    Ok(found)
}

fn many<T>(value: Option<OneOrMany<T>>) -> Vec<T> {
    match value {
        None => Vec::new(),
        Some(OneOrMany::One(one)) => vec![one],
        Some(OneOrMany::Many(many)) => many,
    }
}

/// Checks the environment's compose file and everything it pulls in, recursively.
pub fn check(repository: &Path, compose_file: &Path) -> Result<()> {
    let root = repository.canonicalize().map_err(|e| {
        usage(format!(
            "cannot resolve the repository folder {}: {e}",
            repository.display()
        ))
    })?;
    let file = inside(&root, compose_file, "the compose file", false)?
        .ok_or_else(|| usage(format!("{} does not exist", compose_file.display())))?;
    let mut pending = vec![(file, 0usize)];
    let mut seen = Vec::new();
    while let Some((file, depth)) = pending.pop() {
        if seen.contains(&file) {
            continue;
        }
        seen.push(file.clone());
        let text = std::fs::read_to_string(&file)
            .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
        let found = references(&text).map_err(|e| {
            usage(format!(
                "cannot read {} to check the files it references: {e}",
                file.display()
            ))
        })?;
        let folder = file.parent().unwrap_or(&root).to_path_buf();
        for reference in found {
            let what = format!(
                "`{}: {}` in {}",
                reference.kind,
                reference.written,
                file.display()
            );
            let target = referenced_path(&folder, &reference.written, &what)?;
            let resolved = inside(&root, &target, &what, reference.optional)?;
            if let Some(resolved) = resolved.filter(|_| reference.is_compose()) {
                if depth >= MAX_DEPTH {
                    return Err(usage(format!(
                        "{what} nests more than {MAX_DEPTH} files deep"
                    )));
                }
                pending.push((resolved, depth + 1));
            }
        }
    }
    Ok(())
}

/// A referenced path as written, made absolute against the referencing file's folder. A
/// variable or `~` in it cannot be checked here, so it is refused.
fn referenced_path(folder: &Path, written: &str, what: &str) -> Result<PathBuf> {
    if written.contains('$') || written.starts_with('~') {
        return Err(usage(format!(
            "{what} uses a variable or `~`, so xtask cannot check that it stays inside the repository: write the path literally"
        )));
    }
    Ok(folder.join(written))
}

/// The canonical path of `path` when it is a regular file inside `root`; `None` when it is
/// missing and `optional`. Symlinks are followed and their target must be inside too.
fn inside(root: &Path, path: &Path, what: &str, optional: bool) -> Result<Option<PathBuf>> {
    let resolved = match path.canonicalize() {
        Ok(resolved) => resolved,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && optional => return Ok(None),
        Err(e) => {
            return Err(usage(format!(
                "{what} ({}) cannot be read: {e}",
                path.display()
            )));
        }
    };
    if !resolved.starts_with(root) {
        return Err(outside(what, &resolved, root));
    }
    if !resolved.is_file() {
        return Err(usage(format!(
            "{what} ({}) is not a regular file",
            resolved.display()
        )));
    }
    Ok(Some(resolved))
}

fn outside(what: &str, path: &Path, root: &Path) -> anyhow::Error {
    usage(format!(
        "{what} is {}, outside the repository {}: a deploy reads only files of the repository (move the file into it, or point the reference at a copy inside)",
        path.display(),
        root.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_reference_is_found() {
        let yaml = r#"
include:
  - common.yml
  - path: [a.yml, b.yml]
    env_file: inc.env
services:
  web:
    extends:
      file: base.yml
      service: common
    env_file: web.env
  api:
    extends: web
    env_file:
      - one.env
      - path: two.env
        required: false
  db:
"#;
        let found: Vec<(&str, String, bool)> = references(yaml)
            .unwrap()
            .into_iter()
            .map(|r| (r.kind, r.written, r.optional))
            .collect();
        let expected = [
            ("env_file", "one.env", false),
            ("env_file", "two.env", true),
            ("extends", "base.yml", false),
            ("env_file", "web.env", false),
            ("include", "common.yml", false),
            ("include", "a.yml", false),
            ("include", "b.yml", false),
            ("env_file", "inc.env", false),
        ]
        .map(|(k, w, o)| (k, w.to_owned(), o));
        assert_eq!(found, expected);
        assert!(references("services: [1").is_err());
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("repo/env")).unwrap();
        std::fs::write(dir.path().join("repo/env/web.env"), "A=1\n").unwrap();
        std::fs::write(
            dir.path().join("repo/base.yml"),
            "services:\n  common:\n    env_file: env/web.env\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("outside.env"), "SECRET=1\n").unwrap();
        std::fs::write(
            dir.path().join("outside.yml"),
            "services:\n  web:\n    image: x\n",
        )
        .unwrap();
        dir
    }

    fn compose(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("repo/compose.yml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn files_inside_the_repository_pass_and_outside_ones_are_refused() {
        let dir = repo();
        let root = dir.path().join("repo");
        let ok = compose(
            dir.path(),
            "services:\n  web:\n    extends:\n      file: ./base.yml\n      service: common\n    env_file: [env/web.env, {path: missing.env, required: false}]\n",
        );
        check(&root, &ok).unwrap();
        for (text, needle) in [
            (
                "services:\n  web:\n    env_file: ../outside.env\n",
                "outside the repository",
            ),
            (
                "services:\n  web:\n    extends:\n      file: ../outside.yml\n      service: web\n",
                "outside the repository",
            ),
            ("include:\n  - ../outside.yml\n", "outside the repository"),
            (
                "services:\n  web:\n    env_file: ${HOME}/x.env\n",
                "uses a variable",
            ),
            (
                "services:\n  web:\n    env_file: missing.env\n",
                "cannot be read",
            ),
            (
                "services:\n  web:\n    env_file: env\n",
                "not a regular file",
            ),
        ] {
            let file = compose(dir.path(), text);
            let error = check(&root, &file).unwrap_err();
            assert_eq!(
                crate::errors::exit_code_of(&error),
                crate::errors::exit::USAGE
            );
            assert!(error.to_string().contains(needle), "{text}: {error}");
        }
    }

    #[test]
    fn symlinks_may_point_only_inside() {
        let dir = repo();
        let root = dir.path().join("repo");
        let link = root.join("linked.yml");
        std::os::unix::fs::symlink(dir.path().join("outside.yml"), &link).unwrap();
        let error = check(&root, &link).unwrap_err();
        assert!(
            error.to_string().contains("outside the repository"),
            "{error}"
        );
        let inner = root.join("inner.yml");
        std::os::unix::fs::symlink(root.join("base.yml"), &inner).unwrap();
        check(&root, &inner).unwrap();
        // An env file that is a symlink out is refused too.
        std::os::unix::fs::symlink(dir.path().join("outside.env"), root.join("env/out.env"))
            .unwrap();
        let file = compose(dir.path(), "services:\n  web:\n    env_file: env/out.env\n");
        assert!(check(&root, &file).is_err());
    }
}
