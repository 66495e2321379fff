//! `reports/<component>/deployment.json`: the deployment history of a component, newest last,
//! kept across runs (the per-run report files are replaced each run; this one is only ever
//! appended to). Each attempt is recorded before it starts and completed after it ends. Past
//! `MAX_ENTRIES`, the oldest entries move to `deployment-archive.json` rather than vanish.
//! The maturity rules read the last successful deploy to an environment from it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::docker::Docker;
use super::history::{self, History};
use super::model::{Deployment, Entry, short_id};
use crate::config::Config;
use crate::errors::infra;
use crate::fsutil;
use crate::vocab::Stage;

pub const RECORD_FILE: &str = "deployment.json";
pub const ARCHIVE_FILE: &str = "deployment-archive.json";
/// Entries kept in the record itself; older ones move to the archive, so the file every
/// deploy reads stays small.
const MAX_ENTRIES: usize = 100;

#[derive(Serialize)]
struct RecordOut<'a> {
    schema_version: u32,
    component: &'a str,
    deployments: Vec<&'a Entry>,
}

pub fn path(config: &Config, component: &str) -> PathBuf {
    config.component_reports_dir(component).join(RECORD_FILE)
}

fn archive_path(config: &Config, component: &str) -> PathBuf {
    config.component_reports_dir(component).join(ARCHIVE_FILE)
}

/// The history of `component`; `None` when it was never deployed. A file that is not a
/// history, or holds an entry dated after `now`, is refused with its line.
pub fn read(config: &Config, component: &str, now: DateTime<Utc>) -> Result<Option<History>> {
    read_file(&path(config, component), now)
}

fn read_file(path: &Path, now: DateTime<Utc>) -> Result<Option<History>> {
    // Outside input: a FIFO or device there is refused rather than read (status reads it too).
    let Some(text) = crate::input_file::read_text(
        path,
        "the deployment history",
        crate::input_file::HISTORY_MAX,
    )?
    else {
        return Ok(None);
    };
    history::parse(&text, now).map(Some).map_err(|e| {
        infra(format!(
            "{} is not a deployment history xtask wrote: {e}; fix or remove that entry (or move the file aside to start a new history)",
            path.display()
        ))
    })
}

/// The most recent deploy of `component` to `environment` that ended healthy on the new image,
/// with its line. The maturity rules require one before recording a promotion.
pub fn last_successful(
    config: &Config,
    component: &str,
    environment: Stage,
) -> Result<Option<(usize, Deployment)>> {
    Ok(read(config, component, Utc::now())?.and_then(|history| {
        history::latest_success(&history, environment).map(|(line, d)| (line, d.clone()))
    }))
}

/// `last_successful`, believed only when the engine has the image it names: a record of an
/// image this engine never had was not written by a deploy to it.
pub fn confirmed_success(
    config: &Config,
    component: &str,
    environment: Stage,
) -> Result<Option<Deployment>> {
    let Some((line, deployment)) = last_successful(config, component, environment)? else {
        return Ok(None);
    };
    let docker = Docker::connect(&config.project.root, config.timeouts.compose)?;
    let image = deployment.running_image_id.clone().unwrap_or_default();
    require_image(&docker, &path(config, component), line, &image)?;
    Ok(Some(deployment))
}

/// The newest rollback drill of `component` in `environment`, as the rollback gate's fact: a
/// history that cannot be read is the fact's error (the gate fails naming it), never a pass.
pub fn drill_fact(
    config: &Config,
    component: &str,
    environment: Stage,
    window_days: u32,
) -> crate::gates::DrillFact {
    let history = read(config, component, Utc::now()).map_err(|e| format!("{e:#}"));
    super::gate::drill_fact(
        history.as_ref().map(Option::as_ref).map_err(String::clone),
        environment,
        window_days,
    )
}

/// Refuses an entry (at `line` of `file`) naming an image the engine does not have.
pub fn require_image(docker: &Docker, file: &Path, line: usize, image: &str) -> Result<()> {
    let known = super::inspect::is_image_id(image)
        && docker.image(image, super::docker::Mode::Normal)?.is_some();
    if known {
        return Ok(());
    }
    Err(infra(format!(
        "{}:{line}: the deploy recorded there names image {}, which this Docker engine does not have: it was not deployed here (or the image was removed); remove that entry, or restore the image (`docker load`), then run this again",
        file.display(),
        short_id(image)
    )))
}

/// Appends `entry` to its component's history, atomically, under a lock so two deploys (to
/// two environments) cannot lose each other's entry. The entries already there are written
/// back unchanged; past `MAX_ENTRIES` the oldest move to the archive first.
pub fn append(config: &Config, component: &str, entry: Entry) -> Result<()> {
    let _lock = super::lock::acquire(&config.locks_dir(), &format!("record-{component}"))?;
    let now = Utc::now();
    let mut entries: Vec<Entry> = read(config, component, now)?
        .map(|h| h.entries.into_iter().map(|l| l.entry).collect())
        .unwrap_or_default();
    entries.push(entry);
    let excess = entries.len().saturating_sub(MAX_ENTRIES);
    if excess > 0 {
        let archive = archive_path(config, component);
        let mut archived: Vec<Entry> = read_file(&archive, now)?
            .map(|h| h.entries.into_iter().map(|l| l.entry).collect())
            .unwrap_or_default();
        // A run killed between the two writes left these in both files: add each once.
        for old in &entries[..excess] {
            if !archived.contains(old) {
                archived.push(old.clone());
            }
        }
        write(&archive, component, &archived)?;
        entries.drain(..excess);
    }
    write(&path(config, component), component, &entries)
}

