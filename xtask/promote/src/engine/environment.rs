//! The hermetic tool environment: tools start from an empty environment plus a documented
//! pass-through list and `[env]` of xtask.toml, so every variable a tool can read is one we chose,
//! and every one that can change a verdict is in the cache key by value.
//!
//! Passed through by default:
//! - `LANG`, `LC_*`, `TZ`: locale and time zone change messages, sorting and dates that tests
//!   assert on; they are in the key by value.
//! - `PATH`: replaced by the tool venv's bin folder followed by the caller's PATH. Not in the
//!   key: the tools themselves are resolved and keyed by version, and PATH's folders are
//!   absolute paths that differ between machines, which a shared cache cannot have in keys.
//! - `HOME`: not in the key for the same reason; what pytest and bandit read under it is
//!   observed and recorded by digest like any other read, and ruff's user config is keyed by
//!   content.
//! - `TMPDIR`: never the caller's; every tool gets this run's own `.xtask/tmp/<pid>/tmp`
//!   (set where the tool's command is built), so what tools leave there goes with the run and
//!   a killed run's leftovers are swept by the next one. Not in the key; the state folder is
//!   never an input.
//! - `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` (either case): only how pyright's wrapper fetches
//!   node on its first start; not in the key.
//!
//! Everything else is dropped. A dropped variable that would change a tool's behaviour
//! (`PYTHON*`, and the prefixes of the tool table: `PYTEST_*`, `COVERAGE_*`, `RUFF_*`,
//! `PYRIGHT_*`, `MYPY*`) gets one warning that names it and says how to pass it.

use std::collections::BTreeMap;
use std::ffi::OsString;

use crate::config::ToolEnvConfig;

