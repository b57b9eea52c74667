//! A throwaway PostgreSQL server from Debian's binaries: one cluster per
//! test process, on a free port, a fresh database per test. The server
//! runs as the `postgres` user (it refuses root) and stops by itself when
//! the test process ends: a watcher beside it waits for the process to go.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::daemon::free_port;

struct Cluster {
    bin: PathBuf,
    port: u16,
    /// The watcher; it ends with the server, after this process.
    _server: Child,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// A URL to a new, empty database on the test cluster.
pub fn postgres_url() -> String {
    let cluster = CLUSTER.get_or_init(start);
    let name = format!("t{}_{}", std::process::id(), DATABASES.fetch_add(1, Ordering::Relaxed));
    run_sql(cluster, &format!("CREATE DATABASE {name}"));
    format!("postgres://postgres@127.0.0.1:{}/{name}", cluster.port)
}

/// Runs `sql` as the superuser on the `postgres` database.
fn run_sql(cluster: &Cluster, sql: &str) {
    let output = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(cluster.bin.join("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port.to_string(),
            "-U",
            "postgres",
            "-qAt",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Makes the database in `url` unreachable (sessions ended, new ones
/// refused), as a database host going away would, or reachable again.
pub fn set_reachable(url: &str, reachable: bool) {
    let cluster = CLUSTER.get().expect("a cluster runs");
    let name = url.rsplit('/').next().unwrap();
    run_sql(cluster, &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {reachable}"));
    if !reachable {
        run_sql(
            cluster,
            &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
        );
    }
}

fn start() -> Cluster {
    let bin = binaries();
    let dir = tempfile::Builder::new()
        .prefix("syncwatch-pg")
        .tempdir()
        .unwrap()
        .keep();
    chown_postgres(&dir);
    let data = dir.join("data");
    let initdb = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .expect("initdb runs");
    assert!(
        initdb.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&initdb.stderr)
    );
    let port = free_port();
    // The watcher: the server in the background, then wait for this test
    // process to end, then a fast shutdown and the directory removed.
    let script = r#""$1/postgres" -D "$2/data" -p "$3" -k "$2" -c listen_addresses=127.0.0.1 -c max_connections=300 >"$2/log" 2>&1 &
pg=$!
while [ -d "/proc/$4" ] && kill -0 "$pg" 2>/dev/null; do sleep 0.5; done
kill -INT "$pg" 2>/dev/null; wait "$pg"; rm -rf "$2""#;
    let server = Command::new("runuser")
        .args(["-u", "postgres", "--", "sh", "-c", script, "sh"])
        .arg(&bin)
        .arg(&dir)
        .arg(port.to_string())
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the PostgreSQL server starts");
    let cluster = Cluster {
        bin,
        port,
        _server: server,
    };
    wait_ready(&cluster, &dir);
    cluster
}

fn wait_ready(cluster: &Cluster, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = Command::new(cluster.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &cluster.port.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return;
        }
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "PostgreSQL did not start: {log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The newest installed PostgreSQL (`apt-get install postgresql`).
fn binaries() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (apt-get install postgresql)")
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL server binary in /usr/lib/postgresql/*/bin")
}

fn chown_postgres(dir: &Path) {
    let status = Command::new("chown")
        .arg("postgres:postgres")
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success(), "chown postgres {}", dir.display());
}
