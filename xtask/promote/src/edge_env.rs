//! The process environment, read once at the edge: `main` takes one snapshot before anything
//! else runs, and the rest of the program reads this typed view instead of `std::env`, so
//! every variable a run depends on is named here (the house rules test keeps it that way).

use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;

/// What xtask reads from its environment.
#[derive(Debug, Default)]
pub struct EdgeEnv {
    /// Every variable as the process got it, for `engine/environment.rs` to filter into a
    /// tool's hermetic environment.
    pub vars: Vec<(OsString, OsString)>,
    /// `XTASK_*`: overrides for tests, CI and the benchmark.
    pub xtask: XtaskVars,
    /// `GITHUB_*` set by the Actions runner.
    pub github: GithubVars,
    /// `CI` set to anything but empty or `false`: logs keep every redraw, so no live progress.
    pub ci: bool,
    /// `NO_COLOR` set and not empty: no colour in `--color auto`.
    pub no_color: bool,
    /// Whether stderr is a terminal (asked once, with the variables).
    pub stderr_terminal: bool,
    /// `HOME`, when set and not empty.
    pub home: Option<PathBuf>,
    /// `PATH` as given, for the tool `PATH` behind the venv's `bin`.
    pub path: Option<OsString>,
    /// `PYENV_ROOT`, when set and not empty.
    pub pyenv_root: Option<PathBuf>,
    /// `CARGO` and `CARGO_TARGET_DIR`, set by cargo for `cargo xtask bench`.
    pub cargo: Option<PathBuf>,
    pub cargo_target_dir: Option<PathBuf>,
    /// `CARGO_MANIFEST_DIR`, set by `cargo run` (so by `cargo xtask`) to the folder of the
    /// repository's own `xtask` crate: its parent is the workspace.
    pub cargo_manifest_dir: Option<PathBuf>,
}

/// The `XTASK_*` variables; an empty value counts as unset.
#[derive(Debug, Default)]
pub struct XtaskVars {
    /// `XTASK_CACHE_DIR`: the result cache folder instead of `.xtask/cache`.
    pub cache_dir: Option<PathBuf>,
    /// `XTASK_VENV`: the tool venv instead of `.xtask/venv`.
    pub venv: Option<PathBuf>,
    /// `XTASK_PYTHON`: the interpreter that builds the tool venv.
    pub python: Option<PathBuf>,
    /// `XTASK_NO_BOOTSTRAP`: never install missing tools on the way.
    pub no_bootstrap: bool,
    /// `XTASK_PEAK_RSS_TO`: where the benchmark wants this process's peak memory.
    pub peak_rss_to: Option<PathBuf>,
    /// `XTASK_REMOTE_CACHE_READ_ONLY` set to anything but empty, `0` or `false`.
    pub remote_cache_read_only: bool,
    /// `XTASK_BENCH_NO_TRACE`: for the benchmark's side-by-side cold runs only, tools run
    /// without the file-access observer, so nothing they answer is cached.
    pub bench_no_trace: bool,
    /// `XTASK_PASS_PYTHONPATH`: the tools see `PYTHONPATH` whatever `[env]` says; set for the
    /// checks of another commit in a temporary worktree (`ratchet`, `verify --rerun`), whose
    /// sources must come before an editable install of the main checkout.
    pub pass_pythonpath: bool,
}

/// The Actions runner's variables that xtask uses.
#[derive(Debug, Default)]
pub struct GithubVars {
    /// `GITHUB_ACTIONS=true`: this process is a workflow step.
    pub actions: bool,
    /// `GITHUB_WORKSPACE`, where annotation paths are resolved.
    pub workspace: Option<PathBuf>,
    /// `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY` and `GITHUB_RUN_ID`: the run's address.
    pub server_url: Option<String>,
    pub repository: Option<String>,
    pub run_id: Option<String>,
}

/// Set (to anything but `0` or `false`) to make the remote cache read-only whatever xtask.toml
/// says: CI sets it on pull requests.
pub const REMOTE_CACHE_READ_ONLY: &str = "XTASK_REMOTE_CACHE_READ_ONLY";

static SNAPSHOT: OnceLock<EdgeEnv> = OnceLock::new();

/// Takes the snapshot of this process's environment; `main` calls it before anything else
/// and hands it to what it sets up. Code further down that has no parameter for it reads the
/// same snapshot through [`get`].
pub fn init() -> &'static EdgeEnv {
    SNAPSHOT.get_or_init(EdgeEnv::from_process)
}

/// The snapshot (taken now if `init` was not called, as in unit tests).
pub fn get() -> &'static EdgeEnv {
    SNAPSHOT.get_or_init(EdgeEnv::from_process)
}

impl EdgeEnv {
    #[allow(clippy::disallowed_methods)] // the one place that reads the environment
    fn from_process() -> EdgeEnv {
        let mut env = EdgeEnv::from_vars(std::env::vars_os());
        env.stderr_terminal = std::io::stderr().is_terminal();
        env
    }

