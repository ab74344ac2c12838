//! The configuration file end to end: conf snippets mapped onto `Config` (values, errors,
//! includes, variables), then the `ringnats` binary run with `-c`, `-t` and `--signal`.
//!
//! Exact texts here were checked against nats-server 2.15.1 (`tests/config_reference.rs`
//! keeps checking the shared ones against the binary). Black-box runs use loopback only,
//! random ports (`-p -1`, found through `--ports_file_dir`), and bounded waits.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::DieWithTest;
use ringnats::config::file::{load, FileError};
use ringnats::config::{Config, IoBackendChoice};

const RINGNATS: &str = env!("CARGO_BIN_EXE_ringnats");

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "ringnats-config-file-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load_text(scratch: &Scratch, text: &str) -> Result<Config, FileError> {
    let path = scratch.write("main.conf", text);
    load(&path).map(|loaded| loaded.config)
}

#[test]
fn keys_map_onto_config_fields() {
    let scratch = Scratch::new("fields");
    type Check = fn(&Config) -> bool;
    let table: &[(&str, Check)] = &[
        ("port = 4567", |c| c.port == 4567),
        ("listen = \"127.0.0.1:4568\"", |c| {
            c.host == "127.0.0.1" && c.port == 4568
        }),
        ("host = 10.0.0.1\nlisten = 4569", |c| {
            c.host == "0.0.0.0" && c.port == 4569
        }),
        ("net = \"::1\"", |c| c.host == "::1"),
        ("server_name = edge", |c| {
            c.server_name.as_deref() == Some("edge")
        }),
        ("max_payload = 64KB", |c| c.payload_bytes_max == 65_536),
        ("max_payload = 0", |c| c.payload_bytes_max == 1024 * 1024),
        ("max_control_line = 8KiB", |c| {
            c.control_line_bytes_max == 8192
        }),
        ("max_pending = 10MB", |c| {
            c.pending_bytes_max == 10 * 1024 * 1024
        }),
        ("max_conn = 7", |c| c.connections_max == 7),
        // nats-server turns 0 into "refuse everyone".
        ("max_connections = 0", |c| c.connections_max == 0),
        ("max_subs = -5", |c| c.subscriptions_max == 0),
        ("max_subscriptions = 9", |c| c.subscriptions_max == 9),
        ("max_sub_tokens = 12", |c| c.subscription_tokens_max == 12),
        ("ping_interval = \"1m30s\"", |c| {
            c.ping_interval == Duration::from_secs(90)
        }),
        ("ping_max = 5", |c| c.pings_outstanding_max == 5),
        ("write_deadline = \"250ms\"", |c| {
            c.write_deadline == Duration::from_millis(250)
        }),
        ("no_header_support = true", |c| c.no_header_support),
        ("no_fast_producer_stall = true", |c| {
            c.no_fast_producer_stall
        }),
        ("no_sublist_cache = true", |c| c.no_sublist_cache),
        ("debug = true\ntrace_verbose = true", |c| {
            c.log.debug && c.log.trace && c.log.trace_verbose
        }),
        ("logtime = false\nlogtime_utc = true", |c| {
            !c.log.logtime && c.log.logtime_utc
        }),
        (
            "log_file = /tmp/r.log\nlog_size_limit = 1KB\nlog_max_num = 4",
            |c| {
                c.log.file.as_deref() == Some(Path::new("/tmp/r.log"))
                    && c.log.size_limit_bytes == 1024
                    && c.log.files_max == 4
            },
        ),
        ("pidfile = /tmp/r.pid\nports_file_dir = /tmp", |c| {
            c.pid_file.as_deref() == Some(Path::new("/tmp/r.pid"))
                && c.ports_file_dir.as_deref() == Some(Path::new("/tmp"))
        }),
        (
            "lame_duck_duration = \"1m\"\nlame_duck_grace_period = \"3s\"",
            |c| {
                c.lame_duck_duration == Duration::from_secs(60)
                    && c.lame_duck_grace_period == Duration::from_secs(3)
            },
        ),
        ("max_closed_clients = 12", |c| c.closed_clients_max == 12),
        ("http_port = 0\nhttp_base_path = /x", |c| {
            c.http_port.is_none() && c.http_base_path == "/x"
        }),
        ("jetstream = disabled\nstore_dir = /data", |c| {
            c.store_dir.as_deref() == Some(Path::new("/data"))
        }),
        ("threads = 3\nio_backend = epoll", |c| {
            c.threads == Some(3) && c.io_backend == IoBackendChoice::Epoll
        }),
        ("PORT = 4570", |c| c.port == 4570),
        ("N = 4571\nport = $N", |c| c.port == 4571),
    ];
    for (text, check) in table {
        let config = load_text(&scratch, text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert!(check(&config), "{text}: {config:?}");
        assert_eq!(
            config.config_file.as_deref(),
            Some(scratch.0.join("main.conf").as_path())
        );
    }
}

#[test]
fn broken_files_fail_with_nats_server_text() {
    let scratch = Scratch::new("errors");
    let table: &[(&str, &str)] = &[
        ("foo = 1", "main.conf:1:0: unknown field \"foo\"\n"),
        (
            "port = 1\n   foo = 1",
            "main.conf:2:4: unknown field \"foo\"\n",
        ),
        (
            "port = \"x\"",
            "main.conf:1:0: interface conversion: interface {} is string, not int64\n",
        ),
        (
            "max_payload = 3GB",
            "main.conf:1:0: max_payload value is too big\n",
        ),
        (
            "max_sub_tokens = 0",
            "main.conf:1:0: max_sub_tokens value can not be negative\n",
        ),
        (
            "server_name = \"a b\"",
            "main.conf:1:0: server name cannot contain spaces\n",
        ),
        (
            "listen = \"h\"",
            "main.conf:1:0: could not parse address string \"h\"\n",
        ),
        (
            "ping_interval = \"30\"",
            "main.conf:1:0: error parsing ping_interval: time: missing unit in duration \"30\"\n",
        ),
        (
            "ping_interval = true",
            "main.conf:1:0: invalid use of field \"ping_interval\": ping_interval should be \
             converted to a duration\nmain.conf:1:0: interface conversion: interface {} is \
             bool, not int64\n",
        ),
        (
            "lame_duck_duration = \"10s\"",
            "main.conf:1:0: invalid lame_duck_duration of 10s, minimum is 30 seconds\n",
        ),
        (
            "tls {}\nport = 1\ncluster {}",
            "main.conf:1:0: not yet supported: TLS (tls)\n\
             main.conf:3:1: not yet supported: clustering (cluster)\n",
        ),
        // A syntax error: nats-server's words, whose position is not a field's.
        ("port", "config is invalid (main.conf:1:4)"),
    ];
    for (text, expected) in table {
        let path = scratch.write("main.conf", text);
        let error = load(&path).expect_err(text);
        let expected = expected.replace("main.conf:", &format!("{}:", path.display()));
        assert_eq!(error.to_string(), expected, "{text}");
    }
}

#[test]
fn bare_integer_durations_warn_and_count_seconds() {
    let scratch = Scratch::new("warnings");
    let path = scratch.write("main.conf", "port = 1\nwrite_deadline = 3");
    let loaded = load(&path).unwrap();
    assert_eq!(loaded.config.write_deadline, Duration::from_secs(3));
    assert_eq!(
        loaded.warnings,
        [format!(
            "{}:2:1: invalid use of field \"write_deadline\": write_deadline should be \
             converted to a duration",
            path.display()
        )]
    );
}

#[test]
fn includes_and_variables_resolve() {
    let scratch = Scratch::new("include");
    scratch.write("sub/limits.conf", "LIMIT = 2048\nmax_control_line = 512");
    let path = scratch.write(
        "main.conf",
        "include sub/limits.conf\nmax_payload = $LIMIT\nmax_pending = $LIMIT",
    );
    let config = load(&path).unwrap().config;
    assert_eq!(config.payload_bytes_max, 2048);
    assert_eq!(config.pending_bytes_max, 2048);
    assert_eq!(config.control_line_bytes_max, 512);
    // An included file's problems name that file.
    scratch.write("sub/bad.conf", "port = 1\n  nope = 2");
    let path = scratch.write("main.conf", "include sub/bad.conf");
    let error = load(&path).unwrap_err().to_string();
    let included = scratch.0.join("sub/bad.conf");
    assert_eq!(
        error,
        format!("{}:2:3: unknown field \"nope\"\n", included.display())
    );
}

// ---- the binary ------------------------------------------------------------------------

/// A child process killed on drop unless it already exited.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ringnats(args: &[&str]) -> std::process::Output {
    Command::new(RINGNATS).args(args).output().unwrap()
}

