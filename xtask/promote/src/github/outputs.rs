//! `$GITHUB_OUTPUT`: step outputs in the runner's multi-line form, `name<<DELIMITER`, value,
//! `DELIMITER`. Values can hold newlines and anything else; a value that contains the
//! delimiter line would end it early and inject outputs, so that is an error, never written.

use anyhow::{Result, bail};

use crate::report::PromotionReport;

/// The `$GITHUB_OUTPUT` text for `pairs`, with `delimiter` (use `super::random_token`).
pub fn render(pairs: &[(String, String)], delimiter: &str) -> Result<String> {
    let delimiter = format!("ghadelimiter_{delimiter}");
    let mut out = String::new();
    for (name, value) in pairs {
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !plain {
            bail!("step output name `{}` is not plain", name.escape_debug());
        }
        if value.lines().any(|line| line == delimiter) || value.contains(&delimiter) {
            bail!("the value of step output `{name}` contains the delimiter");
        }
        out.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    Ok(out)
}

/// What later steps want from promotion reports: the verdict, coverage and the stages of a
/// single component, and for any number of them a JSON list of the same.
pub fn for_reports(reports: &[PromotionReport]) -> Vec<(String, String)> {
    let coverage = |r: &PromotionReport| r.summary.coverage.map(|c| format!("{c:.2}"));
    let mut pairs = vec![(
        "promotable".to_owned(),
        (!reports.is_empty() && reports.iter().all(|r| r.promotable)).to_string(),
    )];
    if let [report] = reports {
        pairs.extend([
            ("component".to_owned(), report.component.clone()),
            // Empty when pytest measured nothing: never 0, which would read as a measurement.
            ("coverage".to_owned(), coverage(report).unwrap_or_default()),
            ("from_stage".to_owned(), report.from_stage.id().to_owned()),
            ("to_stage".to_owned(), report.to_stage.id().to_owned()),
        ]);
    }
    let list: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            serde_json::json!({
                "component": r.component,
                "promotable": r.promotable,
                "coverage": r.summary.coverage,
                "from_stage": r.from_stage,
                "to_stage": r.to_stage,
            })
        })
        .collect();
    pairs.push((
        "components".to_owned(),
        serde_json::Value::Array(list).to_string(),
    ));
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn values_are_framed_by_the_delimiter_even_with_newlines() {
        let text = render(&pairs(&[("promotable", "false"), ("note", "a\nb")]), "t0k").unwrap();
        insta::assert_snapshot!(text, @r"
        promotable<<ghadelimiter_t0k
        false
        ghadelimiter_t0k
        note<<ghadelimiter_t0k
        a
        b
        ghadelimiter_t0k
        ");
    }

    #[test]
    fn a_value_holding_the_delimiter_or_a_bad_name_is_refused() {
        let injected = "x\nghadelimiter_t0k\nadmin<<EOF\ntrue";
        assert!(render(&pairs(&[("note", injected)]), "t0k").is_err());
        assert!(render(&pairs(&[("a=b", "x")]), "t0k").is_err());
        assert!(render(&pairs(&[("a\nb", "x")]), "t0k").is_err());
    }
}
