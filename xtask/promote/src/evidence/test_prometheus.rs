//! A real Prometheus for the tests: series written as OpenMetrics, turned into TSDB blocks by
//! `promtool tsdb create-blocks-from openmetrics` in a temp storage folder, then `prometheus`
//! started on a free loopback port with a rules file and a scrape of itself. It stops on Drop
//! (also when a test panics), dies with the test process, and is killed after `LIFETIME` in any
//! case. Also the OpenMetrics writer for the fixtures and a canned HTTP server for bad answers.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest a test Prometheus lives.
pub const LIFETIME: Duration = Duration::from_secs(300);

/// Seconds between two samples of the fixtures (what `scrape_interval_seconds` says).
pub const STEP: i64 = 300;

/// One fixture series: `up{job=…}` over the 7 days (and one hour) before `now`.
pub struct Fixture<'a> {
    pub job: &'a str,
    /// (start, length) in seconds before `now` of a time the target was down.
    pub outage: Option<(i64, i64)>,
    /// (start, length) in seconds before `now` of a time with no samples at all.
    pub gap: Option<(i64, i64)>,
    /// Also write a request-duration histogram whose p95 is about 240 ms.
    pub histogram: bool,
}

fn inside(t: i64, now: i64, span: Option<(i64, i64)>) -> bool {
    span.is_some_and(|(ago, length)| t >= now - ago && t < now - ago + length)
}

/// The OpenMetrics text of the fixtures, every sample at or before `now - 30`.
pub fn openmetrics(now: i64, fixtures: &[Fixture<'_>]) -> String {
    let start = now - 7 * 86_400 - 3600;
    let times = || {
        (0..)
            .map(move |k| start + k * STEP)
            .take_while(move |t| *t <= now - 30)
    };
    let mut text = String::from("# TYPE up gauge\n");
    for fixture in fixtures {
        for t in times().filter(|t| !inside(*t, now, fixture.gap)) {
            let up = u8::from(!inside(t, now, fixture.outage));
            let _ = writeln!(
                text,
                "up{{job=\"{}\",instance=\"{0}:8000\"}} {up} {t}",
                fixture.job
            );
        }
    }
    text.push_str("# TYPE http_request_duration_seconds histogram\n");
    for fixture in fixtures.iter().filter(|f| f.histogram) {
        let job = fixture.job;
        for (k, t) in times().enumerate() {
            let count = (k as u64 + 1) * 100;
            for (le, share) in [("0.1", 0.8), ("0.25", 0.96), ("0.5", 1.0), ("1.0", 1.0)] {
                let _ = writeln!(
                    text,
                    "http_request_duration_seconds_bucket{{job=\"{job}\",le=\"{le}\"}} {} {t}",
                    (count as f64 * share) as u64
                );
            }
            let _ = writeln!(
                text,
                "http_request_duration_seconds_bucket{{job=\"{job}\",le=\"+Inf\"}} {count} {t}"
            );
            let _ = writeln!(
                text,
                "http_request_duration_seconds_count{{job=\"{job}\"}} {count} {t}"
            );
            let _ = writeln!(
                text,
                "http_request_duration_seconds_sum{{job=\"{job}\"}} {} {t}",
                count as f64 * 0.1
            );
        }
    }
    text.push_str("# EOF\n");
    text
}

pub struct TestPrometheus {
    dir: tempfile::TempDir,
    child: Option<Child>,
    stop: Option<mpsc::Sender<()>>,
    pub port: u16,
}

impl TestPrometheus {
    /// Prometheus over the blocks of `openmetrics`, with `rules` (a rules file's YAML) loaded
    /// and a scrape job `self` of its own `/metrics`; returns once that target is up.
    pub fn start(openmetrics: &str, rules: &str) -> TestPrometheus {
        TestPrometheus::start_as(openmetrics, rules, "self", None)
    }

    /// As `start`, with its scrape of itself as job `job` and, when given, `instance` (so the
    /// live `up` series can continue a fixture's series).
    // A server beside the tests, not a tool run: process::run runs to completion.
    #[allow(clippy::disallowed_methods)]
    pub fn start_as(
        openmetrics: &str,
        rules: &str,
        job: &str,
        instance: Option<&str>,
    ) -> TestPrometheus {
        let mut dir = tempfile::Builder::new()
            .prefix("xtask-prometheus-")
            .tempdir()
            .expect("a temp folder for prometheus");
        let data = dir.path().join("data");
        std::fs::write(dir.path().join("series.om"), openmetrics).unwrap();
        std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
        let made = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics", "-q"])
            .arg(dir.path().join("series.om"))
            .arg(&data)
            .stdin(Stdio::null())
            .output()
            .expect("promtool runs (Debian package `prometheus`, installed by .ci/run)");
        assert!(
            made.status.success(),
            "promtool failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        for _ in 0..20 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free loopback port");
            std::fs::write(
                dir.path().join("prometheus.yml"),
                format!(
                    "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n{}",
                    dir.path().join("rules.yml").display(),
                    instance.map_or_else(String::new, |i| format!(
                        "        labels:\n          instance: '{i}'\n"
                    ))
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
            let mut command = Command::new("prometheus");
            command
                .arg(format!(
                    "--config.file={}",
                    dir.path().join("prometheus.yml").display()
                ))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                // The blocks are days old: keep them however old they get.
                .arg("--storage.tsdb.retention.time=100y")
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            // SAFETY: prctl is async-signal-safe; prometheus dies with the test process.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = command
                .spawn()
                .expect("prometheus runs (Debian package `prometheus`, installed by .ci/run)");
            let pid = child.id() as libc::pid_t;
            let (stop, stopped) = mpsc::channel::<()>();
            std::thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(LIFETIME) {
                    // SAFETY: the child is not reaped before Drop says stop, so the pid is ours.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            });
            let mut server = TestPrometheus {
                dir,
                child: Some(child),
                stop: Some(stop),
                port,
            };
            if server.wait_ready() {
                return server;
            }
            let log = server.log();
            assert!(
                log.contains("address already in use"),
                "prometheus failed to start:\n{log}"
            );
            server.stop();
            // The blocks stay: the next try uses the same folder.
            dir = server.take_dir();
        }
        panic!("no free port for prometheus after 20 tries");
    }

    /// Ready, and its own scrape target up (so the targets API has a healthy target).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child
                && let Ok(Some(_)) = child.try_wait()
            {
                return false;
            }
            let targets = get(self.port, "/api/v1/targets?state=active");
            if targets.contains("\"health\":\"up\"") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("prometheus did not become ready:\n{}", self.log());
    }

    fn take_dir(&mut self) -> tempfile::TempDir {
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("a temp folder"))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain GET on loopback, its whole answer as text ("" when nothing answered).
fn get(port: u16, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// A server that answers every request with one fixed status and body, and counts requests.
pub struct Canned {
    pub port: u16,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Canned {
    pub fn start(status: u16, body: &'static str) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = requests.clone();
        // The thread ends with the test process; it holds nothing but the socket.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                answer(stream, status, body);
            }
        });
        Canned { port, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn answer(mut stream: TcpStream, status: u16, body: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    let _ = write!(
        stream,
        "HTTP/1.1 {status} Canned\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
