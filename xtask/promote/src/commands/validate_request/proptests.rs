//! Property tests of `validate-request`'s reading of an issues event against hostile payloads:
//! arbitrary bytes, JSON of the wrong shape, and well-formed events whose body, labels and
//! title are arbitrary text or near-misses of the form. Reading ends in a request or a
//! rejection for the comment; it never panics, and it writes nothing anywhere (the example's
//! files are unchanged, the event's folder holds only the event). Bounded: a few hundred cases.

use proptest::prelude::*;

use super::read_request;
use crate::request::form::{self, FieldId};

/// Every file of the bundled example with its size and modification time.
fn example_state() -> Vec<(std::path::PathBuf, u64, std::time::SystemTime)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tta");
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(metadata) = path.symlink_metadata() else {
                continue;
            };
            if metadata.is_dir() {
                stack.push(path);
            } else if let Ok(modified) = metadata.modified() {
                found.push((path, metadata.len(), modified));
            }
        }
    }
    found.sort();
    found
}

/// A body in the form's shape with arbitrary section values.
fn body() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("carbon".to_owned()),
        Just("Carbon".to_owned()),
        Just("Development".to_owned()),
        Just("Staging".to_owned()),
        Just("Production".to_owned()),
        Just(form::NO_RESPONSE.to_owned()),
        Just("- [X] Functionality: done\n- [ ] Testing: no".to_owned()),
        Just("### Target Stage\n\nProduction".to_owned()),
        Just("```\n### Component Name\n```".to_owned()),
        Just("c\u{202E}arbon".to_owned()),
        Just("../../etc/passwd".to_owned()),
        Just("$(id)`id`".to_owned()),
        any::<String>(),
    ];
    proptest::collection::vec(value, FieldId::ALL.len()).prop_map(|values| {
        FieldId::ALL
            .iter()
            .zip(values)
            .map(|(field, value)| format!("### {}\n\n{value}", field.label()))
            .collect::<Vec<_>>()
            .join("\n\n")
    })
}

/// An issues event around `body`, with arbitrary labels, number and title.
fn event() -> impl Strategy<Value = Vec<u8>> {
    (
        body(),
        any::<bool>(),
        any::<u64>(),
        any::<String>(),
        proptest::collection::vec(any::<String>(), 0..3),
    )
        .prop_map(|(body, requested, number, title, mut labels)| {
            if requested {
                labels.push(form::LABEL_REQUESTED.to_owned());
            }
            serde_json::to_vec(&serde_json::json!({
                "action": "opened",
                "issue": {
                    "number": number,
                    "title": title,
                    "body": body,
                    "labels": labels.iter().map(|l| serde_json::json!({"name": l})).collect::<Vec<_>>(),
                },
            }))
            .unwrap_or_default()
        })
}

fn read_checked(bytes: &[u8]) -> Result<(), TestCaseError> {
    static CONFIG: std::sync::OnceLock<crate::config::Config> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(crate::testutil::registry);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, bytes).unwrap();
    let example = example_state();
    let outcome = read_request(config, &path);
    prop_assert_eq!(
        example_state(),
        example,
        "reading a request changed the example"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    prop_assert_eq!(names, vec![std::ffi::OsString::from("event.json")]);
    if let Err(rejection) = outcome {
        // The comment that would be posted renders, whatever the payload held.
        let text = crate::request::comment::render(
            &crate::request::comment::Verdict::Rejected(&rejection.to_string()),
            &[],
            None,
        );
        prop_assert!(text.is_ok());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_read_or_rejected_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096)
    ) {
        read_checked(&bytes)?;
    }

    #[test]
    fn json_of_any_shape_is_read_or_rejected(text in "[\\[\\]{}\":,0-9a-z \\\\]{0,200}") {
        read_checked(text.as_bytes())?;
    }

    #[test]
    fn issues_events_with_arbitrary_text_are_read_or_rejected(bytes in event()) {
        read_checked(&bytes)?;
    }
}
