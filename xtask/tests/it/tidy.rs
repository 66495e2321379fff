//! The house rules as tests (rust-analyzer's `xtask/src/tidy.rs` is the model): every file
//! under `xtask/promote/src` opens with its `//!` purpose line, only `process.rs` spawns processes, only
//! `edge_env.rs` reads the environment, no function passes 120 lines, and the modules that
//! parse bytes from outside the process never unwrap, expect or index them. Each rule is a pure
//! check over a file's text, tested on crafted bad input, then run over the real tree.

use std::path::{Path, PathBuf};

mod architecture;
mod layers;
mod tool_names;

/// Longest function body allowed, counted from the `fn` line to its closing brace.
const MAX_FUNCTION_LINES: usize = 120;

/// Where spawning is allowed, relative to `xtask/promote/src`: the one process API; git's xshell
/// one-liners (ARCHITECTURE.md, "Invariants": the only other processes); and the nginx the remote-cache tests run beside them,
/// a server that lives as long as a test, which `process::run` (run to completion) is not for.
const MAY_SPAWN: &[&str] = &[
    "process.rs",
    "git.rs",
    "remote_cache/test_server.rs",
    "evidence/test_prometheus.rs",
];

/// The one module that reads the process environment.
const MAY_READ_ENV: &[&str] = &["edge_env.rs"];

/// Functions over the limit in files other work owns, as (file, function, owner). Each entry
/// must still be too long: when one is shortened, this test says to drop it from the list.
/// Empty now: every function is within the limit.
const KNOWN_LONG: &[(&str, &str, &str)] = &[];

/// The modules whose job is to read bytes that come from outside the process: files users,
/// tools and GitHub write (xtask.toml, MATURITY.md, READMEs, events, issue bodies, tool
/// output, the status history, dist-info, `pyproject.toml`, Python source, compose output)
/// and the environment. In their code (tests excluded) a panic is a crash on hostile input, so
/// the rule `panics_on_input` holds: no `.unwrap()`, no `.expect(` and no `[..]` indexing;
/// they use `get`, slice patterns, iterators and `?`.
const OUTSIDE_INPUT: &[&str] = &[
    "cache.rs",
    "config/checks.rs",
    "config/environments.rs",
    "config/mod.rs",
    "config/observability.rs",
    "config/raw.rs",
    "config/values.rs",
    "deploy/compose_file.rs",
    "deploy/inspect.rs",
    "edge_env.rs",
    "engine/digest_memo.rs",
    "engine/observe.rs",
    "engine/warm.rs",
    "evidence/api.rs",
    "evidence/client.rs",
    "evidence/mod.rs",
    "git.rs",
    "github/event.rs",
    "imports/parse.rs",
    "imports/parse_cache.rs",
    "init/discover.rs",
    "input_file.rs",
    "maturity/managed.rs",
    "maturity/mod.rs",
    "maturity/parse.rs",
    "maturity/record.rs",
    "ratchet/figures.rs",
    "ratchet/fingerprint.rs",
    "readme.rs",
    "records/dsse.rs",
    "records/verify.rs",
    "remote_cache/protocol.rs",
    "request/parse.rs",
    "request/validate.rs",
    "status/history.rs",
    "toolchain/interpreter.rs",
    "toolchain/inventory.rs",
    "tools/bandit.rs",
    "tools/detect_secrets.rs",
    "tools/mypy.rs",
    "tools/pyright.rs",
    "tools/pytest.rs",
    "tools/ruff.rs",
];

/// Modules that read outside bytes and still break the rule, each being rewritten by its
/// owner this session, as (file, owner and why). Each must still break it: when one is clean,
/// this test says to move it to `OUTSIDE_INPUT`.
const OUTSIDE_INPUT_PENDING: &[(&str, &str)] = &[];

