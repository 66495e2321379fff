//! Range and name checks of the values written in xtask.toml, each refused where it is written
//! (exit 2 with file:line:column): a value that loads but would crash or mislead later (a
//! timeout of 2^63 seconds overflows the deadline, 10^8 observation days overflow a date, a
//! coverage threshold of `nan` compares false with everything, an empty README section is met
//! by any file) is a mistake in the file, found when it loads.

use anyhow::Result;
use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::Locator;

/// The longest a tool, `setup` or one compose command may run: a day.
pub const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;
/// The longest observation period: ten years.
pub const MAX_OBSERVATION_DAYS: i64 = 3650;

/// The same file read again, keeping the place of each value checked here. Types were checked
/// by the typed parse before, so every field is lenient.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Written {
    project: Option<WrittenProject>,
    thresholds: IndexMap<String, Spanned<toml::Value>>,
    policy: WrittenPolicy,
    timeouts: IndexMap<String, Spanned<u64>>,
    env: WrittenEnv,
    groups: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WrittenProject {
    root: Option<Spanned<String>>,
    python: Option<Spanned<String>>,
    reports: Option<Spanned<String>>,
    extras: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WrittenPolicy {
    observation_days: Option<Spanned<i64>>,
    security_fail_on: Option<Spanned<String>>,
    readme_sections: Vec<Spanned<String>>,
    readme_sections_by_stage: IndexMap<String, Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WrittenEnv {
    pass: Vec<Spanned<String>>,
    set: IndexMap<String, Spanned<String>>,
}

/// Runs every check of this module over `text`, which the typed parse accepted.
pub(super) fn check(text: &str, at: &Locator<'_>) -> Result<()> {
    let written: Written = toml::from_str(text).map_err(|error| super::toml_error(&error, at))?;
    if let Some(project) = &written.project {
        check_project(project, at)?;
    }
    check_thresholds(&written.thresholds, at)?;
    check_policy(&written.policy, at)?;
    check_timeouts(&written.timeouts, at)?;
    check_env(&written.env, at)?;
    if let Some(groups) = &written.groups {
        check_groups(groups, at)?;
    }
    Ok(())
}

fn check_project(project: &WrittenProject, at: &Locator<'_>) -> Result<()> {
    for (key, value) in [
        ("project.root", &project.root),
        ("project.reports", &project.reports),
    ] {
        if let Some(value) = value {
            super::relative_path(value.get_ref(), key)
                .map_err(|e| at.error(value, e.to_string()))?;
        }
    }
    if let Some(python) = &project.python
        && !std::path::Path::new(python.get_ref()).is_absolute()
    {
        super::relative_path(python.get_ref(), "project.python")
            .map_err(|e| at.error(python, e.to_string()))?;
    }
    for extra in &project.extras {
        if !valid_extra(extra.get_ref()) {
            return Err(at.error(
                extra,
                format!(
                    "project.extras `{}` is not an extra's name: letters, digits, `.`, `_` and `-`",
                    extra.get_ref().escape_debug()
                ),
            ));
        }
    }
    Ok(())
}

/// A distribution extra's name (PEP 685's normalised alphabet, any case).
fn valid_extra(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Percentages from 0 to 100 that never fall from one stage to the next: a component that met
/// Staging's threshold must not be able to fail Development's.
fn check_thresholds(
    thresholds: &IndexMap<String, Spanned<toml::Value>>,
    at: &Locator<'_>,
) -> Result<()> {
    let mut previous: Option<(&str, f64)> = None;
    for stage in ["development", "staging", "production"] {
        let Some(value) = thresholds.get(stage) else {
            continue;
        };
        let number = match value.get_ref() {
            toml::Value::Float(f) => *f,
            toml::Value::Integer(i) => *i as f64,
            _ => continue,
        };
        if !number.is_finite() || !(0.0..=100.0).contains(&number) {
            return Err(at.error(
                value,
                format!(
                    "thresholds.{stage} = {} is not a percentage between 0 and 100",
                    value.get_ref()
                ),
            ));
        }
        if let Some((lower, below)) = previous
            && number < below
        {
            return Err(at.error(
                value,
                format!(
                    "thresholds.{stage} = {number} is below thresholds.{lower} = {below}: a later stage needs at least the coverage of an earlier one"
                ),
            ));
        }
        previous = Some((stage, number));
    }
    Ok(())
}

fn check_policy(policy: &WrittenPolicy, at: &Locator<'_>) -> Result<()> {
    if let Some(days) = &policy.observation_days
        && !(0..=MAX_OBSERVATION_DAYS).contains(days.get_ref())
    {
        return Err(at.error(
            days,
            format!(
                "policy.observation_days = {}: expected days between 0 and {MAX_OBSERVATION_DAYS}",
                days.get_ref()
            ),
        ));
    }
    if let Some(severity) = &policy.security_fail_on
        && super::SecuritySeverity::parse(severity.get_ref()).is_none()
    {
        return Err(at.error(
            severity,
            format!(
                "policy.security_fail_on = `{}`: expected low, medium or high",
                severity.get_ref().escape_debug()
            ),
        ));
    }
    check_sections(&policy.readme_sections, "policy.readme_sections", at)?;
    for (stage, sections) in &policy.readme_sections_by_stage {
        check_sections(
            sections,
            &format!("policy.readme_sections_by_stage.{stage}"),
            at,
        )?;
    }
    Ok(())
}

/// README section names: one line of heading text each, listed once.
fn check_sections(sections: &[Spanned<String>], key: &str, at: &Locator<'_>) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for section in sections {
        let name = section.get_ref();
        let problem = if name.trim().is_empty() {
            Some("is empty: every README would have it")
        } else if name.chars().any(char::is_control) {
            Some("holds a line break or control character: a heading is one line")
        } else if name.starts_with('#') || name != name.trim() {
            Some("is a heading's text: write it without `#` and surrounding blanks")
        } else if seen.contains(&name.as_str()) {
            Some("is listed twice")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(at.error(
                section,
                format!("{key} entry \"{}\" {problem}", name.escape_debug()),
            ));
        }
        seen.push(name);
    }
    Ok(())
}

/// Every entry of `[timeouts]` (tools, `setup`, `compose`): whole seconds from 1 to a day.
fn check_timeouts(timeouts: &IndexMap<String, Spanned<u64>>, at: &Locator<'_>) -> Result<()> {
    for (name, seconds) in timeouts {
        if !(1..=MAX_TIMEOUT_SECS).contains(seconds.get_ref()) {
            return Err(at.error(
                seconds,
                format!(
                    "timeouts.{name} = {}: a timeout is whole seconds from 1 to {MAX_TIMEOUT_SECS} (a day)",
                    seconds.get_ref()
                ),
            ));
        }
    }
    Ok(())
}

/// A variable name as POSIX shells and `env` accept it.
pub fn valid_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn check_env(env: &WrittenEnv, at: &Locator<'_>) -> Result<()> {
    for name in &env.pass {
        if !valid_variable_name(name.get_ref()) {
            return Err(at.error(
                name,
                format!(
                    "env.pass entry \"{}\" is not a variable name (letters, digits and `_`, not starting with a digit)",
                    name.get_ref().escape_debug()
                ),
            ));
        }
    }
    for (name, value) in &env.set {
        if !valid_variable_name(name) {
            return Err(at.error(
                value,
                format!(
                    "env.set key \"{}\" is not a variable name (letters, digits and `_`, not starting with a digit)",
                    name.escape_debug()
                ),
            ));
        }
        if value.get_ref().contains('\0') {
            return Err(at.error(
                value,
                format!("env.set.{name} holds a NUL character, which no environment can carry"),
            ));
        }
    }
    Ok(())
}

fn check_groups(groups: &Spanned<Vec<Spanned<String>>>, at: &Locator<'_>) -> Result<()> {
    if groups.get_ref().is_empty() {
        return Err(at.error(
            groups,
            "`groups` is empty: list the functional groups components belong to".to_owned(),
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for group in groups.get_ref() {
        let name = group.get_ref();
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(at.error(
                group,
                format!(
                    "group \"{}\" is empty or holds a control character: name it in words",
                    name.escape_debug()
                ),
            ));
        }
        if seen.contains(&name.as_str()) {
            return Err(at.error(group, format!("group \"{name}\" is listed twice")));
        }
        seen.push(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_are_posix_names() {
        for ok in ["A", "_X", "PYTHONPATH", "a1_b"] {
            assert!(valid_variable_name(ok), "{ok}");
        }
        for bad in ["", "1A", "BAD=NAME", "A B", "É", "A-B"] {
            assert!(!valid_variable_name(bad), "{bad}");
        }
    }
}
