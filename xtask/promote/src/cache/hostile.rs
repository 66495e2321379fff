//! The cache against hostile bytes: manifests whose result keys are paths, entries and records
//! of arbitrary bytes from a local file or a remote server (a real nginx), and property tests
//! that no such bytes panic or write anything outside the state folder.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::remote_cache::protocol::{self, Record};
use crate::remote_cache::signing::SecretKey;
use crate::remote_cache::test_server::Nginx;
use crate::remote_cache::{RemoteSettings, RemoteStore};

fn key(text: &str) -> Digest {
    Digest::of(text.as_bytes())
}

/// A manifest payload with one read set naming `result` as it is written, digest or not.
fn manifest_naming(result: &str) -> Vec<u8> {
    let mut out = MANIFEST_MAGIC.to_vec();
    out.extend_from_slice(&(result.len() as u32).to_le_bytes());
    out.extend_from_slice(result.as_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

/// A folder for one test: the state folder is `<root>/.xtask`, the cache `<root>/.xtask/cache`,
/// and `<root>/outside` is where an escape would land.
struct World {
    root: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World {
            root: tempfile::tempdir().expect("a temp folder"),
        }
    }

    fn cache_dir(&self) -> PathBuf {
        self.root.path().join(".xtask/cache")
    }

    /// Result keys a hostile writer would use to escape the cache.
    fn hostile_keys(&self) -> Vec<String> {
        let good = key("x").to_hex();
        vec![
            self.root
                .path()
                .join("outside/absolute")
                .display()
                .to_string(),
            "../../../outside/up".to_owned(),
            "../x".to_owned(),
            ".vscode/settings".to_owned(),
            format!("aé{}", &good[3..]),
            good.to_ascii_uppercase(),
            format!("{}/..", &good[..61]),
            String::new(),
        ]
    }

    /// Every file under the root that is not under the state folder.
    fn outside_files(&self) -> Vec<PathBuf> {
        let state = self.root.path().join(".xtask");
        let mut found = Vec::new();
        let mut folders = vec![self.root.path().to_path_buf()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.starts_with(&state) {
                    continue;
                }
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    folders.push(path);
                } else {
                    found.push(path);
                }
            }
        }
        found
    }
}

fn assert_nothing_outside(world: &World) {
    assert_eq!(world.outside_files(), Vec::<PathBuf>::new());
    assert!(!Path::new("/tmp/escaped.json").exists());
}

#[test]
fn a_local_manifest_whose_result_key_is_not_a_digest_is_a_miss_and_verify_reports_it() {
    let world = World::new();
    let cache = Cache::open(&world.cache_dir(), u64::MAX);
    for (n, hostile) in world.hostile_keys().iter().enumerate() {
        let declared = key(&format!("declared {n}"));
        cache
            .write_entry(&manifest_key(&declared), &frame(&manifest_naming(hostile)))
            .unwrap();
        let Lookup::Corrupt(reason) = cache.get_observed(&declared, |_| true) else {
            panic!("{hostile:?} was not refused");
        };
        assert!(reason.contains("not a digest"), "{reason}");
        assert_eq!(cache.manifest(&declared), Manifest::default());
    }
    let (checked, bad) = cache.verify(false, crate::engine::warm::is_record);
    assert_eq!(checked as usize, world.hostile_keys().len());
    assert_eq!(bad.len(), world.hostile_keys().len(), "{bad:?}");
    assert!(bad.iter().all(|(_, why)| why.contains("not a digest")));
    assert_nothing_outside(&world);
}

#[test]
fn verify_reports_files_not_named_by_a_digest() {
    let world = World::new();
    let cache = Cache::open(&world.cache_dir(), u64::MAX);
    let good = key("good");
    cache.write_entry(&good, &frame(b"{}")).unwrap();
    let entries = world.cache_dir().join("entries");
    let hex = good.to_hex();
    for stray in [
        format!("{}/settings.json", &hex[..2]),
        format!("zz/{hex}.json"),
        format!("{}/{}.json", &hex[..2], hex.to_ascii_uppercase()),
    ] {
        crate::testutil::write_file(&entries, &stray, "{}");
    }
    let (checked, bad) = cache.verify(true, crate::engine::warm::is_record);
    assert_eq!(checked, 4);
    let named: Vec<&str> = bad.iter().map(|(_, why)| why.as_str()).collect();
    // The good one holds no verdict; the three strays are misnamed.
    assert_eq!(
        named
            .iter()
            .filter(|why| **why == "not named by a digest")
            .count(),
        3,
        "{bad:?}"
    );
    assert!(!entries.join("zz").join(format!("{hex}.json")).exists());
}

#[test]
fn verify_reports_warm_run_records_that_do_not_parse() {
    let world = World::new();
    let cache = Cache::open(&world.cache_dir(), u64::MAX);
    let warm = world.cache_dir().join(crate::engine::warm::DIR);
    crate::testutil::write_file(&warm, &key("damaged").to_hex(), "not framed");
    crate::testutil::write_file(&warm, "../../outside", "");
    crate::testutil::write_file(&warm, "not-a-digest", "");
    let (checked, bad) = cache.verify(true, crate::engine::warm::is_record);
    assert_eq!(checked, 2);
    let reasons: Vec<&str> = bad.iter().map(|(_, why)| why.as_str()).collect();
    assert_eq!(reasons, ["not a warm-run record", "not named by a digest"]);
    assert!(!warm.join("not-a-digest").exists());
}

