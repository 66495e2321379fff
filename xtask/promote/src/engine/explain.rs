//! `cache explain`: for each step of a component, whether the cache would answer, and if not,
//! the first input that differs from the newest entry of that step — a file changed, added or
//! removed, a folder's listing, a variable, the tool's version, the interpreter, a setting.
//! Nothing runs: the declared key is recomputed and the traced reads are checked. A step whose
//! last run could not be observed says `not cacheable: <why>`.

use serde_json::Value;

use super::{RunContext, observe, prepare, run};
use crate::cache::{Lookup, ReadSet};
use crate::config::Component;
use crate::tools::StepKind;

/// The steps `cache explain` covers: every cached one (every check of the tool table).
pub static STEPS: std::sync::LazyLock<Vec<StepKind>> = std::sync::LazyLock::new(|| {
    crate::tools::table::STEPS
        .iter()
        .filter(|s| s.cached)
        .map(|s| s.kind)
        .collect()
});

/// One line for `kind` of `component`: `hit`, or `miss: <why>`.
pub fn explain(ctx: &RunContext<'_>, component: &Component, kind: StepKind) -> String {
    if !ctx.config.tools.enabled(kind.tool()) {
        return format!(
            "off: {} is not pinned under [tools] in xtask.toml, so the step does not run",
            kind.tool().name()
        );
    }
    let Some(cache) = ctx.cache else {
        return "miss: the cache is off".to_owned();
    };
    let tool = match ctx
        .toolchain
        .resolve(kind.tool(), ctx.config.timeouts.of(kind.tool()))
    {
        Ok(tool) => tool,
        Err(message) => return format!("miss: {message}"),
    };
    if run::decided_without_running(component, kind, &tool, &ctx.config.project.root).is_some() {
        return "not cached: the component lists no tests, or a test path that matches nothing"
            .to_owned();
    }
    let prepared = prepare(ctx, component, kind, tool);
    if let Some(why) = super::audit::flaky(ctx, &prepared) {
        return format!("not cached: {why}");
    }
    let lookup = if prepared.observed {
        cache.get_observed(&prepared.key, |reads| {
            observe::first_change(&ctx.locator, &ctx.index, reads).is_none()
        })
    } else {
        cache.get(&prepared.key)
    };
    if matches!(lookup, Lookup::Hit(_)) {
        return "hit".to_owned();
    }
    let Some(last) = cache.last(&component.name, kind.id()) else {
        return "miss: no entry for this step yet".to_owned();
    };
    if let Some(reason) = last.get("uncached").and_then(Value::as_str) {
        // The last run stored nothing: say why, unless the step's inputs moved on since.
        if reason.starts_with(observe::NOT_CACHEABLE) {
            return reason.to_owned();
        }
        if material_change(
            last.get("material").unwrap_or(&Value::Null),
            &prepared.material_value(),
        )
        .is_none()
        {
            return format!("miss: the last run stored nothing: {reason}");
        }
    }
    if let Some(why) = material_change(
        last.get("material").unwrap_or(&Value::Null),
        &prepared.material_value(),
    ) {
        return format!("miss: {why}");
    }
    if let Some(reads) = last
        .get("reads")
        .and_then(|r| serde_json::from_value::<ReadSet>(r.clone()).ok())
        && let Some(why) = observe::first_change(&ctx.locator, &ctx.index, &reads)
    {
        return format!("miss: {why}");
    }
    "miss: the entry was evicted or written by another run".to_owned()
}

/// What a field of the key material is, for people.
fn field_label(field: &str) -> &str {
    match field {
        "sources" | "tests" | "packages" => "file",
        "dependencies" => "dependency folder",
        "env" => "variable",
        _ => field,
    }
}

/// The first difference between two key materials, in field order.
pub fn material_change(before: &Value, now: &Value) -> Option<String> {
    let (Value::Object(before), Value::Object(now)) = (before, now) else {
        return Some("the cache format changed".to_owned());
    };
    for (field, value) in now {
        let old = before.get(field).unwrap_or(&Value::Null);
        if old == value {
            continue;
        }
        let label = field_label(field);
        if let (Value::Object(old_map), Value::Object(new_map)) = (old, value)
            && !matches!(field.as_str(), "thresholds" | "policy")
        {
            // Path -> digest (or variable -> value): name the first path that differs.
            for (name, digest) in new_map {
                match old_map.get(name) {
                    None => return Some(format!("{label} {name} was added")),
                    Some(previous) if previous != digest => {
                        return Some(if field == "env" {
                            format!("variable {name} changed")
                        } else {
                            format!("{label} {name} changed")
                        });
                    }
                    _ => {}
                }
            }
            if let Some(name) = old_map.keys().find(|k| !new_map.contains_key(*k)) {
                return Some(if field == "env" {
                    format!("variable {name} is no longer set")
                } else {
                    format!("{label} {name} was removed")
                });
            }
            continue;
        }
        return Some(match field.as_str() {
            "version" => format!(
                "the tool's version changed ({} -> {})",
                old.as_str().unwrap_or("?"),
                value.as_str().unwrap_or("?")
            ),
            "interpreter" => {
                "the interpreter changed (its version, an installed distribution, a .pth file or sitecustomize)"
                    .to_owned()
            }
            "argv" => "the tool's arguments changed".to_owned(),
            "thresholds" => "the coverage thresholds in xtask.toml changed".to_owned(),
            "policy" => "the policy in xtask.toml changed".to_owned(),
            "observer" => "xtask's read observer changed".to_owned(),
            "schema" => "the cache format changed".to_owned(),
            other => format!("{other} changed"),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_first_differing_input() {
        let before = json!({"schema": 2, "version": "9.2.0", "sources": {"a.py": "1", "b.py": "2"}, "env": {"LANG": "C"}});
        let same = before.clone();
        assert_eq!(material_change(&before, &same), None);
        let changed = json!({"schema": 2, "version": "9.2.0", "sources": {"a.py": "1", "b.py": "3"}, "env": {"LANG": "C"}});
        assert_eq!(
            material_change(&before, &changed).as_deref(),
            Some("file b.py changed")
        );
        let added = json!({"schema": 2, "version": "9.2.0", "sources": {"a.py": "1", "b.py": "2", "c.py": "4"}, "env": {"LANG": "C"}});
        assert_eq!(
            material_change(&before, &added).as_deref(),
            Some("file c.py was added")
        );
        let removed = json!({"schema": 2, "version": "9.2.0", "sources": {"a.py": "1"}, "env": {"LANG": "C"}});
        assert_eq!(
            material_change(&before, &removed).as_deref(),
            Some("file b.py was removed")
        );
        let variable = json!({"schema": 2, "version": "9.2.0", "sources": {"a.py": "1", "b.py": "2"}, "env": {"LANG": "C", "PYTEST_ADDOPTS": "-x"}});
        assert_eq!(
            material_change(&before, &variable).as_deref(),
            Some("variable PYTEST_ADDOPTS was added")
        );
        let version = json!({"schema": 2, "version": "9.3.0", "sources": {"a.py": "1", "b.py": "2"}, "env": {"LANG": "C"}});
        assert_eq!(
            material_change(&before, &version).as_deref(),
            Some("the tool's version changed (9.2.0 -> 9.3.0)")
        );
    }
}
