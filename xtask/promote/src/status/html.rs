//! `status --format html`: one self-contained file from `templates/status-report.html.j2`,
//! with inline CSS and inline SVG charts, no scripts and nothing loaded from anywhere. Pure.

use anyhow::{Context, Result};
use minijinja::value::Serde;
use minijinja::{Value, context};

use super::{StatusReport, svg, view};

const TEMPLATE: &str = include_str!("../../templates/status-report.html.j2");

/// Text with its `code spans` as `<code>` elements, everything else escaped: blockers and
/// fixes quote commands that way.
fn code_spans(text: &str) -> Value {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        // Odd parts sit between backticks; a trailing unmatched one is left as plain text.
        let escaped = svg::esc(part);
        if i % 2 == 1 && text.matches('`').count() > i {
            out.push_str(&format!("<code>{escaped}</code>"));
        } else {
            out.push_str(&escaped);
        }
    }
    Value::from_safe_string(out)
}

pub fn render(report: &StatusReport) -> Result<String> {
    let mut env = crate::render::block_environment();
    env.add_filter("code_spans", code_spans);
    // The `.html` name turns on HTML escaping of every value the template prints.
    env.add_template(
        "status-report.html.j2",
        crate::render::template("status-report.html.j2", TEMPLATE),
    )
    .context("the status HTML template does not compile")?;
    let view = view::build(report);
    env.get_template("status-report.html.j2")?
        .render(context! {
            // The charts are built with every text escaped (see `svg::esc`).
            stage_chart => Value::from_safe_string(svg::stage_distribution(report)),
            coverage_chart => Value::from_safe_string(svg::coverage_chart(report)),
            graph_chart => Value::from_safe_string(svg::dependency_graph(report)),
            records => Value::from(Serde(super::records::rows(report))),
            ..Value::from(Serde(&view))
        })
        .context("failed to render the status report as HTML")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::fixture;

    #[test]
    fn code_spans_become_code_and_the_rest_is_escaped() {
        assert_eq!(
            code_spans("run `a <b>` & `c").to_string(),
            "run <code>a &lt;b&gt;</code> &amp; c"
        );
    }

    #[test]
    fn the_html_report_stands_alone_and_has_a_row_per_component() {
        let html = render(&fixture::status()).unwrap();
        for component in fixture::config().components {
            assert!(
                html.contains(&format!("<tr data-component=\"{}\"", component.name)),
                "no row for {}",
                component.name
            );
        }
        assert!(
            html.contains("<b>Docker &lt;Compose&gt;</b>"),
            "names are escaped"
        );
        assert!(!html.contains("<script"), "no scripts");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external URLs"
        );
        assert!(!html.contains(" src="), "nothing loaded from anywhere");
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(html.contains("run <code>cargo xtask promote docker --phase 1 --fix</code>"));
        insta::assert_snapshot!(html);
    }
}
