//! The observer on real programs: CPython (children with a cleared environment, threads,
//! SQLite in C, probes), node (libuv's raw statx, its thread pool) and ruff (Rust's std), each
//! compared with what the program was asked to do.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::process::{self, ToolCommand};

/// Runs `program args` under the observer in `dir`; returns the trace.
fn traced(dir: &Path, program: &Path, args: &[&str]) -> Trace {
    let library = install(&dir.join("state")).unwrap();
    let trace_file = dir.join("trace.tsv");
    let command = ToolCommand::new(program, dir, Duration::from_secs(120))
        .args(args.iter().copied())
        .env("LD_PRELOAD", &library)
        .env(TRACE_VAR, &trace_file)
        .env("UV_USE_IO_URING", "0");
    let done = process::run(&command).unwrap();
    assert_eq!(done.code, Some(0), "{}", done.tail(20));
    parse(&std::fs::read(&trace_file).unwrap())
}

fn has(trace: &Trace, path: &Path, wanted: impl Fn(&Access) -> bool) -> bool {
    trace
        .accesses
        .iter()
        .any(|(access, p)| p == path && wanted(access))
}

fn program(name: &str) -> PathBuf {
    which::which(name).unwrap_or_else(|_| panic!("{name} is not on PATH; .ci/run installs it"))
}

fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("data/many")).unwrap();
    for n in 0..70 {
        std::fs::write(root.join(format!("data/many/{n}.txt")), "1").unwrap();
    }
    std::fs::write(root.join("data/read.txt"), "x").unwrap();
    std::fs::write(root.join("data/child.txt"), "x").unwrap();
    (dir, root)
}

#[test]
fn cpython_children_threads_sqlite_and_probes_are_seen() {
    let (_dir, root) = fixture();
    let script = r#"
import os, sqlite3, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
open("data/read.txt").read()
os.stat("data/absent.txt") if os.path.exists("data/absent.txt") else None
os.access("data/probe.flag", os.F_OK)
os.listdir("data")
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda n: open(f"data/many/{n}.txt").read(), range(70)))
subprocess.run([sys.executable, "-c", "open('data/child.txt').read()"], env={}, check=True)
sqlite3.connect("data/new.db").execute("create table t (a)")
with open("data/log.jsonl", "a") as f:
    f.write("{}\n")
"#;
    let trace = traced(&root, &program("python3"), &["-c", script]);
    let at = |rel: &str| root.join(rel);
    assert_eq!(trace.unfollowable(), None);
    assert!(has(&trace, &at("data/read.txt"), |a| matches!(
        a,
        Access::Read(_)
    )));
    assert!(has(&trace, &at("data/absent.txt"), |a| *a
        == Access::Probe("-".into())));
    assert!(has(&trace, &at("data/probe.flag"), |a| *a
        == Access::Probe("-".into())));
    assert!(has(&trace, &at("data"), |a| matches!(
        a,
        Access::Listing(_)
    )));
    for n in 0..70 {
        let file = at(&format!("data/many/{n}.txt"));
        assert!(has(&trace, &file, |a| matches!(a, Access::Read(_))), "{n}");
    }
    // The child got the observer back although its environment was cleared.
    assert!(has(&trace, &at("data/child.txt"), |a| matches!(
        a,
        Access::Read(_)
    )));
    assert!(has(&trace, &at("data/new.db"), |a| *a == Access::Create));
    assert!(has(&trace, &at("data/log.jsonl"), |a| *a == Access::Create));
    // The trace file is not in the trace.
    assert!(!has(&trace, &at("trace.tsv"), |_| true));
}

