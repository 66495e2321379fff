//! Phase 3: a component README with the required sections, and the scaffold `--fix` writes
//! from `xtask/promote/templates/component-readme.md.j2` (or a repo's override), filled from the component's own code.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::config::{Component, SourceKind};

/// What phase 3 found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadmeCheck {
    pub path: String,
    pub exists: bool,
    pub missing_sections: Vec<String>,
    /// Scaffold notes still in the README (`<what it is for>`), by the section holding them:
    /// a section that holds one is not written yet.
    pub placeholders: Vec<Placeholder>,
}

/// A scaffold note left in a README.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placeholder {
    /// The heading of the section holding it, as written; empty before the first heading.
    pub section: String,
    /// The note itself, angle brackets included.
    pub text: String,
}

impl ReadmeCheck {
    /// Whether `--fix` has anything to write: no README, or a required section missing.
    /// Placeholders left in a README are the author's to replace: the scaffold only adds what
    /// is missing.
    pub fn needs_scaffold(&self) -> bool {
        !self.exists || !self.missing_sections.is_empty()
    }

    pub fn passed(&self) -> bool {
        self.exists && self.missing_sections.is_empty() && self.placeholders.is_empty()
    }

    /// The required sections that are there and hold no placeholder.
    pub fn written(&self, required: &[String]) -> usize {
        required
            .iter()
            .filter(|section| !self.missing_sections.contains(section))
            .filter(|section| {
                !self
                    .placeholders
                    .iter()
                    .any(|p| heading_matches(&p.section.to_lowercase(), section))
            })
            .count()
    }

    /// The sections holding placeholders, each once, in README order.
    pub fn unfinished_sections(&self) -> Vec<&str> {
        let mut sections: Vec<&str> = Vec::new();
        for placeholder in &self.placeholders {
            let name = if placeholder.section.is_empty() {
                "the text before the first heading"
            } else {
                placeholder.section.as_str()
            };
            if !sections.contains(&name) {
                sections.push(name);
            }
        }
        sections
    }
}

/// A README cut at its headings (outside code fences): each heading as written, with the
/// text under it up to the next heading; the text before the first heading has no heading.
fn sections(text: &str) -> Vec<(Option<String>, String)> {
    let mut in_fence = false;
    let mut found: Vec<(Option<String>, String)> = vec![(None, String::new())];
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        }
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        let rest = trimmed.get(hashes..).unwrap_or_default();
        if !in_fence && (1..=6).contains(&hashes) && rest.starts_with(' ') {
            let heading = rest.trim().trim_end_matches('#').trim();
            found.push((Some(heading.to_owned()), String::new()));
            continue;
        }
        if let Some((_, body)) = found.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    found
}

/// Headings outside code fences, lowercased.
fn headings(text: &str) -> Vec<String> {
    sections(text)
        .into_iter()
        .filter_map(|(heading, _)| heading.map(|h| h.to_lowercase()))
        .collect()
}

fn comment_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?s)<!--.*?-->").expect("valid regex"))
}

/// A note in angle brackets as the scaffold writes them: a letter right after `<`, words with
/// spaces between, and nothing an HTML tag has (`=`, quotes, `/`), so `<br>`, `<details>` and
/// `<img src="x">` are not notes, while `<what it is for>` is, inside a code block too.
fn placeholder_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r#"<[A-Za-z][^<>=/"'\n]*\s[^<>=/"'\n]*>"#).expect("valid regex"))
}

