//! The engine names no tool: what a tool needs (arguments, environment, config files, its
//! output's reading) is in its module under `tools/` and its rows in the tool table, which the
//! engine reads. A tool's name in `engine/` code (comments and tests left out) is a place where
//! tool knowledge leaked; `KNOWN` lists those still there, each being moved out.

use super::{sources, without_tests};

/// The tools' names, as code spells them (`detect_secrets` in identifiers).
const TOOL_NAMES: &str = r"(?i)\b(ruff|pyright|bandit|pytest|mypy|detect[-_]secrets)";

/// (file under `xtask/promote/src`, tool) still named in engine code, and why. Each must still be
/// there: when one is gone, this test says to drop it from the list.
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "engine/inputs.rs",
        "ruff",
        "CONFIG_FILES (what `affected` and the CI cache key count) and GENERATED (tool caches never inputs) list tools' files: they belong in the tools' rows",
    ),
    (
        "engine/inputs.rs",
        "pyright",
        "pyright_folders: pyright's import roots, for splitting a type checker's batch reads per member",
    ),
    ("engine/inputs.rs", "bandit", "CONFIG_FILES: `.bandit`"),
    (
        "engine/inputs.rs",
        "pytest",
        "CONFIG_FILES: `pytest.ini`; GENERATED: `.pytest_cache`",
    ),
    ("engine/inputs.rs", "mypy", "GENERATED: `.mypy_cache`"),
    (
        "engine/run.rs",
        "pytest",
        "a test run's report files are read by name (Output::TestRun)",
    ),
];

/// `text` without its comment lines (`//`, `//!`, `///` and the ends of lines after ` // `), so
/// that names in strings still count: config file names are strings.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line.split(" // ").next().unwrap_or(line)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The tools named in `text`'s code, lowercased, `detect_secrets` as `detect-secrets`.
fn tools_named(text: &str) -> Vec<String> {
    // Tests are blanked on the code-only view; strings come back from the text itself.
    let code = without_comments(text);
    let tests_start = without_tests(&code)
        .lines()
        .zip(code.lines())
        .map(|(blanked, line)| if blanked.trim().is_empty() { "" } else { line })
        .collect::<Vec<_>>()
        .join("\n");
    let pattern = regex::Regex::new(TOOL_NAMES).unwrap();
    let mut names: Vec<String> = pattern
        .captures_iter(&tests_start)
        .map(|c| c[1].to_ascii_lowercase().replace('_', "-"))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_engine_names_no_tool_outside_the_known_places() {
    let mut found = Vec::new();
    let mut seen = Vec::new();
    for (file, text) in sources() {
        if !file.starts_with("engine/") || file.ends_with("tests.rs") || file.contains("/tests/") {
            continue;
        }
        for tool in tools_named(&text) {
            if KNOWN.iter().any(|(f, t, _)| *f == file && *t == tool) {
                seen.push((file.clone(), tool));
            } else {
                found.push(format!(
                    "xtask/promote/src/{file} names {tool}: move it to tools/"
                ));
            }
        }
    }
    for (file, tool, _) in KNOWN {
        if !seen.iter().any(|(f, t)| f == file && t == tool) {
            found.push(format!("{file} no longer names {tool}: drop it from KNOWN"));
        }
    }
    assert!(found.is_empty(), "\n{}\n", found.join("\n"));
}

#[test]
fn names_in_code_and_strings_count_and_in_comments_and_tests_do_not() {
    let text = "//! ruff\n/// pyright\nconst A: &str = \"pytest.ini\";\nfn f() { g(); } // mypy\nfn pyright_folders() {}\n#[cfg(test)]\nmod tests {\n    const B: &str = \"bandit\";\n}\n";
    assert_eq!(tools_named(text), ["pyright", "pytest"]);
    assert_eq!(
        tools_named("let x = detect_secrets::args();\n"),
        ["detect-secrets"]
    );
    assert!(tools_named("// bandit\nfn ok() {}\n").is_empty());
}
