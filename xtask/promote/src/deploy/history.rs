//! Pure: the deployment history as typed entries with the line each starts on, and the
//! questions a deploy asks of it: the last proven state of a service, attempts that never
//! finished, the last successful deploy. A record that cannot be true (dated in the future,
//! or not a record at all) is refused with its line, so nothing downstream believes it.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::model::{Attempt, Deployment, Drill, Entry, ProvenState};
use crate::vocab::Stage;

/// The version written now (3 added rollback drills); versions 1 (no attempts, replicas or
/// configurations) and 2 are still read.
pub const SCHEMA_VERSION: u32 = 3;
/// How far ahead of this clock a record may be dated (two machines' clocks disagree a little).
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// A history as read: oldest entry first, each with its line in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub component: String,
    pub entries: Vec<Located>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// 1-based line of the file where the entry starts.
    pub line: usize,
    pub entry: Entry,
}

#[derive(Deserialize)]
struct RawRecord<'a> {
    schema_version: u32,
    component: String,
    #[serde(borrow)]
    deployments: Vec<&'a RawValue>,
}

/// The service a question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub environment: Stage,
    pub project_name: &'a str,
    pub service: &'a str,
}

impl Place<'_> {
    fn holds(&self, entry: &Entry) -> bool {
        entry.place() == (self.environment, self.project_name, self.service)
    }
}

