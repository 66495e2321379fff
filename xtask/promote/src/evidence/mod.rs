//! Production evidence from the systems that hold it: uptime and latency from Prometheus, and
//! monitoring that exists (a healthy scrape target, an alerting rule, a healthcheck). `gather`
//! asks (IO, with deadlines); `gate` decides (pure); `outcome` is what the reports show.
//!
//! Every answer that is not a clean number is a reason, never a figure: Prometheus down, slow,
//! an HTTP error, a query error, no series, NaN — each fails its gate with what happened.

pub mod api;
pub mod client;
pub mod gate;
pub mod outcome;
pub mod promql;
#[cfg(test)]
pub mod test_prometheus;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::config::Config;
use crate::config::observability::{PrometheusUrl, Sla};
use crate::vocab::Stage;
use client::Prometheus;
use promql::Selector;

/// The observation window: `days` days ending at `to` (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub days: u32,
    pub from: i64,
    pub to: i64,
}

impl Window {
    pub fn ending(to: i64, days: u32) -> Window {
        Window {
            days,
            from: to - i64::from(days) * 86_400,
            to,
        }
    }
}

/// What Prometheus and the compose file say about a component in the stage it is in.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductionFacts {
    /// Where the evidence came from: the Prometheus base URL, or why there is none.
    pub source: Result<String, String>,
    pub selector: Option<Selector>,
    pub window: Window,
    pub uptime: Result<UptimeMeasure, String>,
    /// The SLA the component declares (`None`: it declares none, not even `"none"`).
    pub sla: Option<Sla>,
    /// `None` when the component declares no SLA to measure.
    pub latency: Option<Result<f64, String>>,
    pub monitoring: Monitoring,
}

/// The uptime of the component's worst series (instance) over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct UptimeMeasure {
    /// Percent of scrapes that found it up.
    pub percent: f64,
    /// Percent of the scrapes the interval promises that are there (the fewest of any series).
    pub coverage: f64,
    pub series: usize,
    /// The hour (its start, seconds since the epoch) with the lowest uptime, and that uptime
    /// in percent.
    pub worst_hour: Option<(i64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Monitoring {
    /// The scrape target's health (`up`) and URL, or why none was found.
    pub target: Result<String, String>,
    /// The alerting rules that select the component.
    pub alert_rules: Result<Vec<String>, String>,
    /// Where its healthcheck is declared, or why there is none.
    pub healthcheck: Result<String, String>,
}

/// The Prometheus clients of one command, one per stage, each with its own breaker; the
/// first failure of the command is its one warning.
pub struct Session<'c> {
    config: &'c Config,
    clients: Mutex<BTreeMap<Stage, std::sync::Arc<Prometheus>>>,
}

