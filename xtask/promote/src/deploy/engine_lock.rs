//! One deploy per service per Docker engine, whichever checkout (or machine) runs it: a lock
//! that lives on the engine. It is a container named after the compose project and service,
//! created (never started) from a tiny empty image: the engine refuses a second container of
//! the same name atomically, which a file lock in one checkout cannot do across clones, and a
//! network name could not (engines before 25 let concurrent creates of one name both win).
//!
//! The container's labels name the holder: host, boot, PID and the PID's start time, checkout,
//! component and since when. A holder is stale only when that can be known from here: it ran
//! on this host and its process is gone (or the PID now belongs to another process, or the
//! host restarted). A holder on another host is never judged; the refusal says how to remove
//! its lock by hand. The lock is removed when the deploy ends; a killed deploy leaves it, and
//! the next deploy on this host finds it stale, removes it and says so.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::argv;
use super::docker::{Docker, Mode};
use crate::errors::infra;

/// The image lock containers are created from: one empty layer, imported once per engine.
pub const LOCK_IMAGE: &str = "xtask-promote-lock:1";
const LABEL: &str = "io.xtask.lock";

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub host: String,
    pub boot_id: String,
    pub pid: u32,
    /// The process's start time in clock ticks since boot (`/proc/PID/stat`): a PID reused by
    /// another process has another start time.
    pub pid_start: u64,
    pub checkout: String,
    pub component: String,
    pub since: String,
}

/// This host as a stale-holder check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub boot_id: String,
}

impl Host {
    pub fn this() -> Host {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        Host {
            name: read("/proc/sys/kernel/hostname"),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
        }
    }
}

/// The start time of process `pid` in clock ticks since boot; `None` when there is none.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start(&stat)
}

/// Pure: field 22 of `/proc/PID/stat`, counted after the command name (which may hold spaces
/// and parentheses, so the fields start after its last `)`).
pub fn parse_start(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl Holder {
    /// This process, deploying `component` from `checkout`.
    pub fn this_process(checkout: &Path, component: &str, since: &str) -> Holder {
        let host = Host::this();
        let pid = std::process::id();
        Holder {
            host: host.name,
            boot_id: host.boot_id,
            pid,
            pid_start: process_start(pid).unwrap_or(0),
            checkout: checkout.display().to_string(),
            component: component.to_owned(),
            since: since.to_owned(),
        }
    }

    pub fn labels(&self) -> Vec<(String, String)> {
        [
            ("host", self.host.clone()),
            ("boot-id", self.boot_id.clone()),
            ("pid", self.pid.to_string()),
            ("pid-start", self.pid_start.to_string()),
            ("checkout", self.checkout.clone()),
            ("component", self.component.clone()),
            ("since", self.since.clone()),
        ]
        .into_iter()
        .map(|(key, value)| (format!("{LABEL}.{key}"), value))
        .collect()
    }

    /// Pure: a holder from a lock container's labels; `None` when they are not ours.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Holder> {
        let get = |key: &str| labels.get(&format!("{LABEL}.{key}")).cloned();
        Some(Holder {
            host: get("host")?,
            boot_id: get("boot-id")?,
            pid: get("pid")?.parse().ok()?,
            pid_start: get("pid-start")?.parse().ok()?,
            checkout: get("checkout")?,
            component: get("component")?,
            since: get("since")?,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "pid {} on {}, deploying {} from {}, since {}",
            self.pid, self.host, self.component, self.checkout, self.since
        )
    }
}

/// Pure: why `holder` is stale as seen from `here`, or `None` when it may still run (or runs
/// elsewhere, where nothing can be known). `start_of` gives a PID's start time on this host.
pub fn stale(
    holder: &Holder,
    here: &Host,
    start_of: impl Fn(u32) -> Option<u64>,
) -> Option<String> {
    if holder.host != here.name || here.name.is_empty() {
        return None;
    }
    if holder.boot_id != here.boot_id {
        return Some("this host has restarted since".to_owned());
    }
    match start_of(holder.pid) {
        None => Some(format!("its process {} is gone", holder.pid)),
        Some(start) if start != holder.pid_start => Some(format!(
            "its process {} is gone (the PID belongs to another process now)",
            holder.pid
        )),
        Some(_) => None,
    }
}

/// The lock container's name: the project cannot contain `.`, so the name is unambiguous.
pub fn name(project: &str, service: &str) -> String {
    format!("xtask-lock.{project}.{service}")
}

/// A held lock; dropping it removes the lock container (also after Ctrl-C).
pub struct EngineLock<'a> {
    docker: &'a Docker,
    id: String,
}

