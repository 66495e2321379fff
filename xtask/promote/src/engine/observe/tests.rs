//! Read sets from traces: what is an input, what is an output, and what stores nothing.

use super::*;
use crate::engine::trace;

/// A summary of trace `lines`, each `kind\tanswer\tpath` with `{root}` for the project.
fn summary(root: &Path, lines: &[&str]) -> Summary {
    let mut text = String::from("i\t1\t/proc/self/exe\n");
    for line in lines {
        text.push_str(&line.replace("{root}", &root.display().to_string()));
        text.push('\n');
    }
    Summary::of(&trace::parse(text.as_bytes()))
}

fn stamp(path: &Path) -> String {
    stamp_now(path).unwrap()
}

fn capture(root: &Path, summary: &Summary) -> Result<ReadSet, String> {
    let locator = Locator::new(root, &[root.join(".xtask"), root.join("reports")]);
    let index = InputIndex::new(root);
    let members = ["src/a".to_owned()];
    Capture {
        locator: &locator,
        index: &index,
        scratch: None,
    }
    .read_set(
        summary,
        &Member {
            members: &members,
            own: "src/a",
            reached: &[],
        },
    )
}

#[test]
fn portable_names_hold_no_checkout_location() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap().join("proj");
    std::fs::create_dir_all(root.join("src/pkg/__pycache__")).unwrap();
    let locator = Locator::new(&root, &[root.join(".xtask"), root.join("reports")]);
    let p = |rel: &str| locator.portable(&root.join(rel));
    assert_eq!(p("src/pkg/a.py").as_deref(), Some("src/pkg/a.py"));
    assert_eq!(p("src/./pkg/../pkg/a.py").as_deref(), Some("src/pkg/a.py"));
    // Bytecode is an input under its own name, by its own content.
    assert_eq!(
        p("src/pkg/__pycache__/a.cpython-311.pyc").as_deref(),
        Some("src/pkg/__pycache__/a.cpython-311.pyc")
    );
    assert_eq!(p("").as_deref(), Some("."));
    assert_eq!(
        locator
            .portable(&root.parent().unwrap().join("pytest.ini"))
            .as_deref(),
        Some("../pytest.ini")
    );
    assert_eq!(
        locator.portable(Path::new("/etc/hosts")).as_deref(),
        Some("/etc/hosts")
    );
    assert_eq!(locator.portable(Path::new("/proc/self/maps")), None);
    assert_eq!(locator.resolve("../pytest.ini"), root.join("../pytest.ini"));
}

#[test]
fn what_the_run_changed_first_is_an_output_and_what_it_read_first_is_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/a.py"), "x = 1\n").unwrap();
    std::fs::create_dir_all(root.join(".metrics")).unwrap();
    std::fs::write(root.join(".metrics/today.jsonl"), "{}\n").unwrap();
    let a = stamp(&root.join("src/a.py"));
    let run = summary(
        &root,
        &[
            &format!("r\t{a}\t{{root}}/src/a.py"),
            "s\t-\t{root}/pytest.toml",
            "l\t-\t{root}/nothing-here",
            // Appended to without being read: an output, whatever it holds now.
            "w\t+\t{root}/.metrics/today.jsonl",
            "r\t1:2:3\t{root}/.metrics/today.jsonl",
            // Made by the run: an output even though it is read back.
            "c\t+\t{root}/out.db",
            "r\t1:2:3\t{root}/out.db",
        ],
    );
    let set = capture(&root, &run).unwrap();
    let entries: Vec<&str> = set.keys().map(String::as_str).collect();
    assert_eq!(
        entries,
        vec!["e pytest.toml", "f src/a.py", "l nothing-here"],
        "{set:?}"
    );
    assert_eq!(set["e pytest.toml"], "-");
    let outputs: Vec<&Path> = run.outputs().collect();
    assert!(outputs.contains(&root.join(".metrics/today.jsonl").as_path()));
}

