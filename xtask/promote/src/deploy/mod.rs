//! Phase 5 and the services of integration tests, with docker compose driven through its CLI
//! (the v2 plugin or v1, detected once per run) against the real engine.
//!
//! The flow of a deploy: `sources` and `preflight` (the compose file and what it pulls in stay
//! inside the repository, compose accepts it, the service exists with a healthcheck that runs
//! something or a probe) and `history` (the deployment history parses and is believable) ->
//! `lock` (one deploy per service per checkout) and `engine_lock` (per engine, whichever
//! checkout) -> `recover` (an attempt whose process died is finished first: its last proven
//! state restored) -> `rollout` (the intent recorded, `up`, `health::wait` with our own
//! deadline, the `settle` window, on failure logs and `restore` of the last proven state,
//! proven the same way; or `drill`, the rollback exercised on purpose: back to the previous
//! proven state and forward again, each proven through `restore`) -> `gate` (the deploy, an
//! integration run and the newest drill as typed facts for `gates`), `record` for
//! `deployment.json` and `configs` for the configurations proven states ran with;
//! `report::deploy` renders them. Parsers (`cli`, `inspect`, `compose_file`, `history`,
//! `probe::parse_top`) and argument lists (`argv`) are pure; `docker` runs commands.

pub mod argv;
pub mod cli;
pub mod compose_file;
pub mod configs;
pub mod declared;
pub mod docker;
pub mod drill;
pub mod engine_lock;
pub mod gate;
pub mod health;
pub mod history;
pub mod inspect;
pub mod integration;
pub mod interrupted;
pub mod lock;
pub mod model;
pub mod preflight;
pub mod probe;
pub mod record;
pub mod recover;
pub mod restore;
pub mod rollout;
pub mod service;
pub mod services;
pub mod settle;
pub mod sources;
