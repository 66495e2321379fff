//! A second fixture monorepo, shaped like our users' (issue 9): components are thin
//! `src/components/<name>_component.py` modules wrapping first-party packages elsewhere
//! (`src/agent_orchestration/` with submodules, `src/narrative/` a namespace package without
//! `__init__.py`), tests in `tests/<pkg>/` folders with their own `conftest.py` and a helper
//! package, and `tests/integration/test_<name>_*.py`. Built in a fresh git repository by
//! `Shaped::new()`, with the registry at the top and the project root there too. Reusable:
//! `write`, `remove`, `commit_all` and `xtask` are all a test needs.
//!
//! Who imports what (every edge is something the import graph must see):
//! - `agent-orchestration` (`agent_orchestration_component.py`) wraps `agent_orchestration`,
//!   whose `skills` package imports 50 `skill_NN` modules; its tests' conftest imports the
//!   helper package `helpers` (by bare name, as pytest's rootdir-less import mode allows) and
//!   `narrative.arcs`, a module of another component's package that no source imports.
//! - `narrative` wraps the namespace package `narrative`; `reporting` declares
//!   `depends_on = ["agent-orchestration"]` and imports it; `billing` imports nothing shared.
//! - `src/unrelated_scripts/report.py` is imported by nobody.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{Run, tool_venv, workspace, write_file, xtask_command};

/// The registry's components, in order.
pub const COMPONENTS: &[&str] = &["agent-orchestration", "narrative", "reporting", "billing"];

/// Number of `skill_NN` modules in `src/agent_orchestration/skills/`.
pub const SKILLS: usize = 50;

fn files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = [
        ("pyproject.toml", "[project]\nname = \"shaped\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\n\n[tool.pytest.ini_options]\npythonpath = [\"src\"]\n"),
        ("src/components/__init__.py", "\"\"\"Thin component modules.\"\"\"\n"),
        (
            "src/components/agent_orchestration_component.py",
            "\"\"\"Agent orchestration, as a component.\"\"\"\n\nfrom agent_orchestration import Orchestrator\n\n__all__ = [\"Orchestrator\"]\n",
        ),
        (
            "src/components/narrative_component.py",
            "\"\"\"Narrative, as a component.\"\"\"\n\nfrom narrative.engine import Story\n\n__all__ = [\"Story\"]\n",
        ),
        (
            "src/components/reporting_component.py",
            "\"\"\"Reports on orchestrated runs.\"\"\"\n\nfrom agent_orchestration.core import Orchestrator\n\n\ndef report(orchestrator: Orchestrator) -> str:\n    return f\"{len(orchestrator.plan())} steps\"\n",
        ),
        (
            "src/components/billing_component.py",
            "\"\"\"Billing, on its own.\"\"\"\n\nfrom billing.ledger import Ledger\n\n__all__ = [\"Ledger\"]\n",
        ),
        (
            "src/agent_orchestration/__init__.py",
            "\"\"\"The orchestration package.\"\"\"\n\nfrom .core import Orchestrator\n\n__all__ = [\"Orchestrator\"]\n",
        ),
        (
            "src/agent_orchestration/core.py",
            "\"\"\"The orchestrator.\"\"\"\n\nfrom agent_orchestration import tools\nfrom agent_orchestration.planning.steps import plan_steps\nfrom agent_orchestration.skills import SKILLS\n\n\nclass Orchestrator:\n    def plan(self) -> list[str]:\n        return plan_steps(tools.names()) + [s.__name__ for s in SKILLS][:0]\n",
        ),
        (
            "src/agent_orchestration/tools.py",
            "\"\"\"Tool names.\"\"\"\n\n\ndef names() -> list[str]:\n    return [\"search\", \"write\"]\n",
        ),
        ("src/agent_orchestration/planning/__init__.py", ""),
        (
            "src/agent_orchestration/planning/steps.py",
            "\"\"\"A deep module.\"\"\"\n\n\ndef plan_steps(tools: list[str]) -> list[str]:\n    return [f\"use {t}\" for t in tools]\n",
        ),
        (
            "src/narrative/engine.py",
            "\"\"\"A module of a namespace package.\"\"\"\n\n\nclass Story:\n    title = \"untitled\"\n",
        ),
        (
            "src/narrative/arcs.py",
            "\"\"\"Only the orchestration tests' conftest imports this.\"\"\"\n\nARCS = (\"rise\", \"fall\")\n",
        ),
        ("src/billing/__init__.py", ""),
        (
            "src/billing/ledger.py",
            "\"\"\"A ledger.\"\"\"\n\n\nclass Ledger:\n    def total(self) -> int:\n        return 0\n",
        ),
        (
            "src/unrelated_scripts/report.py",
            "\"\"\"Imported by nobody.\"\"\"\n\nprint(\"report\")\n",
        ),
        (
            "tests/agent_orchestration/conftest.py",
            "import pytest\nfrom helpers.fakes import FakeTool\n\nimport narrative.arcs\n\n\n@pytest.fixture\ndef tool() -> FakeTool:\n    assert narrative.arcs.ARCS\n    return FakeTool()\n",
        ),
        ("tests/agent_orchestration/helpers/__init__.py", ""),
        (
            "tests/agent_orchestration/helpers/fakes.py",
            "class FakeTool:\n    name = \"fake\"\n",
        ),
        (
            "tests/agent_orchestration/test_core.py",
            "from agent_orchestration.core import Orchestrator\n\n\ndef test_plan(tool) -> None:\n    assert Orchestrator().plan() == [\"use search\", \"use write\"]\n    assert tool.name == \"fake\"\n",
        ),
        (
            "tests/agent_orchestration/test_steps.py",
            "from agent_orchestration.planning.steps import plan_steps\n\n\ndef test_steps() -> None:\n    assert plan_steps([\"a\"]) == [\"use a\"]\n",
        ),
        (
            "tests/integration/test_agent_orchestration_flow.py",
            "from components.agent_orchestration_component import Orchestrator\n\n\ndef test_flow() -> None:\n    assert Orchestrator().plan()\n",
        ),
        (
            "tests/narrative/test_engine.py",
            "from components.narrative_component import Story\n\n\ndef test_story() -> None:\n    assert Story.title == \"untitled\"\n",
        ),
        (
            "tests/reporting/test_reporting.py",
            "from agent_orchestration import Orchestrator\nfrom components.reporting_component import report\n\n\ndef test_report() -> None:\n    assert report(Orchestrator()) == \"2 steps\"\n",
        ),
        (
            "tests/billing/test_ledger.py",
            "from components.billing_component import Ledger\n\n\ndef test_total() -> None:\n    assert Ledger().total() == 0\n",
        ),
    ]
    .iter()
    .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
    .collect();
    let mut skills = String::from("\"\"\"Every skill.\"\"\"\n\nfrom . import (\n");
    for n in 0..SKILLS {
        skills.push_str(&format!("    skill_{n:02},\n"));
        files.push((
            format!("src/agent_orchestration/skills/skill_{n:02}.py"),
            format!("\"\"\"Skill {n}.\"\"\"\n\nLEVEL = {n}\n"),
        ));
    }
    skills.push_str(")\n\nSKILLS = [\n");
    for n in 0..SKILLS {
        skills.push_str(&format!("    skill_{n:02},\n"));
    }
    skills.push_str("]\n");
    files.push((
        "src/agent_orchestration/skills/__init__.py".to_owned(),
        skills,
    ));
    for name in COMPONENTS {
        let title = name.replace('-', " ");
        files.push((
            format!("docs/components/{name}/README.md"),
            format!("# {title}\n\n## Overview\n\n{title}.\n\n## Usage\n\nImport it.\n\n## API\n\nSee the code.\n\n## Testing\n\n`pytest`.\n"),
        ));
    }
    files
}

