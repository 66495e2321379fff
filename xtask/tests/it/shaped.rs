//! A second fixture monorepo, shaped like our users' real one: components are thin
//! `src/components/<name>_component.py` modules wrapping first-party packages that live outside
//! `src/components/` (`src/agent_orchestration/`), and tests sit in `tests/<package>/` folders
//! with their own `conftest.py` and a helper package. Built inside a `Sandbox` in place of the
//! bundled example, so every sandbox helper (runs, reports, env) works unchanged.

use crate::support::Sandbox;

/// The shaped repo's one component.
pub const COMPONENT: &str = "agents";

/// The files of the shaped repo, relative to the project root.
const FILES: &[(&str, &str)] = &[
    ("src/components/__init__.py", ""),
    (
        "src/components/agents_component.py",
        r#""""Agents: the thin component module over the agent orchestration package."""

from __future__ import annotations

from agent_orchestration.planner import plan


def run(steps: int) -> list[int]:
    """Plans `steps` steps."""
    return plan(steps)
"#,
    ),
    (
        "src/agent_orchestration/__init__.py",
        r#""""Agent orchestration: plans and their limits."""
"#,
    ),
    (
        "src/agent_orchestration/planner.py",
        r#""""Plans: one bounded step per index."""

from __future__ import annotations

from agent_orchestration.limits import clamp


def plan(steps: int) -> list[int]:
    """One clamped step per index."""
    return [clamp(i) for i in range(steps)]
"#,
    ),
    (
        "src/agent_orchestration/limits.py",
        r#""""Limits of a plan step."""

from __future__ import annotations

MAX_STEP = 10


def clamp(value: int) -> int:
    """`value` bounded to 0..MAX_STEP."""
    return max(0, min(value, MAX_STEP))
"#,
    ),
    (
        "tests/agent_orchestration/conftest.py",
        r#"from __future__ import annotations

import pytest

from orchestration_helpers import expected_plan


@pytest.fixture
def expected():
    return expected_plan
"#,
    ),
    (
        "tests/agent_orchestration/orchestration_helpers/__init__.py",
        r#"from __future__ import annotations


def expected_plan(steps: int) -> list[int]:
    return [min(i, 10) for i in range(steps)]
"#,
    ),
    (
        "tests/agent_orchestration/test_planner.py",
        r#"from __future__ import annotations

from agent_orchestration.planner import plan
from components.agents_component import run


def test_plan_is_clamped(expected) -> None:
    assert plan(12) == expected(12)


def test_component_runs_the_plan(expected) -> None:
    assert run(3) == expected(3)
"#,
    ),
    (
        "tests/agent_orchestration/test_limits.py",
        r#"from __future__ import annotations

from agent_orchestration.limits import MAX_STEP, clamp


def test_clamp_bounds() -> None:
    assert clamp(-1) == 0
    assert clamp(MAX_STEP + 5) == MAX_STEP
"#,
    ),
    (
        "pyproject.toml",
        r#"[project]
name = "shaped"
version = "0.1.0"
requires-python = ">=3.11"

[tool.ruff]
line-length = 100
"#,
    ),
];

/// Replaces the sandbox's example by the shaped repo and its registry by one component.
pub fn build(sandbox: &Sandbox) {
    std::fs::remove_dir_all(sandbox.project()).unwrap();
    for (path, text) in FILES {
        sandbox.write(path, text);
    }
    let config = sandbox.config_text();
    let head = &config[..config
        .find("[components.")
        .expect("the registry has components")];
    let env = &config[config.find("\n[env]").expect("sandboxes pass PYTHONPATH")..];
    sandbox.set_config(&format!(
        "{head}[components.{COMPONENT}]\ndisplay_name = \"Agents\"\ngroup = \"AI/Agent Systems\"\nsource = \"src/components/agents_component.py\"\ntests = [\"tests/agent_orchestration\"]\n{env}"
    ));
    sandbox.commit_all("shaped monorepo");
}
