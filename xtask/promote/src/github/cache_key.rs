//! The actions/cache key of `.xtask/cache`: `xtask-<config>-<scope>-<inputs>`, where `config`
//! digests what changes every result (the cache schema, xtask.toml with its tool pins, the
//! lock file) and `inputs` the files the scope's steps read. An unchanged scope hits exactly;
//! a changed one restores the newest entry with the same prefix, whose content-addressed
//! results stay valid for everything that did not change.

use crate::digest::hex;
use std::collections::BTreeMap;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::cache::SCHEMA_VERSION;
use crate::config::{Component, Config};
use crate::engine::inputs::{self, InputIndex};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub key: String,
    /// Most specific first: this scope's older entries, then the whole-project ones.
    pub restore_keys: Vec<String>,
}

/// The key for `scope` (a component name, or `all`). Pure.
pub fn format(config_digest: &str, scope: &str, inputs_digest: &str) -> CacheKey {
    let prefix = format!("xtask-{config_digest}-");
    let mut restore_keys = vec![format!("{prefix}{scope}-")];
    if scope != "all" {
        restore_keys.push(format!("{prefix}all-"));
    }
    CacheKey {
        key: format!("{prefix}{scope}-{inputs_digest}"),
        restore_keys,
    }
}

fn short_hex(bytes: &[u8]) -> String {
    hex(bytes)[..16].to_owned()
}

fn read_optional(path: &std::path::Path) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("failed to read {}", path.display())),
    }
}

/// Reads xtask.toml and the lock file, walks the scope's inputs, and digests them.
pub fn compute(config: &Config, component: Option<&Component>) -> Result<CacheKey> {
    let mut config_hash = Sha256::new();
    config_hash.update(format!("schema {SCHEMA_VERSION}\n"));
    // Names, not absolute paths: the key must be the same on every machine.
    for (name, path) in [
        ("registry", config.path.clone()),
        ("Cargo.lock", config.workspace_root.join("Cargo.lock")),
    ] {
        let bytes = read_optional(&path)?;
        config_hash.update(format!("{name} {}\n", bytes.len()));
        config_hash.update(&bytes);
    }

    let index = InputIndex::new(&config.project.root);
    let components: Vec<&Component> = match component {
        Some(component) => vec![component],
        None => config.components.iter().collect(),
    };
    let mut files: Vec<String> = inputs::configs(&index);
    for component in &components {
        files.extend(inputs::sources(&index, component));
        files.extend(inputs::tests(&index, component));
        files.extend(inputs::dependency_files(&index, config, component));
    }
    files.sort();
    files.dedup();
    let digests: BTreeMap<String, String> = inputs::digest_list(&index, &files);
    let material = serde_json::to_vec(&digests).context("failed to describe the inputs")?;

    Ok(format(
        &short_hex(&config_hash.finalize()),
        component.map_or("all", |c| c.name.as_str()),
        &short_hex(&Sha256::digest(&material)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fall_back_from_the_component_to_the_whole_project() {
        let key = format("c0ffee", "llm", "abc123");
        assert_eq!(key.key, "xtask-c0ffee-llm-abc123");
        assert_eq!(key.restore_keys, ["xtask-c0ffee-llm-", "xtask-c0ffee-all-"]);
        assert_eq!(
            format("c0ffee", "all", "9").restore_keys,
            ["xtask-c0ffee-all-"]
        );
    }

    #[test]
    fn a_components_key_follows_its_own_inputs_only() {
        let config = crate::testutil::registry();
        let carbon = config.component("carbon").unwrap();
        let llm = config.component("llm").unwrap();
        let a = compute(&config, Some(carbon)).unwrap();
        assert_eq!(a, compute(&config, Some(carbon)).unwrap());
        let b = compute(&config, Some(llm)).unwrap();
        assert_ne!(a.key, b.key);
        // Same config digest: they share the fallback.
        assert_eq!(a.restore_keys[1], b.restore_keys[1]);
        let all = compute(&config, None).unwrap();
        assert!(all.key.contains("-all-"));
    }
}
