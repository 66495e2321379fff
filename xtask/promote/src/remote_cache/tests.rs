//! The remote store against a real nginx: round trips, signatures, tampering, read-only,
//! failing and hanging servers, concurrent writers.

use std::time::Instant;

use super::test_server::{Hanging, Nginx};
use super::*;

fn settings(url: &str) -> RemoteSettings {
    RemoteSettings {
        url: url.to_owned(),
        read_only: false,
        token_env: None,
        signing_key_env: None,
        timeout: Duration::from_secs(2),
    }
}

fn store(url: &str, key: Option<&[u8]>) -> RemoteStore {
    RemoteStore::with_secrets(&settings(url), None, key.map(<[u8]>::to_vec))
}

const KEY: &str = "0123456789abcdef";

#[test]
fn an_entry_written_is_read_back_by_another_store() {
    let server = Nginx::start();
    let writer = store(&server.url(), Some(b"secret"));
    writer.put(KEY, b"entry bytes");
    writer.put("other", b"entry bytes");
    writer.flush();
    assert_eq!(writer.take_warning(), None);
    assert_eq!(writer.stats().stored, 2);
    // The same bytes under two keys are one blob.
    assert_eq!(
        (server.stored("ac").len(), server.stored("cas").len()),
        (2, 1)
    );

    let reader = store(&server.url(), Some(b"secret"));
    reader.prefetch(&[KEY, "absent"]);
    assert_eq!(reader.get(KEY).as_deref(), Some(&b"entry bytes"[..]));
    assert_eq!(reader.get("absent"), None);
    let stats = reader.stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (1, 1, 0));
    assert_eq!(reader.take_warning(), None);
}

#[test]
fn a_reader_with_the_key_ignores_unsigned_and_mis_signed_entries_with_one_warning() {
    let server = Nginx::start();
    let unsigned = store(&server.url(), None);
    unsigned.put("a", b"planted a");
    unsigned.flush();
    let forged = store(&server.url(), Some(b"not the key"));
    forged.put("b", b"planted b");
    forged.flush();

    let reader = store(&server.url(), Some(b"secret"));
    reader.prefetch(&["a", "b"]);
    assert_eq!((reader.get("a"), reader.get("b")), (None, None));
    assert_eq!(reader.stats().rejected, 2);
    let warning = reader.take_warning().expect("one warning");
    assert!(warning.contains("ignored"), "{warning}");
    assert_eq!(reader.take_warning(), None, "one warning per run");

    // A job without the key (a fork's pull request) cannot check, and reads them.
    let keyless = store(&server.url(), None);
    assert_eq!(keyless.get("a").as_deref(), Some(&b"planted a"[..]));
}

#[test]
fn a_byte_flipped_on_the_server_is_a_miss() {
    let server = Nginx::start();
    let writer = store(&server.url(), Some(b"secret"));
    writer.put(KEY, b"the verdict: passed");
    writer.flush();
    let blob = server.stored("cas").pop().unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[5] ^= 0x01;
    std::fs::write(&blob, bytes).unwrap();

    let reader = store(&server.url(), Some(b"secret"));
    assert_eq!(reader.get(KEY), None);
    assert_eq!(reader.stats().rejected, 1);
    assert!(reader.take_warning().unwrap().contains("does not hash"));
}

#[test]
fn a_read_only_store_never_puts() {
    let server = Nginx::start();
    let reader = RemoteStore::with_secrets(
        &RemoteSettings {
            read_only: true,
            ..settings(&server.url())
        },
        None,
        Some(b"secret".to_vec()),
    );
    reader.put(KEY, b"entry");
    reader.flush();
    reader.get(KEY);
    assert_eq!(server.count("PUT"), 0);
    assert_eq!(server.count("GET"), 1);
}

#[test]
fn a_failing_server_opens_the_breaker_with_one_warning() {
    let server = Nginx::start();
    let remote = store(&server.broken_url(), Some(b"secret"));
    let keys: Vec<String> = (0..40).map(|i| format!("key{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    remote.prefetch(&keys);
    assert!(keys.iter().all(|k| remote.get(k).is_none()));
    remote.put(KEY, b"entry");
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
    let remote = RemoteStore::with_secrets(
        &RemoteSettings {
            timeout: Duration::from_millis(500),
            ..settings(&server.url())
        },
        None,
        None,
    );
    let keys: Vec<String> = (0..40).map(|i| format!("key{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let started = Instant::now();
    remote.prefetch(&keys);
    remote.put(KEY, b"entry");
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
    let remote = store(&url, None);
    let started = Instant::now();
    remote.prefetch(&["a", "b", "c"]);
    assert_eq!(remote.get("a"), None);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(remote.take_warning().is_some());
    assert_eq!(remote.take_warning(), None);
}

#[test]
fn concurrent_writers_of_one_key_leave_one_valid_entry() {
    let server = Nginx::start();
    let url = server.url();
    std::thread::scope(|scope| {
        for writer in 0..2 {
            let url = &url;
            scope.spawn(move || {
                for round in 0..25 {
                    let remote = store(url, Some(b"secret"));
                    remote.put(KEY, format!("writer {writer} round {round}").as_bytes());
                    remote.flush();
                    assert_eq!(remote.take_warning(), None);
                }
            });
        }
    });
    assert_eq!(server.stored("ac").len(), 1);
    let entry = store(&url, Some(b"secret"))
        .get(KEY)
        .expect("a valid entry");
    let text = String::from_utf8(entry).unwrap();
    assert!(
        text.starts_with("writer ") && text.contains(" round "),
        "{text}"
    );
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
