//! ARCHITECTURE.md is checked: every file it names (a backticked path with a file extension)
//! is a file of this repository, so the map cannot point at code that moved or went away.

use std::collections::BTreeSet;
use std::path::Path;

/// Files ARCHITECTURE.md names that exist only at run time, in a user's tree or under
/// `reports/`, never in this repository.
const RUN_TIME_FILES: &[&str] = &["deployment.json", "status.jsonl"];

/// Extensions that mark a backticked word as a file path.
const EXTENSIONS: &[&str] = &[
    "rs", "md", "toml", "json", "jsonl", "yml", "yaml", "j2", "c", "py", "txt",
];

/// The backticked paths of `text` that end in a file extension, without a leading `../`s.
/// Paths with braces (`{a,b}.rs`), globs or spaces are not single files and are skipped.
fn named_files(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
                && word
                    .rsplit_once('.')
                    .is_some_and(|(stem, ext)| !stem.is_empty() && EXTENSIONS.contains(&ext))
        })
        .map(|word| word.trim_start_matches("../").to_owned())
        .collect()
}

/// Every file under `root`, as `/`-joined relative paths, leaving out build output, venvs and
/// git's own folder.
fn repository_files(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if [".git", "target", ".xtask", "node_modules", "reports"]
                .iter()
                .any(|skip| name == *skip)
            {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                folders.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                files.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files
}

/// The named files no repository file's path ends with.
fn missing<'a>(named: &'a BTreeSet<String>, files: &[String]) -> Vec<&'a str> {
    named
        .iter()
        .map(String::as_str)
        .filter(|name| !RUN_TIME_FILES.contains(name))
        .filter(|name| {
            !files
                .iter()
                .any(|file| file == name || file.ends_with(&format!("/{name}")))
        })
        .collect()
}

#[test]
fn every_file_architecture_md_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let named = named_files(&text);
    assert!(named.len() > 50, "only {} files named", named.len());
    let gone = missing(&named, &repository_files(&root));
    assert!(
        gone.is_empty(),
        "ARCHITECTURE.md names files that do not exist: {gone:?}"
    );
}

#[test]
fn the_check_flags_a_named_file_that_is_gone() {
    let named = named_files(
        "`engine/run.rs` runs; `gone/away.rs` moved; `{a,b}.rs` and `cargo xtask` are no files; `../../observer/trace.c`",
    );
    assert_eq!(
        named.iter().map(String::as_str).collect::<Vec<_>>(),
        ["engine/run.rs", "gone/away.rs", "observer/trace.c"]
    );
    let files = [
        "xtask/promote/src/engine/run.rs".to_owned(),
        "xtask/promote/observer/trace.c".to_owned(),
    ];
    assert_eq!(missing(&named, &files), ["gone/away.rs"]);
}
