//! Templates to strings, with no IO while rendering: the defaults are compiled into the binary
//! from `xtask/promote/templates/`, so adopting xtask copies no template. A repository overrides one by
//! putting a file of the same name under `templates/` beside its xtask.toml; those are read
//! once per command (`load_overrides`), before anything renders.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, Value};
use serde::Serialize;

use crate::config::Component;
use crate::readme::CodeFacts;

const COMPONENT_README: &str = include_str!("../templates/component-readme.md.j2");

/// The names of every embedded template that a repository may override under `templates/`.
pub const OVERRIDABLE: &[&str] = &[
    "component-readme.md.j2",
    "promotion-request.md.j2",
    "promotion-comment.md.j2",
    "status-report.md.j2",
    "status-report.html.j2",
    "issue-forms/component_promotion.yml.j2",
    "workflows/promotion-validation.yml.j2",
    "workflows/component-status.yml.j2",
    "workflows/quality.yml.j2",
];

static OVERRIDES: OnceLock<BTreeMap<&'static str, &'static str>> = OnceLock::new();

/// Reads the repository's overrides of `OVERRIDABLE` from `<workspace_root>/templates/`; the
/// first call wins for the process. Returns the names overridden, for the user to see.
pub fn load_overrides(workspace_root: &Path) -> Result<Vec<&'static str>> {
    let mut found = BTreeMap::new();
    for name in OVERRIDABLE {
        let path = workspace_root.join("templates").join(name);
        match std::fs::read_to_string(&path) {
            // Leaked once per command: templates live as long as the process anyway.
            Ok(text) => {
                // An override that does not compile is the repository's error to fix (exit 2),
                // found before anything renders.
                let mut env = if name.ends_with(".yml.j2") {
                    yaml_environment_bare()
                } else {
                    Environment::new()
                };
                env.add_template_owned(name.to_string(), text.clone())
                    .map_err(|e| {
                        crate::errors::usage(format!(
                            "{} does not compile: {e}; fix it or delete it to use the default",
                            path.display()
                        ))
                    })?;
                found.insert(*name, &*Box::leak(text.into_boxed_str()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("failed to read {}", path.display()));
            }
        }
    }
    let names = found.keys().copied().collect();
    let _ = OVERRIDES.set(found);
    Ok(names)
}

/// The text of template `name`: the repository's override when it has one, else `default`.
pub fn template(name: &str, default: &'static str) -> &'static str {
    OVERRIDES
        .get()
        .and_then(|overrides| overrides.get(name).copied())
        .unwrap_or(default)
}

/// An environment for document templates whose block tags sit on lines of their own (the
/// status report, the starting xtask.toml): default delimiters, blocks trimmed and
/// left-stripped so they leave no blank lines, the final newline kept.
pub fn block_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_filter("count", crate::plural::filter);
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    env
}

/// The environment for Markdown templates (default delimiters).
fn markdown_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_filter("count", crate::plural::filter);
    env.set_syntax(
        SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    env.add_template(
        "component-readme.md.j2",
        template("component-readme.md.j2", COMPONENT_README),
    )
    .expect("the README template compiles");
    env
}

#[derive(Serialize)]
struct ReadmeContext<'a> {
    name: &'a str,
    display_name: &'a str,
    group: &'a str,
    depends_on: &'a [String],
    tests: &'a [String],
    summary: Option<&'a str>,
    module: &'a str,
    public_names: &'a [String],
}

/// The README scaffold for a component, filled with what its code says about itself.
pub fn component_readme(component: &Component, facts: &CodeFacts) -> Result<String> {
    let env = markdown_environment();
    let template = env.get_template("component-readme.md.j2")?;
    template
        .render(Value::from(Serde(ReadmeContext {
            name: &component.name,
            display_name: &component.display_name,
            group: &component.group,
            depends_on: &component.depends_on,
            tests: &component.tests,
            summary: facts.summary.as_deref(),
            module: &facts.module,
            public_names: &facts.public_names,
        })))
        .context("failed to render the README scaffold")
}

// Templates of the GitHub integration: the promotion request, its validation comment, the
// issue form and the workflows. They get environments of their own (below) so that the README
// scaffold's environment above stays exactly as it is.

const PROMOTION_REQUEST: &str = include_str!("../templates/promotion-request.md.j2");
const PROMOTION_COMMENT: &str = include_str!("../templates/promotion-comment.md.j2");

/// YAML templates by name; the name is also the path under `templates/`, which generated
/// files cite in their header.
pub const YAML_TEMPLATES: &[(&str, &str)] = &[
    (
        "issue-forms/component_promotion.yml.j2",
        include_str!("../templates/issue-forms/component_promotion.yml.j2"),
    ),
    (
        "workflows/promotion-validation.yml.j2",
        include_str!("../templates/workflows/promotion-validation.yml.j2"),
    ),
    (
        "workflows/component-status.yml.j2",
        include_str!("../templates/workflows/component-status.yml.j2"),
    ),
    (
        "workflows/quality.yml.j2",
        include_str!("../templates/workflows/quality.yml.j2"),
    ),
];

