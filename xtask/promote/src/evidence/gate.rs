//! The Production gates, pure: the facts `gather` found and the thresholds in, a verdict with
//! its outcome and (when it fails) the blocker's message and fix out. Anything that is not a
//! clean figure over its threshold fails: a reason is never a pass.

use super::outcome::{ProductionOutcome, percent};
use super::{ProductionFacts, promql};
use crate::config::Config;
use crate::config::observability::Sla;

pub struct Verdict {
    pub outcome: ProductionOutcome,
    /// (message, fix) when it failed.
    pub blocker: Option<(String, String)>,
}

impl ProductionOutcome {
    /// The Production rules, in one place: the outcome holds every figure they read, so the
    /// gate's `passed` is derived and cannot disagree with what the report shows.
    pub fn passed(&self) -> bool {
        match self {
            ProductionOutcome::Uptime {
                min,
                coverage_min,
                measured,
                ..
            } => measured.as_ref().is_ok_and(|m| {
                m.coverage.is_finite()
                    && m.coverage >= *coverage_min
                    && m.percent.is_finite()
                    && m.percent >= *min
            }),
            ProductionOutcome::Latency { sla, measured, .. } => match (sla, measured) {
                (Some(Sla::None), _) => true,
                (Some(Sla::P95 { p95_ms, .. }), Some(Ok(ms))) => ms.is_finite() && ms <= p95_ms,
                _ => false,
            },
            ProductionOutcome::Monitoring(m) => m.checks_passed() == 3,
        }
    }
}

fn verdict(outcome: ProductionOutcome, fix: impl FnOnce() -> String) -> Verdict {
    let blocker = (!outcome.passed()).then(|| (outcome.summary(), fix()));
    Verdict { outcome, blocker }
}

/// Where to paste a query to see what the gate saw.
fn paste(facts: &ProductionFacts, expr: String) -> String {
    match &facts.source {
        Ok(base) => format!("run `{expr}` in {base}/graph (or Grafana) to see the series"),
        Err(reason) => format!("fix this first: {reason}"),
    }
}

pub fn uptime(facts: &ProductionFacts, config: &Config) -> Verdict {
    let settings = &config.observability;
    let outcome = ProductionOutcome::Uptime {
        min: settings.uptime_min,
        coverage_min: settings.coverage_min,
        window: facts.window,
        selector: facts.selector.as_ref().map(ToString::to_string),
        measured: facts.uptime.clone(),
    };
    verdict(outcome, || match (&facts.uptime, &facts.selector) {
        (Ok(m), Some(selector)) if m.coverage >= settings.coverage_min => format!(
            "keep it up for {} days at {}% or better (it was {}%); {}",
            facts.window.days,
            percent(settings.uptime_min),
            percent(m.percent),
            paste(facts, promql::uptime(selector, facts.window.days))
        ),
        (Ok(_), Some(selector)) => format!(
            "let Prometheus scrape it for the whole window (observability.scrape_interval_seconds = {} must match the scrape config); {}",
            settings.scrape_interval.as_secs(),
            paste(facts, promql::samples(selector, facts.window.days))
        ),
        (Err(reason), _) => format!("make the uptime measurable: {reason}"),
        (Ok(_), None) => "declare the component's series selector".to_owned(),
    })
}

pub fn latency(facts: &ProductionFacts, component: &str) -> Verdict {
    let sla = facts.sla.clone();
    let fix = || match (&sla, &facts.selector) {
        (None, _) => format!(
            "declare the SLA under [components.{component}.sla] (p95_ms = 300, metric = \"http_request_duration_seconds\"), or write sla = \"none\" there if it has none"
        ),
        (Some(Sla::P95 { metric, .. }), Some(selector)) => {
            paste(facts, promql::p95(metric, selector, facts.window.days))
        }
        _ => "declare the component's series selector".to_owned(),
    };
    let outcome = ProductionOutcome::Latency {
        sla: sla.clone(),
        window: facts.window,
        measured: facts.latency.clone(),
    };
    verdict(outcome, fix)
}

pub fn monitoring(facts: &ProductionFacts, component: &str) -> Verdict {
    let m = &facts.monitoring;
    let fix = || {
        let mut steps = Vec::new();
        if m.target.is_err() {
            steps.push("add a scrape job for it to the Prometheus config".to_owned());
        }
        if !matches!(&m.alert_rules, Ok(names) if !names.is_empty()) {
            let selector = facts
                .selector
                .as_ref()
                .map_or_else(|| "{job=\"...\"}".to_owned(), ToString::to_string);
            steps.push(format!(
                "add an alerting rule on it, e.g. `up{selector} == 0`"
            ));
        }
        if m.healthcheck.is_err() {
            steps.push(format!(
                "give its compose service a healthcheck (or health_probe under [components.{component}])"
            ));
        }
        steps.join("; ")
    };
    verdict(ProductionOutcome::Monitoring(m.clone()), fix)
}
