//! Tests of xtask.toml validation: spans in errors, cycles, names, paths.

use super::*;

fn sample(components: &str) -> String {
    format!(
        "\n{}{components}",
        test_registry_head(&["Core Infrastructure", "AI/Agent Systems"])
    )
}

fn parse_here(text: &str) -> Result<Config> {
    let dir = std::env::temp_dir();
    parse(text, &dir.join("xtask.toml"))
}

fn error_of(text: &str) -> String {
    format!("{:#}", parse_here(text).unwrap_err())
}

const TWO: &str = r#"
[components.neo4j]
display_name = "Neo4j"
group = "Core Infrastructure"
source = "src/components/neo4j_component.py"
tests = ["tests/test_neo4j_component.py"]

[components.narrative-arc-orchestrator]
display_name = "Narrative Arc Orchestrator"
group = "AI/Agent Systems"
source = "src/components/narrative_arc_orchestrator"
depends_on = ["neo4j"]
"#;

#[test]
fn a_valid_registry_loads_with_defaults() {
    let config = parse_here(&sample(TWO)).unwrap();
    assert_eq!(config.components.len(), 2);
    assert_eq!(config.thresholds.staging, 70.0);
    assert_eq!(config.policy.observation_days, 7);
    let neo4j = config.component("neo4j").unwrap();
    assert_eq!(neo4j.source_kind, SourceKind::Module);
    assert_eq!(neo4j.coverage_root(), "src/components");
    assert_eq!(neo4j.coverage_target(), "components.neo4j_component");
    assert_eq!(neo4j.readme, "docs/components/neo4j/README.md");
    let nao = config.component("narrative-arc-orchestrator").unwrap();
    assert_eq!(
        nao.coverage_target(),
        "src/components/narrative_arc_orchestrator"
    );
    assert_eq!(
        nao.maturity,
        "src/components/narrative_arc_orchestrator/MATURITY.md"
    );
    assert!(nao.owns("src/components/narrative_arc_orchestrator/arcs.py"));
    assert!(!nao.owns("src/components/narrative_arc_orchestrator_old/arcs.py"));
    assert!(neo4j.owns("src/components/neo4j_component.py"));
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    let text = sample(TWO).replace("display_name = \"Neo4j\"", "display_name = Neo4j");
    let message = error_of(&text);
    let line = text.lines().position(|l| l.contains("= Neo4j")).unwrap() + 1;
    assert!(
        message.contains(&format!("xtask.toml:{line}:")),
        "{message}"
    );
}

#[test]
fn unknown_keys_are_refused_with_their_position() {
    let text = sample(TWO).replace("tests = [", "test_paths = [");
    let message = error_of(&text);
    assert!(message.contains("test_paths"), "{message}");
    assert!(message.contains("xtask.toml:"), "{message}");
}

#[test]
fn a_dependency_cycle_is_refused_naming_it() {
    let text = sample(
        r#"
[components.gameplay-loop]
display_name = "Gameplay Loop"
group = "Core Infrastructure"
source = "src/components/gameplay_loop"
depends_on = ["therapeutic-systems"]

[components.therapeutic-systems]
display_name = "Therapeutic Systems"
group = "Core Infrastructure"
source = "src/components/therapeutic_systems"
depends_on = ["gameplay-loop"]
"#,
    );
    let error = parse_here(&text).unwrap_err();
    assert_eq!(
        crate::errors::exit_code_of(&error),
        crate::errors::exit::USAGE
    );
    let message = format!("{error:#}");
    assert!(
        message.contains("gameplay-loop -> therapeutic-systems -> gameplay-loop"),
        "{message}"
    );
}

#[test]
fn an_unknown_dependency_suggests_the_closest_name() {
    let text = sample(TWO).replace("depends_on = [\"neo4j\"]", "depends_on = [\"neo4\"]");
    let message = error_of(&text);
    assert!(message.contains("unknown component `neo4`"), "{message}");
    assert!(message.contains("`neo4j`"), "{message}");
}

#[test]
fn paths_may_not_escape_the_project() {
    let text = sample(TWO).replace("src/components/narrative_arc_orchestrator", "../elsewhere");
    assert!(error_of(&text).contains("leaves its base folder"));
    let text = sample(TWO).replace("src/components/narrative_arc_orchestrator", "/etc");
    assert!(error_of(&text).contains("must be relative"));
}

#[test]
fn hostile_component_names_are_refused() {
    for name in ["\"a$(id)\"", "\"A-upper\"", "\"x/../y\"", "\"trailing-\""] {
        let text = sample(TWO).replace("[components.neo4j]", &format!("[components.{name}]"));
        let text = text.replace("depends_on = [\"neo4j\"]", "");
        assert!(error_of(&text).contains("must be lowercase"), "{name}");
    }
}

