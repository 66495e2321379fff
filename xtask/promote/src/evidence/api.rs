//! Pure parsers of Prometheus's HTTP API answers: `/api/v1/query` and `/api/v1/query_range`
//! (vector, matrix, scalar), `/api/v1/targets` and `/api/v1/rules`. Values arrive as strings
//! (`"0.995"`, `"NaN"`, `"+Inf"`); they are parsed here and kept as they are, so a caller decides
//! what a NaN means (never a pass). An answer that is not what the API documents is an error.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One series' value at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    /// Seconds since the epoch.
    pub at: f64,
    pub value: f64,
}

/// One series over a range.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    /// (seconds since the epoch, value), in time order.
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
    Scalar { at: f64, value: f64 },
}

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct RawSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: Option<(f64, String)>,
    values: Option<Vec<(f64, String)>>,
}

/// The body of an answer whose `status` is `success`, or the error Prometheus gave.
fn unwrap_envelope<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    let envelope: Envelope<T> = serde_json::from_slice(body)
        .map_err(|e| format!("the answer is not Prometheus API JSON: {e}"))?;
    if envelope.status != "success" {
        return Err(format!(
            "Prometheus answered {} ({}): {}",
            envelope.status.escape_debug(),
            envelope
                .error_type
                .as_deref()
                .unwrap_or("no type")
                .escape_debug(),
            envelope
                .error
                .as_deref()
                .unwrap_or("no message")
                .escape_debug()
        ));
    }
    envelope
        .data
        .ok_or_else(|| "the answer has status success but no data".to_owned())
}

/// A sample value as Prometheus writes it: a float, `NaN`, `+Inf` or `-Inf`.
pub fn value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text
            .parse()
            .map_err(|_| format!("`{}` is not a sample value", text.escape_debug())),
    }
}

/// `/api/v1/query` or `/api/v1/query_range`.
pub fn parse_query(body: &[u8]) -> Result<QueryResult, String> {
    let data: QueryData = unwrap_envelope(body)?;
    match data.result_type.as_str() {
        "vector" => {
            let raw: Vec<RawSample> = serde_json::from_value(data.result)
                .map_err(|e| format!("a vector result does not parse: {e}"))?;
            let mut samples = Vec::with_capacity(raw.len());
            for sample in raw {
                let (at, text) = sample
                    .value
                    .ok_or_else(|| "a vector sample has no `value`".to_owned())?;
                samples.push(Sample {
                    labels: sample.metric,
                    at,
                    value: value(&text)?,
                });
            }
            Ok(QueryResult::Vector(samples))
        }
        "matrix" => {
            let raw: Vec<RawSample> = serde_json::from_value(data.result)
                .map_err(|e| format!("a matrix result does not parse: {e}"))?;
            let mut series = Vec::with_capacity(raw.len());
            for one in raw {
                let values = one
                    .values
                    .ok_or_else(|| "a matrix series has no `values`".to_owned())?;
                let points = values
                    .into_iter()
                    .map(|(at, text)| value(&text).map(|v| (at, v)))
                    .collect::<Result<Vec<_>, _>>()?;
                series.push(Series {
                    labels: one.metric,
                    points,
                });
            }
            Ok(QueryResult::Matrix(series))
        }
        "scalar" => {
            let (at, text): (f64, String) = serde_json::from_value(data.result)
                .map_err(|e| format!("a scalar result does not parse: {e}"))?;
            Ok(QueryResult::Scalar {
                at,
                value: value(&text)?,
            })
        }
        other => Err(format!(
            "the query gave a {} result, not a number",
            other.escape_debug()
        )),
    }
}

/// One scrape target, as `/api/v1/targets` lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Target {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `up`, `down` or `unknown` (not scraped yet).
    pub health: String,
    #[serde(rename = "lastError", default)]
    pub last_error: String,
    #[serde(rename = "scrapeUrl", default)]
    pub scrape_url: String,
}

#[derive(Debug, Deserialize)]
struct TargetsData {
    #[serde(rename = "activeTargets", default)]
    active_targets: Vec<Target>,
}

/// `/api/v1/targets`: the active targets.
pub fn parse_targets(body: &[u8]) -> Result<Vec<Target>, String> {
    let data: TargetsData = unwrap_envelope(body)?;
    Ok(data.active_targets)
}

