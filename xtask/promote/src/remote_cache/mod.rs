//! A shared remote cache under the local one: entry bytes by key over the HTTP cache protocol
//! (`protocol`), signed with Ed25519 (`signing`), through a client with deadlines, body caps and
//! a circuit breaker (`client`). The store knows nothing of what an entry means: the local cache
//! hands it bytes to put and decodes the bytes it gets.
//!
//! Trust: the trusted writer (CI on the main branch) signs every record with the secret key;
//! every reader checks every record with the public key committed in `xtask.toml`, and a reader
//! without a public key does not read the remote at all. Reads are prefetched for all keys of a
//! run at once on a few threads, so a warm remote costs one round of parallel requests; writes
//! are queued and sent together at the end of the run. Every problem (a failed request, an
//! unsigned or mis-signed record, a body over its cap, a blob that does not hash to its name) is
//! a miss; the first one of a run is reported as one warning, the rest are only counted.

pub mod client;
mod in_flight;
pub mod protocol;
pub mod signing;
#[cfg(test)]
pub mod test_server;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use client::{Client, Failure, Got};
use in_flight::InFlight;
use protocol::{Record, Rejection};
use signing::{PublicKey, SecretKey};

/// Connect and read deadline of one request when `timeout_ms` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Largest blob read when `max_blob_mb` is not set.
pub const DEFAULT_MAX_BLOB_MB: u64 = 64;

/// Requests in flight at once.
const PARALLEL_REQUESTS: usize = 8;

/// Blob bytes held by requests in flight at once, over all of them (or one blob of the largest
/// size allowed, when that is more): without it, eight requests of a hostile or huge server
/// would each hold a blob of the largest size.
const IN_FLIGHT_BYTES: u64 = 128 * 1024 * 1024;

/// `[cache.remote]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSettings {
    /// Base URL without a trailing slash.
    pub url: String,
    pub read_only: bool,
    pub token_env: Option<String>,
    /// The variable holding the secret key, set only where entries are written (CI on main).
    pub signing_key_env: Option<String>,
    /// What every record is checked with; without it the remote is not read.
    pub public_key: Option<PublicKey>,
    /// Largest entry read or written, in bytes.
    pub max_blob_bytes: u64,
    pub timeout: Duration,
}

/// What the remote did in one run; written into the local cache's stats log.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct RemoteStats {
    pub hits: u64,
    pub misses: u64,
    /// Entries refused: unsigned, mis-signed, malformed, over their cap or not matching their
    /// digest.
    pub rejected: u64,
    pub errors: u64,
    pub bytes_down: u64,
    pub bytes_up: u64,
    pub stored: u64,
}

pub struct RemoteStore {
    base: String,
    client: Client,
    public_key: Option<PublicKey>,
    /// Set only when this run may write: not read-only, and the key is the public key's pair.
    signing_key: Option<SecretKey>,
    max_blob: u64,
    in_flight: InFlight,
    /// Keys asked ahead: `false` when the remote has no usable entry (a later `get` does not
    /// ask again), `true` when its entry was handed over.
    fetched: Mutex<HashMap<Digest, bool>>,
    queued: Mutex<Vec<(Digest, Vec<u8>)>>,
    /// The first problem of the run, until it is taken; `reported` keeps it to one.
    warning: Mutex<(Option<String>, bool)>,
    stats: Mutex<RemoteStats>,
}

fn env_value(name: Option<&str>) -> Option<String> {
    crate::edge_env::get().var(name?).map(str::to_owned)
}

/// Whether `XTASK_REMOTE_CACHE_READ_ONLY` asks for read-only.
fn read_only_from_env() -> bool {
    crate::edge_env::get().xtask.remote_cache_read_only
}

impl RemoteStore {
    /// The store for `settings`, with the token and secret key read from the variables they
    /// name; an unset or empty variable means no token or no key (a pull request has no key).
    pub fn open(settings: &RemoteSettings) -> RemoteStore {
        RemoteStore::with_secrets(
            settings,
            env_value(settings.token_env.as_deref()),
            env_value(settings.signing_key_env.as_deref()).as_deref(),
        )
    }

