//! The launch contract that tools and client test suites rely on: flags, the ports
//! file, log lines, a port already in use, IPv6, signals, and flags for features that
//! are not built yet. Each case runs the real `ringnats` binary (and, where the answer
//! must be nats-server's, the reference binary too).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{reference_server_bin, ringnats_bin, DieWithTest, ServerProcess, TempDir};

/// Runs a binary to completion (bounded) and returns its output.
fn run(binary: &std::path::Path, args: &[&str]) -> Output {
    let mut child = Command::new(binary)
        .die_with_test()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} {args:?} did not exit", binary.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A free port nobody listens on (bound and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (at most 10 s) until a server logging to `log_file` says it is ready.
fn wait_until_ready(log_file: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(log_file)
        .unwrap_or_default()
        .contains("Server is ready")
    {
        assert!(Instant::now() < deadline, "server did not become ready");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ping_pong(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.ends_with(b"PONG\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    text(&seen)
}

#[test]
fn random_port_ports_file_and_log_lines() {
    let server = ServerProcess::ringnats(&[]);
    let reply = ping_pong(server.addr());
    assert!(
        reply.starts_with("INFO {") && reply.ends_with("PONG\r\n"),
        "{reply}"
    );
    let log = server.stderr_log();
    assert!(
        log.contains(&format!(
            "[INF] Listening for client connections on 127.0.0.1:{}",
            server.port()
        )),
        "{log}"
    );
    assert!(log.contains("[INF] Server is ready"), "{log}");
    assert!(log.contains("Starting ringnats"), "{log}");
    // nats-server's log line shape: "[pid] YYYY/MM/DD HH:MM:SS.micros [INF] text".
    let first = log.lines().next().unwrap();
    let shape = first.split(' ').collect::<Vec<_>>();
    assert!(
        shape[0].starts_with('[') && shape[0].ends_with(']'),
        "{first}"
    );
    assert_eq!(shape[1].len(), 10, "{first}");
    assert_eq!(shape[2].len(), 15, "{first}");
    assert_eq!(shape[3], "[INF]", "{first}");
}

#[test]
fn version_and_help_keep_nats_server_shape() {
    let output = run(&ringnats_bin(), &["--version"]);
    assert!(output.status.success());
    assert!(
        text(&output.stdout).starts_with("nats-server: v2.15.1"),
        "{}",
        text(&output.stdout)
    );
    let output = run(&ringnats_bin(), &["-h"]);
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("Usage: ringnats [options]"));
}

#[test]
fn unknown_flag_behaves_as_nats_server() {
    let ours = run(&ringnats_bin(), &["--no_such_flag"]);
    let theirs = run(&reference_server_bin(), &["--no_such_flag"]);
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(text(&ours.stderr), text(&theirs.stderr));
    assert!(text(&ours.stdout).contains("Usage: ringnats"));
}

#[test]
fn port_in_use_is_refused_like_nats_server() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let ours = run(&ringnats_bin(), &["-a", "127.0.0.1", "-p", &port]);
    let theirs = run(&reference_server_bin(), &["-a", "127.0.0.1", "-p", &port]);
    assert!(
        !ours.status.success(),
        "ringnats must not start on a taken port"
    );
    assert_eq!(ours.status.code(), theirs.status.code());
    let expected = format!("Error listening on port: 127.0.0.1:{port}, \"listen tcp 127.0.0.1:{port}: bind: address already in use\"");
    assert!(
        text(&theirs.stderr).contains(&expected),
        "reference: {}",
        text(&theirs.stderr)
    );
    assert!(
        text(&ours.stderr).contains(&expected),
        "ringnats: {}",
        text(&ours.stderr)
    );
}

#[test]
fn port_held_by_another_ringnats_with_reuseport_is_refused() {
    let port = free_port().to_string();
    let dir = TempDir::new("launch");
    let mut first = Command::new(ringnats_bin())
        .die_with_test()
        .args(["-a", "127.0.0.1", "-p", &port, "--ports_file_dir"])
        .arg(dir.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(dir.path()).unwrap().count() == 0 {
        assert!(Instant::now() < deadline, "first server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = run(&ringnats_bin(), &["-a", "127.0.0.1", "-p", &port]);
    let _ = first.kill();
    let _ = first.wait();
    assert!(
        !second.status.success(),
        "SO_REUSEPORT must not let a second server share the port"
    );
    assert!(
        text(&second.stderr).contains("address already in use"),
        "{}",
        text(&second.stderr)
    );
}

#[test]
fn ipv6_loopback_listener() {
    if TcpListener::bind("[::1]:0").is_err() {
        panic!("this machine has no ::1; the launch contract needs IPv6 loopback");
    }
    let dir = TempDir::new("v6");
    let mut child = Command::new(ringnats_bin())
        .die_with_test()
        .args(["-a", "::1", "-p", "-1", "--ports_file_dir"])
        .arg(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let port = loop {
        let file = std::fs::read_dir(dir.path()).unwrap().flatten().next();
        if let Some(port) = file
            .and_then(|entry| std::fs::read_to_string(entry.path()).ok())
            .and_then(|json| {
                json.rsplit("]:").next().map(|tail| {
                    tail.trim_end_matches(|c: char| !c.is_ascii_digit())
                        .to_string()
                })
            })
            .and_then(|digits| digits.parse::<u16>().ok())
        {
            break port;
        }
        assert!(Instant::now() < deadline, "no ports file");
        std::thread::sleep(Duration::from_millis(10));
    };
    let reply = ping_pong(format!("[::1]:{port}").parse().unwrap());
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        reply.contains("\"host\":\"::1\"") && reply.ends_with("PONG\r\n"),
        "{reply}"
    );
}

#[test]
fn sigterm_and_sigint_stop_cleanly_and_remove_pid_file() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let dir = TempDir::new("signal");
        let pid_file = dir.path().join("ringnats.pid");
        let log_file = dir.path().join("ringnats.log");
        let mut child = Command::new(ringnats_bin())
            .die_with_test()
            .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
            .arg(dir.path())
            .arg("-P")
            .arg(&pid_file)
            .arg("-l")
            .arg(&log_file)
            .spawn()
            .unwrap();
        wait_until_ready(&log_file);
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(pid as u32, child.id());
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(pid, signal) };
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop on signal {signal}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "clean exit on signal {signal}: {status}");
        assert!(!pid_file.exists(), "pid file removed");
        let log = std::fs::read_to_string(&log_file).unwrap();
        assert!(log.contains("Server Exiting.."), "{log}");
    }
}

