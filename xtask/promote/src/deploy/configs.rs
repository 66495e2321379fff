//! The resolved compose model of each deploy (`compose config`: files merged, `extends` and
//! `env_file` resolved, variables interpolated), kept by content digest under
//! `.xtask/deploy/configs/`, so a rollback restores the configuration a state was proven with
//! and not only its image. Kept in the state folder rather than the history because it holds
//! the environment's resolved variables, which do not belong in a report.
//!
//! A restore runs from a document built here: the whole model, with the service pinned to the
//! proven image by ID, never built and never pulled. Compose recreates the service from it as
//! if the model were the compose file, so nothing a later configuration added survives.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fsutil;

/// The largest model kept: a compose file is a few kilobytes; anything near this is not one.
pub const MAX_MODEL_BYTES: usize = 4 << 20;

fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("deploy").join("configs")
}

/// Where restore documents are written; the last one of each service stays, so the commands
/// a failed rollback prints can use it.
pub fn restore_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("deploy").join("restore")
}

/// Stores `model` and returns its digest (64 lowercase hex digits).
pub fn store(state_dir: &Path, model: &Value) -> Result<String> {
    let bytes = serde_json::to_vec(model).context("failed to serialise a compose model")?;
    let digest = crate::digest::hex(&Sha256::digest(&bytes));
    let path = dir(state_dir).join(format!("{digest}.json"));
    if !path.is_file() {
        fsutil::write_atomic(&path, &bytes)?;
    }
    Ok(digest)
}

/// The model stored under `digest`; `None` when it is missing or does not match its digest
/// (a model that was changed is not the one that was proven).
pub fn load(state_dir: &Path, digest: &str) -> Result<Option<Value>> {
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let path = dir(state_dir).join(format!("{digest}.json"));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
    };
    if bytes.len() > MAX_MODEL_BYTES || crate::digest::hex(&Sha256::digest(&bytes)) != digest {
        return Ok(None);
    }
    Ok(serde_json::from_slice(&bytes).ok())
}

/// Pure: the compose document that restores `service` from `model` on `image_id`: the whole
/// model (its other services are only there for references such as `depends_on`; the restore
/// acts on `service` alone), the service's `build` removed, its image pinned by ID and never
/// pulled. The project's `name` goes: the CLI passes it, and compose v1 refuses the key.
pub fn restore_document(model: &Value, service: &str, image_id: &str) -> Result<Value, String> {
    let mut document = model.clone();
    let Some(top) = document.as_object_mut() else {
        return Err("the compose model is not a mapping".to_owned());
    };
    top.remove("name");
    let definition = top
        .get_mut("services")
        .and_then(|s| s.get_mut(service))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("the compose model does not define service `{service}`"))?;
    definition.remove("build");
    definition.insert("image".to_owned(), Value::String(image_id.to_owned()));
    definition.insert("pull_policy".to_owned(), Value::String("never".to_owned()));
    Ok(document)
}

/// Writes the restore document of `service` and returns its path.
pub fn write_restore(
    state_dir: &Path,
    project: &str,
    service: &str,
    document: &Value,
) -> Result<PathBuf> {
    let path = restore_dir(state_dir).join(format!("{project}.{service}.json"));
    let mut text =
        serde_json::to_string_pretty(document).context("failed to serialise a restore file")?;
    text.push('\n');
    fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Value {
        serde_json::json!({
            "name": "tta-staging",
            "version": "3.9",
            "services": {
                "web": {"image": "tta/web:staging", "build": {"context": "/repo/web"}, "command": ["serve"]},
                "db": {"image": "postgres:16"}
            },
            "volumes": {"data": {}}
        })
    }

    #[test]
    fn a_restore_document_pins_the_image_and_keeps_the_configuration() {
        let id = format!("sha256:{}", "a".repeat(64));
        let document = restore_document(&model(), "web", &id).unwrap();
        assert_eq!(
            document,
            serde_json::json!({
                "version": "3.9",
                "services": {
                    "web": {"image": id, "pull_policy": "never", "command": ["serve"]},
                    "db": {"image": "postgres:16"}
                },
                "volumes": {"data": {}}
            })
        );
        assert!(restore_document(&model(), "api", &id).is_err());
        assert!(restore_document(&Value::Null, "web", &id).is_err());
    }

    #[test]
    fn stored_models_come_back_by_digest_and_changed_ones_do_not() {
        let state = tempfile::tempdir().unwrap();
        let digest = store(state.path(), &model()).unwrap();
        assert_eq!(digest.len(), 64);
        assert_eq!(store(state.path(), &model()).unwrap(), digest);
        assert_eq!(load(state.path(), &digest).unwrap(), Some(model()));
        assert_eq!(load(state.path(), &"0".repeat(64)).unwrap(), None);
        assert_eq!(load(state.path(), "../../etc/passwd").unwrap(), None);
        std::fs::write(
            dir(state.path()).join(format!("{digest}.json")),
            b"{\"services\": {}}",
        )
        .unwrap();
        assert_eq!(load(state.path(), &digest).unwrap(), None);
    }
}
