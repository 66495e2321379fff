//! The remote store against a real nginx: round trips, signatures (unsigned, another key's, no
//! public key), tampering, body caps and the bytes in flight, read-only, failing and hanging
//! servers, concurrent writers.

use std::time::Instant;

use super::test_server::{Hanging, Nginx};
use super::*;
use crate::remote_cache::signing::SecretKey;

fn settings(url: &str, public: &SecretKey) -> RemoteSettings {
    RemoteSettings {
        url: url.to_owned(),
        read_only: false,
        token_env: None,
        signing_key_env: Some("XTASK_TEST_SECRET_KEY".to_owned()),
        public_key: Some(public.public()),
        max_blob_bytes: 64 * 1024 * 1024,
        timeout: Duration::from_secs(2),
    }
}

/// A store that checks entries with `trusted`'s public key and signs with `secret`, if any.
fn store(url: &str, trusted: &SecretKey, secret: Option<&SecretKey>) -> RemoteStore {
    let secret = secret.map(SecretKey::reveal);
    RemoteStore::with_secrets(&settings(url, trusted), None, secret.as_deref())
}

fn key(text: &str) -> Digest {
    Digest::of(text.as_bytes())
}

/// Keys and a trusted key pair for one test.
struct Keys {
    trusted: SecretKey,
    a: Digest,
    b: Digest,
}

fn keys() -> Keys {
    Keys {
        trusted: SecretKey::generate().unwrap(),
        a: key("a"),
        b: key("b"),
    }
}

/// Keeps nothing locally: every prefetched entry is asked for again by `get`.
fn keep_nothing(_: &Digest, _: &[u8]) -> bool {
    true
}

/// Waits until nginx's access log shows `count` requests of `method`: nginx writes a line
/// after it answers, so a client can be done before the line is there.
fn wait_for_log(server: &Nginx, method: &str, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = server.count(method);
        if seen >= count || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_entry_written_is_read_back_by_another_store() {
    let server = Nginx::start();
    let Keys { trusted, a, b } = keys();
    let writer = store(&server.url(), &trusted, Some(&trusted));
    writer.put(&a, b"entry bytes");
    writer.put(&b, b"entry bytes");
    writer.flush();
    assert_eq!(writer.take_warning(), None);
    assert_eq!(writer.stats().stored, 2);
    // The same bytes under two keys are one blob.
    assert_eq!(
        (server.stored("ac").len(), server.stored("cas").len()),
        (2, 1)
    );

    let reader = store(&server.url(), &trusted, None);
    let absent = key("absent");
    let mut kept = Vec::new();
    let kept_lock = std::sync::Mutex::new(&mut kept);
    reader.prefetch(&[a, absent], |key, bytes| {
        kept_lock.lock().unwrap().push((*key, bytes.to_vec()));
        true
    });
    assert_eq!(kept, vec![(a, b"entry bytes".to_vec())]);
    assert_eq!(reader.get(&absent), None);
    let stats = reader.stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (1, 1, 0));
    assert_eq!(reader.take_warning(), None);
}