    /// The typed view of `vars`. Pure, so tests can give any environment.
    pub fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> EdgeEnv {
        let vars: Vec<(OsString, OsString)> = vars.into_iter().collect();
        let lookup = |name: &str| find(&vars, name);
        let path = |name: &str| lookup(name).map(PathBuf::from);
        let text = |name: &str| lookup(name).and_then(OsStr::to_str).map(str::to_owned);
        let switched_on = |name: &str| {
            lookup(name)
                .and_then(OsStr::to_str)
                .is_some_and(|v| !matches!(v.trim(), "" | "0" | "false"))
        };
        EdgeEnv {
            xtask: XtaskVars {
                cache_dir: path("XTASK_CACHE_DIR"),
                venv: path("XTASK_VENV"),
                python: path("XTASK_PYTHON"),
                no_bootstrap: lookup("XTASK_NO_BOOTSTRAP").is_some(),
                peak_rss_to: path("XTASK_PEAK_RSS_TO"),
                bench_no_trace: lookup("XTASK_BENCH_NO_TRACE").is_some(),
                remote_cache_read_only: switched_on(REMOTE_CACHE_READ_ONLY),
                pass_pythonpath: switched_on("XTASK_PASS_PYTHONPATH"),
            },
            github: GithubVars {
                actions: lookup("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
                workspace: path("GITHUB_WORKSPACE"),
                server_url: text("GITHUB_SERVER_URL"),
                repository: text("GITHUB_REPOSITORY"),
                run_id: text("GITHUB_RUN_ID"),
            },
            ci: lookup("CI").is_some_and(|v| v != "false"),
            no_color: lookup("NO_COLOR").is_some(),
            stderr_terminal: false,
            home: path("HOME"),
            path: lookup("PATH").map(OsStr::to_owned),
            pyenv_root: path("PYENV_ROOT"),
            cargo: path("CARGO"),
            cargo_target_dir: path("CARGO_TARGET_DIR"),
            cargo_manifest_dir: path("CARGO_MANIFEST_DIR"),
            vars,
        }
    }

    /// A variable whose name comes from configuration (the remote cache's token and key, the
    /// runner's `$GITHUB_STEP_SUMMARY` and `$GITHUB_OUTPUT`): its text, unless unset, empty or
    /// not Unicode.
    pub fn var(&self, name: &str) -> Option<&str> {
        find(&self.vars, name).and_then(OsStr::to_str)
    }
}

/// The value of `name` in `vars` (the last one, as the process would see it), unless empty.
fn find<'a>(vars: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
    vars.iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_os_str())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EdgeEnv {
        EdgeEnv::from_vars(pairs.iter().map(|(k, v)| (k.into(), v.into())))
    }

    #[test]
    fn empty_values_count_as_unset() {
        let e = env(&[
            ("XTASK_CACHE_DIR", ""),
            ("NO_COLOR", ""),
            ("CI", ""),
            ("HOME", ""),
            ("XTASK_NO_BOOTSTRAP", ""),
        ]);
        assert_eq!(e.xtask.cache_dir, None);
        assert!(!e.no_color && !e.ci && !e.xtask.no_bootstrap);
        assert_eq!(e.home, None);
        assert_eq!(e.var("HOME"), None);
    }

    #[test]
    fn settings_are_typed() {
        let e = env(&[
            ("XTASK_CACHE_DIR", "/c"),
            ("XTASK_VENV", "/v"),
            ("XTASK_NO_BOOTSTRAP", "1"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_WORKSPACE", "/w"),
            ("CI", "true"),
            ("NO_COLOR", "1"),
            ("MY_TOKEN", "secret"),
        ]);
        assert_eq!(e.xtask.cache_dir, Some(PathBuf::from("/c")));
        assert_eq!(e.xtask.venv, Some(PathBuf::from("/v")));
        assert!(e.xtask.no_bootstrap && e.github.actions && e.ci && e.no_color);
        assert_eq!(e.github.workspace, Some(PathBuf::from("/w")));
        assert_eq!(e.var("MY_TOKEN"), Some("secret"));
        assert_eq!(e.var("OTHER"), None);
        assert_eq!(e.vars.len(), 8);
    }

    #[test]
    fn switches_read_as_the_docs_say() {
        assert!(!env(&[("CI", "false")]).ci);
        assert!(!env(&[("GITHUB_ACTIONS", "1")]).github.actions);
        for off in ["0", "false", " "] {
            let e = env(&[(REMOTE_CACHE_READ_ONLY, off)]);
            assert!(!e.xtask.remote_cache_read_only, "{off:?}");
        }
        assert!(
            env(&[(REMOTE_CACHE_READ_ONLY, "1")])
                .xtask
                .remote_cache_read_only
        );
    }
}
