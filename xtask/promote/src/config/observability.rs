//! The Production-evidence side of `xtask.toml`: `[observability]` (the uptime minimum, the
//! coverage a window must have, the scrape interval, the deadline of one Prometheus request),
//! `[observability.prometheus.<stage>]` (where that stage's Prometheus answers), and each
//! component's `metrics` selector and `sla`, checked where they are written.
//!
//! A selector is a table of label names to values, never PromQL text: we write the matchers
//! ourselves, escaped, so nothing in the file can change the query around them.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use indexmap::IndexMap;
use toml::Spanned;

use super::Locator;
use super::raw::{RawComponent, RawObservability, RawPrometheus, RawSla};
use crate::vocab::Stage;

/// The checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Observability {
    pub uptime_min: f64,
    pub coverage_min: f64,
    pub scrape_interval: Duration,
    pub timeout: Duration,
    pub prometheus: BTreeMap<Stage, PrometheusSource>,
    /// Components that set `metrics` or `sla`, by name.
    pub components: BTreeMap<String, ComponentMetrics>,
}

impl Default for Observability {
    fn default() -> Self {
        Observability {
            uptime_min: DEFAULT_UPTIME_MIN,
            coverage_min: DEFAULT_COVERAGE_MIN,
            scrape_interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            prometheus: BTreeMap::new(),
            components: BTreeMap::new(),
        }
    }
}