/// Parses a history, refusing another schema version, an entry that is not an intent or a
/// deploy, and an entry dated more than `CLOCK_SKEW` after `now`; each error names its line.
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<History, String> {
    let raw: RawRecord<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if !(1..=SCHEMA_VERSION).contains(&raw.schema_version) {
        return Err(format!(
            "schema_version {} is not {SCHEMA_VERSION} (nor 1 or 2, still read)",
            raw.schema_version
        ));
    }
    let mut entries = Vec::with_capacity(raw.deployments.len());
    for value in raw.deployments {
        let line = line_of(text, value.get());
        let entry = parse_entry(value.get(), line, raw.schema_version)
            .map_err(|e| format!("line {line}: {e}"))?;
        if component_of(&entry) != raw.component {
            return Err(format!(
                "line {line}: an entry of component `{}` in the history of `{}`",
                component_of(&entry),
                raw.component
            ));
        }
        if let Some(at) = dates(&entry).into_iter().find(|at| *at > now + CLOCK_SKEW) {
            return Err(format!(
                "line {line}: an entry dated {} is in the future (this clock says {}): it was not written by a deploy",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        entries.push(Located { line, entry });
    }
    Ok(History {
        component: raw.component,
        entries,
    })
}

/// The 1-based line where `slice` (a part of `text`) starts.
fn line_of(text: &str, slice: &str) -> usize {
    let offset = (slice.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn parse_entry(json: &str, line: usize, version: u32) -> Result<Entry, String> {
    let mut value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let Some(object) = value.as_object_mut() else {
        return Err("an entry is not an object".to_owned());
    };
    if version == 1 && !object.contains_key("attempt") {
        // Version 1 had no attempt IDs; the line makes one that stays unique in the file.
        object.insert("attempt".to_owned(), format!("v1-line-{line}").into());
    }
    if object.contains_key("kind") {
        return match object.get("kind").and_then(|k| k.as_str()) {
            Some("drill") => serde_json::from_value::<Drill>(value)
                .map(|d| Entry::Drill(Box::new(d)))
                .map_err(|e| format!("not a rollback drill: {e}")),
            _ => Err("an entry of an unknown `kind`".to_owned()),
        };
    }
    match object.get("outcome").and_then(|o| o.as_str()) {
        Some("started") => serde_json::from_value::<Attempt>(value)
            .map(|a| Entry::Started(Box::new(a)))
            .map_err(|e| format!("not an attempt: {e}")),
        Some(_) => serde_json::from_value::<Deployment>(value)
            .map(|d| Entry::Finished(Box::new(d)))
            .map_err(|e| format!("not a deployment: {e}")),
        None => Err("an entry without an `outcome`".to_owned()),
    }
}

fn component_of(entry: &Entry) -> &str {
    match entry {
        Entry::Started(a) => &a.component,
        Entry::Finished(d) => &d.component,
        Entry::Drill(d) => &d.component,
    }
}

fn dates(entry: &Entry) -> Vec<DateTime<Utc>> {
    let mut dates = match entry {
        Entry::Started(a) => vec![a.started_at],
        Entry::Finished(d) => vec![d.started_at, d.finished_at],
        Entry::Drill(d) => {
            let mut dates = vec![d.started_at, d.finished_at];
            dates.extend([d.from.proven_at, d.to.proven_at].into_iter().flatten());
            return dates;
        }
    };
    let restore_to = match entry {
        Entry::Started(a) => a.restore_to.as_ref(),
        Entry::Finished(d) => d.restore_to.as_ref(),
        Entry::Drill(_) => None,
    };
    dates.extend(restore_to.and_then(|s| s.proven_at));
    dates
}

/// The last state of `place` a deploy proved, with the line of that deploy: the newest
/// successful deploy (a rollback restores a proven state and proves no new one).
pub fn last_proven(history: &History, place: Place<'_>) -> Option<(usize, ProvenState)> {
    history
        .entries
        .iter()
        .rev()
        .filter(|l| place.holds(&l.entry))
        .find_map(|l| match &l.entry {
            Entry::Finished(d) => d.proven_state().map(|state| (l.line, state)),
            Entry::Started(_) | Entry::Drill(_) => None,
        })
}

/// The newest proven state of `place` on another image than `image`, with its line: what a
/// rollback drill rolls back to.
pub fn proven_before(
    history: &History,
    place: Place<'_>,
    image: &str,
) -> Option<(usize, ProvenState)> {
    history
        .entries
        .iter()
        .rev()
        .filter(|l| place.holds(&l.entry))
        .find_map(|l| match &l.entry {
            Entry::Finished(d) => d
                .proven_state()
                .filter(|state| state.image_id != image)
                .map(|state| (l.line, state)),
            _ => None,
        })
}

/// The newest rollback drill of the component in `environment`, with its line.
pub fn latest_drill(history: &History, environment: Stage) -> Option<(usize, &Drill)> {
    history
        .entries
        .iter()
        .filter_map(|l| match &l.entry {
            Entry::Drill(d) if d.environment == environment => Some((l.line, d.as_ref())),
            _ => None,
        })
        .max_by_key(|(_, d)| d.finished_at)
}

/// Intents of `place` that have no finished entry after them: deploys whose process died.
pub fn unfinished<'h>(history: &'h History, place: Place<'_>) -> Vec<(usize, &'h Attempt)> {
    history
        .entries
        .iter()
        .enumerate()
        .filter_map(|(index, l)| match &l.entry {
            Entry::Started(attempt) if place.holds(&l.entry) => {
                // A deploy's completion, or a drill's, closes its intent.
                let finished = history.entries[index + 1..].iter().any(|later| {
                    !matches!(later.entry, Entry::Started(_))
                        && later.entry.attempt() == attempt.attempt
                });
                (!finished).then_some((l.line, attempt.as_ref()))
            }
            _ => None,
        })
        .collect()
}

/// The most recent deploy of any service to `environment` that succeeded, with its line.
pub fn latest_success(history: &History, environment: Stage) -> Option<(usize, &Deployment)> {
    history
        .entries
        .iter()
        .filter_map(|l| match &l.entry {
            Entry::Finished(d) if d.environment == environment && d.succeeded() => {
                Some((l.line, d.as_ref()))
            }
            _ => None,
        })
        .max_by_key(|(_, d)| d.finished_at)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::deploy::model::Outcome;
    use crate::deploy::model::tests::sample;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 3, 0, 0, 0).unwrap()
    }

    fn text(entries: &[Entry]) -> String {
        serde_json::to_string_pretty(&serde_json::json!({
            "schema_version": SCHEMA_VERSION,
            "component": "carbon",
            "deployments": entries,
        }))
        .unwrap()
    }

    fn place() -> Place<'static> {
        Place {
            environment: Stage::Staging,
            project_name: "tta-staging",
            service: "carbon",
        }
    }

    fn intent(of: &Deployment) -> Entry {
        Entry::Started(Box::new(Attempt {
            attempt: of.attempt.clone(),
            outcome: super::super::model::Started::Started,
            component: of.component.clone(),
            environment: of.environment,
            service: of.service.clone(),
            project_name: of.project_name.clone(),
            compose_file: of.compose_file.clone(),
            started_at: of.started_at,
            by: "host pid 1".into(),
            previous_image_id: None,
            replicas: 1,
            config_digest: None,
            restore_to: None,
        }))
    }

    #[test]
    fn entries_carry_their_lines_and_the_last_proven_state_skips_failures() {
        let first = sample(Stage::Staging, Outcome::Deployed, 1);
        let failed = sample(Stage::Staging, Outcome::RolledBack, 5);
        let entries = vec![
            intent(&first),
            Entry::Finished(Box::new(first.clone())),
            intent(&failed),
            Entry::Finished(Box::new(failed)),
        ];
        let history = parse(&text(&entries), now()).unwrap();
        let lines: Vec<usize> = history.entries.iter().map(|l| l.line).collect();
        assert_eq!(lines.len(), 4);
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
        let (line, proven) = last_proven(&history, place()).unwrap();
        assert_eq!(line, lines[1]);
        assert_eq!(proven.image_id, first.running_image_id.clone().unwrap());
        assert_eq!(proven.proven_at, Some(first.finished_at));
        assert!(unfinished(&history, place()).is_empty());
        let other = Place {
            service: "web",
            ..place()
        };
        assert!(last_proven(&history, other).is_none());
    }

    #[test]
    fn an_intent_without_its_completion_is_unfinished() {
        let first = sample(Stage::Staging, Outcome::Deployed, 1);
        let killed = sample(Stage::Staging, Outcome::Deployed, 7);
        let entries = vec![
            intent(&first),
            Entry::Finished(Box::new(first)),
            intent(&killed),
        ];
        let history = parse(&text(&entries), now()).unwrap();
        let open = unfinished(&history, place());
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].1.attempt, killed.attempt);
        assert_eq!(open[0].0, history.entries[2].line);
    }

    #[test]
    fn a_record_from_the_future_is_refused_with_its_line() {
        let mut forged = sample(Stage::Staging, Outcome::Deployed, 2);
        forged.finished_at = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let good = sample(Stage::Staging, Outcome::Deployed, 1);
        let text = text(&[
            Entry::Finished(Box::new(good)),
            Entry::Finished(Box::new(forged)),
        ]);
        let error = parse(&text, now()).unwrap_err();
        let line = text
            .lines()
            .position(|l| l.contains("20260302T100200Z"))
            .unwrap();
        // The entry opens with its `{` on the line before its first field.
        assert!(error.starts_with(&format!("line {line}:")), "{error}");
        assert!(error.contains("2030-01-01T00:00:00Z"), "{error}");
        // Within the clock skew it is believed.
        assert!(
            parse(
                &text,
                Utc.with_ymd_and_hms(2029, 12, 31, 23, 56, 0).unwrap()
            )
            .is_ok()
        );
    }

    #[test]
    fn version_one_records_are_read_and_other_versions_refused() {
        let mut old = serde_json::to_value(sample(Stage::Staging, Outcome::Deployed, 1)).unwrap();
        for key in ["attempt", "replicas"] {
            old.as_object_mut().unwrap().remove(key);
        }
        let v1 =
            serde_json::json!({"schema_version": 1, "component": "carbon", "deployments": [old]});
        let history = parse(&v1.to_string(), now()).unwrap();
        let (_, proven) = last_proven(&history, place()).unwrap();
        assert_eq!(proven.replicas, 1);
        assert_eq!(proven.config_digest, None);
        let v4 = v1
            .to_string()
            .replace("\"schema_version\":1", "\"schema_version\":4");
        assert!(parse(&v4, now()).unwrap_err().contains("schema_version 4"));
        assert!(parse("{}", now()).is_err());
        assert!(parse("not json", now()).is_err());
        let stranger = serde_json::json!({"schema_version": 2, "component": "carbon", "deployments": [{"outcome": "deployed"}]});
        assert!(
            parse(&stranger.to_string(), now())
                .unwrap_err()
                .starts_with("line 1: not a deployment")
        );
    }

    #[test]
    fn drills_are_read_close_their_intents_and_prove_no_new_state() {
        use crate::deploy::model::tests::drill_sample;
        use crate::deploy::model::{Drill, DrillOutcome};
        let first = sample(Stage::Staging, Outcome::Deployed, 1);
        let second = sample(Stage::Staging, Outcome::Deployed, 5);
        let failed = drill_sample(Stage::Staging, DrillOutcome::Failed, 1);
        let passed = drill_sample(Stage::Staging, DrillOutcome::Passed, 9);
        let intent_of = |drill: &Drill| {
            let mut deployment = second.clone();
            deployment.attempt = drill.attempt.clone();
            intent(&deployment)
        };
        let entries = vec![
            Entry::Finished(Box::new(first.clone())),
            Entry::Finished(Box::new(second.clone())),
            intent_of(&failed),
            Entry::Drill(Box::new(failed)),
            intent_of(&passed),
            Entry::Drill(Box::new(passed.clone())),
        ];
        let history = parse(&text(&entries), now()).unwrap();
        assert_eq!(history.entries[5].entry, Entry::Drill(Box::new(passed)));
        assert!(
            unfinished(&history, place()).is_empty(),
            "a drill closes its intent"
        );
        let (_, drill) = latest_drill(&history, Stage::Staging).unwrap();
        assert_eq!(drill.outcome, DrillOutcome::Passed);
        assert!(latest_drill(&history, Stage::Production).is_none());
        // The last proven state is still the last deploy's; the one before it another image.
        let (_, last) = last_proven(&history, place()).unwrap();
        assert_eq!(Some(&last.image_id), second.running_image_id.as_ref());
        let (line, before) = proven_before(&history, place(), &last.image_id).unwrap();
        assert_eq!(Some(&before.image_id), first.running_image_id.as_ref());
        assert_eq!(line, history.entries[0].line);
        assert!(proven_before(&history, place(), "sha256:none").is_some());
        let only_one = parse(&text(&entries[1..2]), now()).unwrap();
        assert!(proven_before(&only_one, place(), &last.image_id).is_none());
        // An entry of an unknown kind, or a drill missing its fields, is refused by line.
        let odd = serde_json::json!({"schema_version": 3, "component": "carbon", "deployments": [{"kind": "canary", "outcome": "passed"}]});
        assert!(
            parse(&odd.to_string(), now())
                .unwrap_err()
                .contains("unknown `kind`")
        );
        let torn = serde_json::json!({"schema_version": 3, "component": "carbon", "deployments": [{"kind": "drill", "outcome": "passed"}]});
        assert!(
            parse(&torn.to_string(), now())
                .unwrap_err()
                .starts_with("line 1: not a rollback drill")
        );
    }

    #[test]
    fn another_components_entry_is_refused() {
        let mut entry = sample(Stage::Staging, Outcome::Deployed, 1);
        entry.component = "neo4j".into();
        let error = parse(&text(&[Entry::Finished(Box::new(entry))]), now()).unwrap_err();
        assert!(error.contains("component `neo4j`"), "{error}");
    }

    #[test]
    fn the_latest_success_per_environment_wins_and_failures_never_count() {
        let entries: Vec<Entry> = [
            sample(Stage::Staging, Outcome::Deployed, 1),
            sample(Stage::Staging, Outcome::Deployed, 5),
            sample(Stage::Staging, Outcome::RolledBack, 9),
            sample(Stage::Production, Outcome::RollbackFailed, 10),
        ]
        .into_iter()
        .map(|d| Entry::Finished(Box::new(d)))
        .collect();
        let history = parse(&text(&entries), now()).unwrap();
        let (_, staging) = latest_success(&history, Stage::Staging).unwrap();
        assert_eq!(staging.finished_at.format("%H:%M").to_string(), "10:05");
        assert!(latest_success(&history, Stage::Production).is_none());
    }
}
