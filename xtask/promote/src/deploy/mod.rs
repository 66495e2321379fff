//! Phase 5 and the services of integration tests, with docker compose driven through its CLI
//! (the v2 plugin or v1, detected once per run) against the real engine.
//!
//! The flow of a deploy: `preflight` (compose accepts the file, the service exists and has a
//! healthcheck or a probe) -> `lock` (one deploy per service) -> `rollout` (record the running
//! image, `up`, `health::wait` with our own deadline, on failure logs + rollback + proof) ->
//! `gate` (the deploy and an integration run as typed facts for `gates`), `record` for
//! `deployment.json`; `report::deploy` renders them. Parsers (`cli`,
//! `inspect`, `compose_file`) and argument lists (`argv`) are pure; `docker` runs commands.

pub mod argv;
pub mod cli;
pub mod compose_file;
pub mod docker;
pub mod gate;
pub mod health;
pub mod inspect;
pub mod integration;
pub mod lock;
pub mod model;
pub mod preflight;
pub mod record;
pub mod rollout;
pub mod services;
