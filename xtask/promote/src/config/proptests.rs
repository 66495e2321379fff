//! Property tests of the registry loader against hostile files: arbitrary bytes, and valid
//! registries with one value swapped for something a user or an attacker might write. Each
//! load ends in a `Config` or a usage error (exit 2) that names the file; it never panics and
//! never writes a file. Bounded: a few hundred cases each, well under a second of loading.

use proptest::prelude::*;

use super::*;
use crate::errors::{exit, exit_code_of};

/// A registry that loads: its project is the folder the file is in.
fn valid() -> String {
    format!(
        "{}[components.carbon]\ndisplay_name = \"Carbon\"\ngroup = \"Core\"\nsource = \"carbon_component.py\"\ntests = [\"tests\"]\n\n[components.neo4j]\ndisplay_name = \"Neo4j\"\ngroup = \"Core\"\nsource = \"neo4j\"\ndepends_on = [\"carbon\"]\n\n[thresholds]\ndevelopment = 60\nstaging = 70\nproduction = 80\n\n[policy]\nobservation_days = 7\nsecurity_fail_on = \"medium\"\nreadme_sections = [\"Overview\"]\n\n[timeouts]\nruff = 120\nsetup = 900\n\n[env]\npass = [\"PYTHONPATH\"]\nset = {{ DJANGO = \"1\" }}\n",
        test_registry_head(&["Core"])
    )
}

/// Values worth trying in place of any other: out of range, of the wrong type, paths that
/// escape, names with controls, empty lists, huge numbers, inline tables.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("18446744073709551615".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("0".to_owned()),
        Just("-5".to_owned()),
        Just("nan".to_owned()),
        Just("-inf".to_owned()),
        Just("1e308".to_owned()),
        Just("\"/\"".to_owned()),
        Just("\"../..\"".to_owned()),
        Just("\"\"".to_owned()),
        Just("[]".to_owned()),
        Just("[\"\"]".to_owned()),
        Just("[\"A=B\", \"\\u0000\"]".to_owned()),
        Just("{ \"BAD=NAME\" = \"1\" }".to_owned()),
        Just("\"\\u202Eevil\"".to_owned()),
        Just("true".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<String>().prop_map(|s| format!("{s:?}")),
        "[a-z0-9_./ -]{0,12}".prop_map(|s| format!("\"{s}\"")),
    ]
}

/// `valid()` with the value of its `line`-th `key = value` line (counted modulo their number)
/// replaced by `value`, or `extra` inserted before that line when `insert`.
fn mutated(line: usize, value: &str, insert: bool, extra: &str) -> String {
    let text = valid();
    let assignments: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(" = "))
        .map(|(i, _)| i)
        .collect();
    let target = assignments[line % assignments.len()];
    text.lines()
        .enumerate()
        .flat_map(|(i, l)| {
            if i != target {
                return vec![l.to_owned()];
            }
            if insert {
                return vec![extra.to_owned(), l.to_owned()];
            }
            let key = l.split(" = ").next().unwrap_or_default();
            vec![format!("{key} = {value}")]
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Loads `bytes` as `<dir>/xtask.toml`; checks what every outcome must be and that the
/// folder holds nothing new.
fn load_checked(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("carbon_component.py"), "").unwrap();
    std::fs::create_dir_all(dir.path().join("neo4j")).unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    let path = dir.path().join("xtask.toml");
    std::fs::write(&path, bytes).unwrap();
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let before = listing();
    let outcome = load(&path);
    prop_assert_eq!(listing(), before, "the loader wrote into the folder");
    match outcome {
        Err(error) => {
            prop_assert_eq!(exit_code_of(&error), exit::USAGE, "{:#}", error);
            let message = format!("{error:#}");
            prop_assert!(message.contains("xtask.toml"), "{}", message);
        }
        Ok(config) => sane(&config)?,
    }
    Ok(())
}

/// What a loaded registry promises the code that reads it: every value within its range.
fn sane(config: &Config) -> Result<(), TestCaseError> {
    let day = Duration::from_secs(values::MAX_TIMEOUT_SECS);
    let tools = crate::tools::table::TOOLS
        .iter()
        .map(|spec| config.timeouts.of(spec.tool));
    for timeout in tools.chain([config.timeouts.setup, config.timeouts.compose]) {
        prop_assert!(
            timeout >= Duration::from_secs(1) && timeout <= day,
            "{:?}",
            timeout
        );
    }
    prop_assert!(i64::from(config.policy.observation_days) <= values::MAX_OBSERVATION_DAYS);
    let t = config.thresholds;
    for value in [t.development, t.staging, t.production] {
        prop_assert!((0.0..=100.0).contains(&value), "{}", value);
    }
    prop_assert!(t.development <= t.staging && t.staging <= t.production);
    prop_assert!(
        config
            .policy
            .readme_sections
            .iter()
            .all(|s| !s.trim().is_empty())
    );
    let names = config.env.pass.iter().chain(config.env.set.keys());
    for name in names {
        prop_assert!(values::valid_variable_name(name), "{}", name);
    }
    prop_assert!(!config.groups.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_load_or_are_refused_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048)
    ) {
        load_checked(&bytes)?;
    }

    #[test]
    fn a_registry_with_one_hostile_value_loads_or_is_refused_with_its_place(
        line in 0usize..64,
        value in hostile_value(),
        insert in any::<bool>(),
        extra in prop_oneof![
            Just("[environments.staging]".to_owned()),
            Just("[components.x]".to_owned()),
            Just("depends_on = [\"neo4j\"]".to_owned()),
            Just("pytest = 1".to_owned()),
            "[a-z_.]{1,8} = [0-9]{1,3}",
        ],
    ) {
        load_checked(mutated(line, &value, insert, &extra).as_bytes())?;
    }
}

#[test]
fn the_unmutated_registry_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("carbon_component.py"), "").unwrap();
    std::fs::create_dir_all(dir.path().join("neo4j")).unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    let path = dir.path().join("xtask.toml");
    std::fs::write(&path, valid()).unwrap();
    let config = load(&path).unwrap();
    assert_eq!(config.components.len(), 2);
}
