//! The GitHub Actions workflows, rendered from `templates/workflows/` with what they need from
//! xtask.toml (and whether the project has a `uv.lock`, which decides how its environment is
//! created). What keeps them safe is in the templates and is
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

/// The branch whose pushes are trusted: the workflows' writer jobs run only for it.
const MAIN_BRANCH: &str = "main";

/// The GitHub environment of the jobs that get the remote cache's secret key: its secrets
/// reach only jobs that name it, and its deployment branches (set to the main branch) keep it
/// from a pull request's jobs even when the pull request edits the workflow.
pub const CACHE_WRITER_ENVIRONMENT: &str = "xtask-cache-writer";

/// Actions the workflows use, pinned to full commit SHAs (the version is for people).
#[derive(Debug, Serialize)]
struct Actions {
    checkout: &'static str,
    cache_restore: &'static str,
    cache_save: &'static str,
    upload_artifact: &'static str,
    attest: &'static str,
}

const ACTIONS: Actions = Actions {
    checkout: "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2",
    cache_restore: "actions/cache/restore@0400d5f644dc74513175e3cd8d07132dd4860809 # v4.2.4",
    cache_save: "actions/cache/save@0400d5f644dc74513175e3cd8d07132dd4860809 # v4.2.4",
    upload_artifact: "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2",
    attest: "actions/attest@1e69f48acb82d1966a394da916b4c1698aa569d6 # v4.2.2",
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
    /// The percentage of cached steps the weekly status job audits (`cache audit --sample`).
    audit_sample: u8,
    status_marker: &'static str,
    /// The predicate type of promotion records, which CI attests on the main branch.
    record_predicate_type: &'static str,
    /// Relative to the workspace root, with `/`.
    reports_dir: String,
    cache_dir: String,
    /// `[cache.remote]`: the names of the secrets (and environment variables) to pass.
    remote: Option<WorkflowRemote>,
    writer_environment: &'static str,
    /// quality.yml's promotion-check jobs: one for every event, or, when the remote cache has a
    /// signing key, one that reads (pull requests) and one that writes (pushes to main).
    promote_jobs: Vec<PromoteJob>,
    /// cargo's build of the xtask is cached under this key: Cargo.lock and the xtask's sources.
    build_cache_key: &'static str,
    build_cache_prefix: &'static str,
    /// How CI creates the project's own environment, when the registry names one.
    project_env: Option<ProjectEnv>,
}

#[derive(Debug, Serialize)]
struct WorkflowRemote {
    token_env: Option<String>,
    signing_key_env: Option<String>,
}

#[derive(Debug, Serialize)]
struct PromoteJob {
    id: &'static str,
    name: &'static str,
    /// Added to the job's `if:` with `&&`.
    condition: Option<String>,
    /// Gets the secret key, in the writer environment.
    writer: bool,
}

/// The promotion-check jobs of quality.yml: the secret key goes to a job of its own that only
/// a push to the main branch runs, never to one a pull request runs.
fn promote_jobs(config: &Config) -> Vec<PromoteJob> {
    const NAME: &str = "Promotion checks (${{ matrix.component }})";
    let signs = config
        .cache_remote
        .as_ref()
        .is_some_and(|remote| remote.signing_key_env.is_some());
    if !signs {
        return vec![PromoteJob {
            id: "promote",
            name: NAME,
            condition: None,
            writer: false,
        }];
    }
    vec![
        PromoteJob {
            id: "promote",
            name: NAME,
            condition: Some("github.event_name == 'pull_request'".to_owned()),
            writer: false,
        },
        PromoteJob {
            id: "promote-main",
            name: NAME,
            condition: Some(format!(
                "github.event_name == 'push' && github.ref == 'refs/heads/{MAIN_BRANCH}'"
            )),
            writer: true,
        },
    ]
}

#[derive(Debug, Serialize)]
struct ProjectEnv {
    /// For the step's name.
    how: &'static str,
    /// The project root, relative to the workspace (the step's working directory).
    root: String,
    commands: Vec<String>,
}

const BUILD_CACHE_KEY: &str =
    "xtask-build-${{ runner.os }}-${{ hashFiles('Cargo.lock', 'xtask/**') }}";
const BUILD_CACHE_PREFIX: &str = "xtask-build-${{ runner.os }}-";

/// The uv version the workflows install when the registry pins none.
const DEFAULT_UV: &str = "0.13.8";

