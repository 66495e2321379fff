//! Issue 11's attacks, each performed for real: writers racing on one MATURITY.md, a SIGKILL of
//! xtask in the middle of a tool run, files outside the repository behind symlinks, and odd
//! configuration and input. Every one must lose nothing, leave nothing running, and name the
//! place to fix.

use std::process::Stdio;

use crate::support::Sandbox;

const NEO4J: &str = "docs/components/neo4j/MATURITY.md";

/// Rows of the managed section (the history our records write).
fn recorded_rows(text: &str) -> usize {
    let Some(begin) = text.find("<!-- xtask:maturity:begin") else {
        return 0;
    };
    let end = text
        .find("<!-- xtask:maturity:end -->")
        .expect("an end marker");
    text[begin..end]
        .lines()
        .filter(|line| line.starts_with("| 20"))
        .count()
}

#[test]
fn promote_record_racing_demote_loses_no_update() {
    // neo4j ready for Production: its evidence from a real Prometheus (99.7 % up), its
    // Production README sections written.
    let prometheus = crate::production::start_prometheus(1800);
    let sandbox = crate::production::sandbox(&prometheus);
    // Warm the cache, so the racing promotions spend their time recording, not running tools.
    let warm = sandbox.xtask(&["promote", "neo4j", "--phase", "all"]);
    assert_eq!(warm.code, 0, "neo4j must be promotable: {}", warm.all());
    let clean = sandbox.read(NEO4J);
    for round in 0..20 {
        sandbox.write(NEO4J, &clean);
        let spawn = |args: &[&str]| {
            sandbox
                .command()
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let promote = spawn(&["promote", "neo4j", "--phase", "all", "--record"]);
        let demote = spawn(&["demote", "neo4j", "--to", "development", "--reason", "r"]);
        let outputs = [promote, demote].map(|child| child.wait_with_output().unwrap());
        let text = sandbox.read(NEO4J);
        let mut succeeded = 0;
        for output in &outputs {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let code = output.status.code();
            // Each process either wrote its change or failed saying why; never a report of a
            // change the file does not hold.
            for (verb, line) in stderr
                .lines()
                .filter_map(|l| Some((l.split_whitespace().next()?, l)))
            {
                if verb == "Recorded" || verb == "Demoted" {
                    assert_eq!(code, Some(0), "round {round}: {stderr}");
                    succeeded += 1;
                    // `Recorded neo4j: Staging -> Production in …`; a promotion that started
                    // after a demotion landed plans from Development, and says so.
                    let words: Vec<&str> = line.split(": ").nth(1).unwrap().split(' ').collect();
                    let (from, to) = (words[0], words[2]);
                    assert!(
                        text.contains(&format!("| {from} | {to} |")),
                        "round {round}: printed {line:?} but the file holds:\n{text}"
                    );
                }
            }
            if code != Some(0) {
                assert_eq!(code, Some(2), "round {round}: {stderr}");
                assert!(stderr.contains("run the command again"), "{stderr}");
            }
        }
        assert!(succeeded >= 1, "round {round}: neither process recorded");
        assert_eq!(
            recorded_rows(&text),
            succeeded,
            "round {round}: {succeeded} processes reported a change:\n{text}"
        );
    }
}

/// Runs `demote neo4j --to development` on `text` as neo4j's MATURITY.md.
fn demote_on(sandbox: &Sandbox, text: &str) -> crate::support::Run {
    sandbox.write(NEO4J, text);
    sandbox.xtask(&["demote", "neo4j", "--to", "development", "--reason", "r"])
}

#[test]
fn a_stray_begin_marker_or_two_sections_are_refused_and_nothing_changes() {
    let sandbox = Sandbox::new();
    let clean = sandbox.read(NEO4J);
    let stray = clean.replacen(
        "**Current Stage**",
        "<!-- xtask:maturity:begin -->\nA line the team wrote.\n**Current Stage**",
        1,
    );
    let run = demote_on(&sandbox, &stray);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("begin marker: line 3; end marker: none"),
        "{}",
        run.all()
    );
    assert_eq!(
        sandbox.read(NEO4J),
        stray,
        "a refused record changed the file"
    );

    let end_first = clean.replacen(
        "**Current Stage**",
        "<!-- xtask:maturity:end -->\n**Current Stage**",
        1,
    ) + "<!-- xtask:maturity:begin -->\n";
    let run = demote_on(&sandbox, &end_first);
    assert_eq!(run.code, 2, "{}", run.all());
    assert_eq!(sandbox.read(NEO4J), end_first);
}

