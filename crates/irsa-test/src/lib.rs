//! Shared helpers for irsa's tests: paths, the external tools installed by `scripts/setup`,
//! free ports, clocks, child processes and benchmark loops; with features, keys (`jose`), SigV4-signed
//! requests (`sigv4`), in-process routers, loopback HTTP and XML answers (`net`), and
//! AWS SDK clients of local endpoints (`sdk`), and irsa-sts-core sessions (`sts`).
//!
//! A dev-dependency only: helpers panic with a message naming what went wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

pub mod bench;
#[cfg(feature = "jose")]
pub mod jose;
#[cfg(feature = "net")]
pub mod net;
#[cfg(feature = "sdk")]
pub mod sdk;
#[cfg(feature = "sigv4")]
pub mod sigv4;
#[cfg(feature = "sts")]
pub mod sts;

// ------------------------------------------------------------------------- paths

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).map(PathBuf::from).unwrap_or(here)
}

/// Extra fixture folders named in the environment variable `var` (colon-separated, empty
/// entries ignored).
pub fn extra_dirs(var: &str) -> Vec<PathBuf> {
    std::env::var(var)
        .map(|v| split_dirs(&v))
        .unwrap_or_default()
}

fn split_dirs(value: &str) -> Vec<PathBuf> {
    value
        .split(':')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

// ------------------------------------------------------------------------- external tools

/// Whether tests may skip when an external peer (an SDK, dynalite, the IAM oracle, PyJWT)
/// is not installed: `IRSA_SKIP_EXTERNAL` set to `1` or `true` (any case). Any other value,
/// or none, means a missing peer fails the test, naming the script that installs it.
pub fn skip_external() -> bool {
    parse_skip(std::env::var("IRSA_SKIP_EXTERNAL").ok().as_deref())
}

fn parse_skip(value: Option<&str>) -> bool {
    value.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Decides what a test does when the external peer `what` is missing: returns `None` (after
/// saying why on stderr) when [`skip_external`], else panics naming `why` and the `script`
/// that installs it.
pub fn missing_external<T>(what: &str, why: &str, script: &str) -> Option<T> {
    if skip_external() {
        eprintln!("skipped: {what} is not installed ({why}; IRSA_SKIP_EXTERNAL is set)");
        return None;
    }
    panic!("{what} is not installed ({why}): run {script} (or set IRSA_SKIP_EXTERNAL=1)");
}

/// An installed file of an external peer, found at `path` (relative to the workspace root
/// unless absolute). `None` when it is missing and [`skip_external`]; a panic naming `script`
/// when it is missing otherwise.
pub fn external(path: impl AsRef<Path>, what: &str, script: &str) -> Option<PathBuf> {
    let path = workspace_root().join(path);
    if path.exists() {
        return Some(path);
    }
    missing_external(what, &format!("`{}` is missing", path.display()), script)
}

/// A program on `PATH` answering `--version`, e.g. `node`. `None` when it is missing and
/// [`skip_external`]; a panic naming `script` otherwise.
pub fn program(name: &str, script: &str) -> Option<PathBuf> {
    let ok = std::process::Command::new(name)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(PathBuf::from(name));
    }
    missing_external(name, &format!("`{name}` is not on PATH"), script)
}

/// The installed dynalite package folder (`tools/dynalite/node_modules/dynalite`, by
/// `scripts/deps/gateway.sh`), with the same rules as [`external`]; `node` must be on PATH.
pub fn dynalite_dir() -> Option<PathBuf> {
    let dir = external(
        "tools/dynalite/node_modules/dynalite/package.json",
        "dynalite",
        "scripts/deps/gateway.sh",
    )?;
    program("node", "scripts/deps/gateway.sh")?;
    dir.parent().map(Path::to_path_buf)
}

/// dynalite (a DynamoDB-compatible server) running in memory on an ephemeral port of
/// 127.0.0.1; killed when dropped.
pub struct Dynalite {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub port: u16,
    _child: Killed,
}

impl Dynalite {
    /// Starts dynalite with tables created, updated and deleted at once. `None` when it is
    /// not installed and [`skip_external`] (see [`dynalite_dir`]).
    pub fn start() -> Option<Dynalite> {
        use std::io::BufRead as _;
        let dir = dynalite_dir()?;
        let script = format!(
            "require({:?})({{createTableMs: 0, deleteTableMs: 0, updateTableMs: 0}})\
             .listen(0, '127.0.0.1', function () {{ console.log(this.address().port) }})",
            dir.display().to_string()
        );
        let mut child = std::process::Command::new("node")
            .args(["-e", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("node starts (see scripts/deps/gateway.sh)");
        let stdout = child.stdout.take().unwrap();
        let child = Killed(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("dynalite prints its port within 20 s");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("dynalite printed `{line}`, not its port"));
        Some(Dynalite {
            url: format!("http://127.0.0.1:{port}"),
            port,
            _child: child,
        })
    }
}

/// versitygw (an S3-compatible server, built by `scripts/deps/versitygw.sh`) serving a
/// temporary folder (its posix backend) on an ephemeral port of 127.0.0.1, with root
/// credentials [`Versitygw::ACCESS_KEY_ID`] and [`Versitygw::SECRET_ACCESS_KEY`] and an
/// access log; killed when dropped.
pub struct Versitygw {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _child: Killed,
    data: TempDir,
    log: TempDir,
}

impl Versitygw {
    /// The root user's access key id.
    pub const ACCESS_KEY_ID: &'static str = "irsaupstream";
    /// The root user's secret access key.
    pub const SECRET_ACCESS_KEY: &'static str = "irsa-upstream-secret-key";

    /// Starts versitygw and waits (bounded) until its health endpoint answers 200. `None`
    /// when it is not installed and [`skip_external`] (see [`external`]).
    pub fn start() -> Option<Versitygw> {
        let bin = external(
            ".cache/versitygw/versitygw",
            "versitygw",
            "scripts/deps/versitygw.sh",
        )?;
        let data = tempfile::tempdir().unwrap();
        let log = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = std::process::Command::new(bin)
            .args(["--quiet", "--health", "/health", "--access-log"])
            .arg(log.path().join("access.log"))
            .arg("--port")
            .arg(format!("127.0.0.1:{port}"))
            .arg("posix")
            .arg(data.path())
            .env("ROOT_ACCESS_KEY", Self::ACCESS_KEY_ID)
            .env("ROOT_SECRET_KEY", Self::SECRET_ACCESS_KEY)
            .env("HOME", data.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("versitygw starts");
        let child = Killed(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_status(port, "/health") != Some(200) {
            assert!(Instant::now() < deadline, "versitygw not ready within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Versitygw {
            url: format!("http://127.0.0.1:{port}"),
            _child: child,
            data,
            log,
        })
    }

    /// The path of an object in the server's posix backend.
    pub fn object(&self, bucket: &str, key: &str) -> PathBuf {
        self.data.path().join(bucket).join(key)
    }

    /// The request lines of the access log so far (`s3_<Operation> <key> <URI> <status>`,
    /// the fields after the request id).
    pub fn requests(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.log.path().join("access.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.find(" s3_").map(|i| l[i + 1..].to_owned()))
            .collect()
    }
}

/// The status of `GET path` on 127.0.0.1:`port`, if it answers within 2 s: a readiness probe
/// for child processes, usable outside an async runtime.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{BufRead as _, Write as _};
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut first = String::new();
    std::io::BufReader::new(s).read_line(&mut first).ok()?;
    first.split_whitespace().nth(1)?.parse().ok()
}

// ------------------------------------------------------------------------- ports

/// A TCP port on 127.0.0.1 that was free a moment ago (for a child process to listen on).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// Waits until something accepts connections at `addr`; panics after `within`.
pub fn wait_for_port(addr: SocketAddr, within: Duration) {
    let deadline = Instant::now() + within;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {addr} after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ------------------------------------------------------------------------- clocks

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    unix(SystemTime::now())
}

/// Seconds since the Unix epoch of `t`.
pub fn unix(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// The `SystemTime` of `secs` seconds since the Unix epoch.
pub fn system_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap())
}

// ------------------------------------------------------------------------- child processes

/// Waits for `child` at most `within`; kills it and panics past that.
pub fn wait_bounded(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child process did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a client program did: whether it exited successfully, and its output.
#[derive(Debug)]
pub struct ClientRun {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a client (an SDK's program, a CLI) as an application runs in a pod: `program args`
/// with only `env` in its environment, plus `PATH`, `HOME` set to `home` (created), no
/// profile files and no instance metadata; bounded to 120 s (see [`wait_bounded`]).
pub fn run_client(program: &Path, args: &[&str], home: &Path, env: &[(&str, &str)]) -> ClientRun {
    std::fs::create_dir_all(home).unwrap();
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .envs(env.iter().copied())
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()));
    wait_bounded(&mut child, Duration::from_secs(120));
    let out = child.wait_with_output().unwrap();
    ClientRun {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A child process killed (and reaped) when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_external_accepts_one_and_true_only() {
        for v in ["1", "true", "TRUE", "True"] {
            assert!(parse_skip(Some(v)), "{v}");
        }
        for v in ["0", "false", "", "yes", " 1"] {
            assert!(!parse_skip(Some(v)), "{v}");
        }
        assert!(!parse_skip(None));
    }

    #[test]
    fn extra_dirs_splits_on_colons() {
        assert_eq!(
            split_dirs("/a::b/c:"),
            [PathBuf::from("/a"), PathBuf::from("b/c")]
        );
        assert!(split_dirs("").is_empty());
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }

    #[test]
    fn clocks_round_trip() {
        assert_eq!(unix(system_time(1_700_000_000)), 1_700_000_000);
        assert!(now() > 1_700_000_000);
    }
}
