//! The PromQL we run, written in one place so the README can show exactly these queries: label
//! matchers built from the checked selector with every value escaped as a PromQL string, so a
//! value from xtask.toml is always data, never query text.

use crate::config::Config;

/// A component's label matchers (`job="carbon",env="staging"`), names already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector(Vec<(String, String)>);

impl Selector {
    pub fn new(labels: Vec<(String, String)>) -> Selector {
        Selector(labels)
    }

    /// The component's `metrics` table, else `job` = its compose service; `None` when it has
    /// neither, so no query can select another component's series by accident.
    pub fn of(config: &Config, component: &str) -> Option<Selector> {
        if let Some(labels) = config
            .observability
            .components
            .get(component)
            .and_then(|m| m.selector.clone())
        {
            return Some(Selector(labels));
        }
        config
            .service_settings(component)
            .service
            .map(|service| Selector(vec![("job".to_owned(), service)]))
    }

    pub fn labels(&self) -> &[(String, String)] {
        &self.0
    }

    /// `job="carbon",env="staging"`: the inside of `{…}`.
    pub fn matchers(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether a series with these labels is one of the component's.
    pub fn selects(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        self.0
            .iter()
            .all(|(name, value)| labels.get(name) == Some(value))
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{}}}", self.matchers())
    }
}

/// A PromQL double-quoted string's inside.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// The share of scrapes that found the target up over the window, per series.
pub fn uptime(selector: &Selector, days: u32) -> String {
    format!("avg_over_time(up{selector}[{days}d])")
}

/// How many scrapes there were, per series: coverage of the window.
pub fn samples(selector: &Selector, days: u32) -> String {
    format!("count_over_time(up{selector}[{days}d])")
}

/// Uptime per hour, asked as a range over the window to find the worst hour.
pub fn hourly(selector: &Selector) -> String {
    format!("min(avg_over_time(up{selector}[1h]))")
}

/// The 95th-percentile latency over the window, in seconds, from a histogram.
pub fn p95(metric: &str, selector: &Selector, days: u32) -> String {
    format!("histogram_quantile(0.95, sum by (le) (rate({metric}_bucket{selector}[{days}d])))")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector() -> Selector {
        Selector::new(vec![
            ("job".into(), "carbon".into()),
            ("note".into(), "a\"b\\c\nd".into()),
        ])
    }

    #[test]
    fn values_are_escaped_as_promql_strings() {
        assert_eq!(
            selector().to_string(),
            r#"{job="carbon",note="a\"b\\c\nd"}"#
        );
    }

    #[test]
    fn the_queries_are_the_documented_ones() {
        let s = Selector::new(vec![("job".into(), "carbon".into())]);
        assert_eq!(uptime(&s, 7), r#"avg_over_time(up{job="carbon"}[7d])"#);
        assert_eq!(samples(&s, 7), r#"count_over_time(up{job="carbon"}[7d])"#);
        assert_eq!(hourly(&s), r#"min(avg_over_time(up{job="carbon"}[1h]))"#);
        assert_eq!(
            p95("http_request_duration_seconds", &s, 7),
            r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="carbon"}[7d])))"#
        );
    }

    #[test]
    fn selection_needs_every_label() {
        let s = Selector::new(vec![("job".into(), "carbon".into())]);
        let mut labels = std::collections::BTreeMap::new();
        labels.insert("job".to_owned(), "carbon".to_owned());
        labels.insert("instance".to_owned(), "a:1".to_owned());
        assert!(s.selects(&labels));
        labels.insert("job".to_owned(), "carbon2".to_owned());
        assert!(!s.selects(&labels));
    }
}
