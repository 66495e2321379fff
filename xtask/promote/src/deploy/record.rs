//! `reports/<component>/deployment.json`: every deploy of a component, newest last, kept across
//! runs (the per-run report files are replaced each run; this one is appended to). The maturity
//! rules read the last successful deploy to an environment from it.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::model::Deployment;
use crate::config::Config;
use crate::errors::infra;
use crate::fsutil;
use crate::stage::Stage;

pub const RECORD_FILE: &str = "deployment.json";
pub const RECORD_SCHEMA_VERSION: u32 = 1;
/// Older entries are dropped beyond this many: the file stays small enough to read every run.
const MAX_ENTRIES: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub schema_version: u32,
    pub component: String,
    /// Oldest first.
    pub deployments: Vec<Deployment>,
}

fn path(config: &Config, component: &str) -> std::path::PathBuf {
    config.component_reports_dir(component).join(RECORD_FILE)
}

/// The record of `component`; `None` when it was never deployed.
pub fn read(config: &Config, component: &str) -> Result<Option<DeploymentRecord>> {
    let path = path(config, component);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
    };
    parse(&text).map(Some).map_err(|e| {
        infra(format!(
            "{} is not a deployment record: {e}; move it aside to start a new one",
            path.display()
        ))
    })
}

/// Parses a record, refusing another schema version rather than misreading it.
pub fn parse(text: &str) -> Result<DeploymentRecord, String> {
    let record: DeploymentRecord = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if record.schema_version != RECORD_SCHEMA_VERSION {
        return Err(format!(
            "schema_version {} is not {RECORD_SCHEMA_VERSION}",
            record.schema_version
        ));
    }
    Ok(record)
}

/// The most recent deploy of `component` to `environment` that ended healthy on the new image.
/// The maturity rules require one before recording a promotion.
pub fn last_successful(
    config: &Config,
    component: &str,
    environment: Stage,
) -> Result<Option<Deployment>> {
    Ok(read(config, component)?.and_then(|record| latest_success(&record, environment)))
}

/// Pure: the latest successful entry for `environment`.
pub fn latest_success(record: &DeploymentRecord, environment: Stage) -> Option<Deployment> {
    record
        .deployments
        .iter()
        .filter(|d| d.environment == environment && d.succeeded())
        .max_by_key(|d| d.finished_at)
        .cloned()
}

/// Appends `deployment` to its component's record, atomically, under a lock so two deploys
/// (to two environments) cannot lose each other's entry.
pub fn append(config: &Config, deployment: &Deployment) -> Result<()> {
    let _lock = super::lock::acquire(
        &config.locks_dir(),
        &format!("record-{}", deployment.component),
    )?;
    let mut record = read(config, &deployment.component)?.unwrap_or_else(|| DeploymentRecord {
        schema_version: RECORD_SCHEMA_VERSION,
        component: deployment.component.clone(),
        deployments: Vec::new(),
    });
    record.deployments.push(deployment.clone());
    let excess = record.deployments.len().saturating_sub(MAX_ENTRIES);
    record.deployments.drain(..excess);
    let mut text = serde_json::to_string_pretty(&record)
        .context("failed to serialise the deployment record")?;
    text.push('\n');
    fsutil::write_atomic(&path(config, &deployment.component), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::model::Outcome;
    use crate::deploy::model::tests::sample;

    #[test]
    fn the_latest_success_per_environment_wins_and_failures_never_count() {
        let record = DeploymentRecord {
            schema_version: 1,
            component: "carbon".into(),
            deployments: vec![
                sample(Stage::Staging, Outcome::Deployed, 1),
                sample(Stage::Staging, Outcome::Deployed, 5),
                sample(Stage::Staging, Outcome::RolledBack, 9),
                sample(Stage::Production, Outcome::RollbackFailed, 10),
            ],
        };
        let staging = latest_success(&record, Stage::Staging).unwrap();
        assert_eq!(staging.finished_at.format("%H:%M").to_string(), "10:05");
        assert!(latest_success(&record, Stage::Production).is_none());
    }

    #[test]
    fn records_round_trip_and_other_versions_are_refused() {
        let record = DeploymentRecord {
            schema_version: 1,
            component: "carbon".into(),
            deployments: vec![sample(Stage::Staging, Outcome::Deployed, 1)],
        };
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(parse(&text).unwrap(), record);
        assert!(parse(&text.replace("\"schema_version\":1", "\"schema_version\":2")).is_err());
        assert!(parse("{}").is_err());
    }

    #[test]
    fn appending_keeps_history_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tta")).unwrap();
        let text = "groups = [\"G\"]\n[project]\nroot = \"tta\"\n[tools]\nruff = \"1\"\npyright = \"1\"\nbandit = \"1\"\npytest = \"1\"\npytest-cov = \"1\"\n[components.carbon]\ndisplay_name = \"Carbon\"\ngroup = \"G\"\nsource = \"carbon.py\"\n";
        let config = crate::config::parse(text, &dir.path().join("xtask.toml")).unwrap();
        assert!(
            last_successful(&config, "carbon", Stage::Staging)
                .unwrap()
                .is_none()
        );
        append(&config, &sample(Stage::Staging, Outcome::Deployed, 1)).unwrap();
        append(&config, &sample(Stage::Staging, Outcome::RolledBack, 2)).unwrap();
        let record = read(&config, "carbon").unwrap().unwrap();
        assert_eq!(record.deployments.len(), 2);
        let last = last_successful(&config, "carbon", Stage::Staging)
            .unwrap()
            .unwrap();
        assert_eq!(last.outcome, Outcome::Deployed);
        std::fs::write(
            dir.path().join("reports/carbon/deployment.json"),
            "not json",
        )
        .unwrap();
        let error = last_successful(&config, "carbon", Stage::Staging).unwrap_err();
        assert!(
            error.to_string().contains("is not a deployment record"),
            "{error}"
        );
    }

    #[test]
    fn both_schemas_define_a_deployment_the_same_way() {
        let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let read = |name: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(schemas.join(name)).unwrap()).unwrap()
        };
        let record = read("deployment-record.schema.json");
        let report = read("promotion-report.schema.json");
        for def in ["deployment", "image_id"] {
            assert_eq!(
                record["$defs"][def], report["$defs"][def],
                "$defs.{def} differs between deployment-record.schema.json and promotion-report.schema.json: keep them equal"
            );
        }
    }
}