fn settings(url: &str, public: Option<&SecretKey>) -> RemoteSettings {
    RemoteSettings {
        url: url.to_owned(),
        read_only: false,
        token_env: None,
        signing_key_env: None,
        public_key: public.map(SecretKey::public),
        max_blob_bytes: 64 * 1024 * 1024,
        timeout: std::time::Duration::from_secs(2),
    }
}

/// Puts `entry` on the server under `key` as a hostile or compromised writer would: signed with
/// `signer`, or unsigned.
fn plant(server: &Nginx, key: &Digest, entry: &[u8], signer: Option<&SecretKey>) {
    let name = protocol::ac_name(key);
    let record = match signer {
        Some(secret) => Record::for_entry(&name, entry, secret),
        None => Record {
            cas: Digest::of(entry),
            size: entry.len() as u64,
            signature: None,
        },
    };
    for (kind, file, bytes) in [
        ("ac", name, record.render()),
        ("cas", record.cas, entry.to_vec()),
    ] {
        let folder = server.storage().join(kind);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(file.to_hex()), bytes).unwrap();
    }
}

#[test]
fn a_server_returning_a_manifest_whose_result_key_is_a_path_writes_nothing_anywhere() {
    let server = Nginx::start();
    let trusted = SecretKey::generate().unwrap();
    let stranger = SecretKey::generate().unwrap();
    let world = World::new();
    let hostile = world.hostile_keys();
    // Each hostile manifest three times: signed with the trusted key (a leaked key, or a bug in
    // the writer), with another key, and unsigned.
    let signers = [Some(&trusted), Some(&stranger), None];
    let mut declared = Vec::new();
    for (n, result) in hostile.iter().enumerate() {
        for (s, signer) in signers.iter().enumerate() {
            let key = key(&format!("declared {n} {s}"));
            plant(
                &server,
                &manifest_key(&key),
                &frame(&manifest_naming(result)),
                *signer,
            );
            declared.push((key, signer.is_some_and(|k| std::ptr::eq(k, &trusted))));
        }
    }
    for read_only in [true, false] {
        let _ = std::fs::remove_dir_all(world.cache_dir());
        let remote = RemoteStore::with_secrets(
            &RemoteSettings {
                read_only,
                ..settings(&server.url(), Some(&trusted))
            },
            None,
            Some(&trusted.reveal()),
        );
        let cache = Cache::open(&world.cache_dir(), u64::MAX).with_remote(Some(remote));
        let keys: Vec<Digest> = declared.iter().map(|(key, _)| *key).collect();
        let warning = cache.prefetch(&keys).expect("one warning");
        assert!(
            warning.contains("not signed") || warning.contains("does not check"),
            "{warning}"
        );
        for (key, trusted) in &declared {
            match cache.get_observed(key, |_| true) {
                // Only the trusted writer's manifests are taken, and then refused for their key.
                Lookup::Corrupt(reason) if *trusted => {
                    assert!(reason.contains("not a digest"), "{reason}")
                }
                Lookup::Miss if !trusted => {}
                _ => panic!("a hostile manifest answered"),
            }
        }
        assert_eq!(cache.flush_remote(), None);
        assert_nothing_outside(&world);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_entry_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
        let _ = check_entry(&bytes);
        let _ = decode(&frame(&bytes));
        let _ = check_entry(&frame(&bytes));
    }

    #[test]
    fn arbitrary_headers_never_panic(header in "\\PC{0,80}", payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = header.into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(&payload);
        let _ = unframe(&bytes);
    }

    #[test]
    fn arbitrary_manifests_never_panic_nor_write_outside_the_state_folder(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        result in "\\PC{0,70}",
    ) {
        let world = World::new();
        let cache = Cache::open(&world.cache_dir(), u64::MAX);
        let declared = key("declared");
        for payload in [body.clone(), [MANIFEST_MAGIC, &body].concat(), manifest_naming(&result)] {
            let _ = ManifestView::parse(&payload);
            cache.write_entry(&manifest_key(&declared), &frame(&payload)).unwrap();
            let _ = cache.get_observed(&declared, |_| true);
            let _ = cache.manifest(&declared);
            let _ = cache.verify(false, crate::engine::warm::is_record);
        }
        prop_assert_eq!(world.outside_files(), Vec::<PathBuf>::new());
    }

    #[test]
    fn arbitrary_remote_records_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        cas in "\\PC{0,70}",
        size in "\\PC{0,24}",
        sig in "\\PC{0,130}",
    ) {
        let public = SecretKey::parse(
            "ed25519-secret:4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        )
        .unwrap()
        .public();
        let name = key("name");
        let text = format!("xtask-remote v2\ncas {cas}\nsize {size}\nsig {sig}\n");
        for bytes in [bytes, text.into_bytes()] {
            if let Ok(record) = Record::parse(&bytes) {
                // Whatever parses is checked: an arbitrary record is never signed by the key.
                prop_assert!(record.check(&name, &public, u64::MAX).is_err());
                let _ = record.check_blob(&bytes);
            }
        }
    }
}
