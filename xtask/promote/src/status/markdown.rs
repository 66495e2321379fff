//! `status --format markdown`: GitHub-flavoured Markdown from `templates/status-report.md.j2`,
//! with two Mermaid diagrams (the dependency graph coloured by stage, and coverage against
//! thresholds as an `xychart-beta`). Pure.

use anyhow::{Context, Result};
use minijinja::value::Serde;
use minijinja::{Value, context};

use super::StatusReport;
use super::view::{self, threshold};
use crate::markdown::{self, Place};
use crate::vocab::Stage;

const TEMPLATE: &str = include_str!("../../templates/status-report.md.j2");

/// A Mermaid node id: letters, digits and underscores only.
fn node_id(name: &str) -> String {
    format!("c_{}", name.replace('-', "_"))
}

/// A Mermaid label: its entity codes for what would end or confuse the label.
fn label(text: &str) -> String {
    text.replace('#', "#35;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// `flowchart LR`: one node per component (display name and stage), an arrow from each
/// dependency to its dependent, a class per stage.
pub fn dependency_graph(report: &StatusReport) -> String {
    let mut lines = vec!["flowchart LR".to_owned()];
    for c in &report.components {
        lines.push(format!(
            "  {}[\"{}<br/>{} {}\"]",
            node_id(&c.name),
            label(&c.display_name),
            view::stage_icon(c.stage),
            c.stage
        ));
    }
    for c in &report.components {
        for d in &c.dependencies {
            lines.push(format!("  {} --> {}", node_id(&d.name), node_id(&c.name)));
        }
    }
    lines.extend([
        "  classDef development fill:#fde2e1,stroke:#c0392b,color:#1b1b1b".to_owned(),
        "  classDef staging fill:#fff3cd,stroke:#b7950b,color:#1b1b1b".to_owned(),
        "  classDef production fill:#d4edda,stroke:#1e8449,color:#1b1b1b".to_owned(),
    ]);
    for stage in [Stage::Development, Stage::Staging, Stage::Production] {
        let members: Vec<String> = report
            .components
            .iter()
            .filter(|c| c.stage == stage)
            .map(|c| node_id(&c.name))
            .collect();
        if !members.is_empty() {
            lines.push(format!("  class {} {}", members.join(","), stage.id()));
        }
    }
    lines.join("\n")
}

/// `xychart-beta`: a bar per component (its coverage; 0 without data) and a line of the
/// thresholds it is checked against.
pub fn coverage_chart(report: &StatusReport) -> String {
    let names: Vec<String> = report
        .components
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    let bars: Vec<String> = report
        .components
        .iter()
        .map(|c| format!("{:.2}", c.coverage.unwrap_or(0.0)))
        .collect();
    let line: Vec<String> = report
        .components
        .iter()
        .map(|c| {
            threshold(c.coverage_threshold)
                .trim_end_matches('%')
                .to_owned()
        })
        .collect();
    [
        "xychart-beta".to_owned(),
        "  title \"Coverage (bars) against the threshold checked (line), %\"".to_owned(),
        format!("  x-axis [{}]", names.join(", ")),
        "  y-axis \"percent\" 0 --> 100".to_owned(),
        format!("  bar [{}]", bars.join(", ")),
        format!("  line [{}]", line.join(", ")),
    ]
    .join("\n")
}

pub fn render(report: &StatusReport) -> Result<String> {
    let mut env = crate::render::block_environment();
    // Our sentences quote tool text in code spans, so they are escaped as prose: `md` for a
    // table cell, `md_line` for a heading or a list item.
    env.add_filter("md", |text: String| {
        markdown::prose(&text, Place::Cell, usize::MAX)
    });
    env.add_filter("md_line", |text: String| {
        markdown::prose(&text, Place::Line, usize::MAX)
    });
    env.add_template(
        "status-report.md.j2",
        crate::render::template("status-report.md.j2", TEMPLATE),
    )
    .context("the status Markdown template does not compile")?;
    let view = view::build(report);
    env.get_template("status-report.md.j2")?
        .render(context! {
            dependency_graph => dependency_graph(report),
            coverage_chart => coverage_chart(report),
            records => Value::from(Serde(super::records::rows(report))),
            ..Value::from(Serde(&view))
        })
        .context("failed to render the status report as Markdown")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::fixture;

    #[test]
    fn the_markdown_report_renders_every_section() {
        let text = render(&fixture::status()).unwrap();
        for component in fixture::config().components {
            assert!(
                text.contains(&format!("`{}` |", component.name)),
                "no row for {}",
                component.name
            );
        }
        assert!(text.contains("```mermaid\nflowchart LR\n"));
        assert!(text.contains("```mermaid\nxychart-beta\n"));
        assert!(
            text.contains("**Docker &lt;Compose>**"),
            "HTML-like names stay text"
        );
        assert!(
            !text.contains("Monitoring & Operations"),
            "an empty group gets no table"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_graph_colours_nodes_by_stage_and_points_to_dependents() {
        let graph = dependency_graph(&fixture::status());
        assert!(graph.contains("  c_model_management --> c_llm"));
        assert!(graph.contains("  c_docker[\"Docker #lt;Compose#gt;<br/>🔨 Development\"]"));
        assert!(graph.contains("  class c_neo4j staging"));
        assert!(graph.contains("  class c_model_management,c_therapeutic_systems production"));
    }
}