#[test]
fn file_values_apply_flags_override_and_signal_term_stops_the_server() {
    let scratch = Scratch::new("run");
    let pid_file = scratch.0.join("server.pid");
    let conf = scratch.write(
        "main.conf",
        &format!(
            "host = 127.0.0.1\nport = 1\nmax_payload = 12345\npid_file = \"{}\"\n\
             ports_file_dir = \"{}\"\n",
            pid_file.display(),
            scratch.0.display()
        ),
    );
    // The file's port 1 would need root; the flag must win.
    let child = Command::new(RINGNATS)
        .die_with_test()
        .args(["-c", conf.to_str().unwrap(), "-p", "-1", "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let pid = server.0.id();
    let ports_file = scratch.0.join(format!("ringnats_{pid}.ports"));
    let port = wait_for("the ports file", || {
        let text = std::fs::read_to_string(&ports_file).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let url = json["nats"][0].as_str()?.to_string();
        url.rsplit(':').next()?.parse::<u16>().ok()
    });
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut info = String::new();
    BufReader::new(stream).read_line(&mut info).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(info.strip_prefix("INFO ").unwrap()).unwrap();
    assert_eq!(json["max_payload"], 12345, "{info}");
    assert_eq!(json["port"], port, "{info}");

    let pid_text = wait_for("the pid file", || std::fs::read_to_string(&pid_file).ok());
    assert_eq!(pid_text, pid.to_string());
    let signalled = ringnats(&["--signal", &format!("term={}", pid_file.display())]);
    assert!(signalled.status.success(), "{signalled:?}");
    let status = wait_for("the server to exit", || server.0.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(server.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains(&format!("Using configuration file: {}", conf.display())),
        "{stderr}"
    );
    assert!(stderr.contains("Trapped \"terminated\" signal"), "{stderr}");
}

#[test]
fn check_flag_reports_valid_and_invalid_files() {
    let scratch = Scratch::new("check");
    scratch.write("good.conf", "port = 4567\n");
    scratch.write("bad.conf", "port = 4567\nfoo = 1\n");
    scratch.write("warn.conf", "ping_interval = 30\n");
    let run = |name: &str| {
        Command::new(RINGNATS)
            .args(["-t", "-c", name])
            .current_dir(&scratch.0)
            .output()
            .unwrap()
    };
    let good = run("good.conf");
    assert_eq!(good.status.code(), Some(0));
    assert!(good.stdout.is_empty());
    // The digest is nats-server 2.15.1's for the same file.
    assert_eq!(
        String::from_utf8_lossy(&good.stderr),
        "ringnats: configuration file good.conf is valid \
         (sha256:04790c7665ba519766c9122d2540b23730bf83f693ece549f2c2583010937247)\n"
    );
    let bad = run("bad.conf");
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "ringnats: bad.conf:2:1: unknown field \"foo\"\n\n"
    );
    // Warnings fail -t, as in nats-server.
    let warned = run("warn.conf");
    assert_eq!(warned.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&warned.stderr).contains("should be converted"));
    let missing = run("missing.conf");
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "ringnats: open missing.conf: no such file or directory\n"
    );
}

