//! The persistent parse cache: each Python file's imports by the sha256 of its bytes, shared by
//! everything in one run that needs a file's imports (pyright's import closure in the cache
//! keys, the import graph of `affected` and the dependencies gate), so a warm run parses
//! nothing and, with the stat memo's digests, reads no unchanged file.
//!
//! Sound because the key is the content: a parse is only ever stored under the digest of the
//! exact bytes it was parsed from, and found only by a digest the stat memo vouches for. A cache
//! that cannot be read or written only costs time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::parse::{self, Parsed};
use crate::digest::{FileDigest, hex};

/// The cache's file name in the cache folder; the version changes with `Parsed`.
pub const FILE_NAME: &str = "imports-v1.json";

pub struct ParseCache {
    /// Where the cache lives; `None` keeps it for this run only.
    file: Option<PathBuf>,
    /// What was on disk, read on first use (a run that needs no parse never reads it).
    loaded: OnceLock<HashMap<String, Parsed>>,
    /// Parses this run made, by digest; saved (merged) when dropped unless `store` wrote them.
    added: Mutex<HashMap<String, Parsed>>,
}

impl ParseCache {
    pub fn open(file: Option<PathBuf>) -> ParseCache {
        ParseCache {
            file,
            loaded: OnceLock::new(),
            added: Mutex::new(HashMap::new()),
        }
    }

    fn loaded(&self) -> &HashMap<String, Parsed> {
        self.loaded.get_or_init(|| {
            self.file
                .as_ref()
                .and_then(|path| std::fs::read(path).ok())
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default()
        })
    }

    /// How many parses the cache held when the run started.
    pub fn loaded_len(&self) -> usize {
        self.loaded().len()
    }

    /// The parse of `relative` (under `root`) and the hex digest it is stored under, and
    /// whether it was parsed now. `digest` is the file's digest as the run's stat memo gives it;
    /// on a miss the file is read and parsed, and remembered under the digest of the bytes read
    /// (a file that cannot be read parses as empty).
    pub fn parse(
        &self,
        root: &Path,
        relative: &str,
        digest: Option<FileDigest>,
    ) -> (String, Parsed, bool) {
        if let Some(digest) = digest.map(|d| hex(&d)) {
            if let Some(hit) = self.loaded().get(&digest) {
                return (digest, hit.clone(), false);
            }
            if let Some(hit) = self
                .added
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&digest)
            {
                return (digest, hit.clone(), false);
            }
        }
        let bytes = std::fs::read(root.join(relative)).unwrap_or_default();
        let digest = hex(&Sha256::digest(&bytes));
        let parsed = parse::parse_file(&String::from_utf8_lossy(&bytes));
        self.added
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(digest.clone(), parsed.clone());
        (digest, parsed, true)
    }

    /// Replaces the stored cache by exactly `current` (the parses of every file of the tree), so
    /// it never grows past the tree. Best effort.
    pub fn store(&self, current: &HashMap<&str, &Parsed>) {
        let Some(path) = &self.file else { return };
        let mut added = self.added.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(bytes) = serde_json::to_vec(current) {
            // Best effort: a read-only cache folder must not fail the command.
            if crate::fsutil::write_atomic_regenerable(path, &bytes).is_ok() {
                added.retain(|digest, _| !current.contains_key(digest.as_str()));
            }
        }
    }
}

impl Drop for ParseCache {
    /// Parses made this run and not yet stored are merged into the file as it is now.
    fn drop(&mut self) {
        let Some(path) = &self.file else { return };
        let added = std::mem::take(self.added.get_mut().unwrap_or_else(|e| e.into_inner()));
        if added.is_empty() {
            return;
        }
        let mut merged: HashMap<String, Parsed> = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        merged.extend(added);
        if let Ok(bytes) = serde_json::to_vec(&merged) {
            let _ = crate::fsutil::write_atomic_regenerable(path, &bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_is_found_by_content_and_survives_the_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "import os\nimport json\n").unwrap();
        let file = dir.path().join("cache").join(FILE_NAME);
        let digest: FileDigest = Sha256::digest(b"import os\nimport json\n").into();
        let cache = ParseCache::open(Some(file.clone()));
        let (stored_under, parsed, now) = cache.parse(dir.path(), "a.py", Some(digest));
        assert!(now);
        assert_eq!(stored_under, hex(&digest));
        assert_eq!(parsed.imports.len(), 2);
        drop(cache);
        // The next run finds it by the digest alone: even a file now gone is not read.
        std::fs::remove_file(dir.path().join("a.py")).unwrap();
        let cache = ParseCache::open(Some(file));
        let (_, again, now) = cache.parse(dir.path(), "a.py", Some(digest));
        assert!(!now);
        assert_eq!(again, parsed);
    }

    #[test]
    fn a_parse_is_stored_under_the_bytes_read_not_the_digest_given() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "import os\n").unwrap();
        let stale: FileDigest = Sha256::digest(b"import json\n").into();
        let cache = ParseCache::open(None);
        let (stored_under, parsed, _) = cache.parse(dir.path(), "a.py", Some(stale));
        assert_eq!(stored_under, hex(&Sha256::digest(b"import os\n")));
        assert_eq!(parsed.imports[0].module, "os");
        // The stale digest finds nothing.
        let (_, _, now) = cache.parse(dir.path(), "a.py", Some(stale));
        assert!(now);
    }
}