#[test]
fn unsigned_and_mis_signed_entries_are_misses_for_every_reader_with_one_warning() {
    let server = Nginx::start();
    let Keys { trusted, a, b } = keys();
    let stranger = SecretKey::generate().unwrap();
    // Written by a store whose key is not the trusted one: it writes nothing at all.
    let forger = store(&server.url(), &trusted, Some(&stranger));
    forger.put(&a, b"planted");
    forger.flush();
    assert!(
        forger
            .take_warning()
            .unwrap()
            .contains("not the secret half")
    );
    assert_eq!(server.count("PUT"), 0);
    // Planted as an attacker with write access would: signed with another key, and unsigned.
    let planter = store(&server.url(), &stranger, Some(&stranger));
    planter.put(&a, b"planted a");
    planter.flush();
    let name = protocol::ac_name(&b);
    let unsigned = protocol::Record {
        cas: Digest::of(b"planted b"),
        size: 9,
        signature: None,
    };
    let folder = server.storage();
    std::fs::create_dir_all(folder.join("ac")).unwrap();
    std::fs::write(folder.join("ac").join(name.to_hex()), unsigned.render()).unwrap();
    std::fs::write(folder.join("cas").join(unsigned.cas.to_hex()), b"planted b").unwrap();

    // Every reader, with write access (the trusted key) or without, refuses both.
    for secret in [Some(&trusted), None] {
        let reader = store(&server.url(), &trusted, secret);
        reader.prefetch(&[a, b], keep_nothing);
        assert_eq!((reader.get(&a), reader.get(&b)), (None, None));
        assert_eq!(reader.stats().rejected, 2);
        assert_eq!(reader.stats().hits, 0);
        let warning = reader.take_warning().expect("one warning");
        assert!(warning.contains("ignored"), "{warning}");
        assert_eq!(reader.take_warning(), None, "one warning per run");
    }
    // No blob was even asked for: a record is refused before its blob is read.
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|line| line.contains("GET /cache/cas/"))
            .count(),
        0
    );
}

/// An nginx holding `entry` under key `a`, written by the trusted writer.
fn server_holding(entry: &[u8]) -> (Nginx, Keys) {
    let server = Nginx::start();
    let keys = keys();
    let writer = store(&server.url(), &keys.trusted, Some(&keys.trusted));
    writer.put(&keys.a, entry);
    writer.flush();
    assert_eq!(writer.take_warning(), None);
    (server, keys)
}

#[test]
fn without_a_public_key_the_remote_is_not_read_and_that_is_said_once() {
    let (server, Keys { trusted, a, .. }) = server_holding(b"entry");
    let keyless = RemoteStore::with_secrets(
        &RemoteSettings {
            public_key: None,
            ..settings(&server.url(), &trusted)
        },
        None,
        Some(&trusted.reveal()),
    );
    keyless.prefetch(&[a], keep_nothing);
    assert_eq!(keyless.get(&a), None);
    keyless.put(&a, b"other entry");
    keyless.flush();
    let warning = keyless.take_warning().expect("one warning");
    assert!(warning.contains("no public_key"), "{warning}");
    assert_eq!(keyless.take_warning(), None);
    assert_eq!(server.count("GET"), 0);
    assert_eq!(
        wait_for_log(&server, "PUT", 2),
        2,
        "only the writer's two PUTs"
    );
}

#[test]
fn a_byte_flipped_on_the_server_is_a_miss() {
    let (server, Keys { trusted, a, .. }) = server_holding(b"the verdict: passed");
    let blob = server.stored("cas").pop().unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[5] ^= 0x01;
    std::fs::write(&blob, bytes).unwrap();

    let reader = store(&server.url(), &trusted, None);
    assert_eq!(reader.get(&a), None);
    assert_eq!(reader.stats().rejected, 1);
    assert!(reader.take_warning().unwrap().contains("does not hash"));
}

#[test]
fn a_read_only_store_never_puts() {
    let server = Nginx::start();
    let Keys { trusted, a, .. } = keys();
    let reader = RemoteStore::with_secrets(
        &RemoteSettings {
            read_only: true,
            ..settings(&server.url(), &trusted)
        },
        None,
        Some(&trusted.reveal()),
    );
    reader.put(&a, b"entry");
    reader.flush();
    reader.get(&a);
    assert_eq!(wait_for_log(&server, "GET", 1), 1);
    assert_eq!(server.count("PUT"), 0);
}

