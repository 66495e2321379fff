//! Test servers for the remote cache: a real nginx with its WebDAV module, configured as Bazel's
//! docs describe for nginx as a remote cache, on a loopback port with everything it writes in a
//! temp folder; and a server that accepts connections and never answers. Shared by the unit
//! tests and (through `#[path]`) the integration tests, so it uses no crate internals.

#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An nginx serving `/cache/` (GET, HEAD, PUT), `/scoped/` (GET and HEAD for anyone, PUT only
/// with the writer's credentials, as the README scopes tokens) and `/broken/` (500 to
/// everything), stopped on Drop, including when a test panics.
pub struct Nginx {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub port: u16,
}

impl Nginx {
    // A server beside the tests, not a tool run: process::run runs to completion.
    #[allow(clippy::disallowed_methods)]
    pub fn start() -> Nginx {
        let dir = tempfile::Builder::new()
            .prefix("xtask-nginx-")
            .tempdir()
            .expect("a temp folder for nginx");
        std::fs::create_dir_all(dir.path().join("www/cache")).unwrap();
        // nginx reads `{PLAIN}` passwords as they are: a test needs no crypt(3).
        std::fs::write(
            dir.path().join("writers"),
            format!("{SCOPED_WRITER}:{{PLAIN}}{SCOPED_PASSWORD}\n"),
        )
        .unwrap();
        // nginx cannot bind port 0 and say which port it got: take a free port from the kernel,
        // release it, and try again if someone else took it in between.
        for _ in 0..20 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free loopback port");
            std::fs::write(dir.path().join("nginx.conf"), config(dir.path(), port)).unwrap();
            let mut command = Command::new(nginx_binary());
            command
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(dir.path().join("nginx.conf"))
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe; nginx dies with the test process.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let mut child = command
                .spawn()
                .expect("nginx runs (Debian package `nginx`, installed by .ci/run)");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken, or the config is wrong: see below
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Nginx {
                        dir,
                        child: Some(child),
                        port,
                    };
                }
                assert!(Instant::now() < deadline, "nginx did not start listening");
                std::thread::sleep(Duration::from_millis(20));
            }
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            assert!(
                log.contains("Address already in use"),
                "nginx failed to start:\n{log}"
            );
        }
        panic!("no free port for nginx after 20 tries");
    }

    /// The base URL of the cache.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cache", self.port)
    }

    /// The base URL of a cache that anyone may read and only the writer may write to.
    pub fn scoped_url(&self) -> String {
        format!("http://127.0.0.1:{}/scoped", self.port)
    }

    /// The `Authorization` value (a token naming its scheme) that may write under
    /// `scoped_url`.
    pub fn scoped_write_token() -> String {
        // base64 of `ci-main:write-only-on-main`.
        "Basic Y2ktbWFpbjp3cml0ZS1vbmx5LW9uLW1haW4=".to_owned()
    }

    /// A base URL under which every request answers 500.
    pub fn broken_url(&self) -> String {
        format!("http://127.0.0.1:{}/broken", self.port)
    }

    /// Where the server keeps `/cache/`'s files.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("www/cache")
    }

    /// Files stored under `ac/` or `cas/`.
    pub fn stored(&self, kind: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.storage().join(kind))
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The access log's lines.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// How many requests used `method` (`"PUT"`, `"GET"`, `"HEAD"`).
    pub fn count(&self, method: &str) -> usize {
        let needle = format!("\"{method} ");
        self.requests()
            .iter()
            .filter(|line| line.contains(&needle))
            .count()
    }

    /// Stops the server; later requests find nothing listening.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

const SCOPED_WRITER: &str = "ci-main";
const SCOPED_PASSWORD: &str = "write-only-on-main";

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("nginx"))
}

/// Bazel's nginx recipe (WebDAV PUT, full put paths), with every path nginx writes inside `dir`
/// and one foreground process.
fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /cache/ {{
            root {d}/www;
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw;
            client_max_body_size 64m;
        }}
        location /scoped/ {{
            root {d}/www;
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw;
            client_max_body_size 64m;
            limit_except GET HEAD {{
                auth_basic "xtask cache writers";
                auth_basic_user_file {d}/writers;
            }}
        }}
        location /broken/ {{
            return 500;
        }}
    }}
}}
"#
    )
}

/// A server that accepts connections and never answers, until dropped.
pub struct Hanging {
    pub addr: SocketAddr,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Hanging {
    pub fn start() -> Hanging {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&held);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                // Read what the client sends so it is not refused, and answer nothing.
                let mut reader = stream.try_clone().unwrap();
                std::thread::spawn(move || {
                    let mut sink = [0u8; 4096];
                    while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
                });
                keep.lock().unwrap().push(stream);
            }
        });
        Hanging { addr, held }
    }

    pub fn url(&self) -> String {
        format!("http://{}/cache", self.addr)
    }

    pub fn connections(&self) -> usize {
        self.held.lock().unwrap().len()
    }
}