/// The scaffold notes left in `text`, by section; HTML comments (the scaffold's own note on
/// how to fill it in) are not read.
fn placeholders(text: &str) -> Vec<Placeholder> {
    let text = comment_re().replace_all(text, "");
    sections(&text)
        .into_iter()
        .flat_map(|(heading, body)| {
            placeholder_re()
                .find_iter(&body)
                .map(|m| Placeholder {
                    section: heading.clone().unwrap_or_default(),
                    text: m.as_str().to_owned(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether a heading is the required section: the same words, or the section followed by more
/// words (`API Reference` is the `API` section; `APIs` is not).
fn heading_matches(heading: &str, section: &str) -> bool {
    let section = section.to_lowercase();
    heading == section
        || heading
            .strip_prefix(&section)
            .is_some_and(|rest| rest.starts_with(|c: char| !c.is_alphanumeric()))
}

/// A required section the README template does not write: its heading and a note that the
/// docs gate reads as a placeholder until someone replaces it.
pub fn section_scaffold(section: &str) -> String {
    let note = match section {
        "Troubleshooting" => "<Symptoms, their causes and what to do about each.>".to_owned(),
        "Runbook" => "<How to deploy, check, roll back and recover it, step by step.>".to_owned(),
        _ => format!("<What belongs under {section}, for its readers.>"),
    };
    format!("\n## {section}\n\n{note}\n")
}

/// What `--fix` writes for a README that `check` found lacking (`needs_scaffold`), given the
/// `scaffold` rendered from the template. Without a README: the scaffold, plus a heading and a
/// note for each required section the template does not write (a stage's own, e.g. Runbook),
/// which the docs gate never counts as written. With one: its text, every byte kept (a missing
/// last newline added), then each missing section taken from the scaffold, or as a heading
/// and a note when the scaffold has none, in the order they are required.
pub fn scaffolded(existing: Option<&str>, check: &ReadmeCheck, scaffold: &str) -> String {
    let mut text = match existing {
        None => scaffold.to_owned(),
        Some(existing) => {
            let mut text = existing.to_owned();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text
        }
    };
    for section in &check.missing_sections {
        match section_of(scaffold, section) {
            // A new README already holds the scaffold's sections.
            Some(_) if existing.is_none() => {}
            Some(body) => {
                text.push('\n');
                text.push_str(body);
            }
            None => text.push_str(&section_scaffold(section)),
        }
    }
    text
}

/// The `## section` of a Markdown text, heading included, up to the next `## `.
fn section_of<'t>(text: &'t str, section: &str) -> Option<&'t str> {
    let heading = format!("## {section}");
    let start = text.find(&format!("\n{heading}\n"))? + 1;
    let body = text.get(start..)?;
    let end = body
        .get(heading.len()..)?
        .find("\n## ")
        .map_or(body.len(), |i| heading.len() + i + 1);
    body.get(..end)
}

/// Checks a README's text (or its absence) against the required sections.
pub fn check(path: &str, text: Option<&str>, required: &[String]) -> ReadmeCheck {
    let Some(text) = text else {
        return ReadmeCheck {
            path: path.to_owned(),
            exists: false,
            missing_sections: required.to_vec(),
            placeholders: Vec::new(),
        };
    };
    let found = headings(text);
    ReadmeCheck {
        path: path.to_owned(),
        exists: true,
        missing_sections: required
            .iter()
            .filter(|section| !found.iter().any(|h| heading_matches(h, section)))
            .cloned()
            .collect(),
        placeholders: placeholders(text),
    }
}

/// Facts about a component's code that the README scaffold fills in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeFacts {
    /// The first paragraph of the module docstring.
    pub summary: Option<String>,
    /// `components.narrative_arc_orchestrator`, for the usage example.
    pub module: String,
    /// Public names: `__all__`, or top-level classes and functions without a leading `_`.
    pub public_names: Vec<String>,
}

fn docstring_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#"^(?:\s*#[^\n]*\n|\s*\n)*\s*[rRuU]?(?:"""([\s\S]*?)"""|'''([\s\S]*?)''')"#)
            .expect("valid regex")
    })
}

fn all_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?m)^__all__\s*=\s*[\[(]([^\])]*)[\])]").expect("valid regex"))
}

fn def_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?m)^(?:async\s+)?(?:def|class)\s+([A-Za-z][A-Za-z0-9_]*)")
            .expect("valid regex")
    })
}

fn import_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?m)^from\s+\.[\w.]*\s+import\s+(?:\(([^)]*)\)|([^\n(]+))")
            .expect("valid regex")
    })
}