/// The steps that create the project's environment at `project.python`: `uv sync --frozen`
/// when the project has a `uv.lock` (uv comes from the tool venv, at the registry's pin),
/// else a venv with the project installed editable, with its extras. Nothing when the
/// registry names no project interpreter, or one outside the project (the machine's own).
fn project_env(config: &Config) -> Result<Option<ProjectEnv>> {
    let Some(python) = &config.project.python else {
        return Ok(None);
    };
    let Ok(inside) = python.strip_prefix(&config.project.root) else {
        return Ok(None);
    };
    let Some(venv) = inside.parent().and_then(Path::parent) else {
        return Ok(None);
    };
    let venv = plain_path("project.python's environment", crate::fsutil::unix(venv))?;
    let root = match workspace_relative(config, &config.project.root) {
        root if root.is_empty() => ".".to_owned(),
        root => plain_path("project.root", root)?,
    };
    let tool_venv = plain_path(
        "the tool venv",
        workspace_relative(config, &config.tool_venv()),
    )?;
    if config.project.root.join("uv.lock").is_file() {
        let uv = config.tools.uv.as_deref().unwrap_or(DEFAULT_UV);
        if !uv.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(usage(format!(
                "tools.uv `{}` cannot go into a workflow: give a version such as {DEFAULT_UV}",
                uv.escape_debug()
            )));
        }
        let uv_bin = format!("\"$GITHUB_WORKSPACE/{tool_venv}/bin/uv\"");
        let sync = if venv == ".venv" {
            format!("{uv_bin} sync --frozen")
        } else {
            format!("UV_PROJECT_ENVIRONMENT={venv} {uv_bin} sync --frozen")
        };
        return Ok(Some(ProjectEnv {
            how: "uv sync, from uv.lock",
            root,
            commands: vec![
                format!(
                    "\"$GITHUB_WORKSPACE/{tool_venv}/bin/python\" -m pip install --disable-pip-version-check --no-input uv=={uv}"
                ),
                sync,
            ],
        }));
    }
    for extra in &config.project.extras {
        if extra.is_empty()
            || !extra
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(usage(format!(
                "project.extras `{}` cannot go into a workflow: use letters, digits, `-`, `_` and `.`",
                extra.escape_debug()
            )));
        }
    }
    let extras = if config.project.extras.is_empty() {
        String::new()
    } else {
        format!("[{}]", config.project.extras.join(","))
    };
    Ok(Some(ProjectEnv {
        how: "pip install -e .",
        root,
        commands: vec![
            format!("python3 -m venv {venv}"),
            format!(
                "{venv}/bin/python -m pip install --disable-pip-version-check --no-input -e \".{extras}\""
            ),
        ],
    }))
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
        .map(crate::fsutil::unix)
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
        main_branch: MAIN_BRANCH,
        status_cron: "0 6 * * 1",
        // A fifth of a warm week's answers, run fresh: a wrong entry anywhere is found within
        // a few weeks at the cost of a few extra minutes a week.
        audit_sample: 20,
        schedule_note: "Mondays 06:00 UTC, before the team's Monday 10:00 promotion review.",
        status_marker: STATUS_MARKER,
        record_predicate_type: crate::records::PREDICATE_TYPE,
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
        writer_environment: CACHE_WRITER_ENVIRONMENT,
        promote_jobs: promote_jobs(config),
        build_cache_key: BUILD_CACHE_KEY,
        build_cache_prefix: BUILD_CACHE_PREFIX,
        project_env: project_env(config)?,
    })
}

/// Renders the workflow whose template is `template` (one of `WORKFLOWS`).
pub fn render(config: &Config, template: &str) -> Result<String> {
    render::yaml(template, context(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_python(extra: &str, uv_lock: bool) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proj")).unwrap();
        if uv_lock {
            std::fs::write(dir.path().join("proj/uv.lock"), "version = 1\n").unwrap();
        }
        let text = crate::config::test_registry_head(&["Core Infrastructure"]).replace(
            "root = \".\"",
            &format!("root = \"proj\"\npython = \".venv/bin/python\"\n{extra}"),
        ) + "[components.a]\ndisplay_name = \"A\"\ngroup = \"Core Infrastructure\"\nsource = \"a\"\n";
        let config = crate::config::parse(&text, &dir.path().join("xtask.toml")).unwrap();
        (dir, config)
    }

    #[test]
    fn the_project_environment_comes_from_uv_lock_else_pip() {
        let (_dir, config) = with_python("", true);
        let env = project_env(&config).unwrap().unwrap();
        assert_eq!(env.root, "proj");
        assert_eq!(
            env.commands,
            vec![
                "\"$GITHUB_WORKSPACE/.xtask/venv/bin/python\" -m pip install --disable-pip-version-check --no-input uv==0.13.8",
                "\"$GITHUB_WORKSPACE/.xtask/venv/bin/uv\" sync --frozen",
            ]
        );
        let (_dir, config) = with_python("extras = [\"test\"]\n", false);
        let env = project_env(&config).unwrap().unwrap();
        assert_eq!(
            env.commands,
            vec![
                "python3 -m venv .venv",
                ".venv/bin/python -m pip install --disable-pip-version-check --no-input -e \".[test]\"",
            ]
        );
        assert!(project_env(&crate::testutil::registry()).unwrap().is_none());
    }

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
