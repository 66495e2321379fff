//! A `health_probe` that overruns its deadline on the real engine: the `docker exec` client is
//! killed at the deadline, and the probe's processes inside the container are found and killed
//! too, so the running service is left with its own processes only.

use super::engine::{Engine, Variant};
use super::{SERVICE, deploy, sandbox};

#[test]
fn a_probe_past_its_deadline_leaves_no_process_in_the_container() {
    let engine = Engine::new();
    engine.build("web", "v1", Variant::NoHealthcheck("v1"));
    engine.retag("web", "v1", "current");
    // The first run of the probe in each container hangs; later runs check the page.
    let probe = r#"health_probe = ["/bin/busybox", "sh", "-c", "if [ ! -e /www/.probed ]; then /bin/busybox touch /www/.probed; exec /bin/busybox sleep 600; fi; exec /bin/busybox wget -q -O /dev/null http://127.0.0.1/"]"#;
    let compose = format!(
        "services:\n  web:\n    image: {}\n",
        engine.image("web", "current")
    );
    let sandbox = sandbox(&engine, &compose, &format!("{SERVICE}\n{probe}"));
    engine.start(&sandbox, &["web"]);
    let v2 = engine.build("web", "v2", Variant::NoHealthcheck("v2"));
    engine.retag("web", "v2", "current");

    let run = deploy(&sandbox);
    assert_eq!(run.code, 0, "{}", run.all());
    let web = engine.containers("web");
    assert_eq!(web.len(), 1, "{web:?}");
    assert_eq!(web[0].image, v2);
    let processes = engine.processes(&web[0].id);
    assert!(
        processes.iter().all(|p| !p.contains("sleep")),
        "the hung probe is gone: {processes:?}"
    );
    assert!(
        processes.iter().any(|p| p.contains("httpd")),
        "{processes:?}"
    );
}
