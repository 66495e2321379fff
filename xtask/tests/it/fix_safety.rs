//! `--fix` under attack, with the real ruff: Ctrl-C and SIGKILL at many points of a fix over
//! large files leave every file byte for byte as it was before or as it is after; the shadow
//! copies give what ruff gives in place (nested configs, excludes, per-file ignores); and a
//! write that fails is an error step, never a pass.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::hostile::start;
use crate::support::Sandbox;

/// Adds a component `bulk` of `modules` modules of about 86 KB, each with safe fixes (unused
/// imports) and formatting to do on every one of its thousand-odd functions; commits it.
fn bulk_component(sandbox: &Sandbox, modules: usize) {
    sandbox.set_config(&format!(
        "{}\n[components.bulk]\ndisplay_name = \"Bulk\"\ngroup = \"Core Infrastructure\"\nsource = \"src/components/bulk\"\n",
        sandbox.config_text()
    ));
    sandbox.write("src/components/bulk/__init__.py", "\"\"\"Bulk.\"\"\"\n");
    for module in 0..modules {
        let mut text =
            format!("\"\"\"Module {module}.\"\"\"\nimport os\nimport sys\nimport json\n\n");
        let mut function = 0;
        while text.len() < 86 * 1024 {
            text.push_str(&format!(
                "\ndef helper_{module}_{function}(first,second):\n    values = {{'first':first,  'second':second, 'index': {function}}}\n    return values\n\n"
            ));
            function += 1;
        }
        sandbox.write(&format!("src/components/bulk/mod_{module:02}.py"), &text);
    }
    sandbox.commit_all("bulk");
}