#[test]
fn groups_must_be_declared() {
    let text = sample(TWO).replace("group = \"AI/Agent Systems\"", "group = \"AI Systems\"");
    assert!(error_of(&text).contains("not listed in `groups`"));
}

#[test]
fn closest_names_prefers_substrings_then_edit_distance() {
    let names = [
        "narrative-arc-orchestrator",
        "narrative-coherence",
        "neo4j",
        "llm",
    ];
    assert_eq!(
        closest_names("narrative", names.into_iter()),
        vec!["`narrative-arc-orchestrator`", "`narrative-coherence`"]
    );
    assert_eq!(
        closest_names("narrative_coherence", names.into_iter()),
        vec!["`narrative-coherence`"]
    );
    assert_eq!(closest_names("lmm", names.into_iter()), vec!["`llm`"]);
    assert!(closest_names("zzzzzz", names.into_iter()).is_empty());
}

#[test]
fn graph_orders_dependencies_first_and_walks_both_ways() {
    let text = sample(
        r#"
[components.a]
display_name = "A"
group = "Core Infrastructure"
source = "a"
depends_on = ["b"]

[components.b]
display_name = "B"
group = "Core Infrastructure"
source = "b"
depends_on = ["c"]

[components.c]
display_name = "C"
group = "Core Infrastructure"
source = "c"
"#,
    );
    let config = parse_here(&text).unwrap();
    assert_eq!(config.graph.topological_order(), vec!["c", "b", "a"]);
    assert_eq!(config.graph.transitive_dependencies("a"), vec!["b", "c"]);
    assert_eq!(config.graph.transitive_dependents("c"), vec!["a", "b"]);
}

/// RFC 8032's test key 2: a valid public key.
const PUBLIC: &str = "ed25519:3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

#[test]
fn a_remote_cache_is_validated_with_its_position() {
    let remote = |body: &str| format!("{}\n[cache.remote]\n{body}\n", sample(TWO));
    let config = parse_here(&remote(
        &format!("url = \"https://cache.example.com/xtask/\"\nread_only = true\ntoken_env = \"XTASK_CACHE_TOKEN\"\nsigning_key_env = \"XTASK_CACHE_KEY\"\npublic_key = \"{PUBLIC}\"\nmax_blob_mb = 8\ntimeout_ms = 1500"),
    ))
    .unwrap();
    let settings = config.cache_remote.unwrap();
    assert_eq!(
        settings
            .public_key
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some(PUBLIC)
    );
    assert_eq!(settings.max_blob_bytes, 8 * 1024 * 1024);
    let defaults = parse_here(&remote("url = \"http://h\"")).unwrap();
    let defaults = defaults.cache_remote.unwrap();
    assert_eq!(defaults.max_blob_bytes, 64 * 1024 * 1024);
    assert_eq!(defaults.public_key, None);
    assert_eq!(settings.url, "https://cache.example.com/xtask");
    assert!(settings.read_only);
    assert_eq!(settings.token_env.as_deref(), Some("XTASK_CACHE_TOKEN"));
    assert_eq!(settings.signing_key_env.as_deref(), Some("XTASK_CACHE_KEY"));
    assert_eq!(settings.timeout, Duration::from_millis(1500));
    assert!(parse_here(&sample(TWO)).unwrap().cache_remote.is_none());

    for (body, says) in [
        ("url = \"cache.example.com\"", "cache.remote.url"),
        ("url = \"https://u:p@cache.example.com\"", "credentials"),
        (
            "url = \"http://h\"\ntoken_env = \"s3cr3t-token value\"",
            "token_env must name an environment variable",
        ),
        ("url = \"http://h\"\ntimeout_ms = 0", "timeout_ms"),
        ("url = \"http://h\"\ntoken = \"abc\"", "token"),
        ("url = \"http://h\"\nmax_blob_mb = 0", "max_blob_mb"),
        (
            "url = \"http://h\"\npublic_key = \"ed25519:00\"",
            "public_key must be",
        ),
        (
            "url = \"http://h\"\npublic_key = \"ed25519-secret:4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb\"",
            "holds a secret key",
        ),
        (
            "url = \"http://h\"\nsigning_key_env = \"XTASK_CACHE_KEY\"",
            "needs public_key",
        ),
    ] {
        let text = remote(body);
        let message = error_of(&text);
        assert!(message.contains(says), "{message}");
        // The position is the offending line: the last of each body.
        let line = text
            .lines()
            .position(|l| l == body.lines().last().unwrap())
            .unwrap()
            + 1;
        assert!(
            message.contains(&format!("xtask.toml:{line}:")),
            "{message}"
        );
        assert!(message.contains("xtask.toml:"), "{message}");
    }
}

