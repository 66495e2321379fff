//! The interpreter's identity by content, for cache keys: its version, the binary's bytes, every
//! installed distribution by its RECORD, every `.pth` file's bytes and every loose module in
//! site-packages (`sitecustomize`, `usercustomize`, `_virtualenv`, …), plus the base
//! installation's `sitecustomize`/`usercustomize`.
//!
//! No absolute path and no mtime goes in: the same environment at another path or on another
//! machine gives the same identity. Paths of the project inside `.pth` files and editable
//! installs' RECORDs are written as `$ROOT`. Files are read only when their stat stamp (size,
//! mtime_ns, ctime, inode) differs from the memo kept in the state folder, so the warm path reads
//! one small JSON file and stats a few dozen files; nothing is spawned.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::digest::hex;
use crate::fsutil;

const MEMO_FILE: &str = "interpreter-memo.json";

/// Stat stamp -> normalised digest, by absolute path (the memo, unlike keys, is per machine).
#[derive(Default, Serialize, Deserialize)]
struct Memo {
    files: BTreeMap<String, (String, String)>,
}

struct Digests {
    memo: Mutex<Memo>,
    changed: Mutex<bool>,
}

impl Digests {
    /// The digest of `path` after `normalise`, reusing the memo while its stamp is unchanged.
    fn get(&self, path: &Path, normalise: impl Fn(Vec<u8>) -> Vec<u8>) -> Option<String> {
        let stamp = stamp(path)?;
        let name = path.to_string_lossy().into_owned();
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((known, digest)) = memo.files.get(&name)
            && *known == stamp
        {
            return Some(digest.clone());
        }
        let bytes = std::fs::read(path).ok()?;
        let digest = hex(&Sha256::digest(normalise(bytes)));
        memo.files.insert(name, (stamp, digest.clone()));
        *self.changed.lock().unwrap_or_else(|e| e.into_inner()) = true;
        Some(digest)
    }
}

/// `size:mtime_ns:ctime_ns:inode`: any rewrite changes at least one of them.
fn stamp(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    Some(format!(
        "{}:{}.{}:{}.{}:{}",
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.ino()
    ))
}

/// Replaces every occurrence of `root` in `bytes` by `$ROOT`.
fn without_root(bytes: Vec<u8>, root: &str) -> Vec<u8> {
    if root.is_empty() {
        return bytes;
    }
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains(root) {
        return bytes;
    }
    text.replace(root, "$ROOT").into_bytes()
}