/// Reads what the scaffold needs from the text of the component's entry module (`__init__.py`
/// of a package, or the module itself).
pub fn code_facts(component: &Component, entry_text: &str) -> CodeFacts {
    let summary = docstring_re().captures(entry_text).and_then(|c| {
        let body = c.get(1).or_else(|| c.get(2))?.as_str().trim();
        let first = body
            .split("\n\n")
            .next()?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        (!first.is_empty()).then_some(first)
    });
    let mut public_names: Vec<String> = match all_re().captures(entry_text) {
        Some(c) => c
            .get(1)
            .map_or("", |m| m.as_str())
            .split(',')
            .map(|n| n.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
            .filter(|n| !n.is_empty())
            .collect(),
        None => {
            let mut names: Vec<String> = def_re()
                .captures_iter(entry_text)
                .filter_map(|c| c.get(1).map(|m| m.as_str().to_owned()))
                .collect();
            for c in import_re().captures_iter(entry_text) {
                let listed = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
                names.extend(
                    listed
                        .split(',')
                        .map(|n| n.split_whitespace().last().unwrap_or("").trim().to_owned())
                        .filter(|n| !n.is_empty() && !n.starts_with('_')),
                );
            }
            names
        }
    };
    public_names.dedup();
    let module = module_name(component);
    CodeFacts {
        summary,
        module,
        public_names,
    }
}

/// The import path of a component: `src/components/llm` -> `components.llm`. A leading `src/`
/// is the usual layout folder, not a package.
pub fn module_name(component: &Component) -> String {
    let path = component.source.trim_end_matches(".py");
    let path = path.strip_prefix("src/").unwrap_or(path);
    path.replace('/', ".")
}

/// The file the scaffold reads for its facts.
pub fn entry_file(component: &Component) -> String {
    match component.source_kind {
        SourceKind::Package => format!("{}/__init__.py", component.source),
        SourceKind::Module => component.source.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections() -> Vec<String> {
        ["Overview", "Usage", "API", "Testing"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn finds_missing_sections_outside_code_fences() {
        let text = "# LLM\n\n## Overview\n\ntext\n\n```python\n## Usage\n```\n\n## API Reference\n";
        let result = check("README.md", Some(text), &sections());
        assert!(result.exists);
        assert_eq!(result.missing_sections, vec!["Usage", "Testing"]);
        assert!(!result.passed());
    }

    #[test]
    fn the_scaffold_is_not_written_until_its_notes_are_replaced() {
        let component = Component {
            name: "catalog".into(),
            display_name: "Catalog".into(),
            group: "g".into(),
            source: "src/components/catalog".into(),
            source_kind: SourceKind::Package,
            tests: vec!["tests/test_catalog.py".into()],
            depends_on: vec![],
            readme: "r".into(),
            maturity: "m".into(),
        };
        let facts = CodeFacts {
            summary: Some("Keeps the catalog.".into()),
            module: "components.catalog".into(),
            public_names: vec!["Catalog".into()],
        };
        let scaffold = crate::render::component_readme(&component, &facts).unwrap();
        let result = check("README.md", Some(&scaffold), &sections());
        assert!(result.missing_sections.is_empty(), "{scaffold}");
        assert!(!result.passed(), "{scaffold}");
        assert_eq!(result.unfinished_sections(), vec!["Usage", "API"]);
        assert_eq!(result.written(&sections()), 2);
        assert_eq!(result.placeholders[1].text, "<what it is for>");

        // Replaced by prose, the same README passes; tags and comparisons are not notes.
        let written = scaffold
            .replace(
                "# <A short, working example of the most common use.>",
                "Catalog().add(1)",
            )
            .replace("<what it is for>", "the catalog, with `add` and a <br> tag");
        let result = check("README.md", Some(&written), &sections());
        assert!(result.passed(), "{written}: {:?}", result.placeholders);
        let html = "## Overview\n\n<details><summary>More</summary> <img src=\"a b\"> if a <b and c> d </details>\n";
        assert_eq!(
            check("README.md", Some(html), &["Overview".to_owned()]).placeholders,
            vec![Placeholder {
                section: "Overview".into(),
                text: "<b and c>".into()
            }],
            "a note is anything shaped like one, outside tags"
        );
    }

    #[test]
    fn sections_are_cut_at_the_next_heading() {
        let text = "# T\n\n## Overview\n\nA\n\n## Usage\n\nB\n\n## API\n\nC\n";
        assert_eq!(section_of(text, "Usage").unwrap(), "## Usage\n\nB\n\n");
        assert_eq!(section_of(text, "API").unwrap(), "## API\n\nC\n");
        assert!(section_of(text, "Testing").is_none());
        assert!(
            section_of("## Usage", "Usage").is_none(),
            "a heading needs its line"
        );
    }

    /// A scaffold as the template writes one: the usual sections, not a stage's own.
    const SCAFFOLD: &str = "# Catalog\n\nKeeps the catalog.\n\n## Overview\n\n<what it is for>\n\n## Usage\n\n```python\nfrom components.catalog import Catalog\n```\n\n## API\n\n- `Catalog`\n\n## Testing\n\n```bash\npytest tests/test_catalog.py\n```\n";

    fn required() -> Vec<String> {
        ["Overview", "Usage", "API", "Testing", "Runbook"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn a_missing_readme_is_the_scaffold_with_a_note_for_each_section_it_lacks() {
        let found = check("README.md", None, &required());
        assert!(found.needs_scaffold());
        let text = scaffolded(None, &found, SCAFFOLD);
        assert!(text.starts_with(SCAFFOLD));
        let after = check("README.md", Some(&text), &required());
        assert!(after.missing_sections.is_empty() && !after.needs_scaffold());
        assert_eq!(after.unfinished_sections(), ["Overview", "Runbook"]);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_existing_readme_keeps_every_byte_and_gains_only_what_it_lacks() {
        // No last newline, a CRLF line and a section of its own: all kept as written.
        let existing =
            "# Catalog\r\n\n## Overview\n\nOurs, already written.\n\n## Notes\n\nKeep me.";
        let found = check("README.md", Some(existing), &required());
        assert_eq!(
            found.missing_sections,
            ["Usage", "API", "Testing", "Runbook"]
        );
        let text = scaffolded(Some(existing), &found, SCAFFOLD);
        assert!(text.starts_with(existing));
        assert!(
            !text.contains("<what it is for>"),
            "the scaffold's own Overview stays out"
        );
        let after = check("README.md", Some(&text), &required());
        assert!(after.missing_sections.is_empty());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_complete_readme_needs_no_scaffold_even_with_placeholders_left() {
        let found = check("README.md", Some(SCAFFOLD), &required()[..4]);
        assert!(!found.needs_scaffold());
        assert!(!found.passed());
    }

    #[test]
    fn a_missing_readme_misses_everything() {
        let result = check("README.md", None, &sections());
        assert!(!result.exists);
        assert_eq!(result.missing_sections.len(), 4);
    }

    #[test]
    fn section_names_match_whole_words() {
        assert!(heading_matches("api reference", "API"));
        assert!(heading_matches("testing", "Testing"));
        assert!(!heading_matches("apis", "API"));
    }

    #[test]
    fn code_facts_read_docstring_and_exports() {
        let component = Component {
            name: "llm".into(),
            display_name: "LLM".into(),
            group: "g".into(),
            source: "src/components/llm".into(),
            source_kind: SourceKind::Package,
            tests: vec![],
            depends_on: vec![],
            readme: "r".into(),
            maturity: "m".into(),
        };
        let text = "\"\"\"LLM client facade\nover model management.\n\nDetails.\"\"\"\n\nfrom .client import LLMClient, complete\nfrom .rate_limit import (\n    TokenBucket,\n)\n\ndef helper(): ...\ndef _private(): ...\n";
        let facts = code_facts(&component, text);
        assert_eq!(
            facts.summary.as_deref(),
            Some("LLM client facade over model management.")
        );
        assert_eq!(facts.module, "components.llm");
        assert_eq!(
            facts.public_names,
            vec!["helper", "LLMClient", "complete", "TokenBucket"]
        );
        let with_all = "__all__ = [\"A\", 'b']\nclass A: ...\n";
        assert_eq!(
            code_facts(&component, with_all).public_names,
            vec!["A", "b"]
        );
    }

    #[test]
    fn a_stage_sections_scaffold_is_a_placeholder_until_written() {
        let required = vec![
            "Overview".to_owned(),
            "Runbook".to_owned(),
            "Extra".to_owned(),
        ];
        let text = format!(
            "# X\n## Overview\nIt does things.\n{}{}",
            section_scaffold("Runbook"),
            section_scaffold("Extra")
        );
        let result = check("README.md", Some(&text), &required);
        assert!(result.missing_sections.is_empty());
        assert_eq!(result.unfinished_sections(), vec!["Runbook", "Extra"]);
        assert_eq!(result.written(&required), 1);
        assert!(!result.passed());
    }
}
