//! Inline SVG charts for the HTML status report: components per stage, coverage against
//! thresholds, and the dependency graph coloured by stage. Pure strings with every text
//! escaped; no scripts, no external references, so the HTML file stands alone.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::StatusReport;
use super::layout;
use super::view::threshold;
use crate::vocab::Stage;

/// Text escaped for SVG (XML) content and attribute values.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub fn stage_fill(stage: Stage) -> &'static str {
    match stage {
        Stage::Development => "#f5b7b1",
        Stage::Staging => "#f9e79f",
        Stage::Production => "#a9dfbf",
    }
}

fn stage_stroke(stage: Stage) -> &'static str {
    match stage {
        Stage::Development => "#c0392b",
        Stage::Staging => "#b7950b",
        Stage::Production => "#1e8449",
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// One bar split by stage, each part as wide as its share of the components.
pub fn stage_distribution(report: &StatusReport) -> String {
    let (width, height) = (640.0, 34.0);
    let total = report.summary.components.max(1) as f64;
    let mut out = format!(
        r##"<svg class="chart" role="img" aria-labelledby="stages-title" viewBox="0 0 {width} {height}" width="{width}" height="{height}"><title id="stages-title">Components per stage</title>"##
    );
    let mut x = 0.0;
    for (stage, n) in [
        (Stage::Development, report.summary.development),
        (Stage::Staging, report.summary.staging),
        (Stage::Production, report.summary.production),
    ] {
        if n == 0 {
            continue;
        }
        let w = width * n as f64 / total;
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="0" width="{w:.1}" height="{height}" fill="{}" stroke="#ffffff"/><text x="{:.1}" y="22" text-anchor="middle" font-size="13">{} {n}</text>"##,
            stage_fill(stage),
            x + w / 2.0,
            stage.title()
        );
        x += w;
    }
    out.push_str("</svg>");
    out
}

/// A horizontal bar per component: its coverage, coloured by whether it meets the threshold
/// it is checked against, which is drawn as a tick.
pub fn coverage_chart(report: &StatusReport) -> String {
    let (label_width, scale, row) = (230.0, 4.0, 24.0);
    let width = label_width + 100.0 * scale + 90.0;
    let height = row * report.components.len() as f64 + 30.0;
    let mut out = format!(
        r##"<svg class="chart" role="img" aria-labelledby="coverage-title" viewBox="0 0 {width} {height}" width="{width}" height="{height}"><title id="coverage-title">Coverage against the threshold each component is checked against</title>"##
    );
    for (i, c) in report.components.iter().enumerate() {
        let y = i as f64 * row;
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12">{}</text><rect x="{label_width}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#eeeeee"/>"##,
            label_width - 8.0,
            y + 16.0,
            esc(&fit(&c.display_name, 30)),
            y + 4.0,
            100.0 * scale,
            row - 8.0
        );
        match c.coverage {
            Some(coverage) => {
                let fill = if coverage >= c.coverage_threshold {
                    "#27ae60"
                } else {
                    "#e74c3c"
                };
                let _ = write!(
                    out,
                    r##"<rect x="{label_width}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{}: {coverage:.2}%</title></rect><text x="{:.1}" y="{:.1}" font-size="12">{coverage:.2}%</text>"##,
                    y + 4.0,
                    coverage.clamp(0.0, 100.0) * scale,
                    row - 8.0,
                    esc(&c.name),
                    label_width + 100.0 * scale + 6.0,
                    y + 16.0
                );
            }
            None => {
                let _ = write!(
                    out,
                    r##"<text x="{:.1}" y="{:.1}" font-size="12" fill="#c0392b">no data</text>"##,
                    label_width + 100.0 * scale + 6.0,
                    y + 16.0
                );
            }
        }
        let tick = label_width + c.coverage_threshold * scale;
        let _ = write!(
            out,
            r##"<line x1="{tick:.1}" x2="{tick:.1}" y1="{:.1}" y2="{:.1}" stroke="#1b1b1b" stroke-width="2"><title>needs {}</title></line>"##,
            y + 1.0,
            y + row - 1.0,
            esc(&threshold(c.coverage_threshold))
        );
    }
    let axis_y = row * report.components.len() as f64 + 16.0;
    for percent in [0, 25, 50, 75, 100] {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{axis_y:.1}" text-anchor="middle" font-size="11" fill="#555555">{percent}%</text>"##,
            label_width + f64::from(percent) * scale
        );
    }
    out.push_str("</svg>");
    out
}