/// Markdown templates with strict undefined values: a misspelt variable is an error, not an
/// empty string in an issue body.
fn request_environment() -> Environment<'static> {
    let mut env = markdown_environment();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template(
        "promotion-request.md.j2",
        template("promotion-request.md.j2", PROMOTION_REQUEST),
    )
    .expect("the promotion request template compiles");
    env.add_template(
        "promotion-comment.md.j2",
        template("promotion-comment.md.j2", PROMOTION_COMMENT),
    )
    .expect("the promotion comment template compiles");
    env
}

/// The environment for YAML templates. GitHub Actions writes `${{ }}` itself, so ours are
/// `[[ ]]`, `[% %]` and `[# #]`, and every `${{ }}` in a template reaches the file untouched.
/// Block tags sit on lines of their own and leave no blank lines behind.
fn yaml_environment() -> Environment<'static> {
    let mut env = yaml_environment_bare();
    for (name, text) in YAML_TEMPLATES {
        env.add_template(name, template(name, text))
            .expect("the YAML templates compile");
    }
    env
}

/// The YAML syntax and filters, without templates.
fn yaml_environment_bare() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .block_delimiters("[%", "%]")
            .variable_delimiters("[[", "]]")
            .comment_delimiters("[#", "#]")
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the YAML delimiters are valid"),
    );
    // minijinja would JSON-escape every value of a `.yml` template; we quote explicitly instead
    // (`| yaml` for text that comes from xtask.toml), so that pins with their version comment
    // and paths joined with `${{ }}` come out as written.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("yaml", yaml_scalar);
    env
}

/// A value as a YAML scalar: JSON's quoted strings are valid YAML, so no text from xtask.toml
/// can end a scalar early, start a comment or change the structure of the file.
fn yaml_scalar(value: Value) -> Result<String, minijinja::Error> {
    serde_json::to_string(&value).map_err(|e| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("cannot write {value} as YAML: {e}"),
        )
    })
}

/// Renders one of the request templates (`promotion-request.md.j2`, `promotion-comment.md.j2`).
pub fn request_markdown(template: &str, context: impl Serialize) -> Result<String> {
    let env = request_environment();
    env.get_template(template)?
        .render(Value::from(Serde(&context)))
        .with_context(|| format!("failed to render templates/{template}"))
}

/// Renders one of `YAML_TEMPLATES`.
pub fn yaml(template: &str, context: impl Serialize) -> Result<String> {
    let env = yaml_environment();
    env.get_template(template)?
        .render(Value::from(Serde(&context)))
        .with_context(|| format!("failed to render templates/{template}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_that_does_not_compile_is_a_usage_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates/workflows")).unwrap();
        std::fs::write(
            dir.path().join("templates/workflows/quality.yml.j2"),
            "[% if %]\n",
        )
        .unwrap();
        let error = load_overrides(dir.path()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("quality.yml.j2 does not compile"),
            "{error:#}"
        );
        assert_eq!(
            crate::errors::exit_code_of(&error),
            crate::errors::exit::USAGE
        );
    }
    use crate::config::SourceKind;

    #[test]
    fn readme_scaffold_has_every_required_section() {
        let component = Component {
            name: "narrative-arc-orchestrator".into(),
            display_name: "Narrative Arc Orchestrator".into(),
            group: "AI/Agent Systems".into(),
            source: "src/components/narrative_arc_orchestrator".into(),
            source_kind: SourceKind::Package,
            tests: vec!["tests/test_narrative_arc_orchestrator_component.py".into()],
            depends_on: vec!["neo4j".into(), "llm".into()],
            readme: "src/components/narrative_arc_orchestrator/README.md".into(),
            maturity: "src/components/narrative_arc_orchestrator/MATURITY.md".into(),
        };
        let facts = CodeFacts {
            summary: Some("Causal graph of story events.".into()),
            module: "components.narrative_arc_orchestrator".into(),
            public_names: vec!["CausalGraph".into(), "ArcManager".into()],
        };
        let text = component_readme(&component, &facts).unwrap();
        let sections: Vec<String> = ["Overview", "Usage", "API", "Testing"]
            .map(String::from)
            .to_vec();
        let check = crate::readme::check("README.md", Some(&text), &sections);
        // Every section is there; the notes in angle brackets are still the author's to write.
        assert!(check.missing_sections.is_empty(), "{check:?}");
        assert_eq!(check.unfinished_sections(), vec!["Usage", "API"]);
        insta::assert_snapshot!(text);
    }
}