/// The users' exit criterion: 7-day uptime in Staging of at least 99.5 %.
pub const DEFAULT_UPTIME_MIN: f64 = 99.5;
pub const DEFAULT_COVERAGE_MIN: f64 = 95.0;
/// The histogram the Prometheus client libraries name for HTTP request durations.
pub const DEFAULT_LATENCY_METRIC: &str = "http_request_duration_seconds";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrometheusUrl {
    Written(String),
    /// The name of the variable that holds it.
    Env(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusSource {
    pub url: PrometheusUrl,
    pub token_env: Option<String>,
}

/// A component's selector and SLA as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComponentMetrics {
    /// Label name -> value; `None`: `job` = the component's compose service.
    pub selector: Option<Vec<(String, String)>>,
    pub sla: Option<Sla>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Sla {
    /// `sla = "none"`: the component has no latency objective, on purpose.
    None,
    P95 {
        p95_ms: f64,
        metric: String,
    },
}

/// Prometheus's label-name alphabet, `[a-zA-Z_][a-zA-Z0-9_]*`, without the reserved `__`.
pub fn valid_label_name(name: &str) -> bool {
    super::values::valid_variable_name(name) && !name.starts_with("__")
}

/// Prometheus's metric-name alphabet, `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

pub(super) fn build(
    raw: Option<&RawObservability>,
    components: &IndexMap<String, Spanned<RawComponent>>,
    at: &Locator<'_>,
) -> Result<Observability> {
    let mut settings = Observability::default();
    for (name, spanned) in components {
        let component = spanned.get_ref();
        if let Some(metrics) =
            component_metrics(name, component.metrics.as_ref(), component.sla.as_ref(), at)?
        {
            settings.components.insert(name.clone(), metrics);
        }
    }
    let Some(raw) = raw else {
        return Ok(settings);
    };
    let percent = |value: &Option<Spanned<f64>>, key: &str, default: f64| -> Result<f64> {
        match value {
            None => Ok(default),
            Some(v) if (0.0..=100.0).contains(v.get_ref()) && *v.get_ref() > 0.0 => {
                Ok(*v.get_ref())
            }
            Some(v) => Err(at.error(
                v,
                format!(
                    "observability.{key} = {}: expected a percentage above 0 and at most 100",
                    v.get_ref()
                ),
            )),
        }
    };
    settings.uptime_min = percent(&raw.uptime_min, "uptime_min", DEFAULT_UPTIME_MIN)?;
    settings.coverage_min = percent(&raw.coverage_min, "coverage_min", DEFAULT_COVERAGE_MIN)?;
    if let Some(seconds) = &raw.scrape_interval_seconds {
        if !(1..=3600).contains(seconds.get_ref()) {
            return Err(at.error(
                seconds,
                "observability.scrape_interval_seconds must be between 1 and 3600".to_owned(),
            ));
        }
        settings.scrape_interval = Duration::from_secs(*seconds.get_ref());
    }
    if let Some(ms) = &raw.timeout_ms {
        if !(1..=600_000).contains(ms.get_ref()) {
            return Err(at.error(
                ms,
                "observability.timeout_ms must be between 1 and 600000".to_owned(),
            ));
        }
        settings.timeout = Duration::from_millis(*ms.get_ref());
    }
    for (name, spanned) in &raw.prometheus {
        let stage: Stage = name.parse().map_err(|_| {
            at.error(
                spanned,
                format!(
                    "[observability.prometheus.{}] is not a stage: expected development, staging or production",
                    name.escape_debug()
                ),
            )
        })?;
        settings
            .prometheus
            .insert(stage, prometheus_source(name, spanned, at)?);
    }
    Ok(settings)
}

fn prometheus_source(
    name: &str,
    spanned: &Spanned<RawPrometheus>,
    at: &Locator<'_>,
) -> Result<PrometheusSource> {
    let raw = spanned.get_ref();
    let variable = |field: &Spanned<String>, key: &str| -> Result<String> {
        let text = field.get_ref();
        if super::values::valid_variable_name(text) && !text.bytes().any(|b| b.is_ascii_lowercase())
        {
            Ok(text.clone())
        } else {
            Err(at.error(
                field,
                format!(
                    "[observability.prometheus.{name}] {key} must name an environment variable (A-Z, 0-9, _), not hold its value"
                ),
            ))
        }
    };
    let url = match (&raw.url, &raw.url_env) {
        (Some(url), None) => {
            crate::remote_cache::protocol::base_url(url.get_ref()).map_err(|reason| {
                at.error(
                    url,
                    format!("[observability.prometheus.{name}] url {reason}"),
                )
            })?;
            PrometheusUrl::Written(url.get_ref().trim_end_matches('/').to_owned())
        }
        (None, Some(env)) => PrometheusUrl::Env(variable(env, "url_env")?),
        _ => {
            return Err(at.error(
                spanned,
                format!(
                    "[observability.prometheus.{name}] needs exactly one of `url` (e.g. \"http://prometheus.staging:9090\") or `url_env` (the variable holding it)"
                ),
            ));
        }
    };
    let token_env = raw
        .token_env
        .as_ref()
        .map(|env| variable(env, "token_env"))
        .transpose()?;
    Ok(PrometheusSource { url, token_env })
}

/// A component's `metrics` table and `sla`, checked.
fn component_metrics(
    name: &str,
    metrics: Option<&Spanned<IndexMap<String, String>>>,
    sla: Option<&Spanned<RawSla>>,
    at: &Locator<'_>,
) -> Result<Option<ComponentMetrics>> {
    if metrics.is_none() && sla.is_none() {
        return Ok(None);
    }
    let selector = match metrics {
        None => None,
        Some(table) => {
            if table.get_ref().is_empty() {
                return Err(at.error(
                    table,
                    format!(
                        "component `{name}`: metrics is empty: name the labels of its series, e.g. {{ job = \"{name}\" }}"
                    ),
                ));
            }
            let mut labels = Vec::new();
            for (label, value) in table.get_ref() {
                if !valid_label_name(label) || value.is_empty() || value.contains('\0') {
                    return Err(at.error(
                        table,
                        format!(
                            "component `{name}`: metrics label `{}` = `{}`: label names are letters, digits and `_` (not starting with `__`), values are not empty",
                            label.escape_debug(),
                            value.escape_debug()
                        ),
                    ));
                }
                labels.push((label.clone(), value.clone()));
            }
            Some(labels)
        }
    };
    let sla = match sla {
        None => None,
        Some(spanned) => Some(match spanned.get_ref() {
            RawSla::Word(word) if word == "none" => Sla::None,
            RawSla::Word(word) => {
                return Err(at.error(
                    spanned,
                    format!(
                        "component `{name}`: sla = `{}`: write a table ([components.{name}.sla] p95_ms = 300) or \"none\"",
                        word.escape_debug()
                    ),
                ));
            }
            RawSla::Declared(table) => {
                if !(table.p95_ms.is_finite() && table.p95_ms > 0.0 && table.p95_ms <= 3_600_000.0)
                {
                    return Err(at.error(
                        spanned,
                        format!(
                            "component `{name}`: sla.p95_ms = {}: expected milliseconds above 0 and at most an hour",
                            table.p95_ms
                        ),
                    ));
                }
                let metric = table
                    .metric
                    .clone()
                    .unwrap_or_else(|| DEFAULT_LATENCY_METRIC.to_owned());
                if !valid_metric_name(&metric) {
                    return Err(at.error(
                        spanned,
                        format!(
                            "component `{name}`: sla.metric `{}` is not a metric name (letters, digits, `_`, `:`)",
                            metric.escape_debug()
                        ),
                    ));
                }
                Sla::P95 {
                    p95_ms: table.p95_ms,
                    metric,
                }
            }
        }),
    };
    Ok(Some(ComponentMetrics { selector, sla }))
}

#[cfg(test)]
mod tests {
    use super::super::{Config, parse};
    use super::*;

    fn config(component_keys: &str, tail: &str) -> Result<Config> {
        let text = format!(
            r#"{}
[components.carbon]
display_name = "Carbon"
group = "Core Infrastructure"
source = "src/components/carbon_component.py"
service = "carbon-api"
{component_keys}
{tail}"#,
            super::super::test_registry_head(&["Core Infrastructure"])
        );
        parse(&text, &std::env::temp_dir().join("xtask.toml"))
    }

    fn error_of(component_keys: &str, tail: &str) -> String {
        format!("{:#}", config(component_keys, tail).unwrap_err())
    }

    #[test]
    fn defaults_hold_without_the_section() {
        let config = config("", "").unwrap();
        assert_eq!(config.observability, Observability::default());
        assert_eq!(config.observability.uptime_min, 99.5);
    }

    #[test]
    fn settings_selectors_and_slas_load() {
        let config = config(
            "metrics = { job = \"carbon\", env = \"staging\" }\n[components.carbon.sla]\np95_ms = 300\n",
            r#"[observability]
uptime_min = 99.9
scrape_interval_seconds = 30
timeout_ms = 2500
[observability.prometheus.staging]
url = "http://prometheus.staging:9090/"
token_env = "PROM_TOKEN"
[observability.prometheus.production]
url_env = "PROM_PRODUCTION_URL"
"#,
        )
        .unwrap();
        let o = &config.observability;
        assert_eq!(o.uptime_min, 99.9);
        assert_eq!(o.scrape_interval, Duration::from_secs(30));
        assert_eq!(o.timeout, Duration::from_millis(2500));
        let staging = o.prometheus.get(&Stage::Staging).unwrap();
        assert_eq!(
            staging.url,
            PrometheusUrl::Written("http://prometheus.staging:9090".into())
        );
        assert_eq!(staging.token_env.as_deref(), Some("PROM_TOKEN"));
        assert_eq!(
            o.prometheus.get(&Stage::Production).unwrap().url,
            PrometheusUrl::Env("PROM_PRODUCTION_URL".into())
        );
        let carbon = o.components.get("carbon").unwrap();
        assert_eq!(
            carbon.selector.as_deref().unwrap(),
            [
                ("job".to_owned(), "carbon".to_owned()),
                ("env".to_owned(), "staging".to_owned())
            ]
        );
        assert_eq!(
            carbon.sla,
            Some(Sla::P95 {
                p95_ms: 300.0,
                metric: DEFAULT_LATENCY_METRIC.into()
            })
        );
        let none = config_sla_none();
        assert_eq!(none, Some(Sla::None));
    }

    fn config_sla_none() -> Option<Sla> {
        config("sla = \"none\"", "")
            .unwrap()
            .observability
            .components
            .get("carbon")
            .and_then(|c| c.sla.clone())
    }

    #[test]
    fn bad_values_are_refused_where_they_are_written() {
        for (keys, tail, expected) in [
            (
                "",
                "[observability]\nuptime_min = 101.0\n",
                "uptime_min = 101",
            ),
            (
                "",
                "[observability]\nuptime_min = nan\n",
                "uptime_min = NaN",
            ),
            (
                "",
                "[observability]\ncoverage_min = 0.0\n",
                "coverage_min = 0",
            ),
            (
                "",
                "[observability]\nscrape_interval_seconds = 0\n",
                "scrape_interval_seconds",
            ),
            ("", "[observability]\ntimeout_ms = 0\n", "timeout_ms"),
            ("", "[observability]\nwhat = 1\n", "what"),
            (
                "",
                "[observability.prometheus.qa]\nurl = \"http://x:9090\"\n",
                "is not a stage",
            ),
            (
                "",
                "[observability.prometheus.staging]\nurl = \"ftp://x\"\n",
                "url",
            ),
            (
                "",
                "[observability.prometheus.staging]\n",
                "exactly one of `url`",
            ),
            (
                "",
                "[observability.prometheus.staging]\nurl_env = \"secret-value\"\n",
                "must name an environment variable",
            ),
            ("metrics = {}", "", "metrics is empty"),
            ("metrics = { \"a-b\" = \"x\" }", "", "label `a-b`"),
            ("metrics = { __name__ = \"x\" }", "", "label `__name__`"),
            ("metrics = { job = \"\" }", "", "values are not empty"),
            ("sla = \"later\"", "", "sla = `later`"),
            ("sla = { p95_ms = 0.0 }", "", "p95_ms = 0"),
            ("sla = { p95_ms = inf }", "", "p95_ms = inf"),
            (
                "sla = { p95_ms = 10.0, metric = \"a{b}\" }",
                "",
                "is not a metric name",
            ),
        ] {
            let message = error_of(keys, tail);
            assert!(message.contains(expected), "{keys} {tail}: {message}");
            assert!(message.contains("xtask.toml:"), "{keys} {tail}: {message}");
        }
    }

    #[test]
    fn production_adds_its_readme_sections_and_they_are_configurable() {
        let config = config("", "").unwrap();
        assert_eq!(
            config.policy.readme_sections_for(Stage::Staging),
            ["Overview", "Usage", "API", "Testing"]
        );
        assert_eq!(
            config.policy.readme_sections_for(Stage::Production),
            [
                "Overview",
                "Usage",
                "API",
                "Testing",
                "Troubleshooting",
                "Runbook"
            ]
        );
        let text = format!(
            "{}[policy.readme_sections_by_stage]\nstaging = [\"Changelog\"]\n",
            super::super::test_registry_head(&["Core Infrastructure"])
        )
        .replace("[tools]", "[components.carbon]\ndisplay_name = \"C\"\ngroup = \"Core Infrastructure\"\nsource = \"c.py\"\n[tools]");
        let config = parse(&text, &std::env::temp_dir().join("xtask.toml")).unwrap();
        assert_eq!(
            config
                .policy
                .readme_sections_for(Stage::Staging)
                .last()
                .unwrap(),
            "Changelog"
        );
        assert_eq!(
            config.policy.readme_sections_for(Stage::Production).len(),
            4
        );
        let bad = text.replace("\"Changelog\"", "\"## Changelog\"");
        let message = format!(
            "{:#}",
            parse(&bad, &std::env::temp_dir().join("xtask.toml")).unwrap_err()
        );
        assert!(
            message.contains("policy.readme_sections_by_stage.staging entry"),
            "{message}"
        );
    }
}
