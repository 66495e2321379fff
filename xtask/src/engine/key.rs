//! Cache keys: sha256 over a canonical description of one step for one component. Everything
//! that can change the step's result goes in; nothing that cannot (timings, absolute temp
//! paths, mtimes) does.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::inputs::{self, InputIndex, StepInputs};
use crate::cache::SCHEMA_VERSION;
use crate::config::{Policy, Thresholds};

/// The canonical description that is hashed. Field order is fixed by the struct and maps are
/// sorted, so the same step always serialises to the same bytes.
#[derive(Debug, Serialize)]
pub struct KeyMaterial<'a> {
    pub schema: u32,
    pub step: &'a str,
    pub tool: &'a str,
    pub version: &'a str,
    /// Arguments for this component alone, with placeholders for per-run paths.
    pub argv: &'a [String],
    pub interpreter: &'a str,
    pub sources: BTreeMap<String, String>,
    pub tests: BTreeMap<String, String>,
    pub packages: BTreeMap<String, String>,
    /// Dependency source path -> digest of its whole tree.
    pub dependencies: BTreeMap<String, String>,
    pub configs: BTreeMap<String, String>,
    /// First-party files outside the component that it imports (pyright).
    pub imported: BTreeMap<String, String>,
    pub thresholds: &'a Thresholds,
    pub policy: &'a Policy,
    /// Every variable the tool sees that can change its verdict, by value (`engine::environment`).
    pub env: &'a BTreeMap<String, String>,
    /// The observer's version for steps whose reads are observed, else empty.
    pub observer: &'a str,
}

pub struct KeyParts<'a> {
    pub step: &'a str,
    pub tool: &'a str,
    pub version: &'a str,
    pub argv: &'a [String],
    pub interpreter: &'a str,
    pub thresholds: &'a Thresholds,
    pub policy: &'a Policy,
    pub env: &'a BTreeMap<String, String>,
    pub observer: &'a str,
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
            sources: inputs::digest_list(index, &files.sources),
            tests: inputs::digest_list(index, &files.tests),
            packages: inputs::digest_list(index, &files.packages),
            dependencies: files
                .dependencies
                .iter()
                .map(|source| (source.clone(), index.tree_digest(source)))
                .collect(),
            configs: inputs::digest_list(index, &files.configs),
            imported: inputs::digest_list(index, &files.imported),
            thresholds: parts.thresholds,
            policy: parts.policy,
            env: parts.env,
            observer: parts.observer,
        }
    }

    #[cfg(test)]
    pub fn digest(&self) -> String {
        self.digest_and_bytes().0
    }

    /// The digest and the serialised material it was computed over.
    pub fn digest_and_bytes(&self) -> (String, Vec<u8>) {
        let bytes = serde_json::to_vec(self).expect("key material always serialises");
        (inputs::hex(&Sha256::digest(&bytes)), bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecuritySeverity;

    fn policy() -> Policy {
        Policy {
            observation_days: 7,
            security_fail_on: SecuritySeverity::Medium,
            readme_sections: vec!["Overview".into()],
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
    ) -> String {
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
                version,
                argv,
                interpreter,
                thresholds,
                policy,
                env: &BTreeMap::new(),
                observer: "",
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
            version: "9.2.0",
            argv: &[],
            interpreter: "py",
            thresholds: &THRESHOLDS,
            policy: Box::leak(Box::new(policy())),
            env: Box::leak(Box::new(BTreeMap::new())),
            observer: "",
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