/// `text` with comments and the contents of string and character literals replaced by spaces,
/// line breaks kept, so that patterns and braces are matched in code only and line numbers
/// still hold.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if !ident_before && (c == 'r' || (c == 'b' && next == Some('r'))) && {
            // A raw string: r"..", r#".."#, br#".."#.
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[start..].iter().take_while(|&&h| h == '#').count();
            chars.get(start + hashes) == Some(&'"')
        } {
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[start..].iter().take_while(|&&h| h == '#').count();
            let open = start + hashes;
            out.extend(chars[i..=open].iter());
            i = open + 1;
            while i < chars.len() {
                if chars[i] == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == '#')
                        .count()
                        == hashes
                {
                    out.push('"');
                    out.extend(std::iter::repeat_n('#', hashes));
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a, 'static).
            let close = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&q| q == '\'')
                    .map(|p| i + 2 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    out.push('\'');
                    out.extend(std::iter::repeat_n(' ', end - i - 1));
                    out.push('\'');
                    i = end + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// A rule broken at a line (1-based) of a file.
#[derive(Debug, PartialEq)]
struct Violation {
    line: usize,
    what: String,
}

fn line_of(code: &str, byte: usize) -> usize {
    code[..byte].matches('\n').count() + 1
}

/// A file that does not open with a `//!` line saying what it is for.
fn missing_purpose_line(text: &str) -> Option<Violation> {
    (!text.starts_with("//!")).then(|| Violation {
        line: 1,
        what: "the file does not open with a `//!` line saying what it is for".to_owned(),
    })
}

/// Code that names a way to start a process other than `process.rs`: `std::process::Command`
/// (also through `use std::process::{.., Command}`), `duct` or `xshell`.
fn spawns(text: &str) -> Vec<Violation> {
    let code = code_only(text);
    let pattern = regex::Regex::new(
        r"\bprocess::Command\b|\bprocess::\{[^}]*\bCommand\b|\bduct::|\buse duct\b|\bxshell::|\buse xshell\b",
    )
    .unwrap();
    pattern
        .find_iter(&code)
        .map(|m| Violation {
            line: line_of(&code, m.start()),
            what: format!("`{}` starts a process: go through process.rs", m.as_str()),
        })
        .collect()
}

/// Code that reads the process environment (`env::var`, `env::var_os`, `env::vars`,
/// `env::vars_os`) instead of asking `edge_env`.
fn reads_env(text: &str) -> Vec<Violation> {
    let code = code_only(text);
    let pattern = regex::Regex::new(r"\benv::vars?(_os)?\b|\benv::\{[^}]*\bvars?(_os)?\b").unwrap();
    pattern
        .find_iter(&code)
        .map(|m| Violation {
            line: line_of(&code, m.start()),
            what: format!(
                "`{}` reads the environment: ask crate::edge_env",
                m.as_str()
            ),
        })
        .collect()
}

/// `code` (from `code_only`) with every item under `#[cfg(test)]` blanked, line breaks kept:
/// tests may unwrap what they built themselves.
fn without_tests(code: &str) -> String {
    let mut out: Vec<u8> = code.as_bytes().to_vec();
    let mut from = 0;
    while let Some(found) = code[from..].find("#[cfg(test)]") {
        let start = from + found;
        let bytes = code.as_bytes();
        let mut end = start;
        let mut depth = 0i32;
        for (at, &b) in bytes.iter().enumerate().skip(start + "#[cfg(test)]".len()) {
            end = at;
            match b {
                b';' if depth == 0 => break,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        for b in &mut out[start..=end] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
        from = end + 1;
    }
    String::from_utf8(out).unwrap()
}

/// An `.expect(` on a regex or tree-sitter query compiled from a literal in our source, or on
/// the grammar compiled into the binary: it holds no outside bytes, and a bad one fails every
/// test that reaches it.
fn compiles_a_literal(code: &str, at: usize) -> bool {
    let before = &code[..at];
    let statement = before.rfind(';').map_or(before, |i| &before[i + 1..]);
    [
        "Regex::new(",
        "Query::new(",
        "capture_index_for_name(",
        "set_language(",
    ]
    .iter()
    .any(|p| statement.contains(p))
}

/// Code that can panic on the bytes it parses: `.unwrap()`, `.expect(` (except on a literal
/// pattern, see `compiles_a_literal`) and indexing or slicing (`x[i]`, `&s[a..b]`, `v[0]`).
fn panics_on_input(text: &str) -> Vec<Violation> {
    let code = without_tests(&code_only(text));
    let pattern = regex::Regex::new(r"\.unwrap\(\)|\.expect\(|[A-Za-z0-9_)\]]\[").unwrap();
    pattern
        .find_iter(&code)
        .filter(|m| !(m.as_str() == ".expect(" && compiles_a_literal(&code, m.start())))
        .map(|m| Violation {
            line: line_of(&code, m.start()),
            what: match m.as_str() {
                ".unwrap()" | ".expect(" => format!(
                    "`{}` on bytes from outside the process: return an error or a miss instead",
                    m.as_str().trim_end_matches('(')
                ),
                _ => "indexing can panic on bytes from outside the process: use `get`, a slice pattern or an iterator".to_owned(),
            },
        })
        .collect()
}

/// Every function with a body: (name, line of `fn`, number of lines to its closing brace).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let code = code_only(text);
    let bytes = code.as_bytes();
    let fn_keyword = regex::Regex::new(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)").unwrap();
    let mut found = Vec::new();
    for caps in fn_keyword.captures_iter(&code) {
        let whole = caps.get(0).unwrap();
        // The body starts at the first `{` outside the signature's parentheses and brackets;
        // a `;` first means a declaration without a body (a trait method, an extern fn).
        let mut depth = 0i32;
        let mut open = None;
        for (at, &b) in bytes.iter().enumerate().skip(whole.end()) {
            match b {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b';' if depth == 0 => break,
                b'{' if depth == 0 => {
                    open = Some(at);
                    break;
                }
                _ => {}
            }
        }
        let Some(open) = open else { continue };
        let mut braces = 0i32;
        let close = bytes[open..].iter().position(|&b| {
            match b {
                b'{' => braces += 1,
                b'}' => braces -= 1,
                _ => {}
            }
            braces == 0
        });
        let Some(close) = close.map(|p| open + p) else {
            continue;
        };
        let first = line_of(&code, whole.start());
        let last = line_of(&code, close);
        found.push((caps[1].to_owned(), first, last - first + 1));
    }
    found
}

fn too_long(text: &str) -> Vec<(String, Violation)> {
    functions(text)
        .into_iter()
        .filter(|(_, _, lines)| *lines > MAX_FUNCTION_LINES)
        .map(|(name, line, lines)| {
            let what = format!("fn {name} has {lines} lines (at most {MAX_FUNCTION_LINES})");
            (name, Violation { line, what })
        })
        .collect()
}

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("promote/src")
}

/// Every `.rs` file under `xtask/promote/src` as (path relative to it, with `/`, text).
fn sources() -> Vec<(String, String)> {
    let root = source_root();
    let mut files = Vec::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(&root).unwrap();
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                files.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files.sort();
    assert!(files.len() > 50, "found only {} sources", files.len());
    files
}

/// Runs `rule` over every source but `allowed`, and fails listing every violation.
fn check_all(rule: fn(&str) -> Vec<Violation>, allowed: &[&str]) {
    let violations: Vec<String> = sources()
        .iter()
        .filter(|(name, _)| !allowed.contains(&name.as_str()))
        .flat_map(|(name, text)| {
            rule(text)
                .into_iter()
                .map(move |v| format!("xtask/promote/src/{name}:{}: {}", v.line, v.what))
        })
        .collect();
    assert!(violations.is_empty(), "\n{}\n", violations.join("\n"));
}

#[test]
fn every_source_file_opens_with_its_purpose_line() {
    check_all(|text| missing_purpose_line(text).into_iter().collect(), &[]);
}

#[test]
fn only_process_rs_spawns() {
    check_all(spawns, MAY_SPAWN);
}

#[test]
fn only_the_edge_reads_the_environment() {
    check_all(reads_env, MAY_READ_ENV);
}

#[test]
fn no_function_passes_the_line_limit() {
    let mut violations = Vec::new();
    let mut known_seen = Vec::new();
    for (name, text) in sources() {
        for (function, v) in too_long(&text) {
            match KNOWN_LONG
                .iter()
                .find(|(file, f, _)| *file == name && *f == function)
            {
                Some(known) => known_seen.push(*known),
                None => violations.push(format!("xtask/promote/src/{name}:{}: {}", v.line, v.what)),
            }
        }
    }
    for known in KNOWN_LONG {
        if !known_seen.contains(known) {
            violations.push(format!(
                "xtask/promote/src/{}: fn {} is no longer over the limit: drop it from KNOWN_LONG",
                known.0, known.1
            ));
        }
    }
    assert!(violations.is_empty(), "\n{}\n", violations.join("\n"));
}

#[test]
fn modules_that_parse_outside_input_never_unwrap_expect_or_index_it() {
    let sources = sources();
    let mut violations = Vec::new();
    for name in OUTSIDE_INPUT {
        let Some((_, text)) = sources.iter().find(|(n, _)| n == name) else {
            violations.push(format!(
                "xtask/promote/src/{name} is listed in OUTSIDE_INPUT but does not exist"
            ));
            continue;
        };
        for v in panics_on_input(text) {
            violations.push(format!("xtask/promote/src/{name}:{}: {}", v.line, v.what));
        }
    }
    for (name, owner) in OUTSIDE_INPUT_PENDING {
        let clean = sources
            .iter()
            .find(|(n, _)| n == name)
            .is_none_or(|(_, text)| panics_on_input(text).is_empty());
        if clean {
            violations.push(format!(
                "xtask/promote/src/{name} ({owner}) no longer unwraps or indexes: move it from OUTSIDE_INPUT_PENDING to OUTSIDE_INPUT"
            ));
        }
    }
    assert!(violations.is_empty(), "\n{}\n", violations.join("\n"));
}

// The checkers themselves, on crafted input: each must flag what it exists to flag.

#[test]
fn unwrapping_or_indexing_outside_bytes_is_flagged_but_not_in_tests_or_literals() {
    let bad = "//! x\nfn a(b: &[u8], s: &str) -> u8 {\n    let x = s.parse::<u8>().unwrap();\n    let y = s.find('a').expect(\"an a\");\n    b[0] + s[1..].len() as u8 + f()[2]\n}\n";
    let lines: Vec<usize> = panics_on_input(bad).iter().map(|v| v.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 5, 5]);
    // Fine: `get`, slice types and patterns, attributes, macros, array literals, the
    // `unwrap_or` family, a literal regex, and anything under `#[cfg(test)]`.
    let fine = "//! x\n#[derive(Debug)]\nstruct S([u8; 4]);\nfn a(b: &[u8]) -> Option<u8> {\n    let v = vec![1u8];\n    let [first, ..] = b else { return None };\n    let re = Regex::new(r\"x\").expect(\"valid regex\");\n    b.get(1).copied().or(v.first().copied()).map(|x| x + first).or(Some(0).unwrap_or(1).into())\n}\n#[cfg(test)]\nmod tests {\n    fn t() { let v = [1]; v[0]; Some(1).unwrap(); }\n}\n";
    assert!(
        panics_on_input(fine).is_empty(),
        "{:?}",
        panics_on_input(fine)
            .iter()
            .map(|v| v.line)
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_file_without_its_purpose_line_is_flagged() {
    assert!(missing_purpose_line("//! what it is for\nfn a() {}\n").is_none());
    assert!(missing_purpose_line("// a plain comment\n").is_some());
    assert!(missing_purpose_line("\n//! too late\n").is_some());
    assert!(missing_purpose_line("use std::fs;\n").is_some());
}

#[test]
fn naming_a_spawner_outside_process_rs_is_flagged() {
    let bad = "//! x\nfn a() {\n    let c = std::process::Command::new(\"ls\");\n}\n";
    assert_eq!(spawns(bad)[0].line, 3);
    assert_eq!(
        spawns("use std::process::{Child, Command, Stdio};\n").len(),
        1
    );
    assert_eq!(spawns("use std::process::Command;\n").len(), 1);
    assert_eq!(spawns("let e = duct::cmd(\"ls\", [\"-l\"]);\n").len(), 1);
    assert_eq!(spawns("use duct::cmd;\n").len(), 1);
    assert_eq!(spawns("use xshell::{Shell, cmd};\n").len(), 1);
    // In a comment or a string it is only a mention; `CommandExt` and `ExitCode` are no spawn.
    assert!(spawns("// std::process::Command is not used here\n").is_empty());
    assert!(spawns("let s = \"duct::cmd\";\n").is_empty());
    assert!(
        spawns("use std::process::ExitCode;\nuse std::os::unix::process::CommandExt;\n").is_empty()
    );
}

#[test]
fn reading_the_environment_outside_the_edge_is_flagged() {
    assert_eq!(reads_env("let h = std::env::var(\"HOME\");\n").len(), 1);
    assert_eq!(reads_env("let h = std::env::var_os(\"HOME\");\n").len(), 1);
    assert_eq!(reads_env("for (k, v) in env::vars() {}\n").len(), 1);
    assert_eq!(reads_env("let all = std::env::vars_os();\n").len(), 1);
    assert_eq!(reads_env("use std::env::{self, var};\n").len(), 1);
    assert_eq!(reads_env("a\nb\nlet x = env::var(\"X\");\n")[0].line, 3);
    // Not reads: other std::env functions, mentions in comments and strings.
    assert!(
        reads_env("let t = std::env::temp_dir();\nlet d = std::env::current_dir();\n").is_empty()
    );
    assert!(reads_env("let p = std::env::split_paths(&path);\n").is_empty());
    assert!(reads_env("/// reads no std::env::var\nlet s = \"env::var\";\n").is_empty());
}

/// A function of `body_lines` lines between its `fn` line and its closing brace.
fn function_of(name: &str, body_lines: usize) -> String {
    let mut text = format!("fn {name}(a: [u8; 2]) -> Option<&'static str> {{\n");
    for i in 0..body_lines {
        text.push_str(&format!("    let _x{i} = 1;\n"));
    }
    text.push_str("    None\n}\n");
    text
}

#[test]
fn a_function_over_the_limit_is_flagged_and_one_at_it_is_not() {
    // 1 signature line + 118 + `None` + closing brace = 121 lines.
    let long = function_of("long", 118);
    assert_eq!(functions(&long), vec![("long".to_owned(), 1, 121)]);
    assert_eq!(too_long(&long).len(), 1);
    let fits = function_of("fits", 117);
    assert_eq!(functions(&fits)[0].2, 120);
    assert!(too_long(&fits).is_empty());
}

#[test]
fn braces_in_strings_comments_and_chars_do_not_count() {
    let text = concat!(
        "//! x\n",
        "trait T { fn declared(&self) -> u8; }\n",
        "fn tricky<'a>(s: &'a str) -> char {\n",
        "    let _ = \"}}}\"; // }}\n",
        "    let _ = r#\"}\" }\"#; /* } /* nested } */ } */\n",
        "    let _ = b'}'; let _ = '\\u{7d}'; let _ = '{';\n",
        "    '}'\n",
        "}\n",
        "fn after() {}\n",
    );
    assert_eq!(
        functions(text),
        vec![("tricky".to_owned(), 3, 6), ("after".to_owned(), 9, 1)]
    );
}

#[test]
fn code_only_keeps_code_and_line_numbers() {
    let text = "a // b\n\"c\nd\" 'e' 'f\n/* g\n*/ h";
    let code = code_only(text);
    assert_eq!(code.lines().count(), text.lines().count());
    assert!(code.contains('a') && code.contains('h') && code.contains("'f"));
    for gone in ['b', 'c', 'd', 'e', 'g'] {
        assert!(!code.contains(gone), "{gone} in {code:?}");
    }
}
