//! A fixed status-report input for unit and snapshot tests: a small registry with a component
//! in every readiness, MATURITY.md texts, synthetic history lines and a fixed `now`.

use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;

use super::collect::{Inputs, collect};
use super::history::{self, Run};
use super::model::StatusReport;
use crate::config::Config;
use crate::gates::{Blocker, CoverageMeasure, Dependencies, GateResult, Outcome};
use crate::maturity::Book;
use crate::maturity::observation::Observation;
use crate::report::PromotionReport;
use crate::report::model::{REPORT_SCHEMA_VERSION, RunSummary};
use crate::tools::StepKind;
use crate::tools::pytest::{Coverage, TestCounts};
use crate::tools::result::{ErrorKind, StepError, StepResult};
use crate::vocab::GateKind;
use crate::vocab::Stage;

const GROUPS: &[&str] = &[
    "Core Infrastructure",
    "AI/Agent Systems",
    "Player Experience",
    "Therapeutic Content",
    "Monitoring & Operations",
];

const COMPONENTS: &str = r#"
[components.neo4j]
display_name = "Neo4j"
group = "Core Infrastructure"
source = "src/components/neo4j_component.py"
[components.carbon]
display_name = "Carbon"
group = "Core Infrastructure"
source = "src/components/carbon_component.py"
[components.docker]
display_name = "Docker <Compose>"
group = "Core Infrastructure"
source = "src/components/docker_component.py"
[components.model-management]
display_name = "Model Management"
group = "AI/Agent Systems"
source = "src/components/model_management"
[components.llm]
display_name = "LLM"
group = "AI/Agent Systems"
source = "src/components/llm"
depends_on = ["model-management", "docker"]
[components.gameplay-loop]
display_name = "Gameplay Loop"
group = "Player Experience"
source = "src/components/gameplay_loop"
depends_on = ["neo4j"]
[components.therapeutic-systems]
display_name = "Therapeutic Systems"
group = "Therapeutic Content"
source = "src/components/therapeutic_systems"
depends_on = ["neo4j", "model-management"]
"#;

pub fn config() -> Config {
    let text = crate::config::test_registry_head(GROUPS) + COMPONENTS;
    crate::config::parse(&text, &std::env::temp_dir().join("xtask.toml")).unwrap()
}

/// Monday 2026-11-16 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 12, 0, 0).unwrap()
}

pub fn book() -> Book {
    Book::from_texts([
        (
            "neo4j",
            "# Neo4j — Maturity\n**Current Stage**: Staging\n| 2026-09-02 | — | Development | x |\n| 2026-11-10 | Development | Staging | y |\n",
        ),
        (
            "carbon",
            "**Current Stage**: Development\n| 2026-10-01 | — | Development | x |\n",
        ),
        ("docker", "**Current Stage**: Development\n"),
        (
            "model-management",
            "**Current Stage**: Production\n| 2026-10-20T08:30:00Z | Staging | Production | z |\n",
        ),
        ("llm", "**Current Stage**: Development\n"),
        ("gameplay-loop", "**Current Stage**: Development\n"),
        ("therapeutic-systems", "**Current Stage**: Production\n"),
    ])
}

/// Two weekly runs and one from yesterday: the baseline is 2026-11-09.
pub fn history_text() -> String {
    [
        r#"{"at":"2026-11-02T09:00:00Z","components":{"carbon":{"stage":"development","coverage":60.0,"lint":4,"types":0,"security":0}}}"#,
        r#"{"at":"2026-11-09T09:00:00Z","components":{"carbon":{"stage":"development","coverage":65.5,"lint":2,"types":1,"security":0},"neo4j":{"stage":"development","coverage":97.0,"lint":0,"types":0,"security":0},"docker":{"stage":"development","coverage":null,"lint":null,"types":3,"security":0},"llm":{"stage":"development","coverage":30.0,"lint":0,"types":0,"security":0}}}"#,
        r#"{"at":"2026-11-15T09:00:00Z","components":{"carbon":{"stage":"development","coverage":72.0,"lint":0,"types":0,"security":0},"llm":{"stage":"development","coverage":31.0,"lint":0,"types":0,"security":0}}}"#,
    ]
    .join("\n")
}

pub fn runs() -> Vec<Run> {
    history::parse(history_text().as_bytes()).0
}

fn gate(outcome: Outcome) -> GateResult {
    GateResult::from(outcome)
}

fn blocker(gate: GateKind, message: &str, fix: &str) -> Blocker {
    Blocker {
        gate,
        message: message.to_owned(),
        fix: fix.to_owned(),
    }
}

struct Spec {
    name: &'static str,
    from: Stage,
    to: Stage,
    coverage: Option<f64>,
    lint: u64,
    failing: &'static [&'static str],
    errored: bool,
}

/// The gates and blockers of a spec, as the gates would decide them.
#[derive(Default)]
struct Decided {
    gates: IndexMap<GateKind, GateResult>,
    blockers: Vec<Blocker>,
}

