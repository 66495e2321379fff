//! The stat memo with the real binary and tools: a warm run that answers digests from the memo
//! still gives a fresh run's verdict after an edit crafted to keep every stat field it can.

use std::time::Duration;

use crate::support::Sandbox;

/// The report without what may differ between a cached and a fresh run.
fn verdict(sandbox: &Sandbox, component: &str) -> serde_json::Value {
    crate::cache::normalized(sandbox.report(component))
}

/// Replaces `from` by `to` (as many bytes) in `source` and puts its mtime back to the
/// nanosecond: same length, same inode, same mtime; only the ctime tells.
fn edit_keeping_mtime(sandbox: &Sandbox, source: &str, from: &str, to: &str) {
    let path = sandbox.path(source);
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let text = sandbox.read(source);
    let edited = text.replacen(from, to, 1);
    assert_ne!(edited, text);
    assert_eq!(edited.len(), text.len());
    std::fs::write(&path, &edited).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
}

#[test]
fn a_same_size_edit_with_its_mtime_put_back_gives_the_fresh_verdict() {
    let sandbox = Sandbox::new();
    let source = "src/components/carbon_component.py";
    // pyright here; the same edit against ruff (and its own cache) is the next test.
    let args = ["promote", "carbon", "--phase", "2"];
    // The copy is brand new: its files are racy and would not be memoised. Let them age past
    // the racy window, so the next runs do memoise them and the memo is what is tested.
    std::thread::sleep(Duration::from_millis(2500));
    let first = sandbox.xtask(&args);
    assert_eq!(first.code, 0, "{}", first.all());
    let memo = std::fs::read(sandbox.root().join(".xtask/cache/digest-memo")).unwrap();
    let path = sandbox.path(source);
    let needle = path.to_str().unwrap().as_bytes();
    assert!(
        memo.windows(needle.len()).any(|w| w == needle),
        "the memo holds {source}"
    );

    // A str where a float parameter defaults to it: a type error, in as many bytes.
    edit_keeping_mtime(&sandbox, source, "_KWH = 400.0", "_KWH = \"400\"");

    let warm = sandbox.xtask(&args);
    let warm_verdict = verdict(&sandbox, "carbon");
    let fresh = sandbox.xtask(&["promote", "carbon", "--phase", "2", "--no-cache"]);
    assert_eq!(fresh.code, 1, "the edit is a type error: {}", fresh.all());
    assert_eq!(warm.code, fresh.code, "{}", warm.all());
    assert_eq!(warm_verdict, verdict(&sandbox, "carbon"));
}

/// ruff's own `.ruff_cache` trusts size and mtime; the same crafted edit must still fail the
/// lint gate, warm and with `--no-cache` alike (ruff runs with `--no-cache`).
#[test]
fn a_same_size_format_break_with_its_mtime_put_back_fails_lint_warm_and_fresh() {
    let sandbox = Sandbox::new();
    let source = "src/components/carbon_component.py";
    let args = ["promote", "carbon", "--phase", "1"];
    std::thread::sleep(Duration::from_millis(2500));
    let first = sandbox.xtask(&args);
    assert_eq!(first.code, 0, "{}", first.all());

    // Two spaces before `=` and none after: ruff format would change it; same length.
    edit_keeping_mtime(&sandbox, source, "_KWH = 400.0", "_KWH  =400.0");

    let warm = sandbox.xtask(&args);
    let warm_verdict = verdict(&sandbox, "carbon");
    let fresh = sandbox.xtask(&["promote", "carbon", "--phase", "1", "--no-cache"]);
    assert_eq!(fresh.code, 1, "the edit is unformatted: {}", fresh.all());
    assert_eq!(warm.code, fresh.code, "{}", warm.all());
    assert_eq!(warm_verdict, verdict(&sandbox, "carbon"));
}
