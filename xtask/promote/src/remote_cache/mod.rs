//! A shared remote cache under the local one: entry bytes by key over the HTTP cache protocol
//! (`protocol`), signed with HMAC-SHA256 (`signing`), through a client with deadlines and a
//! circuit breaker (`client`). The store knows nothing of what an entry means: the local cache
//! hands it bytes to put and decodes the bytes it gets.
//!
//! Reads are prefetched for all keys of a run at once on a few threads, so a warm remote costs
//! one round of parallel requests; writes are queued and sent together at the end of the run.
//! Every problem (a failed request, an unsigned or mis-signed record, a blob that does not hash
//! to its name) is a miss; the first one of a run is reported as one warning, the rest are
//! only counted.

pub mod client;
pub mod protocol;
pub mod signing;
#[cfg(test)]
pub mod test_server;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use client::{Client, Failure};
use protocol::{Record, Rejection};

/// Connect and read deadline of one request when `timeout_ms` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Requests in flight at once.
const PARALLEL_REQUESTS: usize = 8;

/// `[cache.remote]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSettings {
    /// Base URL without a trailing slash.
    pub url: String,
    pub read_only: bool,
    pub token_env: Option<String>,
    pub signing_key_env: Option<String>,
    pub timeout: Duration,
}

/// What the remote did in one run; written into the local cache's stats log.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct RemoteStats {
    pub hits: u64,
    pub misses: u64,
    /// Entries refused: unsigned, mis-signed, malformed or not matching their digest.
    pub rejected: u64,
    pub errors: u64,
    pub bytes_down: u64,
    pub bytes_up: u64,
    pub stored: u64,
}

pub struct RemoteStore {
    base: String,
    client: Client,
    read_only: bool,
    signing_key: Option<Vec<u8>>,
    /// Answers fetched ahead, by key (`None`: the remote has no usable entry).
    fetched: Mutex<HashMap<String, Option<Vec<u8>>>>,
    queued: Mutex<Vec<(String, Vec<u8>)>>,
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
    /// The store for `settings`, with the token and key read from the variables they name; an
    /// unset or empty variable means no token or no key (a fork's pull request has neither).
    pub fn open(settings: &RemoteSettings) -> RemoteStore {
        RemoteStore::with_secrets(
            settings,
            env_value(settings.token_env.as_deref()),
            env_value(settings.signing_key_env.as_deref()).map(String::into_bytes),
        )
    }

    pub fn with_secrets(
        settings: &RemoteSettings,
        token: Option<String>,
        signing_key: Option<Vec<u8>>,
    ) -> RemoteStore {
        RemoteStore {
            base: settings.url.clone(),
            client: Client::new(settings.timeout, token),
            read_only: settings.read_only || read_only_from_env(),
            signing_key,
            fetched: Mutex::new(HashMap::new()),
            queued: Mutex::new(Vec::new()),
            warning: Mutex::new((None, false)),
            stats: Mutex::new(RemoteStats::default()),
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

    fn rejected(&self, key: &str, rejection: Rejection) {
        self.count(|s| s.rejected += 1);
        self.problem(format!(
            "a remote cache entry was ignored ({rejection}; key {key}); the step runs here"
        ));
    }

    /// The body at `url`, counted: `None` for a miss or a failure.
    fn download(&self, url: &str) -> Option<Vec<u8>> {
        match self.client.get(url) {
            Ok(Some(bytes)) => {
                self.count(|s| s.bytes_down += bytes.len() as u64);
                Some(bytes)
            }
            // For a blob: evicted while its record was not, a miss like any other.
            Ok(None) => {
                self.count(|s| s.misses += 1);
                None
            }
            Err(failure) => {
                self.failed(failure);
                None
            }
        }
    }

    /// The verified entry bytes for `key` from the server.
    fn fetch(&self, key: &str) -> Option<Vec<u8>> {
        let name = protocol::ac_name(key);
        let record = self.download(&protocol::ac_url(&self.base, &name))?;
        let record = match Record::parse(&record)
            .and_then(|r| r.check(&name, self.signing_key.as_deref()).map(|()| r))
        {
            Ok(record) => record,
            Err(rejection) => {
                self.rejected(key, rejection);
                return None;
            }
        };
        let blob = self.download(&protocol::cas_url(&self.base, &record.cas))?;
        if let Err(rejection) = record.check_blob(&blob) {
            self.rejected(key, rejection);
            return None;
        }
        self.count(|s| s.hits += 1);
        Some(blob)
    }

    /// Fetches the entries of `keys` on a few threads and keeps them for `get`.
    pub fn prefetch(&self, keys: &[&str]) {
        let wanted: Vec<&str> = {
            let fetched = self.fetched.lock().unwrap_or_else(|e| e.into_inner());
            keys.iter()
                .copied()
                .filter(|key| !fetched.contains_key(*key))
                .collect()
        };
        parallel(wanted, |key| {
            let answer = self.fetch(key);
            self.fetched
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.to_owned(), answer);
        });
    }

    /// The verified entry bytes for `key`: prefetched, or asked for now.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let prefetched = self
            .fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        match prefetched {
            Some(answer) => answer,
            None => self.fetch(key),
        }
    }

    /// Queues `entry` for the remote; `flush` sends the queue. Read-only stores drop it.
    pub fn put(&self, key: &str, entry: &[u8]) {
        if self.read_only {
            return;
        }
        self.queued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((key.to_owned(), entry.to_vec()));
    }

    /// Sends the queued entries on a few threads: each blob first (skipped when the server
    /// has it), then the record naming it, so a record never names a missing blob.
    pub fn flush(&self) {
        let queued = std::mem::take(&mut *self.queued.lock().unwrap_or_else(|e| e.into_inner()));
        parallel(queued, |(key, entry)| self.send(&key, &entry));
    }

    fn send(&self, key: &str, entry: &[u8]) {
        let name = protocol::ac_name(key);
        let record = Record::for_entry(&name, entry, self.signing_key.as_deref());
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
