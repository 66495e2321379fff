//! The classes of issue 22: reads the tools' whole process trees make at the OS boundary
//! (child processes, forked workers, threads, C libraries, probes), what they write, and what
//! ruff and pyright find outside the project. Each case warms the cache, changes one thing and
//! compares the cached verdict and every figure with a `--no-cache` run on the same tree.

use super::{append, cached_equals_fresh, explain, tests_of, verdict, warm};
use crate::support::Sandbox;

/// Adds `body` (Python, a whole test function) to carbon's test module, with `imports` at
/// its top, and commits the tree.
fn add_test(sandbox: &Sandbox, imports: &str, body: &str) {
    let module = "tests/test_carbon_component.py";
    let text = sandbox.read(module);
    let text = text.replacen("import pytest\n", &format!("import pytest\n{imports}\n"), 1);
    sandbox.write(module, &format!("{text}\n\n{body}\n"));
    sandbox.commit_all("a test for the observer");
}

/// The path of a project file as a Python test sees it (absolute: the sandbox is a temp dir).
fn data_path(sandbox: &Sandbox, relative: &str) -> String {
    sandbox.path(relative).display().to_string()
}

#[test]
fn a_child_python_process_reading_a_data_file() {
    let sandbox = Sandbox::new();
    sandbox.write("tests/data/child.txt", "5\n");
    add_test(
        &sandbox,
        "import subprocess\nimport sys",
        &format!(
            "def test_child_reads_a_file() -> None:\n    out = subprocess.run([sys.executable, \"-c\", \"print(open('{}').read())\"], capture_output=True, text=True, env={{}}, check=True)\n    assert int(out.stdout) == 5\n",
            data_path(&sandbox, "tests/data/child.txt")
        ),
    );
    let before = warm(&sandbox, "carbon");
    sandbox.write("tests/data/child.txt", "6\n");
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(
        explained.contains("tests/data/child.txt changed"),
        "{explained}"
    );
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn a_fork_pool_worker_reading_a_data_file() {
    let sandbox = Sandbox::new();
    sandbox.write("tests/data/worker.txt", "5\n");
    add_test(
        &sandbox,
        "import multiprocessing",
        &format!(
            "def _read(path: str) -> int:\n    with open(path) as f:\n        return int(f.read())\n\n\ndef test_worker_reads_a_file() -> None:\n    with multiprocessing.get_context(\"fork\").Pool(2) as pool:\n        assert pool.map(_read, [{:?}]) == [5]\n",
            data_path(&sandbox, "tests/data/worker.txt")
        ),
    );
    let before = warm(&sandbox, "carbon");
    sandbox.write("tests/data/worker.txt", "6\n");
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn a_thread_pool_over_many_files_is_seen_whole() {
    let sandbox = Sandbox::new();
    for n in 0..80 {
        sandbox.write(&format!("tests/data/many/f{n:02}.txt"), "1\n");
    }
    add_test(
        &sandbox,
        "from concurrent.futures import ThreadPoolExecutor\nfrom pathlib import Path",
        &format!(
            "def test_threads_read_every_file() -> None:\n    files = sorted(Path({:?}).glob(\"f*.txt\"))\n    with ThreadPoolExecutor(16) as pool:\n        total = sum(pool.map(lambda p: int(p.read_text()), files))\n    assert total == 80\n",
            data_path(&sandbox, "tests/data/many")
        ),
    );
    let before = warm(&sandbox, "carbon");
    // Any one of them: each is a recorded read, whichever thread made it.
    sandbox.write("tests/data/many/f57.txt", "2\n");
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(
        explained.contains("tests/data/many/f57.txt changed"),
        "{explained}"
    );
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn a_sqlite_database_read_in_c() {
    let sandbox = Sandbox::new();
    let db = data_path(&sandbox, "tests/data/limits.db");
    let sql = |statement: &str| {
        let output = std::process::Command::new(sandbox.venv_python())
            .args([
                "-c",
                &format!(
                    "import sqlite3; c = sqlite3.connect({db:?}); c.execute({statement:?}); c.commit()"
                ),
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    std::fs::create_dir_all(sandbox.path("tests/data")).unwrap();
    sql("create table limits (value integer)");
    sql("insert into limits values (5)");
    add_test(
        &sandbox,
        "import sqlite3",
        &format!(
            "def test_reads_the_database() -> None:\n    (value,) = sqlite3.connect({db:?}).execute(\"select value from limits\").fetchone()\n    assert value == 5\n"
        ),
    );
    let before = warm(&sandbox, "carbon");
    sql("update limits set value = 6");
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn an_access_probe() {
    let sandbox = Sandbox::new();
    sandbox.write("tests/data/enabled.flag", "");
    add_test(
        &sandbox,
        "import os",
        &format!(
            "def test_the_flag_is_there() -> None:\n    assert os.access({:?}, os.F_OK)\n",
            data_path(&sandbox, "tests/data/enabled.flag")
        ),
    );
    let before = warm(&sandbox, "carbon");
    std::fs::remove_file(sandbox.path("tests/data/enabled.flag")).unwrap();
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(
        explained.contains("tests/data/enabled.flag was removed"),
        "{explained}"
    );
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn a_file_created_during_the_run_after_it_was_probed() {
    let sandbox = Sandbox::new();
    let marker = data_path(&sandbox, "tests/data/first-run.marker");
    add_test(
        &sandbox,
        "from pathlib import Path",
        &format!(
            "def test_first_run() -> None:\n    marker = Path({marker:?})\n    existed = marker.exists()\n    marker.parent.mkdir(parents=True, exist_ok=True)\n    marker.write_text(\"seen\")\n    assert not existed\n"
        ),
    );
    // The first run probes the marker (absent), makes it and passes; that verdict rests on
    // the absence, so with the marker there it is no answer.
    let first = sandbox.xtask(&["promote", "carbon"]);
    let first = verdict(&sandbox, &first, "carbon");
    let (second, run) = cached_equals_fresh(&sandbox, "carbon");
    assert!(
        !run.stdout.contains("5 of 5 steps from cache"),
        "{}",
        run.all()
    );
    assert_ne!(tests_of(&first), tests_of(&second));
}

#[test]
fn a_test_appending_to_a_dated_log_is_a_hit_on_the_second_run() {
    let sandbox = Sandbox::new();
    sandbox.write(".metrics/.gitkeep", "");
    add_test(
        &sandbox,
        "import datetime\nimport json\nfrom pathlib import Path",
        &format!(
            "def test_logs_a_metric() -> None:\n    log = Path({:?}) / f\"{{datetime.date.today()}}.jsonl\"\n    with log.open(\"a\") as f:\n        f.write(json.dumps({{\"test\": \"carbon\"}}) + \"\\n\")\n",
            data_path(&sandbox, ".metrics")
        ),
    );
    // `warm` asserts the second run came from the cache although the first appended.
    let before = warm(&sandbox, "carbon");
    let stats = std::fs::read_to_string(sandbox.root().join(".xtask/cache/stats.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(stats.lines().last().unwrap()).unwrap();
    assert_eq!(
        last["record"],
        serde_json::json!(true),
        "answered by the warm-run record"
    );
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_eq!(before, after);
}

#[test]
fn a_config_under_home() {
    let mut sandbox = Sandbox::new();
    let home = sandbox.root().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".carbonrc"), "5\n").unwrap();
    sandbox.env("HOME", home.to_str().unwrap());
    add_test(
        &sandbox,
        "from pathlib import Path",
        "def test_reads_the_user_config() -> None:\n    assert int((Path.home() / \".carbonrc\").read_text()) == 5\n",
    );
    let before = warm(&sandbox, "carbon");
    std::fs::write(home.join(".carbonrc"), "6\n").unwrap();
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(explained.contains("~/.carbonrc changed"), "{explained}");
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn a_command_found_on_path() {
    let mut sandbox = Sandbox::new();
    let bin = sandbox.root().join("bin");
    crate::support::fake_tool(&bin, "carbon-limit", "#!/bin/sh\necho 5\n");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    sandbox.env("PATH", &path);
    add_test(
        &sandbox,
        "import subprocess",
        "def test_runs_a_command() -> None:\n    assert subprocess.run([\"carbon-limit\"], capture_output=True, text=True).stdout.strip() == \"5\"\n",
    );
    let before = warm(&sandbox, "carbon");
    crate::support::fake_tool(&bin, "carbon-limit", "#!/bin/sh\necho 6\n");
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(explained.contains("carbon-limit changed"), "{explained}");
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn a_static_program_makes_the_step_not_cacheable() {
    let sandbox = Sandbox::new();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("busybox-static is installed (.ci/run installs it)");
    add_test(
        &sandbox,
        "import subprocess",
        &format!(
            "def test_runs_a_static_program() -> None:\n    subprocess.run([{busybox:?}, \"true\"], check=True)\n"
        ),
    );
    let first = sandbox.xtask(&["promote", "carbon"]);
    verdict(&sandbox, &first, "carbon");
    assert!(first.stderr.contains("not cacheable"), "{}", first.all());
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(
        explained.contains("not cacheable") && explained.contains("statically linked"),
        "{explained}"
    );
    let again = sandbox.xtask(&["promote", "carbon"]);
    assert!(
        again.stdout.contains("4 of 5 steps from cache"),
        "{}",
        again.all()
    );
    cached_equals_fresh(&sandbox, "carbon");
}

#[test]
fn ruff_config_above_the_root_and_extend_outside_it() {
    let sandbox = Sandbox::new();
    // The project's ruff settings extend a file outside the project.
    let pyproject = sandbox.read("pyproject.toml").replace(
        "[tool.ruff]\n",
        "[tool.ruff]\nextend = \"../shared-ruff.toml\"\n",
    );
    sandbox.write("pyproject.toml", &pyproject);
    std::fs::write(sandbox.root().join("examples/shared-ruff.toml"), "[lint]\n").unwrap();
    sandbox.commit_all("ruff extends a shared file");
    let before = warm(&sandbox, "carbon");
    // A setting the project's own table does not override: single quotes, so `ruff format
    // --check` would rewrite the module.
    std::fs::write(
        sandbox.root().join("examples/shared-ruff.toml"),
        "[format]\nquote-style = \"single\"\n",
    )
    .unwrap();
    let explained = explain(&sandbox, "carbon", "ruff-format");
    assert!(
        explained.contains("../shared-ruff.toml changed"),
        "{explained}"
    );
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(before["gates"]["lint"], after["gates"]["lint"]);

    // Without ruff settings in the project, ruff takes the nearest config above it.
    let pyproject = sandbox.read("pyproject.toml");
    let start = pyproject.find("[tool.ruff]").unwrap();
    let end = pyproject.find("[tool.pyright]").unwrap();
    sandbox.write(
        "pyproject.toml",
        &format!("{}{}", &pyproject[..start], &pyproject[end..]),
    );
    std::fs::write(
        sandbox.root().join("examples/ruff.toml"),
        "[lint]\nselect = [\"E\"]\n",
    )
    .unwrap();
    let (plain, _) = cached_equals_fresh(&sandbox, "carbon");
    std::fs::write(
        sandbox.root().join("examples/ruff.toml"),
        "[lint]\nselect = [\"D\"]\n",
    )
    .unwrap();
    let (strict, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(plain["gates"]["lint"], strict["gates"]["lint"]);
}

#[test]
fn git_s_core_excludes_file_which_ruff_honours() {
    let mut sandbox = Sandbox::new();
    let home = sandbox.root().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join(".gitconfig"),
        "[core]\n\texcludesFile = ~/ignored\n",
    )
    .unwrap();
    std::fs::write(home.join("ignored"), "nothing-matches-this\n").unwrap();
    sandbox.env("HOME", home.to_str().unwrap());
    // A lint finding in a package component (ruff walks a folder with git's ignore rules;
    // a file named on its command line is checked whatever they say).
    append(
        &sandbox,
        "src/components/model_management/cache.py",
        "\nimport os\n",
    );
    sandbox.commit_all("an unused import");
    let before = warm_component(&sandbox, "model-management");
    std::fs::write(home.join("ignored"), "cache.py\n").unwrap();
    let (after, _) = cached_equals_fresh(&sandbox, "model-management");
    assert_ne!(before["gates"]["lint"], after["gates"]["lint"]);
}

#[test]
fn pyright_extends_a_config_outside_the_project() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.root().join("examples/pyright-base.json"),
        "{\"typeCheckingMode\": \"basic\"}\n",
    )
    .unwrap();
    sandbox.write(
        "pyrightconfig.json",
        "{\"extends\": \"../pyright-base.json\", \"pythonVersion\": \"3.11\"}\n",
    );
    // A line only strict mode reports.
    append(
        &sandbox,
        "src/components/carbon_component.py",
        "\n\ndef _untyped(value):\n    return value\n",
    );
    sandbox.commit_all("pyright extends a shared file");
    let before = warm(&sandbox, "carbon");
    std::fs::write(
        sandbox.root().join("examples/pyright-base.json"),
        "{\"typeCheckingMode\": \"strict\"}\n",
    )
    .unwrap();
    let explained = explain(&sandbox, "carbon", "pyright");
    assert!(
        explained.contains("../pyright-base.json changed"),
        "{explained}"
    );
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(before["gates"]["types"], after["gates"]["types"]);
}

#[test]
fn a_gitignored_module_in_a_component_that_pyright_checks() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "src/components/model_management/.gitignore",
        "generated.py\n",
    );
    sandbox.write(
        "src/components/model_management/generated.py",
        "LIMIT: int = 5\n",
    );
    sandbox.commit_all("a generated module");
    let before = warm_component(&sandbox, "model-management");
    sandbox.write(
        "src/components/model_management/generated.py",
        "LIMIT: int = \"five\"\n",
    );
    let (after, _) = cached_equals_fresh(&sandbox, "model-management");
    assert_ne!(before["gates"]["types"], after["gates"]["types"]);
}

#[test]
fn a_same_size_edit_within_the_same_second_and_its_stale_bytecode() {
    let sandbox = Sandbox::new();
    sandbox.write("src/components/carbon_limits.py", "LIMIT = 5\n");
    add_test(
        &sandbox,
        "from components import carbon_limits",
        "def test_the_limit() -> None:\n    assert carbon_limits.LIMIT == 5\n",
    );
    let compile = |force: bool| {
        let mut args = vec!["-m", "compileall", "-q"];
        if force {
            args.push("-f");
        }
        let target = sandbox.path("src/components/carbon_limits.py");
        let output = std::process::Command::new(sandbox.venv_python())
            .args(&args)
            .arg(&target)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    compile(false);
    let before = warm(&sandbox, "carbon");
    // Same size, same second: Python's check (mtime in seconds and size) keeps the old
    // bytecode, so a fresh run passes too. The cached verdict is the fresh one.
    let source = sandbox.path("src/components/carbon_limits.py");
    let mtime = std::fs::metadata(&source).unwrap().modified().unwrap();
    sandbox.write("src/components/carbon_limits.py", "LIMIT = 6\n");
    std::fs::File::options()
        .write(true)
        .open(&source)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let (stale, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_eq!(
        tests_of(&before),
        tests_of(&stale),
        "the stale bytecode runs"
    );
    // Once the bytecode is rewritten, the new source runs: never the old pass.
    compile(true);
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

/// `warm` for a component other than carbon (the same two runs).
fn warm_component(sandbox: &Sandbox, component: &str) -> serde_json::Value {
    let run = sandbox.xtask(&["promote", component]);
    let first = verdict(sandbox, &run, component);
    let again = sandbox.xtask(&["promote", component]);
    assert!(
        again.stdout.contains("steps from cache") && !again.stdout.contains("0 of"),
        "a warm run was not served from the cache\n{}",
        again.all()
    );
    assert_eq!(verdict(sandbox, &again, component), first);
    first
}

/// A venv of the sandbox's own, as `project.python`: made from the tool venv's interpreter,
/// with every entry of the tool venv's site-packages linked into it (so pytest and its
/// plugins are there), and its site-packages folder returned for a test to change.
fn own_venv(sandbox: &Sandbox) -> std::path::PathBuf {
    let venv = sandbox.root().join("project-venv");
    let made = std::process::Command::new(sandbox.venv_python())
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let site = |root: &std::path::Path| {
        std::fs::read_dir(root.join("lib"))
            .unwrap()
            .flatten()
            .map(|e| e.path().join("site-packages"))
            .find(|p| p.is_dir())
            .unwrap()
    };
    let tools = site(&crate::support::tool_venv());
    let own = site(&venv);
    for entry in std::fs::read_dir(&tools).unwrap().flatten() {
        let name = entry.file_name();
        // The example installed editable would shadow the sandbox's sources.
        let text = name.to_string_lossy();
        if text.contains("tta") || text.starts_with("__editable__") || own.join(&name).exists() {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), own.join(&name)).unwrap();
    }
    let config = sandbox.config_text().replacen(
        "[project]\n",
        &format!(
            "[project]\npython = {:?}\n",
            venv.join("bin/python").display().to_string()
        ),
        1,
    );
    sandbox.set_config(&config);
    own
}

#[test]
fn a_pth_file_putting_a_sibling_checkout_under_tmp_on_the_path() {
    let sandbox = Sandbox::new();
    let site = own_venv(&sandbox);
    let sibling = tempfile::Builder::new()
        .prefix("xtask-sibling-")
        .tempdir()
        .unwrap();
    std::fs::write(sibling.path().join("carbon_extra.py"), "LIMIT = 5\n").unwrap();
    std::fs::write(
        site.join("sibling.pth"),
        format!("{}\n", sibling.path().display()),
    )
    .unwrap();
    add_test(
        &sandbox,
        "import carbon_extra",
        "def test_the_sibling_limit() -> None:\n    assert carbon_extra.LIMIT == 5\n",
    );
    let before = warm(&sandbox, "carbon");
    std::fs::write(sibling.path().join("carbon_extra.py"), "LIMIT = 6\n").unwrap();
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(explained.contains("carbon_extra.py changed"), "{explained}");
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}

#[test]
fn an_installed_package_edited_in_place() {
    let sandbox = Sandbox::new();
    let site = own_venv(&sandbox);
    // A package folder in site-packages: no RECORD names its files, so only the trace can.
    std::fs::create_dir_all(site.join("carbonlib")).unwrap();
    std::fs::write(site.join("carbonlib/__init__.py"), "LIMIT = 5\n").unwrap();
    add_test(
        &sandbox,
        "import carbonlib",
        "def test_the_installed_limit() -> None:\n    assert carbonlib.LIMIT == 5\n",
    );
    let before = warm(&sandbox, "carbon");
    std::fs::write(site.join("carbonlib/__init__.py"), "LIMIT = 6\n").unwrap();
    let explained = explain(&sandbox, "carbon", "pytest");
    assert!(
        explained.contains("carbonlib/__init__.py changed"),
        "{explained}"
    );
    let (after, _) = cached_equals_fresh(&sandbox, "carbon");
    assert_ne!(tests_of(&before), tests_of(&after));
}
