//! The GitHub `issues` event payload, as far as `validate-request` reads it: the issue's
//! number, title, body and labels. Everything else in the payload is ignored; nothing in it is
//! trusted until `request::validate` has checked it against xtask.toml. Pure: bytes in.

use serde::Deserialize;

/// Larger payloads are refused before they are read whole: GitHub delivers no webhook payload
/// over 25 MB, and a real issues event, even with a body at GitHub's limit, is a few hundred
/// kilobytes.
pub const MAX_EVENT_BYTES: u64 = crate::input_file::EVENT_MAX;

#[derive(Debug, Clone, Deserialize)]
pub struct IssueEvent {
    #[serde(default)]
    pub action: Option<String>,
    pub issue: Issue,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    /// `null` when the issue was opened without a description.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub name: String,
}

/// Parses an event payload; the error says what is wrong without echoing the payload.
pub fn parse(bytes: &[u8]) -> Result<IssueEvent, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "the event payload is not a GitHub issues event (line {}, column {}: {})",
            e.line(),
            e.column(),
            match e.classify() {
                serde_json::error::Category::Io => "unreadable",
                serde_json::error::Category::Syntax => "not JSON",
                serde_json::error::Category::Data => "missing or mistyped fields",
                serde_json::error::Category::Eof => "cut short",
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_of_an_issues_event_and_ignores_the_rest() {
        let event = parse(
            br#"{"action":"opened","issue":{"number":45,"title":"[PROMOTION] x","body":"b",
            "labels":[{"name":"promotion:requested","color":"ededed"}],"user":{"login":"u"}},
            "repository":{"full_name":"o/r"}}"#,
        )
        .unwrap();
        assert_eq!(event.action.as_deref(), Some("opened"));
        assert_eq!(event.issue.number, 45);
        assert_eq!(event.issue.body.as_deref(), Some("b"));
        assert_eq!(event.issue.labels[0].name, "promotion:requested");
    }

    #[test]
    fn a_null_body_is_none_and_garbage_is_an_error_that_does_not_echo_it() {
        let event = parse(br#"{"issue":{"number":1,"title":"t","body":null}}"#).unwrap();
        assert_eq!(event.issue.body, None);
        let error = parse(b"$(id) not json").unwrap_err();
        assert!(
            error.contains("not JSON") && !error.contains("$(id)"),
            "{error}"
        );
        let error = parse(br#"{"issue":{"number":"1; id"}}"#).unwrap_err();
        assert!(
            error.contains("mistyped") && !error.contains("id"),
            "{error}"
        );
    }
}