#[test]
fn a_bom_before_the_stage_line_is_read_past_and_kept() {
    let sandbox = Sandbox::new();
    let clean = sandbox.read(NEO4J);
    // The stage line first, behind a BOM, as some Windows editors save it.
    let body = clean.replacen("# Neo4j — Maturity\n\n", "", 1);
    let text = format!("\u{feff}{body}");
    let run = demote_on(&sandbox, &text);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("Demoted neo4j: Staging -> Development"),
        "{}",
        run.all()
    );
    let written = sandbox.read(NEO4J);
    assert!(
        written.starts_with("\u{feff}<!-- xtask:maturity:begin"),
        "{written:?}"
    );
    assert_eq!(written.matches("**Current Stage**").count(), 1, "{written}");
}

#[test]
fn two_stage_lines_that_disagree_are_refused_with_both_line_numbers() {
    let sandbox = Sandbox::new();
    let clean = sandbox.read(NEO4J);
    let text = format!("{clean}\n**Current Stage**: Production\n");
    let stage_line = clean
        .lines()
        .position(|l| l.starts_with("**Current Stage**"))
        .unwrap()
        + 1;
    let last = text.lines().count();
    let run = demote_on(&sandbox, &text);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "line {stage_line} says Staging, line {last} says Production"
        )),
        "{}",
        run.all()
    );
    assert_eq!(sandbox.read(NEO4J), text);
}

/// Runs phase 3 of carbon (no tool) with `from` replaced by `to` in xtask.toml; returns the run
/// and the line the replacement is on.
fn with_config_edit(from: &str, to: &str) -> (crate::support::Run, usize) {
    let sandbox = Sandbox::new();
    let config = sandbox.config_text();
    assert!(config.contains(from), "{from}");
    let edited = config.replacen(from, to, 1);
    let line = edited[..edited.find(to).unwrap()].matches('\n').count() + 1;
    sandbox.set_config(&edited);
    (sandbox.xtask(&["promote", "carbon", "--phase", "3"]), line)
}

#[test]
fn configuration_mistakes_are_usage_errors_at_load_with_their_place() {
    for (from, to, says) in [
        (
            "source = \"src/components/carbon_component.py\"",
            "source = \"src/components/carbon_gone.py\"",
            "source `src/components/carbon_gone.py` is not a file",
        ),
        ("ruff = 120", "ruff = 0", "timeouts.ruff = 0"),
        (
            "ruff = \"0.17.5\"",
            "ruff = \"0.17.5; rm -rf /tmp/x\"",
            "is not a version",
        ),
        (
            "display_name = \"Carbon\"",
            "display_name = \"DOCKER\"",
            "which component `docker` already uses",
        ),
        (
            "display_name = \"Docker\"",
            "display_name = \"Doc\\u202Eker\"",
            "invisible or control character U+202E",
        ),
    ] {
        let (run, line) = with_config_edit(from, to);
        assert_eq!(run.code, 2, "{to}: {}", run.all());
        assert!(
            run.stderr.contains(&format!("xtask.toml:{line}:")) && run.stderr.contains(says),
            "{to}: {}",
            run.all()
        );
    }
}

#[test]
fn a_type_check_that_analysed_no_file_fails() {
    let sandbox = Sandbox::new();
    // A component whose folder holds no Python file: the real pyright exits 0, clean, having
    // looked at nothing.
    sandbox.write("src/components/hollow/NOTES.md", "# Nothing to analyse\n");
    sandbox.set_config(&format!(
        "{}\n[components.hollow]\ndisplay_name = \"Hollow\"\ngroup = \"Core Infrastructure\"\nsource = \"src/components/hollow\"\n",
        sandbox.config_text()
    ));
    let run = sandbox.xtask(&["promote", "hollow", "--phase", "2"]);
    assert_eq!(run.code, 3, "{}", run.all());
    let report = sandbox.report("hollow");
    assert_eq!(
        report["quality_gates"]["types"]["passed"], false,
        "{report:#}"
    );
    assert!(run.all().contains("analysed no files"), "{}", run.all());
}