#[test]
fn a_failing_server_opens_the_breaker_with_one_warning() {
    let server = Nginx::start();
    let Keys { trusted, a, .. } = keys();
    let remote = store(&server.broken_url(), &trusted, Some(&trusted));
    let keys: Vec<Digest> = (0..40).map(|i| key(&format!("key{i}"))).collect();
    remote.prefetch(&keys, keep_nothing);
    assert!(keys.iter().all(|k| remote.get(k).is_none()));
    remote.put(&a, b"entry");
    remote.flush();
    let warning = remote.take_warning().expect("a warning");
    assert!(warning.contains("HTTP 500"), "{warning}");
    assert_eq!(remote.take_warning(), None);
    // Requests already in flight when the first one failed may finish; no new ones start.
    let sent = server.requests().len();
    assert!(
        sent <= PARALLEL_REQUESTS,
        "{sent} requests after the first failure"
    );
    assert_eq!(server.count("PUT"), 0);
}

#[test]
fn a_hanging_server_costs_one_deadline() {
    let server = Hanging::start();
    let Keys { trusted, a, .. } = keys();
    let remote = RemoteStore::with_secrets(
        &RemoteSettings {
            timeout: Duration::from_millis(500),
            ..settings(&server.url(), &trusted)
        },
        None,
        Some(&trusted.reveal()),
    );
    let keys: Vec<Digest> = (0..40).map(|i| key(&format!("key{i}"))).collect();
    let started = Instant::now();
    remote.prefetch(&keys, keep_nothing);
    remote.put(&a, b"entry");
    remote.flush();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(remote.take_warning().unwrap().contains("not used"));
    assert!(server.connections() <= PARALLEL_REQUESTS);
}

#[test]
fn a_dead_server_is_a_miss_with_one_warning() {
    let mut server = Nginx::start();
    let url = server.url();
    server.stop();
    let Keys { trusted, a, b } = keys();
    let remote = store(&url, &trusted, None);
    let started = Instant::now();
    remote.prefetch(&[a, b, key("c")], keep_nothing);
    assert_eq!(remote.get(&a), None);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(remote.take_warning().is_some());
    assert_eq!(remote.take_warning(), None);
}

#[test]
fn concurrent_writers_of_one_key_leave_one_valid_entry() {
    let server = Nginx::start();
    let url = server.url();
    let Keys { trusted, a, .. } = keys();
    std::thread::scope(|scope| {
        for writer in 0..2 {
            let (url, trusted) = (&url, &trusted);
            scope.spawn(move || {
                for round in 0..25 {
                    let remote = store(url, trusted, Some(trusted));
                    remote.put(&a, format!("writer {writer} round {round}").as_bytes());
                    remote.flush();
                    assert_eq!(remote.take_warning(), None);
                }
            });
        }
    });
    assert_eq!(server.stored("ac").len(), 1);
    let entry = store(&url, &trusted, None).get(&a).expect("a valid entry");
    let text = String::from_utf8(entry).unwrap();
    assert!(
        text.starts_with("writer ") && text.contains(" round "),
        "{text}"
    );
}

