//! The Production gates against a real Prometheus (blocks written by promtool from fixtures
//! generated relative to now) and against servers that answer badly: down, slow, 4xx, 5xx, a
//! query error, an empty result, NaN. None of the bad answers may pass.

use std::time::{Duration, Instant};

use super::gate::{self, Verdict};
use super::test_prometheus::{Canned, Fixture, STEP, TestPrometheus, openmetrics};
use super::{ProductionFacts, Session};
use crate::config::{Config, parse};
use crate::vocab::Stage;

const COMPOSE: &str = "services:\n  carbon-api:\n    image: busybox\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n  bare:\n    image: busybox\n";

/// A registry whose components select `job` = their name; `url` is the staging Prometheus.
fn config(dir: &std::path::Path, url: &str, extra: &str) -> Config {
    std::fs::write(dir.join("compose.yml"), COMPOSE).unwrap();
    let mut text = crate::config::test_registry_head(&["Core Infrastructure"]);
    for (name, keys) in [
        ("outage", "sla = \"none\"\n"),
        (
            "good",
            "service = \"carbon-api\"\nmetrics = { job = \"good\" }\n[components.good.sla]\np95_ms = 300\n",
        ),
        (
            "slow",
            "service = \"bare\"\nmetrics = { job = \"good\" }\n[components.slow.sla]\np95_ms = 200\n",
        ),
        ("gap", "sla = \"none\"\n"),
        ("self", "service = \"carbon-api\"\nsla = \"none\"\n"),
        ("nosla", ""),
    ] {
        let metrics = if keys.contains("metrics") || name == "self" {
            String::new()
        } else {
            format!("metrics = {{ job = \"{name}\" }}\n")
        };
        let (head, tail) = keys
            .split_once('[')
            .map_or((keys, String::new()), |(h, t)| (h, format!("[{t}")));
        text.push_str(&format!(
            "[components.{name}]\ndisplay_name = \"{name}\"\ngroup = \"Core Infrastructure\"\nsource = \"src/{name}.py\"\n{metrics}{head}{tail}"
        ));
    }
    // `self` is Prometheus scraping itself: its job is `self`.
    let text = text.replace(
        "[components.self]\ndisplay_name = \"self\"\ngroup = \"Core Infrastructure\"\nsource = \"src/self.py\"\n",
        "[components.self]\ndisplay_name = \"self\"\ngroup = \"Core Infrastructure\"\nsource = \"src/self.py\"\nmetrics = { job = \"self\" }\n",
    );
    let text = format!(
        "{text}\n[environments.staging]\ncompose_file = \"compose.yml\"\nproject_name = \"tta-staging\"\n[observability]\nscrape_interval_seconds = {STEP}\ntimeout_ms = 3000\n{extra}[observability.prometheus.staging]\nurl = \"{url}\"\n"
    );
    parse(&text, &dir.join("xtask.toml")).unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

const RULES: &str = "groups:\n  - name: tta\n    rules:\n      - alert: GoodDown\n        expr: up{job=\"good\"} == 0\n        for: 1m\n      - alert: SelfDown\n        expr: up{job=\"self\"} == 0\n";

#[test]
fn uptime_latency_and_monitoring_from_a_real_prometheus() {
    let now = now();
    let fixtures = [
        // One hour down in seven days: 99.40 %.
        Fixture {
            job: "outage",
            outage: Some((3 * 86_400, 3600)),
            gap: None,
            histogram: false,
        },
        // Thirty minutes down: 99.70 %.
        Fixture {
            job: "good",
            outage: Some((2 * 86_400, 1800)),
            gap: None,
            histogram: true,
        },
        // Two days without a sample.
        Fixture {
            job: "gap",
            outage: None,
            gap: Some((5 * 86_400, 2 * 86_400)),
            histogram: false,
        },
    ];
    let prometheus = TestPrometheus::start(&openmetrics(now, &fixtures), RULES);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &prometheus.url(), "");
    let session = Session::new(&config);
    let facts = |name: &str| {
        let healthcheck = crate::deploy::declared::healthcheck(&config, name, Stage::Staging);
        session.gather(name, Stage::Staging, now, healthcheck)
    };

    let outage = facts("outage");
    let verdict = gate::uptime(&outage, &config);
    let summary = verdict.outcome.summary();
    assert!(!verdict.outcome.passed(), "{summary}");
    assert!(summary.starts_with("99.40% up over 7 days"), "{summary}");
    assert!(summary.contains("below 99.50%"), "{summary}");
    let (message, fix) = verdict.blocker.unwrap();
    assert!(message.contains("99.40%"), "{message}");
    assert!(
        fix.contains("avg_over_time(up{job=\"outage\"}[7d])"),
        "{fix}"
    );
    // The worst hour is the outage's, within the hour.
    let measured = outage.uptime.as_ref().unwrap();
    let (at, worst) = measured.worst_hour.unwrap();
    assert!(worst < 50.0, "{worst}");
    assert!((at - (now - 3 * 86_400)).abs() <= 3600, "{at}");
    assert!(measured.coverage > 99.0, "{}", measured.coverage);

    let good = facts("good");
    let verdict = gate::uptime(&good, &config);
    let summary = verdict.outcome.summary();
    assert!(verdict.outcome.passed(), "{summary}");
    assert!(summary.starts_with("99.70% up"), "{summary}");
    assert!(summary.contains("worst hour"), "{summary}");
    let latency = gate::latency(&good, "good");
    let summary = latency.outcome.summary();
    assert!(latency.outcome.passed(), "{summary}");
    let p95 = good.latency.clone().unwrap().unwrap();
    assert!((200.0..300.0).contains(&p95), "{p95}");
    let monitoring = gate::monitoring(&good, "good");
    // An alerting rule and a healthcheck, but no scrape target for `good`.
    assert!(!monitoring.outcome.passed());
    let summary = monitoring.outcome.summary();
    assert!(summary.contains("alerts: GoodDown"), "{summary}");
    assert!(summary.contains("no active target"), "{summary}");
    assert!(summary.contains("healthcheck of `carbon-api`"), "{summary}");

    // The same series against a tighter SLA, and a service without a healthcheck.
    let slow = facts("slow");
    let latency = gate::latency(&slow, "slow");
    let summary = latency.outcome.summary();
    assert!(
        !latency.outcome.passed() && summary.contains("over 200 ms"),
        "{summary}"
    );
    let monitoring = gate::monitoring(&slow, "slow");
    assert!(
        monitoring
            .blocker
            .unwrap()
            .0
            .contains("declares no healthcheck"),
        "a service without a healthcheck"
    );

    let gap = facts("gap");
    let verdict = gate::uptime(&gap, &config);
    let summary = verdict.outcome.summary();
    assert!(!verdict.outcome.passed(), "{summary}");
    assert!(summary.starts_with("not enough data: 71."), "{summary}");

    // Prometheus scraping itself: a healthy target, an alerting rule, a healthcheck.
    let me = facts("self");
    let monitoring = gate::monitoring(&me, "self");
    assert!(
        monitoring.outcome.passed(),
        "{}",
        monitoring.outcome.summary()
    );
    assert!(
        gate::latency(&me, "self").outcome.passed(),
        "sla = \"none\""
    );

    // No SLA declared: the latency gate fails and says how to declare one.
    let nosla = facts("nosla");
    let verdict = gate::latency(&nosla, "nosla");
    assert!(!verdict.outcome.passed());
    assert!(verdict.blocker.unwrap().1.contains("sla = \"none\""));
    assert_eq!(
        session.take_warning(),
        None,
        "a healthy Prometheus warns of nothing"
    );
}