impl Decided {
    fn add(&mut self, kind: GateKind, result: GateResult, block: Option<Blocker>) {
        self.gates.insert(kind, result);
        self.blockers.extend(block);
    }
}

fn decided(spec: &Spec, config: &Config) -> Decided {
    let mut out = Decided::default();
    code_gates(spec, &mut out, config);
    promotion_gates(spec, &mut out, config);
    production_gates(spec, &mut out);
    out
}

/// Uptime (neo4j, from Staging) and the rollback drill (neo4j and model-management passed
/// theirs; therapeutic-systems' assessment has no rollback gate), as the gates would decide.
fn production_gates(spec: &Spec, out: &mut Decided) {
    if spec.name == "neo4j" {
        let to = now().timestamp();
        out.add(
            GateKind::Uptime,
            gate(Outcome::Production(
                crate::evidence::outcome::ProductionOutcome::Uptime {
                    min: 99.5,
                    coverage_min: 95.0,
                    window: crate::evidence::Window::ending(to, 7),
                    selector: Some("{job=\"neo4j\"}".into()),
                    measured: Ok(crate::evidence::UptimeMeasure {
                        percent: 99.716,
                        coverage: 99.9,
                        series: 1,
                        worst_hour: Some((to - 3 * 86_400, 91.6)),
                    }),
                },
            )),
            None,
        );
    }
    if ["neo4j", "model-management"].contains(&spec.name) {
        let fact = crate::gates::DrillFact {
            environment: spec.from,
            window_days: 7,
            last: Ok(Some(crate::gates::DrillRun {
                finished_at: now().naive_utc() - chrono::Duration::hours(50),
                passed: true,
                back_image: "sha256:1111aaaa2222".into(),
                forward_image: "sha256:3333bbbb4444".into(),
                failure: None,
            })),
        };
        out.add(
            GateKind::Rollback,
            gate(Outcome::Rollback {
                fact,
                now: now().naive_utc(),
            }),
            None,
        );
    }
}

/// Stage, lint, types, docs, security and tests.
fn code_gates(spec: &Spec, out: &mut Decided, config: &Config) {
    let failing = |id: &str| spec.failing.contains(&id);
    let (from, to) = (spec.from, spec.to);
    if from != to {
        out.add(GateKind::Stage, gate(Outcome::Stage { from, to }), None);
    }
    let lint = spec.lint as usize;
    out.add(
        GateKind::Lint,
        gate(Outcome::Lint {
            findings: lint,
            unformatted: 0,
        }),
        failing("lint").then(|| {
            blocker(
                GateKind::Lint,
                &format!("{} ruff findings (2 safely fixable)", spec.lint),
                &format!("run `cargo xtask promote {} --phase 1 --fix`", spec.name),
            )
        }),
    );
    if spec.errored {
        out.add(
            GateKind::Types,
            gate(Outcome::NoVerdict {
                step: StepKind::Pyright,
                errored: true,
            }),
            Some(blocker(
                GateKind::Types,
                "pyright could not give a verdict: pyright did not finish within 600s",
                "raise its limit under [timeouts] in xtask.toml",
            )),
        );
    } else {
        out.add(
            GateKind::Types,
            gate(Outcome::Types {
                errors: 0,
                warnings: 0,
            }),
            None,
        );
    }
    let docs = Outcome::Docs {
        exists: true,
        present: 4,
        required: 4,
        unfinished: Vec::new(),
    };
    out.add(GateKind::Docs, gate(docs), None);
    let security = Outcome::Security {
        blocking: 0,
        below: 0,
        fail_on: config.policy.security_fail_on,
    };
    out.add(GateKind::Security, gate(security), None);
    let tests = TestCounts {
        total: 5,
        passed: 5,
        ..TestCounts::default()
    };
    out.add(GateKind::Tests, gate(Outcome::Tests(tests)), None);
}

/// Coverage, dependencies and observation.
fn promotion_gates(spec: &Spec, out: &mut Decided, config: &Config) {
    let component = config.component(spec.name).unwrap();
    let failing = |id: &str| spec.failing.contains(&id);
    let threshold = config.thresholds.coverage_for(spec.to);
    let coverage_passes = spec.coverage.is_some_and(|c| c >= threshold);
    let measured = spec.coverage.map_or(CoverageMeasure::NoData, |percent| {
        CoverageMeasure::Measured(Coverage {
            percent,
            covered: 0,
            total: 100,
            files: 1,
            branch: false,
        })
    });
    out.add(
        GateKind::Coverage,
        gate(Outcome::Coverage {
            threshold,
            measured,
        }),
        (!coverage_passes).then(|| {
            blocker(
                GateKind::Coverage,
                &format!(
                    "coverage is below the {} threshold of {threshold}%",
                    spec.to.id()
                ),
                "add tests",
            )
        }),
    );
    let lagging: Vec<&String> = component
        .depends_on
        .iter()
        .filter(|d| book().get(d).unwrap().stage < spec.to)
        .collect();
    let dependencies = Dependencies {
        stages: component
            .depends_on
            .iter()
            .map(|d| (d.clone(), book().get(d).unwrap().stage))
            .collect(),
        target: spec.to,
        undeclared: vec![],
        unused: vec![],
        dynamic: vec![],
    };
    out.add(
        GateKind::Dependencies,
        gate(Outcome::Dependencies(dependencies)),
        None,
    );
    for dependency in &lagging {
        out.blockers.push(blocker(
            GateKind::Dependencies,
            &format!("dependency {dependency} is below {}", spec.to),
            &format!("promote {dependency} first"),
        ));
    }
    if failing("observation") {
        let since = now().naive_utc() - chrono::Duration::hours(6 * 24 + 12);
        let observed = Observation::new(since, 7, now().naive_utc());
        out.gates.insert(
            GateKind::Observation,
            gate(Outcome::Observation {
                required_days: 7,
                observed: Some(observed),
            }),
        );
        out.blockers.push(blocker(
            GateKind::Observation,
            "in Staging for 6 days 12h",
            "wait",
        ));
    }
}

