//! A private nginx WebDAV server on 127.0.0.1 for remote-cache tests.
//!
//! Include with `#[path = "support/nginx.rs"] mod nginx;`. The server runs in
//! the foreground as a child of the test (`daemon off; master_process off;`),
//! serves `http://127.0.0.1:PORT/cache/` from a temp dir, and is killed by
//! `Drop` even when the test fails.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx WebDAV cache.
pub struct Nginx {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

fn config(dir: &Path, port: u16, fail_with: Option<u16>) -> String {
    let d = dir.display();
    let location = match fail_with {
        Some(code) => format!("location /cache/ {{ return {code}; }}"),
        None => "location /cache/ { dav_methods PUT; create_full_put_path on;
      dav_access user:rw group:r all:r; client_max_body_size 0; }"
            .to_string(),
    };
    format!(
        "worker_processes 1; daemon off; master_process off;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log {d}/logs/access.log;
  client_body_temp_path {d}/tmp/client_body;
  proxy_temp_path {d}/tmp/proxy; fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
  server {{ listen 127.0.0.1:{port}; root {d}/data;
    {location} }} }}
"
    )
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

impl Nginx {
    /// Starts a WebDAV cache server on a free port.
    pub fn start() -> Nginx {
        Self::launch(None)
    }

    /// Starts a server that answers every cache request with `status`
    /// (e.g. 503), to test a broken remote.
    pub fn start_failing(status: u16) -> Nginx {
        Self::launch(Some(status))
    }

    /// Starts a server on a free port (retrying if the port was taken).
    fn launch(fail_with: Option<u16>) -> Nginx {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["logs", "tmp", "data/cache"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        for _attempt in 0..5 {
            let port = free_port();
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, config(dir.path(), port, fail_with)).expect("write nginx.conf");
            let mut child = Command::new("nginx")
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.path().join("logs/error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nginx (is it installed?)");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: port probably taken, try another
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Nginx {
                        dir,
                        port,
                        child: Some(child),
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.path().join("logs/error.log")).unwrap_or_default();
        panic!("nginx did not start: {log}");
    }

    /// Base URL of the cache (`http://127.0.0.1:PORT/cache`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cache", self.port)
    }

    /// The directory holding `ac/` and `cas/` as stored by the server.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data/cache")
    }

    /// Lines of the access log (to count requests).
    pub fn access_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("logs/access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Stops the server and waits until the port no longer answers.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// True while the server runs.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}
