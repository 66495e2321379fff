//! What the Production gates found, as the reports show it: the JSON fields (`measured`,
//! `threshold`, `unit`, `facts`) and the one-line summary, derived here in one place.

use chrono::DateTime;
use serde_json::{Value, json};

use super::{Monitoring, UptimeMeasure, Window};
use crate::config::observability::Sla;

#[derive(Debug, Clone, PartialEq)]
pub enum ProductionOutcome {
    Uptime {
        min: f64,
        coverage_min: f64,
        window: Window,
        selector: Option<String>,
        measured: Result<UptimeMeasure, String>,
    },
    Latency {
        /// `None`: the component declares no SLA.
        sla: Option<Sla>,
        window: Window,
        /// The 95th percentile in milliseconds; `None` when there was nothing to measure.
        measured: Option<Result<f64, String>>,
    },
    Monitoring(Monitoring),
}

/// `2026-12-07 13:00 UTC`
pub fn utc(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0).map_or_else(
        || format!("{seconds}s"),
        |at| at.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// A percentage with two decimals, truncated: 99.405 shows as 99.40, never rounded up past a
/// threshold it did not reach.
pub fn percent(value: f64) -> String {
    format!("{:.2}", (value * 100.0).floor() / 100.0)
}

fn window_text(window: &Window) -> String {
    format!(
        "{} days, {} to {}",
        window.days,
        utc(window.from),
        utc(window.to)
    )
}

impl ProductionOutcome {
    pub fn measured(&self) -> Value {
        match self {
            ProductionOutcome::Uptime {
                measured: Ok(m), ..
            } if m.percent.is_finite() => json!((m.percent * 1000.0).floor() / 1000.0),
            ProductionOutcome::Latency {
                measured: Some(Ok(ms)),
                ..
            } => json!((ms * 10.0).round() / 10.0),
            ProductionOutcome::Monitoring(m) => json!(m.checks_passed()),
            _ => Value::Null,
        }
    }

    pub fn threshold(&self) -> Value {
        match self {
            ProductionOutcome::Uptime { min, .. } => json!(min),
            ProductionOutcome::Latency {
                sla: Some(Sla::P95 { p95_ms, .. }),
                ..
            } => json!(p95_ms),
            ProductionOutcome::Latency { sla, .. } => {
                json!(if sla.is_some() { "none" } else { "declared" })
            }
            ProductionOutcome::Monitoring(_) => json!(3),
        }
    }

    pub fn unit(&self) -> &'static str {
        match self {
            ProductionOutcome::Uptime { .. } => "percent",
            ProductionOutcome::Latency {
                sla: Some(Sla::P95 { .. }),
                ..
            } => "ms (p95)",
            ProductionOutcome::Latency { .. } => "sla",
            ProductionOutcome::Monitoring(_) => "checks",
        }
    }

    /// Everything measured, for the JSON report's `facts` of the gate.
    pub fn facts(&self) -> Value {
        match self {
            ProductionOutcome::Uptime {
                window,
                selector,
                measured,
                coverage_min,
                ..
            } => {
                let mut facts = json!({
                    "window_days": window.days,
                    "from": utc(window.from),
                    "to": utc(window.to),
                    "selector": selector,
                    "coverage_min": coverage_min,
                });
                match measured {
                    Ok(m) => {
                        facts["uptime_percent"] = finite(m.percent);
                        facts["coverage_percent"] = finite(m.coverage);
                        facts["series"] = json!(m.series);
                        if let Some((at, value)) = m.worst_hour {
                            facts["worst_hour"] =
                                json!({"start": utc(at), "uptime_percent": finite(value)});
                        }
                    }
                    Err(reason) => facts["error"] = json!(reason),
                }
                facts
            }
            ProductionOutcome::Latency {
                sla,
                window,
                measured,
            } => {
                let mut facts = json!({"window_days": window.days});
                match sla {
                    None => facts["sla"] = json!("undeclared"),
                    Some(Sla::None) => facts["sla"] = json!("none"),
                    Some(Sla::P95 { p95_ms, metric }) => {
                        facts["sla"] = json!({"p95_ms": p95_ms, "metric": metric});
                    }
                }
                match measured {
                    Some(Ok(ms)) => facts["p95_ms"] = json!(ms),
                    Some(Err(reason)) => facts["error"] = json!(reason),
                    None => {}
                }
                facts
            }
            ProductionOutcome::Monitoring(m) => {
                let one = |r: &Result<String, String>| match r {
                    Ok(found) => json!({"ok": true, "found": found}),
                    Err(reason) => json!({"ok": false, "reason": reason}),
                };
                json!({
                    "target": one(&m.target),
                    "alert_rules": match &m.alert_rules {
                        Ok(names) => json!({"ok": !names.is_empty(), "found": names}),
                        Err(reason) => json!({"ok": false, "reason": reason}),
                    },
                    "healthcheck": one(&m.healthcheck),
                })
            }
        }
    }

    pub fn summary(&self) -> String {
        let passed = self.passed();
        match self {
            ProductionOutcome::Uptime {
                min,
                coverage_min,
                window,
                measured,
                ..
            } => match measured {
                Err(reason) => format!("uptime not measured: {reason}"),
                Ok(m) if m.coverage.is_nan() || m.coverage < *coverage_min => format!(
                    "not enough data: {}% of the expected samples over {} (at least {}% needed)",
                    percent(m.coverage),
                    window_text(window),
                    percent(*coverage_min)
                ),
                Ok(m) if m.percent.is_nan() => "uptime is NaN: no scrape in the window".to_owned(),
                Ok(m) => {
                    let worst = m.worst_hour.map_or_else(String::new, |(at, value)| {
                        format!("; worst hour {} at {}%", utc(at), percent(value))
                    });
                    format!(
                        "{}% up over {} ({} {}%){worst}",
                        percent(m.percent),
                        window_text(window),
                        if passed { "at least" } else { "below" },
                        percent(*min)
                    )
                }
            },
            ProductionOutcome::Latency { sla, measured, .. } => match (sla, measured) {
                (None, _) => {
                    "no SLA declared: set [components.<name>.sla] p95_ms, or sla = \"none\""
                        .to_owned()
                }
                (Some(Sla::None), _) => "no SLA, by choice (sla = \"none\")".to_owned(),
                (Some(Sla::P95 { p95_ms, metric }), Some(Ok(ms))) => format!(
                    "p95 {ms:.1} ms {} {p95_ms} ms ({metric})",
                    if passed { "within" } else { "over" }
                ),
                (Some(Sla::P95 { .. }), Some(Err(reason))) => {
                    format!("latency not measured: {reason}")
                }
                (Some(Sla::P95 { .. }), None) => "latency not measured".to_owned(),
            },
            ProductionOutcome::Monitoring(m) => {
                let mut parts = Vec::new();
                // One reason for both when Prometheus could not be asked at all.
                if let (Err(target), Err(rules)) = (&m.target, &m.alert_rules)
                    && target == rules
                {
                    parts.push(format!("Prometheus not read: {target}"));
                } else {
                    match &m.target {
                        Ok(found) => parts.push(format!("target {found}")),
                        Err(reason) => parts.push(reason.clone()),
                    }
                    match &m.alert_rules {
                        Ok(names) if names.is_empty() => {
                            parts.push("no alerting rule selects it".to_owned());
                        }
                        Ok(names) => parts.push(format!("alerts: {}", names.join(", "))),
                        Err(reason) => parts.push(format!("alerting rules not read: {reason}")),
                    }
                }
                match &m.healthcheck {
                    Ok(found) => parts.push(found.clone()),
                    Err(reason) => parts.push(reason.clone()),
                }
                parts.join("; ")
            }
        }
    }
}

impl Monitoring {
    /// How many of the three checks (target, alerting rule, healthcheck) hold.
    pub fn checks_passed(&self) -> usize {
        usize::from(self.target.is_ok())
            + usize::from(matches!(&self.alert_rules, Ok(names) if !names.is_empty()))
            + usize::from(self.healthcheck.is_ok())
    }
}

fn finite(value: f64) -> Value {
    if value.is_finite() {
        json!(value)
    } else {
        Value::Null
    }
}