/// Every gate of `facts` fails (the uptime and latency gates with `reason` in their summary).
fn all_fail(facts: &ProductionFacts, config: &Config, reason: &str) {
    let verdicts: Vec<(&str, Verdict)> = vec![
        ("uptime", gate::uptime(facts, config)),
        ("latency", gate::latency(facts, "good")),
        ("monitoring", gate::monitoring(facts, "good")),
    ];
    for (name, verdict) in verdicts {
        let summary = verdict.outcome.summary();
        assert!(
            !verdict.outcome.passed(),
            "{name} passed on a bad answer: {summary}"
        );
        // A NaN count of samples is no coverage: the uptime gate says "not enough data".
        let reason = if reason == "NaN" && name == "uptime" {
            "not enough data"
        } else {
            reason
        };
        if name != "monitoring" {
            assert!(summary.contains(reason), "{name}: {summary} lacks {reason}");
        }
    }
}

#[test]
fn bad_answers_fail_every_gate_with_the_reason_and_warn_once() {
    let dir = tempfile::tempdir().unwrap();
    let query_error =
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\""}"#;
    let cases: Vec<(Canned, &str)> = vec![
        (Canned::start(400, query_error), "HTTP 400"),
        (Canned::start(422, query_error), "invalid parameter"),
        (Canned::start(503, "<html>overloaded</html>"), "HTTP 503"),
        (Canned::start(404, ""), "HTTP 404"),
        (
            Canned::start(
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            ),
            "series for {job=\"good\"} in the last 7 days",
        ),
        (
            Canned::start(
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"good"},"value":[1,"NaN"]}]}}"#,
            ),
            "NaN",
        ),
        (Canned::start(200, "not json"), "not Prometheus API JSON"),
    ];
    for (server, reason) in &cases {
        let config = config(dir.path(), &server.url(), "");
        let session = Session::new(&config);
        let facts = session.gather("good", Stage::Staging, now(), Ok("declared".into()));
        all_fail(&facts, &config, reason);
        if !reason.contains("series for") && *reason != "NaN" {
            let warning = session.take_warning().expect("one warning");
            assert!(warning.contains(reason), "{warning}");
            assert_eq!(session.take_warning(), None, "one warning per run");
            // The breaker: after the first failure nothing more is asked.
            assert_eq!(server.requests(), 1, "{reason}");
        }
    }
}

#[test]
fn a_down_or_hanging_prometheus_fails_within_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config_down = config(dir.path(), &format!("http://127.0.0.1:{closed}"), "");
    let facts =
        Session::new(&config_down).gather("good", Stage::Staging, now(), Ok("declared".into()));
    all_fail(&facts, &config_down, "gave no answer");

    let hanging = crate::remote_cache::test_server::Hanging::start();
    let config = config(dir.path(), &hanging.url(), "");
    let started = Instant::now();
    let session = Session::new(&config);
    let facts = session.gather("good", Stage::Staging, now(), Ok("declared".into()));
    let elapsed = started.elapsed();
    all_fail(&facts, &config, "gave no answer within 3.0s");
    // One deadline for the whole run, not one per query.
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
    assert!(session.take_warning().is_some());
}

#[test]
fn no_prometheus_configured_fails_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "http://127.0.0.1:9", "");
    let facts =
        Session::new(&config).gather("good", Stage::Production, now(), Ok("declared".into()));
    all_fail(&facts, &config, "[observability.prometheus.production]");
}