fn report(spec: &Spec, config: &Config) -> PromotionReport {
    let component = config.component(spec.name).unwrap();
    let Decided { gates, blockers } = decided(spec, config);
    let passed = gates.values().all(GateResult::passed);
    let steps = if spec.errored {
        vec![StepResult::error(
            StepKind::Pyright,
            "1.1.414",
            vec!["pyright".into()],
            StepError {
                kind: ErrorKind::TimedOut,
                message: "timed out".into(),
            },
            600_000,
        )]
    } else {
        vec![]
    };
    PromotionReport {
        schema_version: REPORT_SCHEMA_VERSION,
        component: spec.name.to_owned(),
        display_name: component.display_name.clone(),
        group: component.group.clone(),
        from_stage: spec.from,
        to_stage: spec.to,
        phases: vec![1, 2, 3, 4],
        promotable: passed && spec.from != spec.to,
        passed,
        generated_at: "2026-11-16T12:00:00Z".into(),
        quality_gates: gates,
        blockers,
        steps,
        summary: RunSummary {
            steps: 5,
            cached_steps: 5,
            findings: spec.lint as usize,
            coverage: spec.coverage,
        },
        deployment: None,
        integration: None,
    }
}

pub fn reports() -> Vec<PromotionReport> {
    use Stage::*;
    let config = config();
    let specs = [
        Spec {
            name: "neo4j",
            from: Staging,
            to: Production,
            coverage: Some(98.95),
            lint: 0,
            failing: &["observation"],
            errored: false,
        },
        Spec {
            name: "carbon",
            from: Development,
            to: Staging,
            coverage: Some(72.06),
            lint: 0,
            failing: &[],
            errored: false,
        },
        Spec {
            name: "docker",
            from: Development,
            to: Staging,
            coverage: Some(20.1),
            lint: 14,
            failing: &["lint"],
            errored: false,
        },
        Spec {
            name: "model-management",
            from: Production,
            to: Production,
            coverage: Some(100.0),
            lint: 0,
            failing: &[],
            errored: false,
        },
        Spec {
            name: "llm",
            from: Development,
            to: Staging,
            coverage: Some(75.0),
            lint: 0,
            failing: &[],
            errored: false,
        },
        Spec {
            name: "gameplay-loop",
            from: Development,
            to: Staging,
            coverage: None,
            lint: 0,
            failing: &[],
            errored: true,
        },
        Spec {
            name: "therapeutic-systems",
            from: Production,
            to: Production,
            coverage: Some(75.5),
            lint: 0,
            failing: &[],
            errored: false,
        },
    ];
    specs.iter().map(|spec| report(spec, &config)).collect()
}

/// The whole fixed report.
pub fn status() -> StatusReport {
    let config = config();
    let reports = reports();
    let book = book();
    let runs = runs();
    collect(&Inputs {
        config: &config,
        reports: &reports,
        book: &book,
        runs: &runs,
        history_file: "reports/history/status.jsonl",
        now: now(),
    })
}

/// A status report of `count` components shaped like the fixed one (cycled), named `c00`,
/// `c01`, ..., each depending on the earlier ones that `edges` (dependency, dependent) name.
pub fn wide(count: usize, edges: &[(usize, usize)]) -> StatusReport {
    let mut report = status();
    let base = report.components.clone();
    let stages = [Stage::Development, Stage::Staging, Stage::Production];
    report.components = (0..count)
        .map(|i| {
            let mut c = base[i % base.len()].clone();
            c.name = format!("c{i:02}");
            c.display_name = format!("Component {i} of the wide fixture");
            c.stage = stages[i % 3];
            c.dependencies = edges
                .iter()
                .filter(|(_, to)| *to == i)
                .map(|(from, _)| super::model::DependencyStatus {
                    name: format!("c{from:02}"),
                    stage: stages[from % 3],
                    satisfied: from % 3 >= i % 3,
                })
                .collect();
            c
        })
        .collect();
    report.summary.components = count;
    report
}
