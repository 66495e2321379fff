//! A component's `health_probe`, run in a container with `docker exec`, with a deadline that
//! holds inside the container too. Killing the `docker exec` client at the deadline leaves the
//! probe running in the container (the engine has no way to stop an exec), so every probe
//! carries a marker variable; a probe past its deadline (or stopped by Ctrl-C) is found by
//! that marker among the container's processes (`docker top`, `/proc/PID/environ`) and killed
//! with everything it started, and whatever could not be killed is named in the verdict.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;

use super::argv;
use super::docker::{self, Docker, Mode};

/// The longest one run of a probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// The variable that marks a probe's processes.
const MARKER: &str = "XTASK_PROBE";

static NEXT: AtomicU64 = AtomicU64::new(0);

/// Runs `probe` in `container` for at most `timeout`: `None` when it passed, else why not.
/// Ctrl-C (in `Mode::Normal`) still cleans up inside the container, then is an error.
pub fn run(
    docker: &Docker,
    container: &str,
    probe: &[String],
    timeout: Duration,
    mode: Mode,
) -> Result<Option<String>> {
    let marker = format!(
        "{MARKER}={}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let shown = probe.join(" ");
    match docker.probe(container, &marker, probe, timeout, mode) {
        Ok(done) if done.code == Some(0) => Ok(None),
        Ok(done) => Ok(Some(format!(
            "health_probe `{shown}` to pass (it ended with {}{})",
            done.describe_exit(),
            match done.tail(1) {
                t if t.is_empty() => String::new(),
                t => format!(": {t}"),
            }
        ))),
        Err(error) if docker::is_timed_out(&error) => {
            let swept = sweep(docker, container, &marker);
            Ok(Some(format!(
                "health_probe `{shown}` to finish within {}s ({swept})",
                timeout.as_secs().max(1)
            )))
        }
        Err(error) if super::interrupted::is(&error) => {
            sweep(docker, container, &marker);
            Err(error)
        }
        Err(error) => Ok(Some(format!("health_probe `{shown}`: {error:#}"))),
    }
}

/// One row of `docker top CONTAINER -eo pid,ppid,args`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// As the host sees it.
    pub pid: u32,
    pub ppid: u32,
    pub args: String,
}

/// Pure: parses `docker top` output with the columns `PID PPID COMMAND`, in any order.
pub fn parse_top(text: &str) -> Result<Vec<Process>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| "`docker top` printed nothing".to_owned())?
        .split_whitespace()
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("`docker top` printed no {name} column"))
    };
    let (pid, ppid) = (column("PID")?, column("PPID")?);
    let args_at = header.len() - 1;
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let number = |i: usize| -> Result<u32, String> {
                fields
                    .get(i)
                    .and_then(|f| f.parse().ok())
                    .ok_or_else(|| format!("`docker top` printed `{line}`"))
            };
            Ok(Process {
                pid: number(pid)?,
                ppid: number(ppid)?,
                args: fields.get(args_at..).unwrap_or_default().join(" "),
            })
        })
        .collect()
}

/// Pure: `roots` and every process below them.
pub fn with_descendants(processes: &[Process], roots: &[u32]) -> Vec<u32> {
    let mut found: Vec<u32> = roots.to_vec();
    loop {
        let more: Vec<u32> = processes
            .iter()
            .filter(|p| found.contains(&p.ppid) && !found.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        if more.is_empty() {
            return found;
        }
        found.extend(more);
    }
}

/// Finds the processes marked `marker` in `container` and kills them; says what it did.
fn sweep(docker: &Docker, container: &str, marker: &str) -> String {
    let listed = |docker: &Docker| -> Result<Vec<Process>, String> {
        let text = docker
            .docker_output(argv::top(container), Mode::Cleanup)
            .map_err(|e| format!("{e:#}"))?;
        parse_top(&text)
    };
    let processes = match listed(docker) {
        Ok(processes) => processes,
        // The container is gone, and its processes with it.
        Err(_) if !container_exists(docker, container) => {
            return "its container is gone".to_owned();
        }
        Err(error) => return format!("its processes could not be listed: {error}"),
    };
    let marked: Vec<u32> = processes
        .iter()
        .filter(|p| has_marker(p.pid, marker))
        .map(|p| p.pid)
        .collect();
    let ours = with_descendants(&processes, &marked);
    if ours.is_empty() {
        return "no process of it was left in the container".to_owned();
    }
    for pid in &ours {
        kill(*pid);
    }
    std::thread::sleep(Duration::from_millis(200));
    let left: Vec<u32> = listed(docker)
        .unwrap_or_default()
        .iter()
        .map(|p| p.pid)
        .filter(|pid| ours.contains(pid))
        .collect();
    if left.is_empty() {
        format!(
            "its {} process{} in the container were killed",
            ours.len(),
            if ours.len() == 1 { "" } else { "es" }
        )
    } else {
        format!(
            "{} of its processes are left in container {container} (host PIDs {left:?}): they could not be killed from here",
            left.len()
        )
    }
}

fn container_exists(docker: &Docker, container: &str) -> bool {
    docker
        .docker(
            argv::inspect_containers(&[container.to_owned()]),
            Mode::Cleanup,
        )
        .is_ok_and(|done| done.code == Some(0))
}

/// Whether host process `pid` carries `marker` in its environment. The marker is unique to one
/// probe run, so a PID that means something else here (another PID namespace, a reused PID)
/// is never taken for a probe.
fn has_marker(pid: u32, marker: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|bytes| bytes.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
}

fn kill(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else {
        return;
    };
    // SAFETY: kill only sends a signal, to a process whose environment carries this probe's
    // marker; an error (gone, not permitted) is seen in the check that follows.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: &str = "PID                 PPID                COMMAND\n20316               20271               /bin/busybox httpd -f -p 80 -h /www\n21470               20271               /bin/busybox sh -c sleep 100\n21480               21470               /bin/busybox sleep 100\n";

    #[test]
    fn docker_top_rows_parse_with_their_command_lines() {
        let processes = parse_top(TOP).unwrap();
        assert_eq!(processes.len(), 3);
        assert_eq!(
            processes[1],
            Process {
                pid: 21470,
                ppid: 20271,
                args: "/bin/busybox sh -c sleep 100".into()
            }
        );
        assert!(parse_top("").is_err());
        assert!(parse_top("UID CMD\nroot x\n").is_err());
        assert!(parse_top("PID PPID COMMAND\nabc 1 x\n").is_err());
    }

    #[test]
    fn a_probe_and_what_it_started_are_found_and_nothing_else() {
        let processes = parse_top(TOP).unwrap();
        assert_eq!(with_descendants(&processes, &[21470]), vec![21470, 21480]);
        assert_eq!(with_descendants(&processes, &[]), Vec::<u32>::new());
    }

    #[test]
    fn the_marker_is_read_from_the_environment() {
        let own = std::fs::read(format!("/proc/{}/environ", std::process::id())).unwrap();
        let first = own.split(|b| *b == 0).next().unwrap();
        assert!(has_marker(
            std::process::id(),
            std::str::from_utf8(first).unwrap()
        ));
        assert!(!has_marker(std::process::id(), "XTASK_PROBE=never-set"));
    }
}
