//! A throwaway PostgreSQL server for the tests and the load benchmark (`test-support` only):
//! Debian's `postgresql` package binaries (`initdb`, `pg_ctl` under
//! `/usr/lib/postgresql/*/bin`), its data in a temporary directory, listening on 127.0.0.1 on a
//! free port and on a socket in that directory. As root it runs as the `postgres` user
//! (`runuser`), since `initdb` refuses root. Stopped when dropped.
//!
//! Readiness is `pg_ctl -w` (it polls the server itself, bounded by `--timeout`).
//! [`spawn_serve`] starts a `county-backoffice serve` process for such tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A running server.
pub struct PgServer {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    run_as_postgres: bool,
}

/// The newest `/usr/lib/postgresql/N/bin` with `initdb` and `pg_ctl`.
fn find_bin() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("/usr/lib/postgresql: {e}"))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((v, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no /usr/lib/postgresql/*/bin with initdb and pg_ctl".into())
}

/// The `postgres` user's uid and gid (the postgresql package makes the user).
fn postgres_user() -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == "postgres")
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| "no `postgres` user in /etc/passwd (apt-get install postgresql)".into())
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl PgServer {
    /// Initialises and starts a server; the error says what is missing or failed (the
    /// server's log included).
    pub fn start() -> Result<PgServer, String> {
        let bin = find_bin().map_err(|e| {
            format!("PostgreSQL server binaries not found ({e}): apt-get install postgresql")
        })?;
        use std::os::unix::fs::MetadataExt;
        // `/proc/self` belongs to the effective user.
        let run_as_postgres = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let dir = TempDir::new()?;
        if run_as_postgres {
            let (uid, gid) = postgres_user()?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.path().display()))?;
        }
        let server = PgServer {
            bin,
            port: free_port()?,
            dir,
            run_as_postgres,
        };
        let data = server.data();
        server.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        server.pg_ctl(&["start"])?;
        Ok(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<Output, String> {
        let out = self
            .command(tool)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("{tool}: {e}"))?;
        if out.status.success() {
            Ok(out)
        } else {
            let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
            Err(format!(
                "{tool} {}: {}\n{}{}\nserver log:\n{log}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `pg_ctl ACTION` waiting for it (`-w`, at most 60 s).
    fn pg_ctl(&self, action: &[&str]) -> Result<(), String> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200",
            self.port,
            path_str(self.dir.path())
        );
        let data = self.data();
        let log = self.dir.path().join("log");
        let mut args = vec![
            "-D",
            path_str(&data),
            "-l",
            path_str(&log),
            "-w",
            "--timeout=60",
            "-o",
            &options,
        ];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args).map(|_| ())
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` (made with [`PgServer::create_database`]).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database `name`.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        let url = self.url("postgres");
        crate::backoffice::Db::off_runtime(|| {
            let mut c =
                postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
            c.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .map_err(|e| e.to_string())
        })?;
        Ok(self.url(name))
    }

    /// `pg_ctl restart -m fast`: sessions are ended, the server is back when this returns.
    pub fn restart(&self) -> Result<(), String> {
        self.pg_ctl(&["restart", "-m", "fast"])
    }

    /// Stops the server (`-m fast`); [`PgServer::start_again`] starts it on the same port.
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl(&["stop", "-m", "fast"])
    }

    pub fn start_again(&self) -> Result<(), String> {
        self.pg_ctl(&["start"])
    }
}

/// A directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, String> {
        let p = std::env::temp_dir().join(format!("vk-pg-{:016x}", rand::random::<u64>()));
        std::fs::create_dir(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(TempDir(p))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
    }
}

/// A free port on 127.0.0.1 (for a server started next).
pub fn any_free_port() -> u16 {
    free_port().unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Starts `county-backoffice serve` (the binary `exe`) in demo mode (bearer `token`) on
/// 127.0.0.1:`port` over `db` (a path or a PostgreSQL URL), logging warnings; returns once it
/// says it serves. Its stderr is kept drained so it never blocks on a full pipe.
pub fn spawn_serve(exe: &str, db: impl AsRef<Path>, port: u16, token: &str) -> Child {
    let mut child = Command::new(exe)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(db.as_ref())
        .args(["--demo-token", token])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{exe}: {e}"));
    let Some(stderr) = child.stderr.take() else {
        panic!("no stderr pipe");
    };
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("serving") => break,
            Some(Ok(_)) => {}
            other => panic!("the back office did not start: {other:?}"),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    child
}