#[test]
fn an_input_changed_while_the_tool_ran_stores_nothing_unless_the_run_changed_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::write(root.join("a.py"), "x = 1\n").unwrap();
    // Read when it had another stamp than it has now.
    let run = summary(&root, &["r\t12:3:4\t{root}/a.py"]);
    assert!(
        capture(&root, &run)
            .unwrap_err()
            .contains("a.py changed while the tool ran")
    );
    // Probed absent, and there now, made by someone else: nothing stored.
    let run = summary(&root, &["s\t-\t{root}/a.py"]);
    assert!(capture(&root, &run).is_err());
    // Probed absent, then made by the run itself: the probe keeps the answer it got.
    let run = summary(&root, &["s\t-\t{root}/a.py", "c\t+\t{root}/a.py"]);
    let set = capture(&root, &run).unwrap();
    assert_eq!(set["e a.py"], "-");
    // A file probed and then rewritten by the run: its existence, not its bytes.
    let before = format!("s\tf:{}\t{{root}}/a.py", stamp(&root.join("a.py")));
    let run = summary(&root, &[&before, "w\t+\t{root}/a.py"]);
    assert_eq!(capture(&root, &run).unwrap()["e a.py"], "F");
    // A file probed and untouched is keyed by its bytes.
    let run = summary(&root, &[&before]);
    assert!(capture(&root, &run).unwrap()["f a.py"].starts_with("f:"));
}

#[test]
fn a_new_file_in_a_listed_folder_is_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/a.py"), "x = 1\n").unwrap();
    let locator = Locator::new(&root, &[]);
    let listed = format!("l\t{}\t{{root}}/src", listing_now(&root.join("src")));
    let run = summary(&root, &[&listed]);
    let set = capture(&root, &run).unwrap();
    assert_eq!(first_change(&locator, &InputIndex::new(&root), &set), None);
    std::fs::write(root.join("src/b.py"), "").unwrap();
    assert!(
        first_change(&locator, &InputIndex::new(&root), &set)
            .unwrap()
            .contains("folder src has other entries")
    );
}

#[test]
fn xtask_s_own_folders_appearing_in_the_root_listing_are_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::write(root.join("a.py"), "x = 1\n").unwrap();
    let locator = Locator::new(&root, &[root.join(".xtask"), root.join("reports")]);
    let listed = format!("l\t{}\t{{root}}", listing_now(&root));
    let set = capture(&root, &summary(&root, &[&listed])).unwrap();
    assert_eq!(set.len(), 1, "{set:?}");
    std::fs::create_dir_all(root.join(".xtask/cache")).unwrap();
    std::fs::create_dir_all(root.join("reports")).unwrap();
    assert_eq!(first_change(&locator, &InputIndex::new(&root), &set), None);
    std::fs::write(root.join("b.py"), "").unwrap();
    assert!(first_change(&locator, &InputIndex::new(&root), &set).is_some());
}

#[test]
fn a_program_the_observer_cannot_follow_makes_the_run_not_cacheable() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let run = summary(
        &root,
        &["x\ta statically linked program, which never loads LD_PRELOAD\t/bin/busybox"],
    );
    let why = capture(&root, &run).unwrap_err();
    assert!(
        why.starts_with("not cacheable: /bin/busybox is a statically linked"),
        "{why}"
    );
}

#[test]
fn a_batch_member_keeps_its_own_reads_shared_ones_and_those_it_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    for file in [
        "src/a/x.py",
        "src/ab.py",
        "src/c/used.py",
        "src/c/other.py",
        "conf.toml",
    ] {
        crate::testutil::write_file(&root, file, "x = 1\n");
    }
    let lines: Vec<String> = [
        "src/a/x.py",
        "src/ab.py",
        "src/c/used.py",
        "src/c/other.py",
        "conf.toml",
    ]
    .iter()
    .map(|f| format!("r\t{}\t{{root}}/{f}", stamp(&root.join(f))))
    .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let run = summary(&root, &lines);
    let locator = Locator::new(&root, &[]);
    let index = InputIndex::new(&root);
    let members: Vec<String> = ["src/a", "src/ab.py", "src/c"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let reached = vec!["src/c/used.py".to_owned()];
    let capture = Capture {
        locator: &locator,
        index: &index,
        scratch: None,
    };
    let set = capture
        .read_set(
            &run,
            &Member {
                members: &members,
                own: "src/a",
                reached: &reached,
            },
        )
        .unwrap();
    let entries: Vec<&str> = set.keys().map(String::as_str).collect();
    assert_eq!(
        entries,
        vec!["f conf.toml", "f src/a/x.py", "f src/c/used.py"]
    );
    let alone = capture
        .read_set(
            &run,
            &Member {
                members: &members,
                own: "src/ab.py",
                reached: &[],
            },
        )
        .unwrap();
    let entries: Vec<&str> = alone.keys().map(String::as_str).collect();
    assert_eq!(entries, vec!["f conf.toml", "f src/ab.py"]);
}
