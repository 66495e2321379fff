//! Cache keys: sha256 over a canonical description of one step for one component. Everything
//! that can change the step's result goes in; nothing that cannot (timings, absolute temp
//! paths, mtimes) does.

use crate::digest::hex;
use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use sha2::{Digest, Sha256};

use super::inputs::{InputIndex, StepInputs};
use crate::cache::SCHEMA_VERSION;
use crate::config::{Policy, Thresholds};
use crate::digest::FileDigest;

/// Files of one role with their digests, sorted by path and without repeats.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Digests(Vec<(String, Option<FileDigest>)>);

impl Digests {
    fn of(index: &InputIndex, files: &[String]) -> Digests {
        let mut list: Vec<(String, Option<FileDigest>)> =
            files.iter().map(|f| (f.clone(), index.digest(f))).collect();
        list.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        list.dedup_by(|a, b| a.0 == b.0);
        Digests(list)
    }

    pub fn iter(&self) -> impl Iterator<Item = &(String, Option<FileDigest>)> {
        self.0.iter()
    }

    /// Fed to the key's hasher: count, then each path (length-prefixed) and its digest.
    fn hash_into(&self, hasher: &mut Sha256) {
        hasher.update((self.0.len() as u64).to_le_bytes());
        for (path, digest) in &self.0 {
            hash_text(hasher, path);
            match digest {
                Some(digest) => {
                    hasher.update([1]);
                    hasher.update(digest);
                }
                None => hasher.update([0]),
            }
        }
    }
}

/// As `cache explain` reads it: path -> lowercase hex digest (or `unreadable`).
impl Serialize for Digests {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (path, digest) in &self.0 {
            match digest {
                Some(d) => map.serialize_entry(path, &hex(d))?,
                None => map.serialize_entry(path, "unreadable")?,
            }
        }
        map.end()
    }
}

fn hash_text(hasher: &mut Sha256, text: &str) {
    hasher.update((text.len() as u64).to_le_bytes());
    hasher.update(text.as_bytes());
}

/// The canonical description of a step. Its digest is the key: the small fields are hashed as
/// their JSON, the file lists (most of a key's bytes, and most of a warm run's work when they
/// were JSON too) straight into the hasher, length-prefixed so no two materials feed the same
/// bytes. The JSON form (`Serialize`) is made only when an entry is stored or explained.
#[derive(Debug, Serialize)]
pub struct KeyMaterial<'a> {
    pub schema: u32,
    pub step: &'static str,
    pub tool: &'static str,
    pub version: String,
    /// Arguments for this component alone, with placeholders for per-run paths.
    pub argv: Vec<String>,
    pub interpreter: &'a str,
    pub sources: Digests,
    pub tests: Digests,
    pub packages: Digests,
    /// Dependency source path -> digest of its whole tree.
    pub dependencies: BTreeMap<String, String>,
    pub thresholds: &'a Thresholds,
    pub policy: &'a Policy,
    /// Every variable the tool sees that can change its verdict, by value (`engine::environment`).
    pub env: BTreeMap<String, String>,
    /// The file-access observer's version for steps whose reads are observed, else empty.
    pub observer: String,
}

/// The fields of `KeyMaterial` that are not file lists, hashed as JSON.
#[derive(Serialize)]
struct Head<'m> {
    schema: u32,
    step: &'m str,
    tool: &'m str,
    version: &'m str,
    argv: &'m [String],
    interpreter: &'m str,
    dependencies: &'m BTreeMap<String, String>,
    thresholds: &'m Thresholds,
    policy: &'m Policy,
    env: &'m BTreeMap<String, String>,
    observer: &'m str,
}

pub struct KeyParts<'a> {
    pub step: &'static str,
    pub tool: &'static str,
    pub version: String,
    pub argv: Vec<String>,
    pub interpreter: &'a str,
    pub thresholds: &'a Thresholds,
    pub policy: &'a Policy,
    pub env: BTreeMap<String, String>,
    pub observer: String,
}

impl<'a> KeyMaterial<'a> {
    pub fn new(parts: KeyParts<'a>, index: &InputIndex, files: &StepInputs) -> Self {
        KeyMaterial {
            schema: SCHEMA_VERSION,
            step: parts.step,
            tool: parts.tool,
            version: parts.version,
            argv: parts.argv,
            interpreter: parts.interpreter,
            sources: Digests::of(index, &files.sources),
            tests: Digests::of(index, &files.tests),
            packages: Digests::of(index, &files.packages),
            dependencies: files
                .dependencies
                .iter()
                .map(|source| (source.clone(), index.tree_digest(source)))
                .collect(),
            thresholds: parts.thresholds,
            policy: parts.policy,
            env: parts.env,
            observer: parts.observer,
        }
    }