/// Passed through by name, and in the key by value.
const KEYED: &[&str] = &["LANG", "TZ"];
/// Passed through by name, but not in the key (see the module comment). Proxies only decide how
/// pyright's wrapper downloads node the first time, never a verdict.
const UNKEYED: &[&str] = &[
    "HOME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];
/// Variables with a tool prefix that cannot change a verdict: dropped without a warning.
const HARMLESS: &[&str] = &[
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PYTHONIOENCODING",
];
/// Whether `name` is a variable the tools read (the interpreter's `PYTHON*`, and each tool's
/// prefixes in the tool table); dropping one silently would surprise.
fn read_by_tools(name: &str) -> bool {
    name.starts_with("PYTHON")
        || crate::tools::table::TOOLS
            .iter()
            .flat_map(|spec| spec.env_prefixes)
            .any(|prefix| name.starts_with(prefix))
}

/// The environment every tool process gets, and the part of it that is in cache keys.
#[derive(Debug, Clone, Default)]
pub struct ToolEnv {
    /// Variable -> value for the tool processes (PATH is added by the caller).
    pub vars: BTreeMap<String, OsString>,
    /// Variable -> value as it goes into every cache key.
    pub keyed: BTreeMap<String, String>,
    /// Tool-affecting variables of the caller that are not passed, with the warning for each.
    pub warnings: Vec<String>,
}

impl ToolEnv {
    /// Builds the environment from the caller's variables `caller` and `[env]`.
    pub fn build(
        caller: impl IntoIterator<Item = (OsString, OsString)>,
        config: &ToolEnvConfig,
    ) -> Self {
        let mut env = ToolEnv::default();
        let mut dropped = Vec::new();
        for (name, value) in caller {
            let Some(name) = name.to_str().map(str::to_owned) else {
                continue;
            };
            let keyed = KEYED.contains(&name.as_str()) || name.starts_with("LC_");
            if keyed || config.pass.contains(&name) {
                env.keyed
                    .insert(name.clone(), value.to_string_lossy().into_owned());
                env.vars.insert(name, value);
            } else if UNKEYED.contains(&name.as_str()) {
                env.vars.insert(name, value);
            } else if read_by_tools(&name)
                && !HARMLESS.contains(&name.as_str())
                && !config.set.contains_key(&name)
            {
                dropped.push(name);
            }
        }
        for (name, value) in &config.set {
            env.keyed.insert(name.clone(), value.clone());
            env.vars.insert(name.clone(), OsString::from(value));
        }
        dropped.sort();
        env.warnings = dropped
            .into_iter()
            .map(|name| {
                format!(
                    "{name} is set but the tools do not see it: add \"{name}\" to `pass` under [env] in xtask.toml to pass it (it then becomes part of the cache key)"
                )
            })
            .collect();
        env
    }

    /// Writes the project's root as `$ROOT` in keyed values (`PYTHONPATH=<root>/src`), so the
    /// same checkout at another path keys the same.
    pub fn make_portable(&mut self, root: &std::path::Path) {
        let root = root.to_string_lossy();
        if root.is_empty() {
            return;
        }
        for value in self.keyed.values_mut() {
            if value.contains(root.as_ref()) {
                *value = value.replace(root.as_ref(), "$ROOT");
            }
        }
    }

    /// The environment of this process.
    pub fn from_process(config: &ToolEnvConfig) -> Self {
        let edge = crate::edge_env::get();
        if edge.xtask.pass_pythonpath && !config.pass.iter().any(|n| n == "PYTHONPATH") {
            let mut config = config.clone();
            config.pass.push("PYTHONPATH".to_owned());
            return ToolEnv::build(edge.vars.iter().cloned(), &config);
        }
        ToolEnv::build(edge.vars.iter().cloned(), config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        vars.iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn only_listed_variables_pass_and_keyed_ones_are_in_the_key() {
        let config = ToolEnvConfig {
            pass: vec!["MY_FLAG".into()],
            set: BTreeMap::from([("DJANGO_SETTINGS".to_owned(), "test".to_owned())]),
        };
        let env = ToolEnv::build(
            caller(&[
                ("HOME", "/root"),
                ("LANG", "C.UTF-8"),
                ("LC_ALL", "C"),
                ("MY_FLAG", "1"),
                ("SECRET_TOKEN", "x"),
                ("PYTEST_ADDOPTS", "-k energy"),
                ("COVERAGE_RCFILE", "/tmp/rc"),
            ]),
            &config,
        );
        let names: Vec<&str> = env.vars.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["DJANGO_SETTINGS", "HOME", "LANG", "LC_ALL", "MY_FLAG"]
        );
        let keyed: Vec<&str> = env.keyed.keys().map(String::as_str).collect();
        assert_eq!(keyed, ["DJANGO_SETTINGS", "LANG", "LC_ALL", "MY_FLAG"]);
        assert_eq!(env.warnings.len(), 2);
        assert!(env.warnings[0].starts_with("COVERAGE_RCFILE is set"));
        assert!(env.warnings[1].contains("PYTEST_ADDOPTS"));
        assert!(env.warnings[1].contains("[env]"));
    }

    #[test]
    fn a_passed_tool_variable_is_keyed_and_not_warned_about() {
        let config = ToolEnvConfig {
            pass: vec!["PYTEST_ADDOPTS".into()],
            set: BTreeMap::new(),
        };
        let env = ToolEnv::build(caller(&[("PYTEST_ADDOPTS", "-x")]), &config);
        assert!(env.warnings.is_empty());
        assert_eq!(
            env.keyed.get("PYTEST_ADDOPTS").map(String::as_str),
            Some("-x")
        );
    }

    #[test]
    fn variables_of_every_tool_in_the_table_are_warned_about() {
        let env = ToolEnv::build(
            caller(&[
                ("MYPYPATH", "/x"),
                ("RUFF_CACHE_DIR", "/y"),
                ("UNRELATED", "1"),
            ]),
            &ToolEnvConfig::default(),
        );
        assert_eq!(env.warnings.len(), 2, "{:?}", env.warnings);
        assert!(env.warnings[0].starts_with("MYPYPATH is set"));
    }
}