    pub fn with_secrets(
        settings: &RemoteSettings,
        token: Option<String>,
        secret_key: Option<&str>,
    ) -> RemoteStore {
        let read_only = settings.read_only || read_only_from_env();
        let store = RemoteStore {
            base: settings.url.clone(),
            client: Client::new(settings.timeout, token),
            public_key: settings.public_key.clone(),
            signing_key: None,
            max_blob: settings.max_blob_bytes,
            in_flight: InFlight::new(IN_FLIGHT_BYTES.max(settings.max_blob_bytes)),
            fetched: Mutex::new(HashMap::new()),
            queued: Mutex::new(Vec::new()),
            warning: Mutex::new((None, false)),
            stats: Mutex::new(RemoteStats::default()),
        };
        let Some(public_key) = &settings.public_key else {
            store.problem(
                "the remote cache is not read: [cache.remote] has no public_key to check its entries with (run `cargo xtask cache keygen`)"
                    .to_owned(),
            );
            return store;
        };
        let variable = settings
            .signing_key_env
            .as_deref()
            .unwrap_or("signing_key_env");
        let signing_key = match secret_key.filter(|_| !read_only).map(SecretKey::parse) {
            None => None,
            Some(Err(reason)) => {
                store.problem(format!(
                    "nothing is written to the remote cache: ${variable} {reason}"
                ));
                None
            }
            Some(Ok(key)) if key.public() != *public_key => {
                store.problem(format!(
                    "nothing is written to the remote cache: ${variable} is not the secret half of [cache.remote] public_key"
                ));
                None
            }
            Some(Ok(key)) => Some(key),
        };
        RemoteStore {
            signing_key,
            ..store
        }
    }

