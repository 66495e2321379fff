//! The GitHub Actions workflows, rendered from `templates/workflows/` with what they need from
//! xtask.toml. Pure: config in, YAML out. What keeps them safe is in the templates and is
//! checked by zizmor and check-jsonschema in the tests: no `${{ }}` in `run:`, least
//! permissions, actions pinned by commit, no credentials left in the checkout.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::config::Config;
use crate::errors::usage;
use crate::render;
use crate::request::form;

/// The label of the one weekly status issue.
pub const STATUS_LABEL: &str = "component-status";
/// The hidden marker that identifies the status issue among issues with the same label.
pub const STATUS_MARKER: &str = "<!-- xtask:component-status -->";

/// Actions the workflows use, pinned to full commit SHAs (the version is for people).
#[derive(Debug, Serialize)]
struct Actions {
    checkout: &'static str,
    cache_restore: &'static str,
    cache_save: &'static str,
    upload_artifact: &'static str,
}

const ACTIONS: Actions = Actions {
    checkout: "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2",
    cache_restore: "actions/cache/restore@0400d5f644dc74513175e3cd8d07132dd4860809 # v4.2.4",
    cache_save: "actions/cache/save@0400d5f644dc74513175e3cd8d07132dd4860809 # v4.2.4",
    upload_artifact: "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2",
};

#[derive(Debug, Serialize)]
struct Labels {
    requested: &'static str,
    in_review: &'static str,
    blocked: &'static str,
    status: &'static str,
}

#[derive(Debug, Serialize)]
struct WorkflowContext {
    actions: &'static Actions,
    labels: Labels,
    /// A pinned runner image, so a new Ubuntu does not change the tools under us unannounced.
    runner: &'static str,
    main_branch: &'static str,
    status_cron: &'static str,
    schedule_note: &'static str,
    status_marker: &'static str,
    /// Relative to the workspace root, with `/`.
    reports_dir: String,
    cache_dir: String,
    /// `[cache.remote]`: the names of the secrets (and environment variables) to pass.
    remote: Option<WorkflowRemote>,
}

#[derive(Debug, Serialize)]
struct WorkflowRemote {
    token_env: Option<String>,
    signing_key_env: Option<String>,
}

/// The workflows by file name under `.github/workflows/`, with their template.
pub const WORKFLOWS: &[(&str, &str)] = &[
    (
        "promotion-validation.yml",
        "workflows/promotion-validation.yml.j2",
    ),
    ("component-status.yml", "workflows/component-status.yml.j2"),
    ("quality.yml", "workflows/quality.yml.j2"),
];

/// `path` relative to the workspace root, as the workflows (which run there) name it.
fn workspace_relative(config: &Config, path: &Path) -> String {
    path.strip_prefix(&config.workspace_root)
        .map(crate::config::unix)
        .unwrap_or_else(|_| path.to_string_lossy().into_owned())
}

/// Paths go into YAML and shell lines unquoted, so they must be plain: a registry whose reports
/// folder is `a: b` or `$(x)` is refused rather than written into a workflow.
fn plain_path(what: &str, path: String) -> Result<String> {
    let plain = !path.is_empty()
        && !path.starts_with('-')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
    if plain {
        Ok(path)
    } else {
        Err(usage(format!(
            "{what} `{}` cannot go into a workflow: use a path inside the workspace made of letters, digits, `.`, `_`, `-` and `/`",
            path.escape_debug()
        )))
    }
}

fn context(config: &Config) -> Result<WorkflowContext> {
    Ok(WorkflowContext {
        actions: &ACTIONS,
        labels: Labels {
            requested: form::LABEL_REQUESTED,
            in_review: form::LABEL_IN_REVIEW,
            blocked: form::LABEL_BLOCKED,
            status: STATUS_LABEL,
        },
        runner: "ubuntu-24.04",
        main_branch: "main",
        status_cron: "0 6 * * 1",
        schedule_note: "Mondays 06:00 UTC, before the team's Monday 10:00 promotion review.",
        status_marker: STATUS_MARKER,
        reports_dir: plain_path(
            "project.reports",
            workspace_relative(config, &config.project.reports_dir),
        )?,
        // The cache folder as CI sees it: XTASK_CACHE_DIR is not set there.
        cache_dir: plain_path(
            "the cache folder",
            workspace_relative(config, &config.state_dir().join("cache")),
        )?,
        // Names only (checked at load to be A-Z, 0-9, _): they become `secrets.NAME`.
        remote: config.cache_remote.as_ref().map(|remote| WorkflowRemote {
            token_env: remote.token_env.clone(),
            signing_key_env: remote.signing_key_env.clone(),
        }),
    })
}

/// Renders the workflow whose template is `template` (one of `WORKFLOWS`).
pub fn render(config: &Config, template: &str) -> Result<String> {
    render::yaml(template, context(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_go_into_workflows() {
        assert_eq!(plain_path("x", "reports".into()).unwrap(), "reports");
        assert_eq!(
            plain_path("x", ".xtask/cache".into()).unwrap(),
            ".xtask/cache"
        );
        for bad in ["a: b", "$(id)", "-rf", "", "x y", "../`id`"] {
            let error = plain_path("x", bad.into()).unwrap_err();
            assert_eq!(
                crate::errors::exit_code_of(&error),
                crate::errors::exit::USAGE,
                "{bad}"
            );
        }
    }
}