/// The registry: the bundled example's settings with these components.
fn registry() -> String {
    let example = std::fs::read_to_string(workspace().join("xtask.toml")).unwrap();
    let head = &example[..example
        .find("[components.")
        .expect("the example has components")];
    let head = head.replace("root = \"examples/tta\"", "root = \".\"");
    format!(
        "{head}[components.agent-orchestration]
display_name = \"Agent Orchestration\"
group = \"Core Infrastructure\"
source = \"src/components/agent_orchestration_component.py\"
tests = [\"tests/agent_orchestration\", \"tests/integration/test_agent_orchestration_flow.py\"]

[components.narrative]
display_name = \"Narrative\"
group = \"Core Infrastructure\"
source = \"src/components/narrative_component.py\"
tests = [\"tests/narrative\"]

[components.reporting]
display_name = \"Reporting\"
group = \"Core Infrastructure\"
source = \"src/components/reporting_component.py\"
tests = [\"tests/reporting\"]
depends_on = [\"agent-orchestration\"]

[components.billing]
display_name = \"Billing\"
group = \"Core Infrastructure\"
source = \"src/components/billing_component.py\"
tests = [\"tests/billing\"]
"
    )
}

/// The shaped monorepo in a temp git repository, committed once.
pub struct Shaped {
    pub dir: tempfile::TempDir,
}

impl Shaped {
    pub fn new() -> Shaped {
        let dir = tempfile::Builder::new()
            .prefix("xtask-shaped-")
            .tempdir()
            .unwrap();
        let shaped = Shaped { dir };
        std::fs::write(shaped.root().join("xtask.toml"), registry()).unwrap();
        for (path, text) in files() {
            shaped.write(&path, &text);
        }
        shaped.git(&["init", "-q"]);
        shaped.commit_all("shaped monorepo");
        shaped
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
    }

    pub fn write(&self, relative: &str, text: &str) {
        write_file(&self.path(relative), text);
    }

    /// Appends a line to a file, so its content changes and nothing else.
    pub fn touch(&self, relative: &str) {
        let text = self.read(relative);
        self.write(relative, &format!("{text}# changed\n"));
    }

    pub fn remove(&self, relative: &str) {
        std::fs::remove_file(self.path(relative)).unwrap();
    }

    pub fn git(&self, args: &[&str]) -> Output {
        crate::support::git(self.root(), args)
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// The xtask binary in this repository, with the tool venv of the workspace.
    pub fn command(&self) -> Command {
        xtask_command(self.root(), &tool_venv(), &self.root().join("src"))
    }

    pub fn xtask(&self, args: &[&str]) -> Run {
        Run::from(self.command().args(args).output().expect("xtask runs"))
    }
}