    fn count(&self, update: impl FnOnce(&mut RemoteStats)) {
        update(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn stats(&self) -> RemoteStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the first problem of the run as the warning to report.
    fn problem(&self, message: String) {
        let mut warning = self.warning.lock().unwrap_or_else(|e| e.into_inner());
        if warning.0.is_none() && !warning.1 {
            warning.0 = Some(message);
        }
    }

    /// The run's one warning about the remote, the first time it is asked for after a problem.
    pub fn take_warning(&self) -> Option<String> {
        let mut warning = self.warning.lock().unwrap_or_else(|e| e.into_inner());
        let message = warning.0.take()?;
        warning.1 = true;
        Some(message)
    }

    fn failed(&self, failure: Failure) {
        self.count(|s| s.errors += 1);
        if let Failure::First(message) = failure {
            self.problem(format!(
                "the remote cache is not used for the rest of this run: {message}"
            ));
        }
    }

    fn rejected(&self, key: &Digest, rejection: Rejection) {
        self.count(|s| s.rejected += 1);
        self.problem(format!(
            "a remote cache entry was ignored ({rejection}; key {key}); the step runs here"
        ));
    }

    /// The body at `url` of at most `limit` bytes, counted: `None` for a miss, a failure or a
    /// body over the limit (refused as `too_large`).
    fn download(
        &self,
        url: &str,
        limit: u64,
        key: &Digest,
        too_large: Rejection,
    ) -> Option<Vec<u8>> {
        match self.client.get(url, limit) {
            Ok(Got::Body(bytes)) => {
                self.count(|s| s.bytes_down += bytes.len() as u64);
                Some(bytes)
            }
            // For a blob: evicted while its record was not, a miss like any other.
            Ok(Got::Missing) => {
                self.count(|s| s.misses += 1);
                None
            }
            Ok(Got::TooLarge) => {
                self.rejected(key, too_large);
                None
            }
            Err(failure) => {
                self.failed(failure);
                None
            }
        }
    }

    /// The verified entry bytes for `key` from the server, handed to `take` while they count
    /// against the bytes in flight. `None` without a public key: nothing unverified is read.
    fn fetch<T>(&self, key: &Digest, take: impl FnOnce(Vec<u8>) -> T) -> Option<T> {
        let public_key = self.public_key.as_ref()?;
        let name = protocol::ac_name(key);
        let record = self.download(
            &protocol::ac_url(&self.base, &name),
            protocol::MAX_RECORD_BYTES,
            key,
            Rejection::Malformed(format!("over {} bytes", protocol::MAX_RECORD_BYTES)),
        )?;
        let record = match Record::parse(&record)
            .and_then(|r| r.check(&name, public_key, self.max_blob).map(|()| r))
        {
            Ok(record) => record,
            Err(rejection) => {
                self.rejected(key, rejection);
                return None;
            }
        };
        let _reserved = self.in_flight.reserve(record.size);
        let blob = self.download(
            &protocol::cas_url(&self.base, &record.cas),
            record.size,
            key,
            Rejection::BlobMismatch,
        )?;
        if let Err(rejection) = record.check_blob(&blob) {
            self.rejected(key, rejection);
            return None;
        }
        self.count(|s| s.hits += 1);
        Some(take(blob))
    }

    /// Fetches the entries of `keys` on a few threads and hands each verified one to `keep`
    /// (which stores it locally and says whether it could). A run holds no more remote bytes
    /// than its requests in flight.
    pub fn prefetch(&self, keys: &[Digest], keep: impl Fn(&Digest, &[u8]) -> bool + Sync) {
        if self.public_key.is_none() {
            return;
        }
        let wanted: Vec<Digest> = {
            let fetched = self.fetched.lock().unwrap_or_else(|e| e.into_inner());
            keys.iter()
                .copied()
                .filter(|key| !fetched.contains_key(key))
                .collect()
        };
        parallel(wanted, |key| {
            let found = self.fetch(&key, |blob| keep(&key, &blob)).is_some();
            self.fetched
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, found);
        });
    }

    /// The verified entry bytes for `key`, asked for now unless a prefetch found none.
    pub fn get(&self, key: &Digest) -> Option<Vec<u8>> {
        let asked = self
            .fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied();
        match asked {
            Some(false) => None,
            _ => self.fetch(key, |blob| blob),
        }
    }

    /// Queues `entry` for the remote; `flush` sends the queue. A store that may not write (read
    /// only, no key) drops it, and so does one for an entry larger than readers accept.
    pub fn put(&self, key: &Digest, entry: &[u8]) {
        if self.signing_key.is_none() || entry.len() as u64 > self.max_blob {
            return;
        }
        self.queued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((*key, entry.to_vec()));
    }

    /// Sends the queued entries on a few threads: each blob first (skipped when the server
    /// has it), then the record naming it, so a record never names a missing blob.
    pub fn flush(&self) {
        let queued = std::mem::take(&mut *self.queued.lock().unwrap_or_else(|e| e.into_inner()));
        let Some(signing_key) = &self.signing_key else {
            return;
        };
        parallel(queued, |(key, entry)| self.send(signing_key, &key, &entry));
    }

    fn send(&self, signing_key: &SecretKey, key: &Digest, entry: &[u8]) {
        let name = protocol::ac_name(key);
        let record = Record::for_entry(&name, entry, signing_key);
        let blob_url = protocol::cas_url(&self.base, &record.cas);
        let outcome = self.client.has(&blob_url).and_then(|present| {
            if !present {
                self.client.put(&blob_url, entry)?;
                self.count(|s| s.bytes_up += entry.len() as u64);
            }
            let record = record.render();
            self.client
                .put(&protocol::ac_url(&self.base, &name), &record)?;
            self.count(|s| s.bytes_up += record.len() as u64);
            Ok(())
        });
        match outcome {
            Ok(()) => self.count(|s| s.stored += 1),
            Err(failure) => self.failed(failure),
        }
    }

    /// The most blob bytes held at once by requests in flight so far.
    #[cfg(test)]
    pub fn peak_in_flight(&self) -> u64 {
        self.in_flight.peak()
    }

    /// The same store with another budget of bytes in flight (tests use small blobs).
    #[cfg(test)]
    pub fn with_in_flight_budget(self, bytes: u64) -> RemoteStore {
        RemoteStore {
            in_flight: InFlight::new(bytes),
            ..self
        }
    }
}

/// Runs `work` over `items` on up to `PARALLEL_REQUESTS` threads.
fn parallel<T: Send>(items: Vec<T>, work: impl Fn(T) + Sync) {
    if items.is_empty() {
        return;
    }
    let queue = Mutex::new(items);
    let threads = PARALLEL_REQUESTS.min(queue.lock().map_or(1, |q| q.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let item = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some(item) = item else { break };
                    work(item);
                }
            });
        }
    });
}

/// Remote totals over the last runs of the local stats log (`stats.jsonl` lines with `remote`).
pub fn summarize(lines: &str, last: usize) -> Option<(usize, RemoteStats)> {
    let runs: Vec<RemoteStats> = lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|value| serde_json::from_value(value.get("remote")?.clone()).ok())
        .collect();
    if runs.is_empty() {
        return None;
    }
    let recent = &runs[runs.len().saturating_sub(last)..];
    let mut total = RemoteStats::default();
    for run in recent {
        total.hits += run.hits;
        total.misses += run.misses;
        total.rejected += run.rejected;
        total.errors += run.errors;
        total.bytes_down += run.bytes_down;
        total.bytes_up += run.bytes_up;
        total.stored += run.stored;
    }
    Some((recent.len(), total))
}

#[cfg(test)]
mod tests;
