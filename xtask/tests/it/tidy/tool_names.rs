//! The engine names no tool: what a tool needs (arguments, environment, config files, its
//! output's reading) is in its module under `tools/` and its rows in the tool table, which the
//! engine reads. A tool's name in `engine/` code (comments and tests left out) is a place where
//! tool knowledge leaked.

use std::sync::OnceLock;

use super::{source_root, sources, without_tests};

/// The tools' names as the tool table's rows give them (`name: "..."` in `TOOLS`), matched as
/// code spells them too (`detect_secrets` in identifiers): a new row is checked with no edit
/// here.
fn tool_names() -> &'static regex::Regex {
    static PATTERN: OnceLock<regex::Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let table = std::fs::read_to_string(source_root().join("tools/table.rs")).unwrap();
        let names: Vec<String> = regex::Regex::new(r#"(?m)^\s*name: "([a-z0-9-]+)",$"#)
            .unwrap()
            .captures_iter(&table)
            .map(|c| c[1].replace('-', "[-_]"))
            .collect();
        assert!(
            names.len() >= 6,
            "tools/table.rs: expected a `name: \"...\",` line per tool row, found {names:?}"
        );
        regex::Regex::new(&format!(r"(?i)\b({})", names.join("|"))).unwrap()
    })
}

/// (file under `xtask/promote/src`, tool, why) still named in engine code, each being moved
/// out. Each must still be there: when one is gone, this test says to drop it from the list.
/// Empty: the engine names no tool.
const KNOWN: &[(&str, &str, &str)] = &[];

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
    let mut names: Vec<String> = tool_names()
        .captures_iter(&tests_start)
        .map(|c| c[1].to_ascii_lowercase().replace('_', "-"))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What is wrong in `files` (path under `xtask/promote/src`, text) given the `known` places:
/// an engine file naming a tool not listed, or a listed place that no longer names it.
fn leaks(files: &[(String, String)], known: &[(&str, &str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    let mut seen = Vec::new();
    for (file, text) in files {
        if !file.starts_with("engine/") || file.ends_with("tests.rs") || file.contains("/tests/") {
            continue;
        }
        for tool in tools_named(text) {
            if known
                .iter()
                .any(|(f, t, _)| *f == file.as_str() && *t == tool)
            {
                seen.push((file.clone(), tool));
            } else {
                found.push(format!(
                    "xtask/promote/src/{file} names {tool}: move it to tools/"
                ));
            }
        }
    }
    for (file, tool, _) in known {
        if !seen.iter().any(|(f, t)| f == file && t == tool) {
            found.push(format!("{file} no longer names {tool}: drop it from KNOWN"));
        }
    }
    found
}

#[test]
fn the_engine_names_no_tool_outside_the_known_places() {
    let found = leaks(&sources(), KNOWN);
    assert!(found.is_empty(), "\n{}\n", found.join("\n"));
}

#[test]
fn a_tool_named_in_engine_code_is_a_leak_and_a_stale_known_place_is_reported() {
    let files = [
        (
            "engine/run.rs".to_owned(),
            "const F: &str = \"junit.xml\";\nfn read() { crate::tools::pytest::read_run(); }\n"
                .to_owned(),
        ),
        (
            "engine/tests.rs".to_owned(),
            "const A: &str = \"ruff\";\n".to_owned(),
        ),
        (
            "tools/ruff.rs".to_owned(),
            "const A: &str = \"ruff\";\n".to_owned(),
        ),
    ];
    assert_eq!(
        leaks(&files, &[]),
        ["xtask/promote/src/engine/run.rs names pytest: move it to tools/"]
    );
    assert_eq!(
        leaks(
            &files,
            &[
                ("engine/run.rs", "pytest", "why"),
                ("engine/inputs.rs", "ruff", "why")
            ]
        ),
        ["engine/inputs.rs no longer names ruff: drop it from KNOWN"]
    );
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