impl Drop for EngineLock<'_> {
    fn drop(&mut self) {
        let _ = self
            .docker
            .docker(argv::remove_container(&self.id), Mode::Cleanup);
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawLock {
    id: String,
    config: RawLockConfig,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawLockConfig {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Pure: a lock container's ID and holder from `docker inspect`.
pub fn parse_lock(json: &[u8]) -> Result<(String, Option<Holder>), String> {
    let raw: Vec<RawLock> = serde_json::from_slice(json)
        .map_err(|e| format!("`docker inspect` printed something that is not its JSON: {e}"))?;
    let lock = raw
        .into_iter()
        .next()
        .ok_or_else(|| "`docker inspect` printed no container".to_owned())?;
    let holder = Holder::from_labels(&lock.config.labels.unwrap_or_default());
    Ok((lock.id, holder))
}

/// Takes the engine-wide lock of `service` in `project`, or refuses naming its holder. A stale
/// holder's lock is removed first; the returned note says so.
pub fn acquire<'a>(
    docker: &'a Docker,
    state_dir: &Path,
    project: &str,
    service: &str,
    holder: &Holder,
) -> Result<(EngineLock<'a>, Option<String>)> {
    ensure_image(docker, state_dir)?;
    let name = name(project, service);
    let mut note = None;
    for _ in 0..2 {
        let done = docker.docker(
            argv::create_lock(&name, &holder.labels(), LOCK_IMAGE),
            Mode::Normal,
        )?;
        if done.code == Some(0) {
            let id = String::from_utf8_lossy(&done.stdout).trim().to_owned();
            return Ok((EngineLock { docker, id }, note));
        }
        if !done.tail(3).contains("already in use") {
            return Err(infra(format!(
                "failed to create the deploy lock {name} on the engine: {}",
                done.tail(5)
            )));
        }
        let inspected = docker.docker(
            argv::inspect_containers(std::slice::from_ref(&name)),
            Mode::Normal,
        )?;
        if inspected.code != Some(0) {
            // Released between our create and this look: try again.
            continue;
        }
        let (id, found) = parse_lock(&inspected.stdout).map_err(infra)?;
        let refusal = |who: &str| {
            infra(format!(
                "a deploy of service `{service}` (project {project}) is already running on this Docker engine ({who}): wait for it to finish, then run this again; if that run is gone for good, remove its lock with `docker rm -f {name}`"
            ))
        };
        let Some(found) = found else {
            return Err(refusal("a lock container without its holder's labels"));
        };
        let Some(reason) = stale(&found, &Host::this(), process_start) else {
            return Err(refusal(&found.describe()));
        };
        let _ = docker.docker(argv::remove_container(&id), Mode::Normal)?;
        note = Some(format!(
            "removed the stale deploy lock of {} ({reason}): that deploy was killed",
            found.describe()
        ));
    }
    Err(infra(format!(
        "another deploy of service `{service}` took the engine lock {name} while a stale one was removed: wait for it to finish, then run this again"
    )))
}

/// Imports the empty lock image when the engine does not have it.
fn ensure_image(docker: &Docker, state_dir: &Path) -> Result<()> {
    if docker.image(LOCK_IMAGE, Mode::Normal)?.is_some() {
        return Ok(());
    }
    let dir = crate::scratch::tempdir(state_dir, "lock-image-")
        .context("failed to create a folder for the lock image")?;
    let tar = dir.path().join("empty.tar");
    // An empty tar archive is two zero blocks.
    std::fs::write(&tar, [0u8; 1024])
        .with_context(|| format!("failed to write {}", tar.display()))?;
    let done = docker.docker(argv::import_image(&tar, LOCK_IMAGE), Mode::Normal)?;
    if done.code != Some(0) {
        return Err(infra(format!(
            "failed to import the deploy lock image {LOCK_IMAGE}: {}",
            done.tail(5)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> Holder {
        Holder {
            host: "build-1".into(),
            boot_id: "b0".into(),
            pid: 4242,
            pid_start: 1000,
            checkout: "/srv/tta".into(),
            component: "carbon".into(),
            since: "2026-03-02T10:00:00Z".into(),
        }
    }

    #[test]
    fn holders_round_trip_through_labels() {
        let labels: BTreeMap<String, String> = holder().labels().into_iter().collect();
        assert_eq!(Holder::from_labels(&labels), Some(holder()));
        assert_eq!(Holder::from_labels(&BTreeMap::new()), None);
        let json = serde_json::json!([{"Id": "abc", "Config": {"Labels": labels}}]);
        let (id, parsed) = parse_lock(json.to_string().as_bytes()).unwrap();
        assert_eq!((id.as_str(), parsed), ("abc", Some(holder())));
        assert!(parse_lock(b"[]").is_err());
    }

    #[test]
    fn only_a_holder_on_this_host_whose_process_is_gone_is_stale() {
        let here = Host {
            name: "build-1".into(),
            boot_id: "b0".into(),
        };
        let alive = |_| Some(1000);
        assert_eq!(stale(&holder(), &here, alive), None);
        assert!(
            stale(&holder(), &here, |_| None)
                .unwrap()
                .contains("is gone")
        );
        assert!(
            stale(&holder(), &here, |_| Some(7))
                .unwrap()
                .contains("another process")
        );
        let rebooted = Host {
            boot_id: "b1".into(),
            ..here.clone()
        };
        assert!(
            stale(&holder(), &rebooted, alive)
                .unwrap()
                .contains("restarted")
        );
        let elsewhere = Host {
            name: "build-2".into(),
            ..here
        };
        assert_eq!(stale(&holder(), &elsewhere, |_| None), None);
    }

    #[test]
    fn the_start_time_is_read_after_the_command_name() {
        let stat = "77 (a) b (c)) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 2";
        assert_eq!(parse_start(stat), Some(123456));
        assert_eq!(parse_start("garbage"), None);
        assert!(process_start(std::process::id()).is_some());
    }

    #[test]
    fn lock_names_keep_project_and_service_apart() {
        assert_ne!(name("a_b", "c"), name("a", "b_c"));
        assert_eq!(name("tta-staging", "web"), "xtask-lock.tta-staging.web");
    }
}