#[test]
fn a_pin_that_is_not_a_version_is_refused_where_it_is_written() {
    let text = sample(TWO).replace("ruff = \"0.17.5\"", "ruff = \"0.17.5; rm -rf ~\"");
    let line = text.lines().position(|l| l.starts_with("ruff =")).unwrap() + 1;
    let message = error_of(&text);
    assert!(
        message.contains(&format!("xtask.toml:{line}:8: tools.ruff")),
        "{message}"
    );
    assert!(message.contains("is not a version"), "{message}");
}

#[test]
fn a_zero_timeout_is_refused_where_it_is_written() {
    let text = format!("{}\n[timeouts]\nruff = 0\n", sample(TWO));
    let line = text.lines().count();
    let message = error_of(&text);
    assert!(
        message.contains(&format!("xtask.toml:{line}:8: timeouts.ruff = 0")),
        "{message}"
    );
}

#[test]
fn display_names_are_unique_ignoring_case_and_compatibility_forms() {
    for twin in ["Neo4j", "NEO4J", "Ｎｅｏ４ｊ"] {
        let text = sample(TWO).replace("Narrative Arc Orchestrator", twin);
        let message = error_of(&text);
        assert!(
            message.contains("which component `neo4j` already uses"),
            "{twin}: {message}"
        );
    }
    for hidden in ["Neo\u{200B}4j", "Neo\u{202E}j4", "Neo\u{7}"] {
        // TOML's own escapes, so the file holds exactly these characters.
        let escaped: String = hidden
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_string()
                } else {
                    format!("\\u{:04X}", c as u32)
                }
            })
            .collect();
        let text = sample(TWO).replace("\"Neo4j\"", &format!("\"{escaped}\""));
        let message = error_of(&text);
        assert!(
            message.contains("invisible or control character"),
            "{message}"
        );
    }
}

#[test]
fn a_project_root_of_dot_is_the_workspace_folder_itself() {
    // `<ws>/.` would compare unequal to `<ws>` wherever paths are stripped (observed reads
    // then took xtask's own folders for inputs and never hit again).
    let text = sample(TWO);
    assert!(text.contains("root = \".\""), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let config = parse(&text, &dir.path().join("xtask.toml")).unwrap();
    // As text: `Path`'s own equality ignores a trailing `.`, `strip_prefix` of strings does not.
    assert_eq!(config.project.root.as_os_str(), dir.path().as_os_str());
    assert_eq!(
        config.project.reports_dir.as_os_str(),
        dir.path().join("reports").as_os_str()
    );
}

#[test]
fn an_optional_tool_is_off_until_pinned_and_gets_the_table_timeout() {
    let off = parse_here(&sample(TWO)).unwrap();
    assert!(!off.tools.enabled(Tool::Mypy));
    assert!(off.tools.enabled(Tool::Pyright));
    assert!(!off.tools.packages().iter().any(|(name, _)| *name == "mypy"));
    let text = sample(TWO).replace("[tools]\n", "[tools]\nmypy = \"2.4.1\"\n");
    let on = parse_here(&text).unwrap();
    assert!(on.tools.enabled(Tool::Mypy));
    assert!(on.tools.packages().contains(&("mypy", "2.4.1")));
    assert_eq!(on.timeouts.of(Tool::Mypy), Duration::from_secs(600));
    let text = format!("{text}\n[timeouts]\nmypy = 42\n");
    assert_eq!(
        parse_here(&text).unwrap().timeouts.of(Tool::Mypy),
        Duration::from_secs(42)
    );
}

#[test]
fn unknown_tools_and_missing_pins_are_refused() {
    let text = sample(TWO).replace("[tools]\n", "[tools]\npylint = \"3.0.0\"\n");
    let line = text
        .lines()
        .position(|l| l.starts_with("pylint ="))
        .unwrap()
        + 1;
    let message = error_of(&text);
    assert!(
        message.contains(&format!("xtask.toml:{line}:10: tools.pylint is not a tool")),
        "{message}"
    );
    assert!(message.contains("mypy"), "{message}");
    let text = format!("{}\n[timeouts]\npylint = 3\n", sample(TWO));
    assert!(error_of(&text).contains("timeouts.pylint is not a tool"));
    let text = sample(TWO).replace("bandit = \"1.9.4\"\n", "");
    let message = error_of(&text);
    assert!(message.contains("no pin for bandit"), "{message}");
}