/// One alerting rule, as `/api/v1/rules` lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AlertRule {
    pub name: String,
    /// The PromQL expression, as Prometheus formats it.
    pub query: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct RulesData {
    #[serde(default)]
    groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
struct RuleGroup {
    #[serde(default)]
    rules: Vec<serde_json::Value>,
}

/// `/api/v1/rules`: the alerting rules (recording rules are left out).
pub fn parse_alert_rules(body: &[u8]) -> Result<Vec<AlertRule>, String> {
    let data: RulesData = unwrap_envelope(body)?;
    let mut alerts = Vec::new();
    for group in data.groups {
        for rule in group.rules {
            if rule.get("type").and_then(|t| t.as_str()) != Some("alerting") {
                continue;
            }
            alerts.push(
                serde_json::from_value(rule)
                    .map_err(|e| format!("an alerting rule does not parse: {e}"))?,
            );
        }
    }
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_carry_labels_and_values_including_nan() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"job":"carbon","instance":"a:1"},"value":[1700000000.5,"0.995"]},
            {"metric":{},"value":[1700000000.5,"NaN"]},
            {"metric":{"job":"x"},"value":[1700000000.5,"+Inf"]}]}}"#;
        let QueryResult::Vector(samples) = parse_query(body).unwrap() else {
            panic!("not a vector")
        };
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].labels["job"], "carbon");
        assert_eq!(samples[0].value, 0.995);
        assert_eq!(samples[0].at, 1_700_000_000.5);
        assert!(samples[1].value.is_nan());
        assert!(samples[2].value.is_infinite());
    }

    #[test]
    fn matrices_and_scalars_parse() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"job":"carbon"},"values":[[1,"1"],[3601,"0.5"]]}]}}"#;
        let QueryResult::Matrix(series) = parse_query(body).unwrap() else {
            panic!("not a matrix")
        };
        assert_eq!(series[0].points, vec![(1.0, 1.0), (3601.0, 0.5)]);
        let body = br#"{"status":"success","data":{"resultType":"scalar","result":[2,"-Inf"]}}"#;
        assert_eq!(
            parse_query(body).unwrap(),
            QueryResult::Scalar {
                at: 2.0,
                value: f64::NEG_INFINITY
            }
        );
        let empty = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_query(empty).unwrap(), QueryResult::Vector(vec![]));
    }

    #[test]
    fn errors_and_strange_answers_are_errors_with_the_reason() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#;
        let error = parse_query(body).unwrap_err();
        assert!(error.contains("bad_data"), "{error}");
        assert!(error.contains("parse error at char 4"), "{error}");
        for (body, expected) in [
            (&b"<html>502 Bad Gateway</html>"[..], "not Prometheus API JSON"),
            (br#"{"status":"success"}"#, "no data"),
            (
                br#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#,
                "string result",
            ),
            (
                br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"many"]}]}}"#,
                "`many` is not a sample value",
            ),
            (
                br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}"#,
                "no `value`",
            ),
            (
                br#"{"status":"success","data":{"resultType":"matrix","result":{"a":1}}}"#,
                "matrix result does not parse",
            ),
        ] {
            let error = parse_query(body).unwrap_err();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn targets_and_alerting_rules_parse() {
        let targets = br#"{"status":"success","data":{"activeTargets":[
            {"labels":{"job":"carbon","instance":"c:8000"},"health":"up","lastError":"","scrapeUrl":"http://c:8000/metrics","discoveredLabels":{}}],
            "droppedTargets":[]}}"#;
        let targets = parse_targets(targets).unwrap();
        assert_eq!(targets[0].health, "up");
        assert_eq!(targets[0].labels["job"], "carbon");
        let rules = br#"{"status":"success","data":{"groups":[{"name":"g","file":"r.yml","rules":[
            {"type":"recording","name":"job:up","query":"sum(up)","health":"ok"},
            {"type":"alerting","name":"CarbonDown","query":"up{job=\"carbon\"} == 0","labels":{"severity":"page"},"duration":60,"alerts":[],"health":"ok"}]}]}}"#;
        let alerts = parse_alert_rules(rules).unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].name, "CarbonDown");
        assert_eq!(alerts[0].query, "up{job=\"carbon\"} == 0");
        assert!(parse_targets(br#"{"status":"error","error":"x"}"#).is_err());
    }
}
