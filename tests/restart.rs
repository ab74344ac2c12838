//! Restarting on the same fixed port right after a crash, as test harnesses and systemd
//! (`Restart=`, 100 ms `RestartSec`) do: `kill -9` a running ringnats, reap it, start the
//! next one on the same port at once, fifty times in a row, and check each incarnation
//! starts and serves clients. Between the reap and the restart the port must refuse
//! connections, as nats-server's does: no listener of the dead process may outlive it
//! and take connections into a backlog nobody will accept from. The io_uring backend
//! once failed half of these restarts with "address already in use", because ring
//! operations on the listener kept it open until the kernel's deferred ring teardown.
//!
//! Also: a restart beside a live server is refused with nats-server's exact error and
//! leaves the live server serving.

mod common;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    ringnats_bin, test_io_backend, RawClient, TempDir, ANSWER_WAIT_MAX, STARTUP_WAIT_MAX,
};

/// Kill-and-restart rounds on one port; the issue saw every second restart fail.
const RESTARTS: usize = 50;
/// Clients per incarnation. Each lands on one of the SO_REUSEPORT listeners by its port
/// hash, so a listener left behind by the dead process would swallow some of them.
const CLIENTS_PER_INCARNATION: usize = 2;
/// Shards per server: one listener each, so the SO_REUSEPORT group has several members.
const THREADS: &str = "2";

/// A free loopback port: bound, then released.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local address")
        .port()
}

/// One ringnats process on a fixed port; killed and reaped on drop.
struct Incarnation {
    /// The running server.
    child: Child,
    /// Its stderr (the log), in `_dir`.
    log: PathBuf,
    /// Holds the log file; removed after the process is gone.
    _dir: TempDir,
}

impl Incarnation {
    /// Spawns ringnats on `127.0.0.1:port`, on the backend the suite runs.
    fn spawn(port: u16) -> Incarnation {
        let dir = TempDir::new("restart");
        let log = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&log).expect("create the log file");
        let mut command = Command::new(ringnats_bin());
        command
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "--threads",
                THREADS,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        if let Some(backend) = test_io_backend() {
            command.args(["--io_backend", &backend]);
        }
        // SAFETY: the hook runs in the forked child before exec and only calls prctl,
        // which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                // A test that dies (timeout, abort) must not leave a server behind.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("spawn ringnats");
        Incarnation {
            child,
            log,
            _dir: dir,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for "Server is ready"; panics with the log if the process exits first.
    fn wait_ready(&mut self, round: usize) {
        let deadline = Instant::now() + STARTUP_WAIT_MAX;
        while !self.log_text().contains("Server is ready") {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "restart {round}: ringnats exited with {status} instead of starting:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "restart {round}: not ready within {STARTUP_WAIT_MAX:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The process's exit status, waiting at most [`STARTUP_WAIT_MAX`].
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + STARTUP_WAIT_MAX;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "ringnats did not exit:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// SIGKILL, then reap: the moment a supervisor starts the next incarnation.
    fn crash(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Incarnation {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects, expects INFO, and does a PING/PONG round trip; returns the live client.
fn served_client(address: SocketAddr) -> RawClient {
    let mut client = RawClient::connect(address);
    let info = client.read_info_line(ANSWER_WAIT_MAX);
    assert!(info.starts_with(b"INFO {"), "greeting: {info:?}");
    client.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    client.expect_contains(b"PONG\r\n", ANSWER_WAIT_MAX);
    client
}

/// Once the dead process is reaped its listeners must be gone, as nats-server's are: a
/// connection the kernel completed on a listener left behind would wait in a backlog
/// nobody accepts from, and that listener would also block the next bind.
fn assert_refused(address: SocketAddr, round: usize) {
    match TcpStream::connect_timeout(&address, ANSWER_WAIT_MAX) {
        Err(error) if error.kind() == ErrorKind::ConnectionRefused => {}
        Err(error) => panic!("restart {round}: connect after the crash failed with {error}"),
        Ok(_) => {
            panic!("restart {round}: a connection was accepted into the dead process's backlog")
        }
    }
}

#[test]
fn restart_right_after_kill_9_reuses_the_port_and_serves() {
    let port = free_port();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    let mut current = Incarnation::spawn(port);
    current.wait_ready(0);
    for round in 1..=RESTARTS {
        // Clients stay connected through the crash, as they do in production: the dead
        // process's connections must not stand in the way of the next listener either.
        let clients: Vec<RawClient> = (0..CLIENTS_PER_INCARNATION)
            .map(|_| served_client(address))
            .collect();
        current.crash();
        assert_refused(address, round);
        current = Incarnation::spawn(port);
        current.wait_ready(round);
        drop(clients);
    }
    for _ in 0..CLIENTS_PER_INCARNATION {
        served_client(address);
    }
    eprintln!("{RESTARTS} restarts in {:?}", started.elapsed());
}

#[test]
fn restart_beside_a_live_server_is_refused_with_nats_servers_error() {
    let port = free_port();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut live = Incarnation::spawn(port);
    live.wait_ready(0);
    let mut second = Incarnation::spawn(port);
    let status = second.wait_exit();
    assert_eq!(status.code(), Some(1), "log:\n{}", second.log_text());
    let expected = format!(
        "[FTL] Error listening on port: 127.0.0.1:{port}, \
         \"listen tcp 127.0.0.1:{port}: bind: address already in use\""
    );
    assert!(
        second.log_text().contains(&expected),
        "expected {expected:?} in:\n{}",
        second.log_text()
    );
    // The refused one bound nothing beside the live one, so every client reaches it.
    for _ in 0..4 {
        served_client(address);
    }
}
