//! A private nginx WebDAV server on 127.0.0.1 for remote-cache tests.
//!
//! Include with `#[path = "support/nginx.rs"] mod nginx;`. The server runs in
//! the foreground as a child of the test (`daemon off; master_process off;`),
//! serves `http://127.0.0.1:PORT/cache/` from a temp dir, and is killed by
//! `Drop` even when the test fails.
//!
//! Variants for attacking a client: [`Nginx::start_tls`] (https with a
//! private CA made by the `openssl` CLI, see [`Nginx::ca_cert`]),
//! [`Nginx::start_requiring_header`] (401 without an API key) and
//! [`Nginx::start_redirecting`] (302 to another port for every request).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx WebDAV cache.
pub struct Nginx {
    dir: tempfile::TempDir,
    port: u16,
    tls: bool,
    child: Option<Child>,
}

/// What the server does with requests under `/cache/`.
#[derive(Clone, Debug)]
enum Mode {
    /// A WebDAV store (GET/PUT).
    Store,
    /// Every request answered with this status.
    Failing(u16),
    /// A WebDAV store over https with `DIR/tls/server.{pem,key}`.
    Tls,
    /// A WebDAV store that answers 401 unless header `name` is `value`.
    Header { name: String, value: String },
    /// `302` to the same path on `127.0.0.1:port`.
    Redirect(u16),
}

const STORE: &str = "dav_methods PUT; create_full_put_path on;
      dav_access user:rw group:r all:r; client_max_body_size 0;";

fn config(dir: &Path, port: u16, mode: &Mode) -> String {
    let d = dir.display();
    let (listen, location) = match mode {
        Mode::Store => (String::new(), STORE.to_string()),
        Mode::Failing(code) => (String::new(), format!("return {code};")),
        Mode::Tls => (
            format!(
                " ssl; ssl_certificate {d}/tls/server.pem; ssl_certificate_key {d}/tls/server.key"
            ),
            STORE.to_string(),
        ),
        Mode::Header { name, value } => {
            let var = name.to_ascii_lowercase().replace('-', "_");
            (
                String::new(),
                format!("if ($http_{var} != \"{value}\") {{ return 401; }}\n      {STORE}"),
            )
        }
        Mode::Redirect(to) => (
            String::new(),
            format!("return 302 http://127.0.0.1:{to}$request_uri;"),
        ),
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
  server {{ listen 127.0.0.1:{port}{listen}; root {d}/data;
    location /cache/ {{ {location} }} }} }}
"
    )
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Runs `openssl ARGS` in `dir`, panicking with its stderr on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl (is it installed?)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private CA (`ca.pem`) and a server certificate for IP 127.0.0.1
/// signed by it (`server.pem`, `server.key`), in `dir`. Self-contained
/// config files, so the system's openssl.cnf does not matter.
fn make_certificates(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir tls");
    std::fs::write(
        dir.join("ca.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = ca\n\
         [dn]\nCN = coex test CA\n\
         [ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
         subjectKeyIdentifier = hash\n",
    )
    .expect("write ca.cnf");
    std::fs::write(
        dir.join("server.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = 127.0.0.1\n",
    )
    .expect("write server.cnf");
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n\
         authorityKeyIdentifier = keyid\n",
    )
    .expect("write server.ext");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-config", "ca.cnf", "-days", "2"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-new", "-config", "server.cnf"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

impl Nginx {
    /// Starts a WebDAV cache server on a free port.
    pub fn start() -> Nginx {
        Self::launch(Mode::Store)
    }

    /// Starts a server that answers every cache request with `status`
    /// (e.g. 503), to test a broken remote.
    pub fn start_failing(status: u16) -> Nginx {
        Self::launch(Mode::Failing(status))
    }

    /// Starts a WebDAV cache over https; its certificate (for 127.0.0.1)
    /// is signed by a fresh private CA, [`Nginx::ca_cert`].
    pub fn start_tls() -> Nginx {
        Self::launch(Mode::Tls)
    }

    /// Starts a WebDAV cache that answers 401 to any request whose header
    /// `name` is not exactly `value`.
    pub fn start_requiring_header(name: &str, value: &str) -> Nginx {
        Self::launch(Mode::Header {
            name: name.to_string(),
            value: value.to_string(),
        })
    }

    /// Starts a server that redirects every cache request (302) to the
    /// same path on `127.0.0.1:to_port`.
    pub fn start_redirecting(to_port: u16) -> Nginx {
        Self::launch(Mode::Redirect(to_port))
    }

    /// Starts a server on a free port (retrying if the port was taken).
    fn launch(mode: Mode) -> Nginx {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["logs", "tmp", "data/cache"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        let tls = matches!(mode, Mode::Tls);
        if tls {
            make_certificates(&dir.path().join("tls"));
        }
        for _attempt in 0..5 {
            let port = free_port();
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, config(dir.path(), port, &mode)).expect("write nginx.conf");
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
                        tls,
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

    /// Base URL of the cache (`http://127.0.0.1:PORT/cache`, `https://…`
    /// for [`Nginx::start_tls`]).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/cache", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM certificate of the CA that signed a TLS server's
    /// certificate (what `--remote-ca` needs). Panics for a plain server.
    pub fn ca_cert(&self) -> PathBuf {
        assert!(self.tls, "only a server from start_tls() has a certificate");
        self.dir.path().join("tls/ca.pem")
    }

    /// The directory holding `ac/` and `cas/` as stored by the server.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data/cache")
    }

    /// Every stored file, by path relative to [`Nginx::data_dir`]
    /// (`ac/<sha256>`, `cas/<sha256>`), with its bytes.
    pub fn stored(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, d: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
            let Ok(rd) = std::fs::read_dir(d) else {
                return;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else if let (Ok(rel), Ok(bytes)) = (p.strip_prefix(root), std::fs::read(&p)) {
                    out.insert(rel.to_string_lossy().into_owned(), bytes);
                }
            }
        }
        let mut out = std::collections::BTreeMap::new();
        let root = self.data_dir();
        walk(&root, &root, &mut out);
        out
    }

    /// The stored file `rel` (e.g. `ac/<sha256>`), if present.
    pub fn read_stored(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.data_dir().join(rel)).ok()
    }

    /// Replaces (or creates) the stored file `rel`, as an attacker with
    /// write access to the server would.
    pub fn write_stored(&self, rel: &str, bytes: &[u8]) {
        let p = self.data_dir().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, bytes).expect("write stored file");
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