impl<'c> Session<'c> {
    pub fn new(config: &'c Config) -> Session<'c> {
        Session {
            config,
            clients: Mutex::new(BTreeMap::new()),
        }
    }

    fn client(&self, stage: Stage) -> Result<std::sync::Arc<Prometheus>, String> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&stage) {
            return Ok(client.clone());
        }
        let observability = &self.config.observability;
        let Some(source) = observability.prometheus.get(&stage) else {
            return Err(format!(
                "no Prometheus for {stage}: add [observability.prometheus.{}] with url or url_env to xtask.toml",
                stage.id()
            ));
        };
        let env = crate::edge_env::get();
        let url = match &source.url {
            PrometheusUrl::Written(url) => url.clone(),
            PrometheusUrl::Env(name) => {
                let text = env.var(name).ok_or_else(|| {
                    format!("${name} is not set: it should hold the {stage} Prometheus URL")
                })?;
                client::base_url(text).map_err(|reason| format!("${name}: {reason}"))?
            }
        };
        let token = match &source.token_env {
            None => None,
            Some(name) => Some(
                env.var(name)
                    .ok_or_else(|| {
                        format!("${name} is not set: it should hold the Prometheus token")
                    })?
                    .to_owned(),
            ),
        };
        let client = std::sync::Arc::new(Prometheus::new(&url, token, observability.timeout));
        clients.insert(stage, client.clone());
        Ok(client)
    }

    pub fn config(&self) -> &'c Config {
        self.config
    }

    /// The first failure of the command, once.
    pub fn take_warning(&self) -> Option<String> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.values().find_map(|client| client.take_warning())
    }

    /// Everything the Production gates read about `component`, which runs in `stage`, over the
    /// window ending at `now` (seconds since the epoch).
    /// `healthcheck` is where its healthcheck is declared, or why none is (the caller reads
    /// the compose file: `deploy::declared::healthcheck`).
    pub fn gather(
        &self,
        component: &str,
        stage: Stage,
        now: i64,
        healthcheck: Result<String, String>,
    ) -> ProductionFacts {
        let config = self.config;
        let window = Window::ending(now, config.policy.observation_days);
        let selector = Selector::of(config, component);
        let client = self.client(stage);
        let (Ok(prometheus), Some(selector)) = (&client, &selector) else {
            let reason = match (&client, &selector) {
                (Err(reason), _) => reason.clone(),
                _ => format!(
                    "{component} has no series selector: set `service` or `metrics = {{ job = \"...\" }}` in [components.{component}]"
                ),
            };
            return ProductionFacts {
                source: client.map(|c| c.base().to_owned()),
                selector,
                window,
                sla: declared_sla(config, component),
                uptime: Err(reason.clone()),
                latency: sla(config, component).map(|_| Err(reason.clone())),
                monitoring: Monitoring {
                    target: Err(reason.clone()),
                    alert_rules: Err(reason),
                    healthcheck,
                },
            };
        };
        ProductionFacts {
            source: Ok(prometheus.base().to_owned()),
            selector: Some(selector.clone()),
            window,
            sla: declared_sla(config, component),
            uptime: uptime(prometheus, selector, window, config),
            latency: sla(config, component)
                .map(|(metric, _)| latency(prometheus, selector, window, &metric)),
            monitoring: Monitoring {
                target: target(prometheus, selector),
                alert_rules: alert_rules(prometheus, selector),
                healthcheck,
            },
        }
    }
}

fn declared_sla(config: &Config, component: &str) -> Option<Sla> {
    config
        .observability
        .components
        .get(component)
        .and_then(|c| c.sla.clone())
}

/// Facts every Production gate passes on, for the gate tests of other modules.
#[cfg(test)]
pub fn passing_facts(now: i64) -> ProductionFacts {
    ProductionFacts {
        source: Ok("http://prometheus.staging:9090".to_owned()),
        selector: Some(Selector::new(vec![("job".to_owned(), "llm".to_owned())])),
        window: Window::ending(now, 7),
        sla: Some(Sla::None),
        uptime: Ok(UptimeMeasure {
            percent: 99.9,
            coverage: 100.0,
            series: 1,
            worst_hour: Some((now - 86_400, 95.0)),
        }),
        latency: None,
        monitoring: Monitoring {
            target: Ok("http://llm:8000/metrics is up".to_owned()),
            alert_rules: Ok(vec!["LlmDown".to_owned()]),
            healthcheck: Ok("health_probe in xtask.toml".to_owned()),
        },
    }
}

/// The declared SLA's metric and objective, when there is one to measure.
fn sla(config: &Config, component: &str) -> Option<(String, f64)> {
    match config
        .observability
        .components
        .get(component)
        .and_then(|c| c.sla.as_ref())
    {
        Some(Sla::P95 { p95_ms, metric }) => Some((metric.clone(), *p95_ms)),
        _ => None,
    }
}

/// A series' labels.
type Labels = BTreeMap<String, String>;

/// One number per series from an instant query; an empty answer is no data, not zero.
fn per_series(prometheus: &Prometheus, expr: &str, at: i64) -> Result<Vec<(Labels, f64)>, String> {
    match prometheus.query(expr, at)? {
        api::QueryResult::Vector(samples) => Ok(samples
            .into_iter()
            .map(|sample| (sample.labels, sample.value))
            .collect()),
        api::QueryResult::Scalar { value, .. } => Ok(vec![(BTreeMap::new(), value)]),
        api::QueryResult::Matrix(_) => Err(format!("`{expr}` gave a range, not one value")),
    }
}