#[test]
fn flags_for_unbuilt_features_refuse_to_start() {
    for args in [
        &["--tls"][..],
        &["-js"],
        &["--routes", "nats://127.0.0.1:1"],
        &["--cluster", "nats://127.0.0.1:6222"],
        &["-ms", "8443"],
    ] {
        let output = run(&ringnats_bin(), args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            text(&output.stderr).contains("not yet supported"),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    // Inert on its own: accepted.
    let server = ServerProcess::ringnats(&["-sd", "/tmp/ringnats-store-unused"]);
    assert!(ping_pong(server.addr()).ends_with("PONG\r\n"));
}

#[test]
fn threads_flag_sets_the_shard_count() {
    let server = ServerProcess::ringnats(&["--threads", "1"]);
    assert!(ping_pong(server.addr()).ends_with("PONG\r\n"));
    assert!(
        server.stderr_log().contains("1 shard(s)"),
        "{}",
        server.stderr_log()
    );
}

#[test]
fn open_file_soft_limit_is_raised_to_the_hard_limit() {
    let dir = TempDir::new("limits");
    let log_file = dir.path().join("ringnats.log");
    let mut command = Command::new(ringnats_bin());
    command
        .die_with_test()
        .args(["-a", "127.0.0.1", "-p", "-1", "-l"])
        .arg(&log_file);
    // Start the child with a soft limit below its hard limit, as a login shell would.
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            let mut limit: libc::rlimit = std::mem::zeroed();
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            limit.rlim_cur = limit.rlim_max.min(256);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    wait_until_ready(&log_file);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        fields[3], fields[4],
        "soft limit raised to the hard limit: {line}"
    );
    assert_ne!(fields[3], "256", "the soft limit was raised: {line}");
}

#[test]
fn running_out_of_descriptors_backs_off_and_recovers() {
    let dir = TempDir::new("emfile");
    let log_file = dir.path().join("ringnats.log");
    let mut command = Command::new(ringnats_bin());
    command
        .die_with_test()
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "--threads",
            "1",
            "--ports_file_dir",
        ])
        .arg(dir.path())
        .arg("-l")
        .arg(&log_file);
    if let Some(backend) = common::test_io_backend() {
        command.args(["--io_backend", &backend]);
    }
    // A hard limit of 48 descriptors: a few dozen clients exhaust it.
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 48,
                rlim_max: 48,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let port = loop {
        let ports = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .find(|entry| entry.file_name().to_string_lossy().ends_with(".ports"));
        if let Some(port) = ports
            .and_then(|entry| std::fs::read_to_string(entry.path()).ok())
            .and_then(|json| common::client_port_from_ports_json(&json))
        {
            break port;
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(10));
    };
    let flood: Vec<TcpStream> = (0..60)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let log = std::fs::read_to_string(&log_file).unwrap();
    let errors = log.matches("Temporary Client Accept Error").count();
    drop(flood);
    std::thread::sleep(Duration::from_millis(1500));
    let reply = ping_pong(format!("127.0.0.1:{port}").parse().unwrap());
    let _ = child.kill();
    let _ = child.wait();
    assert!(errors >= 1, "the descriptor shortage is logged:\n{log}");
    // Backing off from 10 ms, doubling to 1 s: a handful of retries in 1.5 s, not a
    // busy loop of thousands.
    assert!(
        errors < 20,
        "{errors} accept errors logged in 1.5 s: spinning"
    );
    assert!(
        reply.ends_with("PONG\r\n"),
        "serves again once descriptors free up: {reply}"
    );
}

/// The CONNECT line a `-V` trace shows once `u`/`secretpw` logged in.
fn traced_connect(server: ServerProcess) -> String {
    let mut stream = TcpStream::connect(server.addr()).expect("connects");
    stream
        .write_all(b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"secretpw\"}\r\nPING\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = server.stderr_log();
        if let Some(line) = log.lines().find(|line| line.contains("[CONNECT ")) {
            let start = line.find("[CONNECT ").unwrap();
            return line[start..].to_string();
        }
        assert!(Instant::now() < deadline, "no CONNECT trace in:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn traces_redact_passwords_like_nats_server() {
    let args = ["-V", "--user", "u", "--pass", "secretpw"];
    let reference = traced_connect(ServerProcess::start(&reference_server_bin(), &args));
    let ringnats = traced_connect(ServerProcess::ringnats(&args));
    assert!(!ringnats.contains("secretpw"), "{ringnats}");
    assert_eq!(ringnats, reference);
}
