//! A private BuildGrid (REAPI gRPC cache, in memory) on 127.0.0.1 for
//! remote-cache tests.
//!
//! Include with `#[path = "support/buildgrid.rs"] mod buildgrid;`. `bgd` comes
//! from the virtualenv `./dev test` installs (BuildGrid 0.4.4 from PyPI) at
//! `${COEX_DEV_TOOLS:-$HOME/.cache/coex-dev}/buildgrid-0.4.4/bin/bgd`, or from
//! `COEX_BGD`. Without it a test fails (it does not skip) and says how to get
//! it. The server runs in a process group of its own and the whole group is
//! killed by `Drop`, even when the test fails.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long BuildGrid may take to listen (it needs ~2 s, more on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Where `bgd` is: `COEX_BGD`, else the virtualenv of `./dev`.
pub fn bgd_path() -> PathBuf {
    if let Some(path) = std::env::var_os("COEX_BGD") {
        return PathBuf::from(path);
    }
    let tools = std::env::var_os("COEX_DEV_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            PathBuf::from(home).join(".cache/coex-dev")
        });
    tools.join("buildgrid-0.4.4/bin/bgd")
}

/// `bgd`, or a failure that says how to install it.
fn bgd() -> PathBuf {
    let path = bgd_path();
    assert!(
        path.is_file(),
        "BuildGrid's bgd is not at {}: run `./dev test` once (it installs BuildGrid 0.4.4 \
         into a virtualenv), or point COEX_BGD at a bgd",
        path.display()
    );
    path
}

/// TLS material for a grpcs:// server: a CA and a certificate it signed
/// for 127.0.0.1 and localhost.
pub struct TestCerts {
    /// The CA certificate (PEM): what a client must trust.
    pub ca_pem: Vec<u8>,
    /// The server's certificate and key files.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Makes a CA and a server certificate with the `openssl` CLI in `dir`.
pub fn make_test_certs(dir: &Path) -> TestCerts {
    let openssl = |args: &str| {
        let out = Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(dir)
            .output()
            .expect("openssl runs (Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write server.ext");
    openssl(
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
         -subj /CN=coex-test-CA -addext basicConstraints=critical,CA:TRUE \
         -addext keyUsage=critical,keyCertSign,cRLSign",
    );
    openssl("req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1");
    openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
         -out server.pem -days 2 -extfile server.ext",
    );
    TestCerts {
        ca_pem: std::fs::read(dir.join("ca.pem")).expect("read ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// A running BuildGrid: CAS, ByteStream and action cache, instance `""`.
pub struct BuildGrid {
    dir: tempfile::TempDir,
    port: u16,
    tls: bool,
    child: Option<Child>,
}

/// The server's YAML config (the one measured in the project's notes).
fn config(
    port: u16,
    allow_updates: bool,
    tls: Option<(&Path, &Path)>,
    disk: Option<&Path>,
) -> String {
    let storage = match disk {
        None => "  - !lru-storage &cas\n    size: 512MB\n".to_string(),
        Some(d) => format!("  - !disk-storage &cas\n    path: \"{}\"\n", d.display()),
    };
    let channel = match tls {
        None => "    insecure-mode: true\n".to_string(),
        Some((cert, key)) => format!(
            "    insecure-mode: false\n    credentials:\n      tls-server-key: \"{}\"\n      \
             tls-server-cert: \"{}\"\n",
            key.display(),
            cert.display()
        ),
    };
    // thread-pool-size is also the server's limit of concurrent RPCs (10 on
    // 2 cores by default): the concurrency tests run more callers than that.
    format!(
        "thread-pool-size: 64\nserver:\n  - !channel\n    address: \"127.0.0.1:{port}\"\n{channel}\
         storages:\n{storage}\
         caches:\n  - !lru-action-cache &ac\n    storage: *cas\n    max-cached-refs: 10000\n    \
         allow-updates: {allow_updates}\n\
         instances:\n  - name: ''\n    services:\n      - !cas\n        storage: *cas\n      \
         - !bytestream\n        storage: *cas\n      - !action-cache\n        cache: *ac\n"
    )
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

impl BuildGrid {
    /// A cache clients may write to, on plain HTTP/2.
    pub fn start() -> BuildGrid {
        Self::launch(true, None)
    }

    /// A writable cache whose CAS is files on disk (see
    /// [`Self::cas_object`]), so a test can damage a stored blob.
    pub fn start_on_disk() -> BuildGrid {
        Self::launch_with(true, None, true)
    }

    /// Where a disk CAS (see [`Self::start_on_disk`]) keeps the blob with
    /// SHA-256 `hash`.
    pub fn cas_object(&self, hash: &str) -> PathBuf {
        self.dir
            .path()
            .join("disk-cas/cas/objects")
            .join(&hash[..2])
            .join(&hash[2..])
    }

    /// A cache whose action cache clients may only read
    /// (`allow-updates: false`).
    pub fn start_read_only() -> BuildGrid {
        Self::launch(false, None)
    }

    /// A writable cache over TLS with `certs` (see [`make_test_certs`]).
    pub fn start_tls(certs: &TestCerts) -> BuildGrid {
        Self::launch(true, Some((&certs.cert, &certs.key)))
    }

    /// Starts `bgd` on a free port (retrying if it exits, e.g. the port was
    /// taken) and waits until the port accepts connections.
    fn launch(allow_updates: bool, tls: Option<(&Path, &Path)>) -> BuildGrid {
        Self::launch_with(allow_updates, tls, false)
    }

    fn launch_with(allow_updates: bool, tls: Option<(&Path, &Path)>, disk: bool) -> BuildGrid {
        let bgd = bgd();
        let mut dir = tempfile::tempdir().expect("tempdir");
        let log_path = dir.path().join("bgd.log");
        for _attempt in 0..3 {
            let port = free_port();
            let conf = dir.path().join("buildgrid.yml");
            let disk_dir = dir.path().join("disk-cas");
            let disk_dir = disk.then_some(disk_dir.as_path());
            std::fs::write(&conf, config(port, allow_updates, tls, disk_dir))
                .expect("write buildgrid.yml");
            let log = std::fs::File::create(&log_path).expect("create bgd.log");
            let child = Command::new(&bgd)
                .args(["server", "start"])
                .arg(&conf)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log"))
                .stderr(log)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", bgd.display()));
            let mut grid = BuildGrid {
                dir,
                port,
                tls: tls.is_some(),
                child: Some(child),
            };
            if grid.wait_listening() {
                return grid;
            }
            grid.stop();
            dir = grid.take_dir();
        }
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        panic!("BuildGrid did not start:\n{log}");
    }

    /// True once the port accepts; false if `bgd` exited or took too long.
    fn wait_listening(&mut self) -> bool {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    return false;
                }
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Moves the temp dir out (for a retry), leaving an empty one behind.
    fn take_dir(&mut self) -> tempfile::TempDir {
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }

    /// `grpc://127.0.0.1:PORT` (`grpcs://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "grpcs" } else { "grpc" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What `bgd` printed so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bgd.log")).unwrap_or_default()
    }

    /// Kills the whole process group (bgd and anything it spawned) and
    /// waits for bgd; the port is closed when this returns.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) on the group this test created for bgd.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// True while the server runs.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for BuildGrid {
    fn drop(&mut self) {
        self.stop();
    }
}
