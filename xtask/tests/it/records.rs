//! Promotion records: `promote --record` writes a signed in-toto Statement beside MATURITY.md
//! (linked from its history row, valid against its schema); `verify` checks it, names the files
//! changed since, fails once the record's figures are edited, and `--rerun` reproduces it;
//! the status report shows the same verdict and the files changed since per component.

use std::path::{Path, PathBuf};

use crate::support::{Sandbox, assert_valid_json};

/// A fresh Ed25519 pair from `cache keygen`: (public, secret).
fn key_pair(sandbox: &Sandbox) -> (String, String) {
    let run = sandbox.xtask(&["cache", "keygen"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let public = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("public_key = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap()
        .to_owned();
    let secret = run
        .stdout
        .lines()
        .rfind(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap()
        .to_owned();
    (public, secret)
}

fn records_of(folder: &Path) -> Vec<PathBuf> {
    let mut records: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    records.sort();
    records
}

#[test]
fn a_signed_record_verifies_names_changes_reruns_and_fails_once_edited() {
    let mut sandbox = Sandbox::new();
    let (public, secret) = key_pair(&sandbox);
    sandbox.env("XTASK_RECORD_SIGNING_KEY", &secret);
    let promoted = sandbox.xtask(&["promote", "carbon", "--record"]);
    assert_eq!(promoted.code, 0, "{}", promoted.all());
    assert!(promoted.all().contains("(signed)"), "{}", promoted.all());
    let folder = sandbox.path("docs/components/carbon/promotions");
    let records = records_of(&folder);
    let [record] = records.as_slice() else {
        panic!("one record expected in {}: {records:?}", folder.display());
    };
    let name = record.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.starts_with("staging-") && name.ends_with(".json"),
        "{name}"
    );
    assert_valid_json("promotion-record.schema.json", record);
    let maturity = sandbox.read("docs/components/carbon/MATURITY.md");
    assert!(
        maturity.contains(&format!("[record](promotions/{name})")),
        "{maturity}"
    );
    // The state folder and the reports are not part of the checkout.
    std::fs::write(sandbox.root().join(".gitignore"), ".xtask/\nreports/\n").unwrap();
    sandbox.commit_all("promote carbon to Staging");
    sandbox.env("XTASK_RECORD_PUBLIC_KEY", &public);

    let verified = sandbox.xtask(&["verify", "carbon"]);
    assert_eq!(verified.code, 0, "{}", verified.all());
    assert!(
        verified.stdout.contains("verified (signature checked"),
        "{}",
        verified.all()
    );
    assert!(
        verified
            .stdout
            .contains("0 files changed since the Staging promotion"),
        "{}",
        verified.all()
    );

    let rerun = sandbox.xtask(&["verify", "carbon", "--rerun"]);
    assert_eq!(rerun.code, 0, "{}", rerun.all());
    assert!(
        rerun.stdout.contains("the same verdicts and figures"),
        "{}",
        rerun.all()
    );

    // A change to the component's code: still the promoted record, and the file is named.
    let code = "src/components/carbon_component.py";
    let mut text = sandbox.read(code);
    text.push_str("\n# changed after the promotion\n");
    sandbox.write(code, &text);
    let changed = sandbox.xtask(&["-v", "verify", "carbon"]);
    assert_eq!(changed.code, 0, "{}", changed.all());
    assert!(
        changed
            .stdout
            .contains("1 file changed since the Staging promotion"),
        "{}",
        changed.all()
    );
    assert!(
        changed
            .stdout
            .contains("changed  examples/tta/src/components/carbon_component.py"),
        "{}",
        changed.all()
    );

    // The record's figures edited after signing: the signature no longer matches.
    let python = sandbox.venv_python();
    let edit = "import base64, json, sys\n\
        path = sys.argv[1]\n\
        envelope = json.load(open(path))\n\
        statement = json.loads(base64.b64decode(envelope['payload']))\n\
        statement['predicate']['coverage'] = 99.0\n\
        envelope['payload'] = base64.b64encode(json.dumps(statement).encode()).decode()\n\
        json.dump(envelope, open(path, 'w'))\n";
    let edited = std::process::Command::new(python)
        .args(["-c", edit, record.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(edited.status.success(), "{edited:?}");
    let tampered = sandbox.xtask(&["verify", "carbon"]);
    assert_eq!(tampered.code, 1, "{}", tampered.all());
    assert!(
        tampered.stdout.contains("the signature does not match"),
        "{}",
        tampered.all()
    );
}

#[test]
fn a_record_that_is_a_fifo_or_huge_or_garbage_is_refused_at_once_naming_it() {
    let sandbox = Sandbox::new();
    let folder = "docs/components/carbon/promotions";
    std::fs::create_dir_all(sandbox.path(folder)).unwrap();
    // Garbage: not a record, exit 1 with the reason.
    sandbox.write(
        &format!("{folder}/staging-2026-12-07.json"),
        "\u{fffe}{\"payloadType\": 12,",
    );
    let garbage = sandbox.xtask(&["verify", "carbon"]);
    assert_eq!(garbage.code, 1, "{}", garbage.all());
    assert!(
        garbage.stdout.contains("does not verify"),
        "{}",
        garbage.all()
    );
    std::fs::remove_file(sandbox.path(&format!("{folder}/staging-2026-12-07.json"))).unwrap();
    // A FIFO would block a plain read for ever: refused with exit 2, naming it.
    let fifo = sandbox.path(&format!("{folder}/staging-2026-12-08.json"));
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let blocked = sandbox.xtask(&["verify", "carbon"]);
    assert_eq!(blocked.code, 2, "{}", blocked.all());
    assert!(blocked.stderr.contains("FIFO"), "{}", blocked.all());
    std::fs::remove_file(&fifo).unwrap();
    // A huge file is not read whole.
    let huge = sandbox.path(&format!("{folder}/staging-2026-12-09.json"));
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(512 * 1024 * 1024)
        .unwrap();
    let big = sandbox.xtask(&["verify", "carbon"]);
    assert_eq!(big.code, 2, "{}", big.all());
    assert!(big.stderr.contains("larger than"), "{}", big.all());
}

/// The component's `record` in the status report's JSON, after a `status` run.
fn status_record(sandbox: &Sandbox, component: &str) -> serde_json::Value {
    let run = sandbox.xtask(&["status", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let path = sandbox.root().join("reports/status/status.json");
    assert_valid_json("status-report.schema.json", &path);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let components = report["components"].as_array().unwrap();
    for other in components.iter().filter(|c| c["name"] != component) {
        assert!(other.get("record").is_none(), "{other}");
    }
    components.iter().find(|c| c["name"] == component).unwrap()["record"].clone()
}

#[test]
fn status_shows_a_record_verified_then_the_files_changed_since_then_a_broken_signature() {
    let mut sandbox = Sandbox::new();
    let (public, secret) = key_pair(&sandbox);
    sandbox.env("XTASK_RECORD_SIGNING_KEY", &secret);
    let promoted = sandbox.xtask(&["promote", "carbon", "--record"]);
    assert_eq!(promoted.code, 0, "{}", promoted.all());
    std::fs::write(sandbox.root().join(".gitignore"), ".xtask/\nreports/\n").unwrap();
    sandbox.commit_all("promote carbon to Staging");
    sandbox.env("XTASK_RECORD_PUBLIC_KEY", &public);

    let record = status_record(&sandbox, "carbon");
    assert_eq!(record["verified"], true, "{record}");
    assert_eq!(record["stage"], "staging", "{record}");
    assert_eq!(record["changed_since"], serde_json::json!([]), "{record}");
    assert!(
        record["signature"]
            .as_str()
            .unwrap()
            .starts_with("signature checked with"),
        "{record}"
    );
    let markdown = sandbox.xtask(&["status", "--output", "-"]);
    assert_eq!(markdown.code, 0, "{}", markdown.all());
    assert!(
        markdown.stdout.contains("| `carbon` | Staging, ")
            && markdown
                .stdout
                .contains("✅ record verified (signature checked"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown.stdout.contains("| `neo4j` | — | no record | — |"),
        "{}",
        markdown.stdout
    );

    let code = "src/components/carbon_component.py";
    let mut text = sandbox.read(code);
    text.push_str("\n# changed after the promotion\n");
    sandbox.write(code, &text);
    let record = status_record(&sandbox, "carbon");
    assert_eq!(record["verified"], true, "{record}");
    assert_eq!(
        record["changed_since"],
        serde_json::json!([{"path": format!("examples/tta/{code}"), "how": "changed"}]),
        "{record}"
    );
    let markdown = sandbox.xtask(&["status", "--output", "-"]);
    assert!(
        markdown.stdout.contains(&format!(
            "1 file changed since: `examples/tta/{code}` (changed)"
        )),
        "{}",
        markdown.stdout
    );

    // The record's figures edited after signing: status names the signature problem.
    let folder = sandbox.path("docs/components/carbon/promotions");
    let [path] = records_of(&folder).try_into().unwrap();
    let edit = "import base64, json, sys\n\
        path = sys.argv[1]\n\
        envelope = json.load(open(path))\n\
        statement = json.loads(base64.b64decode(envelope['payload']))\n\
        statement['predicate']['coverage'] = 99.0\n\
        envelope['payload'] = base64.b64encode(json.dumps(statement).encode()).decode()\n\
        json.dump(envelope, open(path, 'w'))\n";
    let edited = std::process::Command::new(sandbox.venv_python())
        .args(["-c", edit, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(edited.status.success(), "{edited:?}");
    let record = status_record(&sandbox, "carbon");
    assert_eq!(record["verified"], false, "{record}");
    assert!(
        record["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("the signature does not match"),
        "{record}"
    );
    let verify = sandbox.xtask(&["verify", "carbon"]);
    assert_eq!(verify.code, 1, "{}", verify.all());
}
