//! The flags of `promote` read once into what the run will do (checks, a deploy or a rollback
//! drill), with every rule about which flag goes with which phase in this one pure function.

use anyhow::Result;

use crate::cli::{OutputFormat, PromoteArgs};
use crate::commands::CheckOptions;
use crate::errors::usage;
use crate::plan::PhaseSelection;
use crate::vocab::{Phase, Stage};

/// One promote run, by what it does.
#[derive(Debug, PartialEq)]
pub enum PromoteRequest {
    /// Phases 1-4: plan, run and decide the checks of each named component.
    Checks(Checks),
    /// Phase 5: validate one component and deploy it with docker compose.
    Deploy(Deploy),
    /// Phase 5 with `--drill`: the rollback drill of one deployed component.
    Drill(Drill),
}

/// `--fix` with `--allow-dirty`, which clap only accepts together with `--fix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    Off,
    /// Edits only files whose changes git has (like `cargo fix`).
    Committed,
    /// `--allow-dirty`: edits files with uncommitted changes too.
    AllowDirty,
}

impl Fix {
    pub fn on(self) -> bool {
        self != Fix::Off
    }
}

#[derive(Debug, PartialEq)]
pub struct Checks {
    pub components: Vec<String>,
    /// Never phase 5: that is a `Deploy` or a `Drill`.
    pub phases: PhaseSelection,
    pub target: Option<Stage>,
    pub fix: Fix,
    /// Only with validation among the phases.
    pub integration: bool,
    /// Only with a phase that decides promotability.
    pub record: bool,
    pub options: CheckOptions,
    pub format: OutputFormat,
}

#[derive(Debug, PartialEq)]
pub struct Deploy {
    /// Phase 5 deploys one component at a time.
    pub component: String,
    pub target: Option<Stage>,
    pub integration: bool,
    pub record: bool,
    pub options: CheckOptions,
    pub format: OutputFormat,
}

/// A drill runs on the environment of the stage the component is in, and fixes, records and
/// tests nothing, so it takes no other flag.
#[derive(Debug, PartialEq)]
pub struct Drill {
    pub component: String,
    pub format: OutputFormat,
}

impl PromoteRequest {
    /// The request the flags ask for, or the usage error (exit 2) that says which flag does
    /// not go with the phase; reads nothing but the flags.
    pub fn from_args(args: &PromoteArgs) -> Result<PromoteRequest> {
        if args.drill {
            return drill(args).map(PromoteRequest::Drill);
        }
        if args.phase.contains(Phase::Deploy) {
            return deploy(args).map(PromoteRequest::Deploy);
        }
        checks(args).map(PromoteRequest::Checks)
    }
}

fn options(args: &PromoteArgs) -> CheckOptions {
    CheckOptions {
        jobs: args.jobs,
        refresh: args.no_cache,
    }
}

fn checks(args: &PromoteArgs) -> Result<Checks> {
    if args.integration && !args.phase.contains(Phase::Validate) {
        return Err(usage(
            "--integration runs with validation: pass --phase 4, --phase all or --phase 5",
        ));
    }
    if args.record && !args.phase.decides_promotion() {
        return Err(usage(
            "--record needs the validation phase, which decides promotability: pass --phase all (or 4; or 5 to deploy, then record)",
        ));
    }
    let fix = match (args.fix, args.allow_dirty) {
        (false, _) => Fix::Off,
        (true, false) => Fix::Committed,
        (true, true) => Fix::AllowDirty,
    };
    Ok(Checks {
        components: args.components.clone(),
        phases: args.phase.clone(),
        target: args.target,
        fix,
        integration: args.integration,
        record: args.record,
        options: options(args),
        format: args.format,
    })
}

fn single_component(args: &PromoteArgs) -> Result<String> {
    match args.components.as_slice() {
        [name] => Ok(name.clone()),
        _ => Err(usage(
            "phase 5 deploys one component at a time: name a single component",
        )),
    }
}

fn deploy(args: &PromoteArgs) -> Result<Deploy> {
    let component = single_component(args)?;
    if args.fix {
        return Err(usage(
            "--fix does not apply to phase 5: run `--phase all --fix` first, commit, then deploy",
        ));
    }
    Ok(Deploy {
        component,
        target: args.target,
        integration: args.integration,
        record: args.record,
        options: options(args),
        format: args.format,
    })
}