#[test]
fn node_raw_statx_and_its_thread_pool_are_seen() {
    let (_dir, root) = fixture();
    let script = r#"
const fs = require("fs");
fs.statSync("data/read.txt");
fs.readFileSync("data/child.txt");
fs.existsSync("data/absent.txt");
fs.readdirSync("data/many");
fs.promises.stat("data/many/3.txt").then(() => {});
"#;
    let trace = traced(&root, &program("node"), &["-e", script]);
    let at = |rel: &str| root.join(rel);
    assert_eq!(trace.unfollowable(), None);
    assert!(has(
        &trace,
        &at("data/read.txt"),
        |a| matches!(a, Access::Probe(p) if p.starts_with("f:"))
    ));
    assert!(has(&trace, &at("data/child.txt"), |a| matches!(
        a,
        Access::Read(_)
    )));
    assert!(has(&trace, &at("data/absent.txt"), |a| *a
        == Access::Probe("-".into())));
    assert!(has(&trace, &at("data/many"), |a| matches!(
        a,
        Access::Listing(_)
    )));
    assert!(has(&trace, &at("data/many/3.txt"), |a| matches!(
        a,
        Access::Probe(_)
    )));
}

#[test]
fn ruff_config_discovery_and_the_user_s_git_config_are_seen() {
    let (_dir, root) = fixture();
    let ruff = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.xtask/venv/bin/ruff");
    assert!(
        ruff.exists(),
        "{} is missing: run `cargo xtask setup`",
        ruff.display()
    );
    std::fs::write(root.join("a.py"), "import os\n").unwrap();
    std::fs::write(root.join("pyproject.toml"), "[tool.ruff]\n").unwrap();
    let trace = traced(
        &root,
        &ruff,
        &["check", "--no-cache", "--exit-zero", "a.py"],
    );
    let at = |rel: &str| root.join(rel);
    assert_eq!(trace.unfollowable(), None);
    assert!(has(&trace, &at("a.py"), |a| matches!(a, Access::Read(_))));
    assert!(has(&trace, &at("pyproject.toml"), |a| matches!(
        a,
        Access::Read(_)
    )));
    assert!(has(&trace, &at("ruff.toml"), |a| *a
        == Access::Probe("-".into())));
}

#[test]
fn records_parse_and_a_cut_record_is_unfollowable() {
    let trace = parse(b"i\t12\t/usr/bin/python3\nr\t1:2:3\t/a b\ns\t-\t/c\nw\t+\t/d\n");
    assert!(trace.started);
    assert_eq!(trace.unfollowable(), None);
    assert_eq!(
        trace.accesses[1],
        (Access::Read("1:2:3".into()), PathBuf::from("/a b"))
    );
    assert_eq!(trace.accesses[3], (Access::Write, PathBuf::from("/d")));
    let cut = parse(b"i\t12\t/usr/bin/python3\nr\t1:2");
    assert!(cut.unfollowable().is_some());
    assert!(parse(b"").unfollowable().unwrap().contains("never started"));
    let statik = parse(b"i\t1\t/bin/sh\nx\ta statically linked program\t/bin/busybox\n");
    assert_eq!(
        statik.unfollowable().as_deref(),
        Some("/bin/busybox is a statically linked program")
    );
}

#[test]
fn programs_are_told_apart_by_their_elf_header() {
    // This test binary is dynamically linked (it runs with the system's loader).
    let me = std::env::current_exe().unwrap();
    assert_eq!(unfollowable_program(&me), None);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tool");
    std::fs::write(&script, format!("#!{}\n", me.display())).unwrap();
    assert_eq!(unfollowable_program(&script), None);
    // A minimal static ELF header: no program headers at all, so no interpreter.
    let mut statik = vec![0u8; 64];
    statik[..6].copy_from_slice(b"\x7fELF\x02\x01");
    let binary = dir.path().join("static");
    std::fs::write(&binary, &statik).unwrap();
    assert!(
        unfollowable_program(&binary)
            .unwrap()
            .contains("statically linked")
    );
    // busybox-static, which the deploy tests use too (.ci/run installs it).
    let busybox = program("busybox");
    assert!(unfollowable_program(&busybox).is_some());
}
