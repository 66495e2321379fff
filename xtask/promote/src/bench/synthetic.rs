//! A synthetic monorepo for the benchmark: many components of many small Python files, each
//! with a test module and a MATURITY.md, chained by dependencies, as pure data to be written.

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub components: usize,
    pub files_per_component: usize,
}

impl Shape {
    pub fn files(&self) -> usize {
        self.components * self.files_per_component
    }

    fn name(index: usize) -> String {
        format!("c{index:04}")
    }
}

/// Every file of the synthetic monorepo, as (relative path, content), with the xtask.toml
/// that registers it (project root `project`, next to it). The package is `synth`, so it can
/// never shadow the bundled example's `components` package in a shared venv.
pub fn generate(shape: Shape, pins: &str) -> Vec<(String, String)> {
    let mut files = Vec::with_capacity(shape.files() + 3 * shape.components + 4);
    files.push((
        "project/pyproject.toml".to_owned(),
        "[project]\nname = \"synth\"\nversion = \"0.1.0\"\n\n[tool.ruff.lint]\nselect = [\"E\", \"F\", \"I\"]\n\n[tool.pyright]\ntypeCheckingMode = \"basic\"\n\n[tool.pytest.ini_options]\npythonpath = [\"src\"]\n".to_owned(),
    ));
    files.push((
        "project/src/synth/__init__.py".to_owned(),
        "\"\"\"Synthetic components.\"\"\"\n".to_owned(),
    ));
    let mut config = format!(
        "groups = [\"Synthetic\"]\n\n[project]\nroot = \"project\"\nreports = \"reports\"\n\n{pins}\n"
    );
    for index in 0..shape.components {
        let name = Shape::name(index);
        let package = format!("project/src/synth/{name}");
        files.push((format!("{package}/__init__.py"), format!("\"\"\"Component {name}.\"\"\"\n\nfrom .m0000 import f0000\n\n__all__ = [\"f0000\"]\n")));
        for file in 0..shape.files_per_component {
            files.push((
                format!("{package}/m{file:04}.py"),
                format!(
                    "\"\"\"Module {file} of {name}.\"\"\"\n\n\ndef f{file:04}(value: int) -> int:\n    \"\"\"Return a value derived from `value`.\"\"\"\n    if value > {file}:\n        return value - {file}\n    return value + {file}\n"
                ),
            ));
        }
        files.push((
            format!("project/tests/test_{name}.py"),
            format!(
                "from synth.{name} import f0000\n\n\ndef test_f0000() -> None:\n    assert f0000(1) == 1\n    assert f0000(0) == 0\n"
            ),
        ));
        files.push((
            format!("project/docs/{name}/MATURITY.md"),
            format!("# {name}\n\n**Current Stage**: Development\n"),
        ));
        let dependencies = match index {
            0 => String::new(),
            1 => format!("\"{}\"", Shape::name(0)),
            _ => format!(
                "\"{}\", \"{}\"",
                Shape::name(index - 1),
                Shape::name(index / 2)
            ),
        };
        config.push_str(&format!(
            "[components.{name}]\ndisplay_name = \"Component {index}\"\ngroup = \"Synthetic\"\nsource = \"src/synth/{name}\"\ntests = [\"tests/test_{name}.py\"]\ndepends_on = [{dependencies}]\nmaturity = \"docs/{name}/MATURITY.md\"\nreadme = \"docs/{name}/README.md\"\n\n"
        ));
    }
    files.push(("xtask.toml".to_owned(), config));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINS: &str = "[tools]\nruff = \"0.17.5\"\npyright = \"1.1.414\"\nbandit = \"1.9.4\"\npytest = \"9.2.0\"\npytest-cov = \"7.1.0\"\n";

    #[test]
    fn the_registry_loads_and_covers_every_component() {
        let shape = Shape {
            components: 5,
            files_per_component: 3,
        };
        let files = generate(shape, PINS);
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in &files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let config = crate::config::load(&dir.path().join("xtask.toml")).unwrap();
        assert_eq!(config.components.len(), 5);
        let python_files = files
            .iter()
            .filter(|(p, _)| p.contains("/synth/c") && p.ends_with(".py"))
            .count();
        assert_eq!(
            python_files,
            5 * 3 + 5,
            "module files plus one __init__.py per component"
        );
        // Tools run in a hermetic environment (no PYTHONPATH): the tests import the package
        // through pytest's own setting, or every synthetic pytest step is a collection error.
        assert!(
            files
                .iter()
                .any(|(path, text)| path == "project/pyproject.toml"
                    && text.contains("[tool.pytest.ini_options]\npythonpath = [\"src\"]"))
        );
        assert_eq!(
            config.graph.transitive_dependencies("c0004"),
            vec!["c0000", "c0001", "c0002", "c0003"]
        );
    }
}