/// `--drill` exercises the rollback of what runs in the component's current environment: it
/// runs with phase 5 alone, and with no flag that fixes, records, tests or picks a target.
fn drill(args: &PromoteArgs) -> Result<Drill> {
    if !args.phase.contains(Phase::Deploy) {
        return Err(usage(
            "--drill rolls a deployed service back and forward again: pass --phase 5 --drill",
        ));
    }
    let refused = [
        (args.fix, "--fix (fix and commit first, then drill)"),
        (
            args.record,
            "--record (a drill promotes nothing; record with --phase all --record)",
        ),
        (
            args.integration,
            "--integration (run the integration tests with --phase 4 --integration)",
        ),
        (
            args.target.is_some(),
            "--target (a drill runs on the environment of the stage the component is in)",
        ),
    ];
    if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
        return Err(usage(format!(
            "--drill does not take {flag}: run `cargo xtask promote COMPONENT --phase 5 --drill`"
        )));
    }
    Ok(Drill {
        component: single_component(args)?,
        format: args.format,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::errors::{exit, exit_code_of};

    fn request(flags: &[&str]) -> Result<PromoteRequest> {
        let argv = ["cargo xtask", "promote"].iter().chain(flags);
        let cli = Cli::try_parse_from(argv).expect("clap accepts the flags");
        let Command::Promote(args) = cli.command else {
            panic!("not a promote command");
        };
        PromoteRequest::from_args(&args)
    }

    /// The refusal's text, after checking it exits 2 like every usage error.
    fn refusal(flags: &[&str]) -> String {
        let error = request(flags).expect_err("refused");
        assert_eq!(exit_code_of(&error), exit::USAGE, "{error:#}");
        error.to_string()
    }

    const DRILL_HINT: &str = ": run `cargo xtask promote COMPONENT --phase 5 --drill`";

    #[test]
    fn checks_carry_every_flag() {
        let got = request(&[
            "a",
            "b",
            "--phase",
            "4",
            "--target",
            "staging",
            "--fix",
            "--allow-dirty",
            "-j",
            "3",
            "--no-cache",
            "--format",
            "json",
            "--record",
            "--integration",
        ])
        .unwrap();
        let expected = PromoteRequest::Checks(Checks {
            components: vec!["a".into(), "b".into()],
            phases: PhaseSelection(vec![Phase::Validate]),
            target: Some(Stage::Staging),
            fix: Fix::AllowDirty,
            integration: true,
            record: true,
            options: CheckOptions {
                jobs: Some(3),
                refresh: true,
            },
            format: OutputFormat::Json,
        });
        assert_eq!(got, expected);
    }

    #[test]
    fn fix_is_off_committed_only_or_allowed_on_dirty_files() {
        let fix = |flags: &[&str]| match request(flags).unwrap() {
            PromoteRequest::Checks(checks) => checks.fix,
            other => panic!("{other:?}"),
        };
        assert_eq!(fix(&["a"]), Fix::Off);
        assert_eq!(fix(&["a", "--fix"]), Fix::Committed);
        assert_eq!(fix(&["a", "--fix", "--allow-dirty"]), Fix::AllowDirty);
        assert!(!Fix::Off.on() && Fix::Committed.on() && Fix::AllowDirty.on());
    }

    #[test]
    fn integration_needs_the_validation_phase() {
        for phase in ["1", "2", "3"] {
            assert_eq!(
                refusal(&["a", "--phase", phase, "--integration"]),
                "--integration runs with validation: pass --phase 4, --phase all or --phase 5"
            );
        }
        for phase in ["4", "all", "5"] {
            request(&["a", "--phase", phase, "--integration"]).unwrap();
        }
    }

    #[test]
    fn record_needs_a_phase_that_decides_promotion() {
        for phase in ["1", "2", "3"] {
            assert_eq!(
                refusal(&["a", "--phase", phase, "--record"]),
                "--record needs the validation phase, which decides promotability: pass --phase all (or 4; or 5 to deploy, then record)"
            );
        }
        for phase in ["4", "all", "5"] {
            request(&["a", "--phase", phase, "--record"]).unwrap();
        }
    }

    #[test]
    fn phase_5_is_a_deploy_of_one_component_with_its_flags() {
        let got = request(&[
            "a",
            "--phase",
            "5",
            "--target",
            "production",
            "--integration",
            "--record",
            "-j",
            "2",
        ])
        .unwrap();
        let expected = PromoteRequest::Deploy(Deploy {
            component: "a".into(),
            target: Some(Stage::Production),
            integration: true,
            record: true,
            options: CheckOptions {
                jobs: Some(2),
                refresh: false,
            },
            format: OutputFormat::Text,
        });
        assert_eq!(got, expected);
    }

    #[test]
    fn a_deploy_names_a_single_component() {
        assert_eq!(
            refusal(&["a", "b", "--phase", "5"]),
            "phase 5 deploys one component at a time: name a single component"
        );
    }

    #[test]
    fn a_deploy_refuses_fix() {
        assert_eq!(
            refusal(&["a", "--phase", "5", "--fix"]),
            "--fix does not apply to phase 5: run `--phase all --fix` first, commit, then deploy"
        );
    }

    #[test]
    fn a_drill_is_phase_5_of_one_component() {
        let got = request(&["a", "--phase", "5", "--drill", "--format", "json"]).unwrap();
        let expected = PromoteRequest::Drill(Drill {
            component: "a".into(),
            format: OutputFormat::Json,
        });
        assert_eq!(got, expected);
        assert_eq!(
            refusal(&["a", "b", "--phase", "5", "--drill"]),
            "phase 5 deploys one component at a time: name a single component"
        );
    }

    #[test]
    fn a_drill_needs_phase_5() {
        for phase in ["1", "4", "all"] {
            // The phase is named first, before any other flag the drill refuses.
            assert_eq!(
                refusal(&["a", "--phase", phase, "--drill", "--fix"]),
                "--drill rolls a deployed service back and forward again: pass --phase 5 --drill"
            );
        }
        assert_eq!(
            refusal(&["a", "--drill"]),
            "--drill rolls a deployed service back and forward again: pass --phase 5 --drill"
        );
    }

    #[test]
    fn a_drill_takes_no_flag_that_fixes_records_tests_or_picks_a_target() {
        let cases = [
            (&["--fix"][..], "--fix (fix and commit first, then drill)"),
            (
                &["--record"][..],
                "--record (a drill promotes nothing; record with --phase all --record)",
            ),
            (
                &["--integration"][..],
                "--integration (run the integration tests with --phase 4 --integration)",
            ),
            (
                &["--target", "staging"][..],
                "--target (a drill runs on the environment of the stage the component is in)",
            ),
        ];
        for (extra, flag) in cases {
            // Two components too: the flag is named before the count.
            let mut flags = vec!["a", "b", "--phase", "5", "--drill"];
            flags.extend_from_slice(extra);
            assert_eq!(
                refusal(&flags),
                format!("--drill does not take {flag}{DRILL_HINT}")
            );
        }
    }
}