/// The layered drawing of `status/layout.rs`: a component right of everything it depends on,
/// each edge a polyline from the dependency's right side to the dependent's left side,
/// through slots of its own in the columns between, with an arrowhead at the dependent, so
/// no edge runs behind a box it does not join and every edge's direction shows.
pub fn dependency_graph(report: &StatusReport) -> String {
    let index: BTreeMap<&str, usize> = report
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let edges: Vec<(usize, usize)> = report
        .components
        .iter()
        .enumerate()
        .flat_map(|(to, c)| {
            c.dependencies
                .iter()
                .filter_map(|d| index.get(d.name.as_str()).map(|from| (*from, to)))
                .collect::<Vec<_>>()
        })
        .collect();
    let drawing = layout::layout(report.components.len(), &edges);
    let (width, height) = (drawing.width, drawing.height);
    let mut out = format!(
        r##"<svg class="chart" role="img" aria-labelledby="graph-title" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}"><title id="graph-title">Dependency graph, coloured by stage: an arrow points from a dependency to the component that needs it</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333333"/></marker></defs>"##
    );
    for route in &drawing.routes {
        let points: Vec<String> = route
            .points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let (from, to) = (&report.components[route.from], &report.components[route.to]);
        let _ = write!(
            out,
            r##"<polyline class="edge" data-from="{}" data-to="{}" points="{}" fill="none" stroke="#666666" stroke-width="1.4" marker-end="url(#arrow)"><title>{} needs {}</title></polyline>"##,
            esc(&from.name),
            esc(&to.name),
            points.join(" "),
            esc(&to.name),
            esc(&from.name)
        );
    }
    let (node_w, node_h) = (layout::NODE_W, layout::NODE_H);
    for (c, place) in report.components.iter().zip(&drawing.boxes) {
        let (x, y) = (place.x, place.y);
        let _ = write!(
            out,
            r##"<g class="node" data-node="{}"><rect x="{x:.1}" y="{y:.1}" width="{node_w}" height="{node_h}" rx="6" fill="{}" stroke="{}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12" font-weight="600">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text></g>"##,
            esc(&c.name),
            stage_fill(c.stage),
            stage_stroke(c.stage),
            x + node_w / 2.0,
            y + 17.0,
            esc(&fit(&c.display_name, 26)),
            x + node_w / 2.0,
            y + 32.0,
            c.stage
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::fixture;

    #[test]
    fn charts_escape_text_and_reference_nothing_outside() {
        let report = fixture::status();
        for svg in [
            stage_distribution(&report),
            coverage_chart(&report),
            dependency_graph(&report),
        ] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert!(!svg.contains("Docker <Compose>"), "unescaped text");
            assert!(!svg.contains("http"), "an external reference: {svg}");
        }
    }

    /// The boxes (`data-node` groups' rects) and edges (polylines) of a drawn graph, and the
    /// segments that cross a box other than their own two ends.
    pub fn edges_crossing_boxes(svg: &str) -> Vec<String> {
        let document = roxmltree::Document::parse(svg).expect("the SVG is XML");
        let number = |node: roxmltree::Node<'_, '_>, name: &str| -> f64 {
            node.attribute(name).unwrap().parse().unwrap()
        };
        let boxes: Vec<(String, [f64; 4])> = document
            .descendants()
            .filter(|n| n.has_tag_name("g") && n.attribute("data-node").is_some())
            .map(|g| {
                let rect = g.children().find(|c| c.has_tag_name("rect")).unwrap();
                let (x, y) = (number(rect, "x"), number(rect, "y"));
                let (w, h) = (number(rect, "width"), number(rect, "height"));
                (g.attribute("data-node").unwrap().to_owned(), [x, y, w, h])
            })
            .collect();
        let mut found = Vec::new();
        let mut edges = 0;
        for line in document
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
        {
            edges += 1;
            assert_eq!(
                line.attribute("marker-end"),
                Some("url(#arrow)"),
                "an arrowhead"
            );
            let (from, to) = (
                line.attribute("data-from").unwrap(),
                line.attribute("data-to").unwrap(),
            );
            let points: Vec<(f64, f64)> = line
                .attribute("points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            for pair in points.windows(2) {
                for (name, [x, y, w, h]) in &boxes {
                    let place = layout::Place { x: *x, y: *y };
                    assert_eq!((*w, *h), (layout::NODE_W, layout::NODE_H));
                    if name != from && name != to && layout::tests::crosses(pair[0], pair[1], place)
                    {
                        found.push(format!("{from} -> {to} passes behind {name}"));
                    }
                }
            }
        }
        assert!(edges > 0, "a graph with edges: {svg}");
        found
    }

    #[test]
    fn no_edge_of_the_drawn_graph_passes_behind_a_box_and_each_has_an_arrowhead() {
        assert_eq!(
            edges_crossing_boxes(&dependency_graph(&fixture::status())),
            Vec::<String>::new()
        );
        for seed in [1, 7, 18] {
            let edges = layout::tests::random_dag(30, seed);
            let svg = dependency_graph(&fixture::wide(30, &edges));
            assert_eq!(svg.matches("<polyline").count(), edges.len());
            assert_eq!(
                edges_crossing_boxes(&svg),
                Vec::<String>::new(),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn the_drawn_graph_of_thirty_components_is_stable() {
        // Read once in headless Chromium (README, the status report): boxes in columns by
        // longest dependency chain, long edges through the gaps, an arrowhead on every edge.
        let edges = layout::tests::random_dag(30, 7);
        insta::assert_snapshot!(dependency_graph(&fixture::wide(30, &edges)));
    }

    #[test]
    fn dependents_sit_right_of_their_dependencies() {
        let svg = dependency_graph(&fixture::status());
        let x_of = |name: &str| -> f64 {
            let at = svg.find(&format!("data-node=\"{name}\"")).unwrap();
            let rest = &svg[at..];
            let x = rest.find("x=\"").unwrap() + 3;
            rest[x..x + rest[x..].find('"').unwrap()].parse().unwrap()
        };
        assert!(x_of("llm") > x_of("docker"));
        assert!(x_of("llm") > x_of("model-management"));
        assert!(x_of("gameplay-loop") > x_of("neo4j"));
        assert_eq!(x_of("neo4j"), x_of("carbon"));
    }

    #[test]
    fn coverage_bars_are_as_long_as_the_coverage() {
        let svg = coverage_chart(&fixture::status());
        // carbon: 72.06% on a 400px scale.
        assert!(
            svg.contains(r##"width="288.2" height="16.0" fill="#27ae60"><title>carbon: 72.06%"##),
            "{svg}"
        );
        assert!(svg.contains(r##"fill="#e74c3c"><title>docker: 20.10%"##));
        assert!(svg.contains("no data"), "gameplay-loop has no coverage");
    }
}
