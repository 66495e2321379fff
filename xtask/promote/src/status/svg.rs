//! Inline SVG charts for the HTML status report: components per stage, coverage against
//! thresholds, and the dependency graph coloured by stage. Pure strings with every text
//! escaped; no scripts, no external references, so the HTML file stands alone.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::StatusReport;
use super::view::threshold;
use crate::stage::Stage;

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

/// Columns by dependency depth (a component sits right of everything it depends on), arrows
/// from each dependency to its dependents, boxes coloured by stage.
pub fn dependency_graph(report: &StatusReport) -> String {
    let names: Vec<&str> = report.components.iter().map(|c| c.name.as_str()).collect();
    let mut depth: BTreeMap<&str, usize> = names.iter().map(|n| (*n, 0)).collect();
    // Longest path from a component without dependencies; the registry has no cycles, and the
    // bound on rounds keeps a cycle from looping anyway.
    for _ in 0..names.len() {
        let mut changed = false;
        for c in &report.components {
            let wanted = c
                .dependencies
                .iter()
                .filter_map(|d| depth.get(d.name.as_str()))
                .map(|d| d + 1)
                .max()
                .unwrap_or(0);
            if depth[c.name.as_str()] < wanted {
                depth.insert(&c.name, wanted);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let (node_w, node_h, col_w, row_h, pad) = (196.0, 40.0, 236.0, 54.0, 12.0);
    let mut rows_used: BTreeMap<usize, usize> = BTreeMap::new();
    let mut position: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for c in &report.components {
        let column = depth[c.name.as_str()];
        let row = rows_used.entry(column).or_insert(0);
        position.insert(
            &c.name,
            (pad + column as f64 * col_w, pad + *row as f64 * row_h),
        );
        *row += 1;
    }
    let columns = rows_used.keys().max().map_or(1, |m| m + 1);
    let rows = rows_used.values().max().copied().unwrap_or(1);
    let width = pad * 2.0 + (columns as f64 - 1.0) * col_w + node_w;
    let height = pad * 2.0 + (rows as f64 - 1.0) * row_h + node_h;
    let mut out = format!(
        r##"<svg class="chart" role="img" aria-labelledby="graph-title" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}"><title id="graph-title">Dependency graph, coloured by stage</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555555"/></marker></defs>"##
    );
    for c in &report.components {
        let (x2, y2) = position[c.name.as_str()];
        for d in &c.dependencies {
            let Some(&(x1, y1)) = position.get(d.name.as_str()) else {
                continue;
            };
            let _ = write!(
                out,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888888" stroke-width="1.3" marker-end="url(#arrow)"><title>{} needs {}</title></line>"##,
                x1 + node_w,
                y1 + node_h / 2.0,
                x2,
                y2 + node_h / 2.0,
                esc(&c.name),
                esc(&d.name)
            );
        }
    }
    for c in &report.components {
        let (x, y) = position[c.name.as_str()];
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
