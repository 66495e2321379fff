//! Reading a promotion request's body back into its form fields. The body comes from anyone
//! who can open an issue, so this is strict: a body over GitHub's limit, with control or
//! bidirectional-override characters, or with a form section missing or given twice, is
//! rejected with the reason. Pure: text in, sections or a rejection out.

use std::collections::BTreeMap;
use std::fmt;

use super::body::BODY_LIMIT;
use super::form::{FieldId, NO_RESPONSE};

/// Why a request was refused, for the person who wrote it. `message` quotes what it refers to
/// with `shown`, so it is safe in Markdown and in a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub field: Option<FieldId>,
    pub message: String,
}

impl Rejection {
    pub fn new(field: Option<FieldId>, message: impl Into<String>) -> Self {
        Rejection {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "{}: {}", field.label(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A value from the request as a Markdown code span: at most 80 characters, invisible,
/// control and space characters other than the plain space, and letters or digits outside
/// ASCII spelled out (`\u{430}` stays visible as what it is not: ASCII), and no backtick
/// that could end the span. Symbols that cannot pass for a letter (`→`) are shown as typed,
/// so the form's own title reads as the form writes it.
pub fn shown(value: &str) -> String {
    let mut escaped: String = value
        .chars()
        .take(80)
        .map(|c| {
            let look_alike = c.is_alphanumeric() || c.is_whitespace() || c.is_control();
            let hidden = crate::markdown::invisible(c) || c.is_ascii_control();
            if c.is_ascii_graphic() || c == ' ' || !(c.is_ascii() || look_alike || hidden) {
                c.to_string()
            } else {
                c.escape_unicode().to_string()
            }
        })
        .collect();
    if value.chars().count() > 80 {
        escaped.push('…');
    }
    format!("`{}`", escaped.replace('`', "'"))
}

/// The sections of a request body, by field, with surrounding blank lines trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sections {
    values: BTreeMap<FieldId, String>,
}

impl Sections {
    /// The section's text; `None` when empty or GitHub's `_No response_`.
    pub fn value(&self, field: FieldId) -> Option<&str> {
        self.values
            .get(&field)
            .map(String::as_str)
            .filter(|v| !v.is_empty() && *v != NO_RESPONSE)
    }
}

/// Characters that can make text read differently from what it is (Trojan Source).
fn bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The form's section headings: real level-3 ATX headings, written `### <Label>` at the start
/// of a line, as the form renders them, with the byte range of each heading. A `### ` line
/// inside a code fence, an HTML block or a comment is text to Markdown (GitHub shows it as such),
/// so it is no section here either; text before the first section (the title line
/// `cargo xtask issue` writes) belongs to no field.
fn form_headings(text: &str) -> Vec<(std::ops::Range<usize>, FieldId)> {
    use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag};
    Parser::new_ext(text, Options::empty())
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H3,
                ..
            }) => {
                let line = text[range.clone()].lines().next()?;
                let field = FieldId::from_label(line.strip_prefix("### ")?.trim_end())?;
                Some((range, field))
            }
            _ => None,
        })
        .collect()
}

