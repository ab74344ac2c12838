//! Signals against the real binary, as operators send them: SIGHUP reloads the config
//! file (reloadable options change on live connections, others are refused and the old
//! config stays), SIGUSR1 reopens the log file, SIGUSR2 runs lame-duck mode.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ringnats_bin, TempDir};

/// A ringnats started with `-c <file>` plus flags, logging to a file.
struct Server {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Server {
    fn start(dir: &Path, config: &str) -> Server {
        Self::start_binary(&ringnats_bin(), dir, config)
    }

    /// Starts `binary` (ringnats or the reference nats-server) the same way.
    fn start_binary(binary: &Path, dir: &Path, config: &str) -> Server {
        let conf = dir.join("server.conf");
        std::fs::write(&conf, config).unwrap();
        let log = dir.join("server.log");
        let mut command = Command::new(binary);
        command
            .arg("-c")
            .arg(&conf)
            .args(["-a", "127.0.0.1", "-p", "-1", "-l"])
            .arg(&log)
            .arg("--ports_file_dir")
            .arg(dir)
            .stdin(Stdio::null());
        if binary == ringnats_bin() {
            if let Ok(backend) = std::env::var("RINGNATS_TEST_IO_BACKEND") {
                command.args(["--io_backend", &backend]);
            }
        }
        let child = command.spawn().unwrap();
        let mut server = Server {
            child,
            port: 0,
            log,
        };
        server.wait_for_log("Server is ready");
        // The ports file follows the start-up log lines.
        let deadline = Instant::now() + Duration::from_secs(10);
        server.port = loop {
            let port = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .find(|entry| entry.file_name().to_string_lossy().ends_with(".ports"))
                .and_then(|entry| std::fs::read_to_string(entry.path()).ok())
                .and_then(|json| common::client_port_from_ports_json(&json));
            if let Some(port) = port {
                break port;
            }
            assert!(Instant::now() < deadline, "no ports file");
            std::thread::sleep(Duration::from_millis(10));
        };
        server
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for_log(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log_text().contains(needle) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "exited with {status} waiting for {needle:?}:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "did not exit:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_until(
    stream: &mut TcpStream,
    limit: Duration,
    done: impl Fn(&[u8]) -> bool,
) -> (String, bool) {
    let (seen, closed) = common::read_stream_until(stream, limit, done);
    (String::from_utf8_lossy(&seen).into_owned(), closed)
}

fn has(bytes: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(bytes).contains(needle)
}

/// Connects, returns the stream and the greeting INFO line.
fn connect(port: u16) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (info, _) = read_until(&mut stream, Duration::from_secs(5), |seen| {
        seen.ends_with(b"\r\n")
    });
    stream
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    read_until(&mut stream, Duration::from_secs(5), |seen| {
        has(seen, "PONG\r\n")
    });
    (stream, info)
}

#[test]
fn sighup_reloads_limits_on_live_connections_and_refuses_fixed_options() {
    let dir = TempDir::new("reload");
    let mut server = Server::start(dir.path(), "max_payload: 1000\n");
    let (mut live, info) = connect(server.port);
    assert!(info.contains("\"max_payload\":1000,"), "{info}");

    std::fs::write(dir.path().join("server.conf"), "max_payload: 2000\n").unwrap();
    server.signal(libc::SIGHUP);
    server.wait_for_log("Reloaded server configuration");
    assert!(
        server
            .log_text()
            .contains("[INF] Reloaded: max_payload = 2000"),
        "{}",
        server.log_text()
    );

    let mut frame = b"SUB big 1\r\nPUB big 1500\r\n".to_vec();
    frame.extend_from_slice(&[b'x'; 1500]);
    frame.extend_from_slice(b"\r\nPING\r\n");
    live.write_all(&frame).unwrap();
    let (reply, closed) = read_until(&mut live, Duration::from_secs(5), |seen| {
        has(seen, "PONG\r\n")
    });
    assert!(
        !closed && reply.starts_with("MSG big 1 1500\r\n"),
        "the live connection takes the new limit: {reply:.80}"
    );
    let (_fresh, info) = connect(server.port);
    assert!(
        info.contains("\"max_payload\":2000,"),
        "new clients see it: {info}"
    );

    std::fs::write(
        dir.path().join("server.conf"),
        "max_payload: 3000\nserver_name: other\n",
    )
    .unwrap();
    server.signal(libc::SIGHUP);
    server.wait_for_log(
        "Failed to reload server configuration: config reload not supported for ServerName",
    );
    let (_after, info) = connect(server.port);
    assert!(
        info.contains("\"max_payload\":2000,"),
        "the old config stays: {info}"
    );
}

#[test]
fn sigusr1_reopens_the_log_file() {
    let dir = TempDir::new("reopen");
    let mut server = Server::start(dir.path(), "port: 4222\n");
    let rotated = dir.path().join("ringnats.log.1");
    std::fs::rename(&server.log, &rotated).unwrap();
    server.signal(libc::SIGUSR1);
    server.wait_for_log("File log re-opened");
    assert!(std::fs::read_to_string(&rotated)
        .unwrap()
        .contains("Server is ready"));
}

#[test]
fn sigusr2_lame_duck_announces_closes_clients_and_exits() {
    let dir = TempDir::new("ldm");
    let mut server = Server::start(
        dir.path(),
        "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"200ms\"\n",
    );
    let mut clients: Vec<TcpStream> = (0..2).map(|_| connect(server.port).0).collect();
    server.signal(libc::SIGUSR2);
    for client in &mut clients {
        let (seen, closed) = read_until(client, Duration::from_secs(10), |_| false);
        assert!(seen.contains("\"ldm\":true"), "{seen}");
        assert!(closed, "closed by lame-duck mode");
    }
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    let log = server.log_text();
    assert!(
        log.contains("Entering lame duck mode, stop accepting new clients"),
        "{log}"
    );
    assert!(log.contains("Server Exiting.."), "{log}");
}

/// Users before and after the reload in `sighup_rechecks_connected_clients`: `a`'s
/// password changes, `b` may subscribe to `z` instead of `x.>`.
const USERS_BEFORE: &str = r#"authorization { users = [
  {user: a, password: one}
  {user: b, password: two, permissions: {subscribe: ["x.>"]}}
] }
"#;

/// Logs in with a user and password; returns the stream once the PONG came.
fn login(port: u16, user: &str, password: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let connect = format!(
        "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{password}\"}}\r\nPING\r\n"
    );
    stream.write_all(connect.as_bytes()).unwrap();
    let (seen, _) = read_until(&mut stream, Duration::from_secs(5), |seen| {
        has(seen, "PONG\r\n")
    });
    assert!(seen.contains("PONG"), "{user} logs in: {seen}");
    stream
}

/// What the two clients see when the users change under them.
fn reload_transcript(binary: &Path) -> (String, String, String) {
    let dir = TempDir::new("reload-auth");
    let mut server = Server::start_binary(binary, dir.path(), USERS_BEFORE);
    let mut a = login(server.port, "a", "one");
    let mut b = login(server.port, "b", "two");
    b.write_all(b"SUB x.y 1\r\nPING\r\n").unwrap();
    read_until(&mut b, Duration::from_secs(5), |seen| has(seen, "PONG\r\n"));
    let after = USERS_BEFORE
        .replace("password: one", "password: uno")
        .replace(r#"["x.>"]"#, r#"["z"]"#);
    std::fs::write(dir.path().join("server.conf"), after).unwrap();
    server.signal(libc::SIGHUP);
    server.wait_for_log("Reloaded server configuration");
    let (to_a, closed) = read_until(&mut a, Duration::from_secs(5), |_| false);
    assert!(closed, "a's old password no longer works: {to_a}");
    b.write_all(b"PING\r\n").unwrap();
    let (to_b, _) = read_until(&mut b, Duration::from_secs(5), |seen| has(seen, "PONG\r\n"));
    let log = server.log_text();
    let refused = log
        .lines()
        .find(|line| line.contains("authentication error"))
        .map(|line| line.split(" - ").skip(2).collect::<Vec<_>>().join(" - "))
        .unwrap_or_default();
    (to_a, to_b, refused)
}

#[test]
fn sighup_rechecks_connected_clients_like_nats_server() {
    let reference = reload_transcript(&common::reference_server_bin());
    let ringnats = reload_transcript(&ringnats_bin());
    assert_eq!(
        reference.0, "-ERR 'Authorization Violation'\r\n",
        "reference behaviour changed"
    );
    assert_eq!(ringnats, reference);
}
