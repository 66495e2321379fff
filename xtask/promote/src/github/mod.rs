//! GitHub Actions: the CI-native side of every command. When `GITHUB_ACTIONS=true`, findings
//! become annotations grouped per step, the Markdown summary goes to `$GITHUB_STEP_SUMMARY`,
//! and values for later steps go to `$GITHUB_OUTPUT`. Renderers are pure; `ci` does the IO.
//! Also here: the issue event payload `validate-request` reads, and the actions/cache key.

pub mod annotations;
pub mod cache_key;
pub mod ci;
pub mod event;
pub mod outputs;
pub mod summary;

/// Whether this process runs as a GitHub Actions step (the runner sets `GITHUB_ACTIONS=true`).
pub fn in_actions() -> bool {
    crate::edge_env::get().github.actions
}

/// A random 128-bit hex token, for `$GITHUB_OUTPUT` delimiters and `::stop-commands::`. Not a
/// secret: what makes both safe is that we check no value contains it; the randomness only
/// makes a collision (and so an error) practically impossible.
pub fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut parts = [0u64; 2];
    for (i, part) in parts.iter_mut().enumerate() {
        // Each RandomState is seeded from the OS's randomness (then varied per instance).
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(i);
        hasher.write_u32(std::process::id());
        if let Ok(elapsed) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            hasher.write_u128(elapsed.as_nanos());
        }
        *part = hasher.finish();
    }
    format!("{:016x}{:016x}", parts[0], parts[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_differ() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