/// Parses a request body. Line endings may be CRLF (bodies edited on the web are).
pub fn parse(body: &str) -> Result<Sections, Rejection> {
    let length = body.encode_utf16().count();
    if length > BODY_LIMIT {
        return Err(Rejection::new(
            None,
            format!(
                "the body is {length} characters long, over GitHub's limit of {BODY_LIMIT}: a form-made request is far shorter"
            ),
        ));
    }
    let text = body.replace("\r\n", "\n");
    for (number, line) in text.split('\n').enumerate() {
        if let Some(c) = line
            .chars()
            .find(|&c| (c.is_control() && c != '\t') || bidi_control(c))
        {
            return Err(Rejection::new(
                None,
                format!(
                    "line {} holds the control character {}: the form never writes one",
                    number + 1,
                    shown(&c.to_string())
                ),
            ));
        }
    }

    let mut values: BTreeMap<FieldId, String> = BTreeMap::new();
    let headings = form_headings(&text);
    for (i, (range, field)) in headings.iter().enumerate() {
        let next = headings.get(i + 1).map_or(text.len(), |(r, _)| r.start);
        let value = text[range.end..next].trim().to_owned();
        if values.insert(*field, value).is_some() {
            return Err(Rejection::new(
                Some(*field),
                format!(
                    "the section `### {}` appears twice: keep one",
                    field.label()
                ),
            ));
        }
    }

    let missing: Vec<String> = FieldId::ALL
        .iter()
        .filter(|f| !values.contains_key(f))
        .map(|f| format!("`### {}`", f.label()))
        .collect();
    if !missing.is_empty() {
        return Err(Rejection::new(
            None,
            format!(
                "the body lacks the form section{} {}: open the request from the form (or `cargo xtask issue`), which writes every section",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ),
        ));
    }
    Ok(Sections { values })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A body as GitHub renders a submitted form.
    pub(crate) fn form_body(component: &str) -> String {
        FieldId::ALL
            .iter()
            .map(|field| {
                let value = match field {
                    FieldId::Component => component,
                    FieldId::CurrentStage => "Development",
                    FieldId::TargetStage => "Staging",
                    FieldId::FunctionalGroup => "Core Infrastructure",
                    FieldId::Justification => "Ready.",
                    FieldId::DevelopmentCriteria => "- [X] Functionality: done\n- [ ] Testing: no",
                    _ => NO_RESPONSE,
                };
                format!("### {}\n\n{value}", field.label())
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    #[test]
    fn a_form_body_parses_into_its_fields() {
        let sections = parse(&form_body("carbon")).unwrap();
        assert_eq!(sections.value(FieldId::Component), Some("carbon"));
        assert_eq!(sections.value(FieldId::TargetStage), Some("Staging"));
        assert_eq!(sections.value(FieldId::PerformanceMetrics), None);
        assert!(
            sections
                .value(FieldId::DevelopmentCriteria)
                .unwrap()
                .starts_with("- [X]")
        );
    }

    #[test]
    fn crlf_bodies_from_web_edits_parse_the_same() {
        let body = form_body("carbon");
        assert_eq!(parse(&body.replace('\n', "\r\n")), parse(&body));
    }

    #[test]
    fn a_missing_or_duplicated_section_is_rejected() {
        let body = form_body("carbon").replace("### Security Review\n\n_No response_\n\n", "");
        let error = parse(&body).unwrap_err();
        assert!(error.message.contains("`### Security Review`"), "{error}");

        let body = format!("{}\n\n### Target Stage\n\nProduction", form_body("carbon"));
        let error = parse(&body).unwrap_err();
        assert_eq!(error.field, Some(FieldId::TargetStage));
        assert!(error.message.contains("appears twice"), "{error}");
    }

    #[test]
    fn sections_inside_a_code_fence_or_a_comment_are_not_sections() {
        for (open, close) in [("```", "```"), ("~~~~", "~~~~"), ("<!--", "-->")] {
            let body = format!("{open}\n{}\n{close}\n", form_body("carbon"));
            let error = parse(&body).unwrap_err();
            assert!(
                error.message.contains("lacks the form sections"),
                "{open}: {error}"
            );
        }
        // A fence inside a section's value is that value's text, and hides nothing after it.
        let body = form_body("carbon").replace("Ready.", "Ready:\n```\n### Not a heading\n```");
        let sections = parse(&body).unwrap();
        assert!(
            sections
                .value(FieldId::Justification)
                .unwrap()
                .contains("### Not a heading")
        );
        assert_eq!(sections.value(FieldId::TargetStage), Some("Staging"));
    }

    #[test]
    fn a_look_alike_heading_is_not_the_section() {
        // Cyrillic `о` in "Compоnent": not our heading, so the real one is missing.
        let body = form_body("carbon").replace("### Component Name", "### Comp\u{43e}nent Name");
        let error = parse(&body).unwrap_err();
        assert!(error.message.contains("`### Component Name`"), "{error}");
    }

    #[test]
    fn control_and_bidi_characters_and_huge_bodies_are_rejected() {
        for bad in ["\u{1b}[31m", "\u{0}", "\u{202E}", "lone\rreturn", "\u{85}"] {
            let body = form_body("carbon").replace("Ready.", &format!("Ready {bad}"));
            let error = parse(&body).unwrap_err();
            assert!(
                error.message.contains("control character"),
                "{bad:?}: {error}"
            );
        }
        let huge = format!("{}\n{}", form_body("carbon"), "x".repeat(70_000));
        let error = parse(&huge).unwrap_err();
        assert!(error.message.contains("over GitHub's limit"), "{error}");
    }

    #[test]
    fn shown_values_are_inert_code_spans() {
        assert_eq!(shown("$(id)"), "`$(id)`");
        assert_eq!(shown("a`b"), "`a'b`");
        assert_eq!(shown("c\u{430}rbon"), "`c\\u{430}rbon`");
        assert_eq!(shown("x\ny"), "`x\\u{a}y`");
        assert!(shown(&"z".repeat(200)).ends_with("…`"));
        // The form's own arrow is shown as typed; a hidden or look-alike character is not.
        assert_eq!(
            shown("[PROMOTION] Carbon: Development → Staging"),
            "`[PROMOTION] Carbon: Development → Staging`"
        );
        assert_eq!(shown("a\u{202E}b\u{a0}c"), "`a\\u{202e}b\\u{a0}c`");
    }
}