#[test]
fn a_request_whose_sections_sit_inside_a_code_fence_is_rejected() {
    use crate::requests::{event, form_body, validate};
    let sandbox = Sandbox::new();
    let body = format!(
        "Please promote.\n\n```\n{}\n```\n",
        form_body("carbon", "Development", "Staging")
    );
    let out = sandbox.root().join("verdict");
    let run = validate(
        &sandbox,
        &event("t", Some(&body), &["promotion:requested"]),
        &out,
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.all().contains("lacks the form sections"),
        "{}",
        run.all()
    );
}

/// Processes whose working folder is inside `root`, with their command lines: the tools a run
/// in that sandbox started, whoever their parent is now.
fn processes_in(root: &std::path::Path) -> Vec<(u32, String)> {
    let root = root.canonicalize().unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if !cwd.starts_with(&root) {
            continue;
        }
        // A zombie has no command line and runs nothing.
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline.is_empty() {
            continue;
        }
        found.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
    }
    found
}

#[test]
fn sigkill_of_xtask_leaves_no_tool_running_and_the_next_run_sweeps_its_scratch() {
    use std::time::{Duration, Instant};
    let sandbox = Sandbox::new();
    let tests = "tests/test_carbon_component.py";
    let slow = format!(
        "{}\n\ndef test_takes_its_time():\n    import time\n\n    time.sleep(120)\n",
        sandbox.read(tests)
    );
    sandbox.write(tests, &slow);
    sandbox.commit_all("a slow test");
    let mut xtask = sandbox
        .command()
        .args(["promote", "carbon", "--phase", "all", "--no-cache"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let tools = processes_in(sandbox.root());
        if tools.iter().any(|(_, cmd)| cmd.contains("pytest")) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "pytest never started: {tools:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let the slow test begin, then kill xtask the way nothing can catch.
    std::thread::sleep(Duration::from_secs(2));
    let pid = xtask.id();
    xtask.kill().unwrap();
    xtask.wait().unwrap();
    // The guardian stops the tools: SIGTERM, then SIGKILL after the grace period.
    let killed = Instant::now();
    let mut survivors = processes_in(sandbox.root());
    while !survivors.is_empty() && killed.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(200));
        survivors = processes_in(sandbox.root());
    }
    assert!(survivors.is_empty(), "tools outlived xtask: {survivors:?}");

    // Its scratch folder is under .xtask/tmp/<pid>, and the next run removes it.
    let scratch = sandbox.root().join(".xtask/tmp").join(pid.to_string());
    assert!(
        scratch.is_dir(),
        "the killed run's scratch folder is not where it belongs"
    );
    let run = sandbox.xtask(&["cache", "verify"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!scratch.exists(), "{}", run.all());
}

#[test]
fn fix_refuses_a_symlink_in_scope_and_leaves_the_outside_file_alone() {
    let sandbox = Sandbox::new();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("outside.py");
    // Fixable by ruff (an unsorted, unused import), so a fix through the link would change it.
    let original = "import sys\nimport os\n\n\ndef f() -> int:\n    return 1\n";
    std::fs::write(&target, original).unwrap();
    std::os::unix::fs::symlink(
        &target,
        sandbox.path("src/components/model_management/evil.py"),
    )
    .unwrap();
    sandbox.commit_all("a symlink");
    for extra in [&[][..], &["--allow-dirty"][..]] {
        let mut args = vec!["promote", "model-management", "--phase", "1", "--fix"];
        args.extend_from_slice(extra);
        let run = sandbox.xtask(&args);
        assert_eq!(run.code, 2, "{extra:?}: {}", run.all());
        assert!(
            run.stderr
                .contains("src/components/model_management/evil.py (a symlink to "),
            "{}",
            run.all()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), original);
    }
}