fn write(path: &Path, component: &str, entries: &[Entry]) -> Result<()> {
    let record = RecordOut {
        schema_version: history::SCHEMA_VERSION,
        component,
        deployments: entries.iter().collect(),
    };
    let mut text = serde_json::to_string_pretty(&record)
        .context("failed to serialise the deployment history")?;
    text.push('\n');
    fsutil::write_atomic(path, text.as_bytes())
}

/// Refuses a folder this run could not write into, before anything is changed.
pub fn require_writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    tempfile::NamedTempFile::new_in(dir)
        .map(drop)
        .with_context(|| {
            format!(
                "cannot write into {}: the reports and the deployment history go there",
                dir.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::model::Outcome;
    use crate::deploy::model::tests::sample;

    fn config(dir: &Path) -> Config {
        std::fs::create_dir_all(dir.join("tta")).unwrap();
        let text = "groups = [\"G\"]\n[project]\nroot = \"tta\"\n[tools]\nruff = \"1\"\npyright = \"1\"\nbandit = \"1\"\npytest = \"1\"\npytest-cov = \"1\"\n[components.carbon]\ndisplay_name = \"Carbon\"\ngroup = \"G\"\nsource = \"carbon.py\"\n";
        crate::config::parse(text, &dir.join("xtask.toml")).unwrap()
    }

    fn finished(minute: u32, outcome: Outcome) -> Entry {
        Entry::Finished(Box::new(sample(Stage::Staging, outcome, minute)))
    }

    #[test]
    fn appending_keeps_history_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        assert!(
            last_successful(&config, "carbon", Stage::Staging)
                .unwrap()
                .is_none()
        );
        append(&config, "carbon", finished(1, Outcome::Deployed)).unwrap();
        append(&config, "carbon", finished(2, Outcome::RolledBack)).unwrap();
        let history = read(&config, "carbon", Utc::now()).unwrap().unwrap();
        assert_eq!(history.entries.len(), 2);
        let (line, last) = last_successful(&config, "carbon", Stage::Staging)
            .unwrap()
            .unwrap();
        assert_eq!(last.outcome, Outcome::Deployed);
        assert_eq!(line, history.entries[0].line);
        std::fs::write(path(&config, "carbon"), "not json").unwrap();
        let error = last_successful(&config, "carbon", Stage::Staging).unwrap_err();
        assert!(
            error.to_string().contains("is not a deployment history"),
            "{error}"
        );
        // A broken history is never overwritten by an append.
        assert!(append(&config, "carbon", finished(3, Outcome::Deployed)).is_err());
        assert_eq!(
            std::fs::read_to_string(path(&config, "carbon")).unwrap(),
            "not json"
        );
    }

    #[test]
    fn past_the_limit_the_oldest_entries_move_to_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        for minute in 0..(MAX_ENTRIES as u32 + 3) {
            let mut entry = sample(Stage::Staging, Outcome::Deployed, minute % 60);
            entry.attempt = format!("attempt-{minute}");
            append(&config, "carbon", Entry::Finished(Box::new(entry))).unwrap();
        }
        let kept = read(&config, "carbon", Utc::now()).unwrap().unwrap();
        let archived = read_file(&archive_path(&config, "carbon"), Utc::now())
            .unwrap()
            .unwrap();
        assert_eq!(kept.entries.len(), MAX_ENTRIES);
        let ids = |h: &History| -> Vec<String> {
            h.entries
                .iter()
                .map(|l| l.entry.attempt().to_owned())
                .collect()
        };
        assert_eq!(ids(&archived), ["attempt-0", "attempt-1", "attempt-2"]);
        assert_eq!(ids(&kept)[0], "attempt-3");
        assert_eq!(
            ids(&kept).last().unwrap(),
            &format!("attempt-{}", MAX_ENTRIES + 2)
        );
    }

    #[test]
    fn an_unwritable_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(require_writable(&file.join("reports")).is_err());
        assert!(require_writable(&dir.path().join("reports")).is_ok());
    }

    #[test]
    fn both_schemas_define_a_deployment_the_same_way() {
        let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let read = |name: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(schemas.join(name)).unwrap()).unwrap()
        };
        let record = read("deployment-record.schema.json");
        let report = read("promotion-report.schema.json");
        for def in ["deployment", "image_id", "proven_state", "settle"] {
            assert_eq!(
                record["$defs"][def], report["$defs"][def],
                "$defs.{def} differs between deployment-record.schema.json and promotion-report.schema.json: keep them equal"
            );
        }
    }
}