/// A RECORD without the hashes of files whose bytes hold the install location (`.pth` files of
/// editable installs, `direct_url.json`): those are keyed separately, root-relative.
fn portable_record(bytes: Vec<u8>, root: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(&bytes);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let path = line.split(',').next().unwrap_or("");
        if path.ends_with(".pth") || path.ends_with("direct_url.json") {
            out.push_str(path);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    without_root(out.into_bytes(), root)
}

/// The identity of the interpreter `python` (a venv's `bin/python` or a base install), with
/// `root` (the project's root) written as `$ROOT` wherever the environment names it.
pub fn identity(python: &Path, root: &Path, state_dir: &Path) -> String {
    let memo_path = state_dir.join(MEMO_FILE);
    let digests = Digests {
        memo: Mutex::new(
            std::fs::read(&memo_path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default(),
        ),
        changed: Mutex::new(false),
    };
    let root_text = root.to_string_lossy().into_owned();
    let mut lines: Vec<String> = Vec::new();
    let real = std::fs::canonicalize(python).unwrap_or_else(|_| python.to_path_buf());
    lines.push(format!(
        "binary={}",
        digests
            .get(&real, |b| b)
            .unwrap_or_else(|| "missing".into())
    ));
    let env = python
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    let mut base_home: Option<PathBuf> = None;
    if let Some(env) = &env
        && let Ok(cfg) = std::fs::read_to_string(env.join("pyvenv.cfg"))
    {
        for line in cfg.lines() {
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            match name {
                // Where the venv or its base lives is not what it is.
                "home" => base_home = Some(PathBuf::from(value)),
                "command" | "executable" | "prompt" => {}
                _ => lines.push(format!("pyvenv.{name}={value}")),
            }
        }
    }
    let mut site_dirs = env
        .as_deref()
        .map(super::inventory::site_packages)
        .unwrap_or_default();
    // The base installation: its own sitecustomize runs in every venv made from it.
    let base = base_home
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .or_else(|| real.parent().and_then(Path::parent).map(Path::to_path_buf));
    if let Some(base) = &base {
        for lib in lib_dirs(base) {
            for name in ["sitecustomize.py", "usercustomize.py"] {
                if let Some(d) = digests.get(&lib.join(name), |b| b) {
                    lines.push(format!("base/{name}={d}"));
                }
            }
            let system_site = lib.join("site-packages");
            let included = lines
                .iter()
                .any(|l| l == "pyvenv.include-system-site-packages=true");
            if (included || env.as_deref() == Some(base.as_path()))
                && !site_dirs.contains(&system_site)
            {
                site_dirs.push(system_site);
            }
        }
    }
    for (n, dir) in site_dirs.iter().enumerate() {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name != "__pycache__")
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let digest = if name.ends_with(".dist-info") {
                digests.get(&path.join("RECORD"), |b| portable_record(b, &root_text))
            } else if name.ends_with(".pth") || name.ends_with(".egg-link") {
                digests.get(&path, |b| without_root(b, &root_text))
            } else if path.is_file() {
                digests.get(&path, |b| b)
            } else {
                // A package folder: its files are covered by its distribution's RECORD.
                None
            };
            lines.push(format!(
                "site{n}/{name}={}",
                digest.unwrap_or_else(|| "-".into())
            ));
        }
    }
    if *digests.changed.lock().unwrap_or_else(|e| e.into_inner()) {
        let memo = digests.memo.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Ok(bytes) = serde_json::to_vec(&memo) {
            // Best effort: without the memo the next run reads the files again.
            let _ = fsutil::write_atomic_regenerable(&memo_path, &bytes);
        }
    }
    let mut hasher = Sha256::new();
    for line in &lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

/// `lib/pythonX.Y` folders of an installation.
fn lib_dirs(base: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(base.join(lib)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("python") && entry.path().is_dir() {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venv(root: &Path, at: &str) -> PathBuf {
        let env = root.join(at);
        let site = env.join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("pytest-9.2.0.dist-info")).unwrap();
        std::fs::create_dir_all(env.join("bin")).unwrap();
        std::fs::write(env.join("bin/python"), b"binary").unwrap();
        std::fs::write(
            env.join("pyvenv.cfg"),
            format!("home = {}/base/bin\nversion = 3.11.7\n", root.display()),
        )
        .unwrap();
        std::fs::write(
            site.join("pytest-9.2.0.dist-info/RECORD"),
            "pytest/__init__.py,sha256=abc,10\n",
        )
        .unwrap();
        std::fs::write(
            site.join("__editable__.proj.pth"),
            format!("{}/src\n", root.join("proj").display()),
        )
        .unwrap();
        env.join("bin/python")
    }

    #[test]
    fn identity_is_by_content_not_by_location() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let pa = venv(a.path(), "venv");
        let pb = venv(b.path(), "venv");
        let ia = identity(&pa, &a.path().join("proj"), state.path());
        let ib = identity(&pb, &b.path().join("proj"), state.path());
        assert_eq!(ia, ib, "the same environment at another path");
        // Warm: the memo answers and the identity is stable.
        assert_eq!(ia, identity(&pa, &a.path().join("proj"), state.path()));

        let site = a.path().join("venv/lib/python3.11/site-packages");
        std::fs::write(site.join("sitecustomize.py"), "import os\n").unwrap();
        let with_custom = identity(&pa, &a.path().join("proj"), state.path());
        assert_ne!(ia, with_custom, "a sitecustomize in site-packages");

        std::fs::write(site.join("extra.pth"), "import os\n").unwrap();
        let with_pth = identity(&pa, &a.path().join("proj"), state.path());
        assert_ne!(with_custom, with_pth, "a new .pth file");

        std::fs::write(
            site.join("pytest-9.2.0.dist-info/RECORD"),
            "pytest/__init__.py,sha256=def,10\n",
        )
        .unwrap();
        assert_ne!(
            with_pth,
            identity(&pa, &a.path().join("proj"), state.path()),
            "a reinstalled distribution with other files"
        );
    }
}
