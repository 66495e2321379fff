//! Helpers for unit tests: the repository's own registry, loaded as the commands load it.

use crate::config::{self, Config};

/// The workspace's `xtask.toml` (the bundled example's registry), so snapshots show what the
/// committed generated files and the users see.
pub fn registry() -> Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .join(config::CONFIG_FILE_NAME);
    config::load(&path).expect("the workspace registry loads")
}