/// Every file of the component folder, by relative path.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if entry.file_name() != "__pycache__" {
                    stack.push(path);
                }
            } else {
                let relative = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn an_interrupted_fix_leaves_every_file_as_it_was_before_or_as_it_is_after() {
    let sandbox = Sandbox::new();
    bulk_component(&sandbox, 60);
    let folder = sandbox.path("src/components/bulk");
    let before = contents(&folder);
    let fix = ["promote", "bulk", "--phase", "1", "--fix"];
    let started = Instant::now();
    let run = sandbox.xtask(&fix);
    let whole = started.elapsed();
    assert!(run.code <= 1, "{}", run.all());
    let after = contents(&folder);
    let changed = before.iter().filter(|(f, b)| after[*f] != **b).count();
    assert_eq!(changed, 60, "every module has something to fix");

    let restore = || {
        sandbox.git(&["checkout", "-q", "--", "examples/tta/src/components/bulk"]);
        assert_eq!(contents(&folder), before);
    };
    restore();
    let mut rounds = Vec::new();
    for (signal, points) in [(libc::SIGINT, 7u32), (libc::SIGKILL, 4)] {
        for point in 1..=points {
            let delay = whole * point / (points + 1);
            let mut command = sandbox.command();
            command.args(fix);
            let mut fixing = start(command);
            std::thread::sleep(delay);
            let signalled = fixing.running();
            fixing.signal(signal);
            let run = fixing
                .finish(Duration::from_secs(60))
                .expect("a signalled fix ends");
            if signal == libc::SIGINT && signalled {
                assert_eq!(run.code, 130, "SIGINT after {delay:?}: {}", run.all());
            }
            // The guardian stops what a SIGKILL left running; nothing of ours writes after.
            if signal == libc::SIGKILL {
                std::thread::sleep(Duration::from_secs(4));
            }
            let now = contents(&folder);
            assert_eq!(
                now.keys().collect::<Vec<_>>(),
                before.keys().collect::<Vec<_>>(),
                "files appeared or went (signal {signal} after {delay:?})"
            );
            let mut fixed = 0;
            for (file, bytes) in &now {
                if *bytes == after[file] {
                    fixed += 1;
                } else {
                    assert!(
                        *bytes == before[file],
                        "{file} is neither as before ({} bytes) nor as after ({} bytes): {} bytes (signal {signal} after {delay:?})",
                        before[file].len(),
                        after[file].len(),
                        bytes.len()
                    );
                }
            }
            rounds.push((signal, delay, signalled, fixed));
            restore();
        }
    }
    // The signals landed while the fix ran, not only after it.
    assert!(
        rounds
            .iter()
            .any(|(_, _, signalled, fixed)| *signalled && *fixed < 60),
        "{rounds:?}"
    );
}

/// A component whose files meet ruff's config hierarchy: a nested `ruff.toml` that extends
/// the project's, a file the formatter excludes, one the linter excludes, per-file ignores
/// and a first-party import to sort.
fn layered_component(sandbox: &Sandbox) {
    let pyproject = sandbox.read("pyproject.toml");
    sandbox.write(
        "pyproject.toml",
        &pyproject.replacen(
            "[tool.ruff.lint]\n",
            "[tool.ruff.format]\nexclude = [\"src/components/model_management/frozen.py\"]\n\n[tool.ruff.lint]\nexclude = [\"src/components/model_management/unlinted.py\"]\nper-file-ignores = { \"src/components/model_management/keeps.py\" = [\"F401\"] }\n",
            1,
        ),
    );
    let messy = "import sys\nimport os\nfrom components.model_management import registry\nx = {'a':1,   'b':2}\ndef f( a ):\n    return registry, a\n";
    for name in ["messy", "frozen", "unlinted", "keeps"] {
        sandbox.write(&format!("src/components/model_management/{name}.py"), messy);
    }
    sandbox.write(
        "src/components/model_management/legacy/ruff.toml",
        "extend = \"../../../../pyproject.toml\"\nline-length = 60\n\n[format]\nquote-style = \"single\"\n",
    );
    sandbox.write("src/components/model_management/legacy/__init__.py", "");
    sandbox.write(
        "src/components/model_management/legacy/old.py",
        "import os\nvalue = {\"a_long_key_name\": 1, \"another_long_key_name\": 2, \"third\": 3}\n",
    );
    sandbox.commit_all("layered");
}

#[test]
fn a_fix_on_shadow_copies_gives_what_ruff_gives_in_place() {
    let ours = Sandbox::new();
    layered_component(&ours);
    let run = ours.xtask(&["promote", "model-management", "--phase", "1", "--fix"]);
    assert!(run.code <= 1, "{}", run.all());

    let theirs = Sandbox::new();
    layered_component(&theirs);
    let folder = "src/components/model_management";
    for args in [
        &[
            "check",
            "--no-cache",
            "--fix",
            "--no-unsafe-fixes",
            "--force-exclude",
            folder,
        ][..],
        &["format", "--no-cache", "--force-exclude", folder][..],
    ] {
        let output = theirs.venv_tool("ruff", args);
        assert!(output.status.code().is_some_and(|c| c <= 1), "{output:?}");
    }
    let ours_now = contents(&ours.path(folder));
    let theirs_now = contents(&theirs.path(folder));
    for (file, bytes) in &theirs_now {
        assert_eq!(
            String::from_utf8_lossy(&ours_now[file]),
            String::from_utf8_lossy(bytes),
            "{file}"
        );
    }
    assert_eq!(ours_now.len(), theirs_now.len());
    // The layers mattered: each of these files came out differently.
    let unlinted = String::from_utf8_lossy(&ours_now["unlinted.py"]).into_owned();
    let frozen = String::from_utf8_lossy(&ours_now["frozen.py"]).into_owned();
    assert!(unlinted.contains("import os") && frozen.contains("x = {'a':1,   'b':2}"));
    assert!(String::from_utf8_lossy(&ours_now["legacy/old.py"]).contains("'a_long_key_name'"));
}

/// Clears the immutable flag it set when dropped, so the sandbox can be removed.
struct Immutable<'a>(&'a Path);

impl<'a> Immutable<'a> {
    fn set(path: &'a Path) -> Immutable<'a> {
        let status = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .expect("chattr runs (e2fsprogs)");
        assert!(status.success(), "chattr +i {} failed", path.display());
        Immutable(path)
    }
}

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(self.0)
            .status();
    }
}

#[test]
fn a_fix_whose_write_fails_is_an_error_step_and_the_file_is_kept() {
    let sandbox = Sandbox::new();
    let file = "src/components/model_management/messy.py";
    let messy = "import os\nx = {'a':1,   'b':2}\n";
    sandbox.write(file, messy);
    sandbox.commit_all("messy");
    let path = sandbox.path(file);
    let _frozen = Immutable::set(&path);
    let run = sandbox.xtask(&["promote", "model-management", "--phase", "1", "--fix"]);
    assert_eq!(run.code, 3, "{}", run.all());
    let report = sandbox.report("model-management");
    let steps = report["steps"].as_array().unwrap();
    let fix = steps
        .iter()
        .find(|s| s["name"] == "ruff-fix")
        .unwrap_or_else(|| panic!("no ruff-fix step: {report:#}"));
    assert_eq!(fix["status"], "error", "{report:#}");
    assert!(
        run.all()
            .contains("failed to replace src/components/model_management/messy.py"),
        "{}",
        run.all()
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), messy);
}
