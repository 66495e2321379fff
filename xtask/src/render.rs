//! Templates to strings, with no IO: the templates are compiled into the binary from
//! `templates/`, so a generated file depends only on the template and the data passed in.

use anyhow::{Context, Result};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, Value};
use serde::Serialize;

use crate::config::Component;
use crate::readme::CodeFacts;

const COMPONENT_README: &str = include_str!("../../templates/component-readme.md.j2");

/// The environment for Markdown templates (default delimiters).
fn markdown_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    env.add_template("component-readme.md.j2", COMPONENT_README)
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

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(check.passed(), "{check:?}");
        insta::assert_snapshot!(text);
    }
}