fn uptime(
    prometheus: &Prometheus,
    selector: &Selector,
    window: Window,
    config: &Config,
) -> Result<UptimeMeasure, String> {
    let days = window.days;
    let ups = per_series(prometheus, &promql::uptime(selector, days), window.to)?;
    if ups.is_empty() {
        return Err(format!(
            "Prometheus has no `up` series for {selector} in the last {days} days"
        ));
    }
    let counts = per_series(prometheus, &promql::samples(selector, days), window.to)?;
    let fewest = counts
        .iter()
        .map(|(_, count)| *count)
        .fold(f64::INFINITY, f64::min);
    let expected =
        (f64::from(days) * 86_400.0) / config.observability.scrape_interval.as_secs_f64();
    let coverage = if counts.len() < ups.len() || !fewest.is_finite() {
        0.0
    } else {
        fewest / expected * 100.0
    };
    // A NaN of any series makes the whole figure NaN, which the gate refuses.
    let percent = ups
        .iter()
        .map(|(_, up)| *up * 100.0)
        .fold(f64::INFINITY, |worst, up| {
            if up.is_nan() || worst.is_nan() {
                f64::NAN
            } else {
                worst.min(up)
            }
        });
    // A NaN figure fails the gate whatever the hours say: no need to ask for them.
    let worst_hour = if percent.is_finite() {
        worst_hour(prometheus, selector, window)?
    } else {
        None
    };
    Ok(UptimeMeasure {
        percent,
        coverage,
        series: ups.len(),
        worst_hour,
    })
}

/// The hour of the window with the lowest uptime, from a range query at one point per hour.
fn worst_hour(
    prometheus: &Prometheus,
    selector: &Selector,
    window: Window,
) -> Result<Option<(i64, f64)>, String> {
    let answer = prometheus.query_range(
        &promql::hourly(selector),
        window.from + 3600,
        window.to,
        3600,
    )?;
    let api::QueryResult::Matrix(series) = answer else {
        return Err("the hourly uptime query gave no range".to_owned());
    };
    let worst = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(_, value)| value.is_finite())
        .fold(None::<(f64, f64)>, |worst, &(at, value)| match worst {
            Some((_, lowest)) if lowest <= value => worst,
            _ => Some((at, value)),
        });
    // Each point is the average of the hour before it.
    Ok(worst.map(|(at, value)| (at as i64 - 3600, value * 100.0)))
}

fn latency(
    prometheus: &Prometheus,
    selector: &Selector,
    window: Window,
    metric: &str,
) -> Result<f64, String> {
    let expr = promql::p95(metric, selector, window.days);
    let values = per_series(prometheus, &expr, window.to)?;
    match values.as_slice() {
        [] => Err(format!(
            "Prometheus has no `{metric}_bucket` series for {selector} in the last {} days",
            window.days
        )),
        [(_, seconds)] if seconds.is_nan() => Err(format!(
            "the 95th percentile of `{metric}` is NaN: no requests were measured in the window"
        )),
        [(_, seconds)] if !seconds.is_finite() => Err(format!(
            "the 95th percentile of `{metric}` is beyond the histogram's largest bucket"
        )),
        [(_, seconds)] => Ok(seconds * 1000.0),
        _ => Err(format!("`{expr}` gave more than one series")),
    }
}

fn target(prometheus: &Prometheus, selector: &Selector) -> Result<String, String> {
    let targets = prometheus.targets()?;
    let mine: Vec<_> = targets
        .iter()
        .filter(|t| selector.selects(&t.labels))
        .collect();
    if let Some(healthy) = mine.iter().find(|t| t.health == "up") {
        return Ok(format!("{} is up", healthy.scrape_url));
    }
    match mine.first() {
        None => Err(format!(
            "Prometheus scrapes no active target labelled {selector}"
        )),
        Some(target) => Err(format!(
            "the target {} is {}{}",
            target.scrape_url,
            target.health,
            if target.last_error.is_empty() {
                String::new()
            } else {
                format!(": {}", target.last_error)
            }
        )),
    }
}

/// Alerting rules whose expression names every matcher of the selector (Prometheus prints
/// expressions in one canonical form, `up{job="carbon"}`), or whose labels carry them.
fn alert_rules(prometheus: &Prometheus, selector: &Selector) -> Result<Vec<String>, String> {
    let rules = prometheus.alert_rules()?;
    let matchers: Vec<String> = selector
        .labels()
        .iter()
        .map(|(name, value)| Selector::new(vec![(name.clone(), value.clone())]).matchers())
        .collect();
    Ok(rules
        .into_iter()
        .filter(|rule| {
            matchers.iter().all(|m| rule.query.contains(m.as_str()))
                || selector.selects(&rule.labels)
        })
        .map(|rule| rule.name)
        .collect())
}