#[test]
fn unbuilt_features_refuse_to_start() {
    let scratch = Scratch::new("unbuilt");
    for (text, feature) in [
        ("tls {}", "TLS"),
        ("cluster { port = 6222 }", "clustering"),
        ("jetstream = enabled", "JetStream"),
        ("trusted_keys = [x]", "JWT operator mode"),
        (
            "resolver = URL(http://localhost:9090)",
            "account resolvers other than MEMORY",
        ),
        ("https_port = 8443", "HTTPS monitoring"),
    ] {
        let conf = scratch.write("main.conf", &format!("port = -1\n{text}"));
        let output = ringnats(&["-c", conf.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{text}: {stderr}");
        assert!(
            stderr.starts_with("ringnats: ") && stderr.contains("not yet supported: "),
            "{text}: {stderr}"
        );
        assert!(stderr.contains(feature), "{text}: {stderr}");
    }
}

#[test]
fn start_up_checks_run_after_the_flags() {
    let scratch = Scratch::new("validate");
    let conf = scratch.write("main.conf", "max_payload = 2MB\nmax_pending = 1MB\n");
    let output = ringnats(&["-c", conf.to_str().unwrap(), "-p", "-1"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "ringnats: max_payload (2097152) cannot be higher than max_pending (1048576)\n"
    );
}

#[test]
fn signal_rejects_bad_commands_and_targets() {
    let scratch = Scratch::new("signal");
    let pid_file = scratch.write("other.pid", &std::process::id().to_string());
    let table: &[(String, &str)] = &[
        (
            format!("bogus={}", pid_file.display()),
            "ringnats: unknown signal \"bogus\"\n",
        ),
        ("term=abc".into(), "ringnats: invalid pid: abc\n"),
        (
            "term=1=2".into(),
            "ringnats: invalid signal parameters: [2]\n",
        ),
        (
            "term=2147483647".into(),
            "ringnats: \nsignal \"term\" 2147483647: no such process\n",
        ),
    ];
    for (argument, expected) in table {
        let output = ringnats(&["--signal", argument]);
        assert_eq!(output.status.code(), Some(1), "{argument}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            *expected,
            "{argument}"
        );
    }
}