#[test]
fn bodies_are_capped_by_kind_and_the_bytes_in_flight_are_bounded() {
    let server = Nginx::start();
    let Keys { trusted, .. } = keys();
    // An `ac/` record of 1 MiB (a hostile server's): refused after its first 4 KiB.
    let huge = key("huge record");
    let folder = server.storage();
    std::fs::create_dir_all(folder.join("ac")).unwrap();
    std::fs::write(
        folder.join("ac").join(protocol::ac_name(&huge).to_hex()),
        vec![b'x'; 1024 * 1024],
    )
    .unwrap();
    let reader = store(&server.url(), &trusted, None);
    assert_eq!(reader.get(&huge), None);
    assert_eq!(reader.stats().rejected, 1);
    assert_eq!(reader.stats().bytes_down, 0);
    assert!(reader.take_warning().unwrap().contains("over 4096 bytes"));

    // Twelve signed 1 MiB blobs fetched on eight threads against a budget of 3 MiB in flight:
    // never more than three held at once.
    const MIB: usize = 1024 * 1024;
    let writer = store(&server.url(), &trusted, Some(&trusted));
    let keys: Vec<Digest> = (0..12).map(|i| key(&format!("blob {i}"))).collect();
    for (i, key) in keys.iter().enumerate() {
        writer.put(key, &vec![i as u8; MIB]);
    }
    writer.flush();
    assert_eq!(writer.take_warning(), None);
    let reader = store(&server.url(), &trusted, None).with_in_flight_budget(3 * MIB as u64);
    let kept = std::sync::atomic::AtomicUsize::new(0);
    reader.prefetch(&keys, |_, bytes| {
        assert_eq!(bytes.len(), MIB);
        kept.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Holding the bytes a while keeps the requests overlapping.
        std::thread::sleep(Duration::from_millis(50));
        true
    });
    assert_eq!(kept.into_inner(), 12);
    let peak = reader.peak_in_flight();
    assert!((MIB as u64..=3 * MIB as u64).contains(&peak), "{peak}");

    // A reader whose cap is below the blob's size refuses the record, not reading the blob.
    let small = RemoteStore::with_secrets(
        &RemoteSettings {
            max_blob_bytes: MIB as u64 - 1,
            ..settings(&server.url(), &trusted)
        },
        None,
        None,
    );
    assert_eq!(small.get(&keys[0]), None);
    assert_eq!(
        small.stats().bytes_down as usize,
        writer_record_bytes(&server, &keys[0])
    );
    assert!(small.take_warning().unwrap().contains("max_blob_mb"));
}

/// The size of the record stored for `key`.
fn writer_record_bytes(server: &Nginx, key: &Digest) -> usize {
    let name = protocol::ac_name(key).to_hex();
    std::fs::read(server.storage().join("ac").join(name))
        .unwrap()
        .len()
}

#[test]
fn summaries_add_up_the_last_runs() {
    let lines = [
        r#"{"hits":1,"misses":0,"stored":0}"#,
        r#"{"hits":0,"misses":2,"stored":2,"remote":{"hits":0,"misses":2,"rejected":0,"errors":0,"bytes_down":0,"bytes_up":900,"stored":2}}"#,
        r#"{"hits":2,"misses":0,"stored":0,"remote":{"hits":2,"misses":0,"rejected":1,"errors":1,"bytes_down":800,"bytes_up":0,"stored":0}}"#,
    ]
    .join("\n");
    let (runs, total) = summarize(&lines, 20).unwrap();
    assert_eq!(runs, 2);
    assert_eq!(
        total,
        RemoteStats {
            hits: 2,
            misses: 2,
            rejected: 1,
            errors: 1,
            bytes_down: 800,
            bytes_up: 900,
            stored: 2
        }
    );
    assert_eq!(summarize(r#"{"hits":1}"#, 20), None);
}

#[test]
fn a_token_that_cannot_write_writes_nothing_and_the_writer_token_can() {
    let server = Nginx::start();
    let Keys { trusted, a, b } = keys();
    // A pull request's run: the trusted key is not there, and its token (none) cannot write;
    // even a run that had the key would be refused by the server.
    let settings = settings(&server.scoped_url(), &trusted);
    let reader = RemoteStore::with_secrets(&settings, None, Some(&trusted.reveal()));
    reader.put(&a, b"entry");
    reader.flush();
    assert!(reader.take_warning().unwrap().contains("401"));
    assert!(
        std::fs::read_dir(server.storage().parent().unwrap().join("scoped/ac")).is_err(),
        "the server stored a record"
    );
    // The trusted writer's token can, and anyone reads what it wrote.
    let writer = RemoteStore::with_secrets(
        &settings,
        Some(Nginx::scoped_write_token()),
        Some(&trusted.reveal()),
    );
    writer.put(&b, b"entry");
    writer.flush();
    assert_eq!(writer.take_warning(), None);
    let anyone = RemoteStore::with_secrets(&settings, None, None);
    assert_eq!(anyone.get(&b).as_deref(), Some(&b"entry"[..]));
}