    /// The key: sha256 of the material.
    pub fn digest(&self) -> crate::digest::Digest {
        let mut hasher = Sha256::new();
        let head = Head {
            schema: self.schema,
            step: self.step,
            tool: self.tool,
            version: &self.version,
            argv: &self.argv,
            interpreter: self.interpreter,
            dependencies: &self.dependencies,
            thresholds: self.thresholds,
            policy: self.policy,
            env: &self.env,
            observer: &self.observer,
        };
        let head = serde_json::to_vec(&head).expect("key material always serialises");
        hasher.update((head.len() as u64).to_le_bytes());
        hasher.update(&head);
        // Fixed order; each list is counted, so a file moving between roles changes the bytes.
        for list in [&self.sources, &self.tests, &self.packages] {
            list.hash_into(&mut hasher);
        }
        crate::digest::Digest::from(<[u8; 32]>::from(hasher.finalize()))
    }

    /// Every file read directly, with its digest, sorted and without repeats (dependencies are
    /// checked as trees).
    pub fn files(&self) -> Vec<(String, Option<FileDigest>)> {
        let mut all: Vec<(String, Option<FileDigest>)> = self
            .sources
            .iter()
            .chain(self.tests.iter())
            .chain(self.packages.iter())
            .cloned()
            .collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all.dedup_by(|a, b| a.0 == b.0);
        all
    }

    /// The JSON form, kept with the newest entry of a step for `cache explain`.
    pub fn value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::SecuritySeverity;

    fn policy() -> Policy {
        Policy {
            observation_days: 7,
            security_fail_on: SecuritySeverity::Medium,
            readme_sections: vec!["Overview".into()],
            readme_sections_by_stage: Default::default(),
        }
    }

    const THRESHOLDS: Thresholds = Thresholds {
        development: 60.0,
        staging: 70.0,
        production: 80.0,
    };

    fn digest_with(
        version: &str,
        argv: &[String],
        interpreter: &str,
        thresholds: &Thresholds,
        policy: &Policy,
    ) -> crate::digest::Digest {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), b"x = 1\n").unwrap();
        let index = InputIndex::new(dir.path());
        let files = StepInputs {
            sources: vec!["a.py".into()],
            ..StepInputs::default()
        };
        KeyMaterial::new(
            KeyParts {
                step: "ruff-check",
                tool: "ruff",
                version: version.to_owned(),
                argv: argv.to_vec(),
                interpreter,
                thresholds,
                policy,
                env: BTreeMap::new(),
                observer: String::new(),
            },
            &index,
            &files,
        )
        .digest()
    }

    #[test]
    fn every_non_file_ingredient_changes_the_key() {
        let argv = vec!["check".to_owned(), "src".to_owned()];
        let base = digest_with("0.17.5", &argv, "py-a", &THRESHOLDS, &policy());
        assert_eq!(
            base,
            digest_with("0.17.5", &argv, "py-a", &THRESHOLDS, &policy())
        );
        assert_ne!(
            base,
            digest_with("0.17.6", &argv, "py-a", &THRESHOLDS, &policy())
        );
        let other_argv = vec!["check".to_owned(), "--fix".to_owned(), "src".to_owned()];
        assert_ne!(
            base,
            digest_with("0.17.5", &other_argv, "py-a", &THRESHOLDS, &policy())
        );
        assert_ne!(
            base,
            digest_with("0.17.5", &argv, "py-b", &THRESHOLDS, &policy())
        );
        let stricter = Thresholds {
            staging: 75.0,
            ..THRESHOLDS
        };
        assert_ne!(
            base,
            digest_with("0.17.5", &argv, "py-a", &stricter, &policy())
        );
        let mut sections = policy();
        sections.readme_sections.push("API".into());
        assert_ne!(
            base,
            digest_with("0.17.5", &argv, "py-a", &THRESHOLDS, &sections)
        );
    }

    #[test]
    fn a_file_moving_between_roles_changes_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), b"x = 1\n").unwrap();
        let index = InputIndex::new(dir.path());
        let parts = || KeyParts {
            step: "pytest",
            tool: "pytest",
            version: "9.2.0".to_owned(),
            argv: Vec::new(),
            interpreter: "py",
            thresholds: &THRESHOLDS,
            policy: Box::leak(Box::new(policy())),
            env: BTreeMap::new(),
            observer: String::new(),
        };
        let as_source = StepInputs {
            sources: vec!["a.py".into()],
            ..StepInputs::default()
        };
        let as_test = StepInputs {
            tests: vec!["a.py".into()],
            ..StepInputs::default()
        };
        assert_ne!(
            KeyMaterial::new(parts(), &index, &as_source).digest(),
            KeyMaterial::new(parts(), &index, &as_test).digest()
        );
    }
}
