//! Scripted wire cases that need a configuration file and more than one connection: the
//! harness behind `tests/auth.rs` and `tests/accounts.rs`.
//!
//! A [`ScriptCase`] is a config file plus a list of [`Step`]s, each sent on one of several
//! numbered connections (opened at their first step), with the exact bytes the reference
//! nats-server 2.15.1 answers. The same runner drives both servers, so a test can check a
//! table against the reference and compare ringnats with the reference, case by case.
//!
//! Placeholders let a static table use values only known at run time:
//! - in the config: `{nkey}` and `{stranger_nkey}`, the public keys of two user key pairs
//!   made for the run ([`TestKeys`]);
//! - in a step's input: the same two, plus `{sig}` and `{stranger_sig}` (the connection's
//!   INFO nonce signed by either key) and `{reply}` (the reply subject of the last `MSG`
//!   this connection received, for answering a service import's `_R_.` reply).
//!
//! Answers are masked like `tests/common` masks INFO lines, and service-import replies
//! (`_R_.<random>`) become `_R_.*`. ringnats runs with two shards, and the runner opens its
//! connections so that consecutive connection numbers sit on different shards (asked of
//! `/connz`), because a publisher and its subscribers on different cores is the case that
//! needs proving. Every read is bounded in time.

// Each including test crate uses a different part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use nkeys::KeyPair;

use crate::common::{
    escape_bytes, find, http_get, mask_id_bytes, pong_lines, RawClient, ServerProcess, TempDir,
    ANSWER_WAIT_MAX, QUIET_PERIOD, SETTLE_PERIOD,
};

/// The masked greeting of a server that requires authentication (no nkeys configured).
pub const AUTH_GREETING: &str = concat!(
    "INFO {\"server_id\":\"*\",\"server_name\":\"*\",\"version\":\"2.15.1\",",
    "\"proto\":1,\"git_commit\":\"*\",\"go\":\"*\",\"host\":\"*\",\"port\":*,",
    "\"headers\":true,\"auth_required\":true,\"max_payload\":1048576,\"client_id\":*,",
    "\"client_ip\":\"*\",\"api_lvl\":5,\"xkey\":\"*\"} \r\n"
);

/// The masked greeting when nkey users are configured: it carries a `nonce` to sign.
pub const NKEY_GREETING: &str = concat!(
    "INFO {\"server_id\":\"*\",\"server_name\":\"*\",\"version\":\"2.15.1\",",
    "\"proto\":1,\"git_commit\":\"*\",\"go\":\"*\",\"host\":\"*\",\"port\":*,",
    "\"headers\":true,\"auth_required\":true,\"max_payload\":1048576,\"client_id\":*,",
    "\"client_ip\":\"*\",\"nonce\":\"*\",\"api_lvl\":5,\"xkey\":\"*\"} \r\n"
);

/// The masked greeting when `no_auth_user` is set: nats-server then leaves
/// `auth_required` out, since a client may connect without credentials.
pub const NO_AUTH_GREETING: &str = concat!(
    "INFO {\"server_id\":\"*\",\"server_name\":\"*\",\"version\":\"2.15.1\",",
    "\"proto\":1,\"git_commit\":\"*\",\"go\":\"*\",\"host\":\"*\",\"port\":*,",
    "\"headers\":true,\"max_payload\":1048576,\"client_id\":*,",
    "\"client_ip\":\"*\",\"api_lvl\":5,\"xkey\":\"*\"} \r\n"
);

/// How long a step that expects the server to close may wait for it; longer than the
/// shortest `authorization { timeout }` the tables use (1 s) with room for a loaded machine.
pub const SCRIPT_CLOSE_WAIT_MAX: Duration = Duration::from_secs(5);

/// How many connections one case may open before placement gives up on finding one on
/// the wanted shard (each try is a coin toss with two shards).
const PLACEMENT_TRIES_MAX: usize = 64;

/// How many cases run at once against one kind of server. The machine may have two cores,
/// and a few cases hash bcrypt passwords; more would only make timings noisier.
const CASES_IN_FLIGHT_MAX: usize = 3;

/// `ringnats --threads`: two shards, so publishers and subscribers can sit on different
/// cores.
pub const RINGNATS_SHARDS: &str = "2";

/// `CONNECT` with verbose and pedantic off and the given JSON members, without CRLF (for
/// [`lines!`]).
macro_rules! connect {
    ($($member:expr),* $(,)?) => {
        concat!("CONNECT {\"verbose\":false,\"pedantic\":false" $(, ",", $member)*, "}")
    };
}

/// `CONNECT` as `user` with password `pass` (verbose and pedantic off), without CRLF.
macro_rules! user {
    ($user:expr, $pass:expr) => {
        connect!(concat!("\"user\":\"", $user, "\",\"pass\":\"", $pass, "\""))
    };
}

/// Protocol lines joined, each ending in CRLF.
macro_rules! lines {
    ($($line:expr),* $(,)?) => {
        concat!($($line, "\r\n"),*)
    };
}

/// Declares `$name::reference` and `$name::ringnats`: the async check `$check` run with
/// `$config` on each server (see [`run_check`]).
macro_rules! on_both_servers {
    ($name:ident, $config:expr, $check:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn reference() {
                $crate::script::run_check($crate::script::ServerKind::Reference, $config, $check);
            }

            #[test]
            fn ringnats() {
                $crate::script::run_check($crate::script::ServerKind::Ringnats, $config, $check);
            }
        }
    };
}

/// One thing a script does.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Sends `input` on connection `conn` (connecting first if it is new) and reads the
    /// answer: until the server closes when `closes`, else until as many `PONG` lines as
    /// `expect` holds have arrived (then [`SETTLE_PERIOD`] of silence), else (no `PONG`
    /// expected) until [`QUIET_PERIOD`] of silence.
    Talk {
        /// Connection number, from 0; numbers need not be opened in order.
        conn: usize,
        /// Bytes to send (placeholders allowed); may be empty to only listen.
        input: &'static str,
        /// Exact masked bytes the reference answers to this step.
        expect: &'static str,
        /// Whether the server closes the connection during this step.
        closes: bool,
    },
    /// Lets time pass without reading, e.g. beyond an authentication timeout.
    Pause(Duration),
}

/// Sends `input` on `conn` and expects `expect`; the connection stays open.
pub const fn talk(conn: usize, input: &'static str, expect: &'static str) -> Step {
    Step::Talk {
        conn,
        input,
        expect,
        closes: false,
    }
}

/// Sends `input` on `conn`, expects `expect`, then the server closing the connection.
pub const fn closes(conn: usize, input: &'static str, expect: &'static str) -> Step {
    Step::Talk {
        conn,
        input,
        expect,
        closes: true,
    }
}

/// Sends nothing on `conn` and expects `expect` (deliveries, or nothing) within a quiet
/// period.
pub const fn listen(conn: usize, expect: &'static str) -> Step {
    talk(conn, "", expect)
}

/// Waits `millis` milliseconds.
pub const fn pause(millis: u64) -> Step {
    Step::Pause(Duration::from_millis(millis))
}

/// One scripted conversation under one configuration.
pub struct ScriptCase {
    /// Unique snake_case name, shown in failures.
    pub name: &'static str,
    /// What behaviour the case guards and where it comes from.
    pub why: &'static str,
    /// The config file's text (placeholders allowed); the port comes from the command line.
    pub config: &'static str,
    /// The masked greeting INFO every connection of this case gets.
    pub greeting: &'static str,
    /// What happens, in order.
    pub steps: &'static [Step],
}

/// Which server a run talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// The reference nats-server 2.15.1.
    Reference,
    /// ringnats, with two shards and monitoring on (for `/connz` shard lookups).
    Ringnats,
}

impl ServerKind {
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Reference => "nats-server",
            ServerKind::Ringnats => "ringnats",
        }
    }
}

/// A server started with a config file; the file's directory lives as long as the server.
pub struct ConfiguredServer {
    /// Which binary runs.
    pub kind: ServerKind,
    /// The running server.
    pub server: ServerProcess,
    /// Holds the config file; declared after `server` so it is removed after the kill.
    _config_dir: TempDir,
}

impl ConfiguredServer {
    /// Writes `config` to a fresh temp dir and starts `kind` with `-c <file>` (plus, for
    /// ringnats, two shards and monitoring on a random port).
    pub fn start(kind: ServerKind, config: &str) -> ConfiguredServer {
        let config_dir = TempDir::new("auth-config");
        let path = config_dir.path().join("server.conf");
        std::fs::write(&path, config)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        let path = path.to_str().expect("temp paths are UTF-8").to_string();
        let server = match kind {
            ServerKind::Reference => ServerProcess::reference(&["-c", &path]),
            ServerKind::Ringnats => {
                ServerProcess::ringnats(&["-c", &path, "--threads", RINGNATS_SHARDS, "-m", "-1"])
            }
        };
        ConfiguredServer {
            kind,
            server,
            _config_dir: config_dir,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `nats://127.0.0.1:<port>`, for async-nats.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.server.port())
    }

    /// The shard that owns connection `cid` according to ringnats's `/connz`; `None` on
    /// the reference, which has no shards. Panics when ringnats does not list the
    /// connection, since placement then cannot be proven.
    pub fn shard_of(&self, cid: u64) -> Option<u64> {
        if self.kind == ServerKind::Reference {
            return None;
        }
        let answer = http_get(self.server.monitor_port(), &format!("/connz?cid={cid}"));
        let json = answer.json();
        let shard = json["connections"]
            .as_array()
            .and_then(|connections| connections.first())
            .and_then(|connection| connection["shard"].as_u64());
        Some(shard.unwrap_or_else(|| panic!("/connz?cid={cid} names no shard: {json}")))
    }
}

/// Upper bound on one async check, so a server that hangs fails the test.
pub const CHECK_TIME_MAX: Duration = Duration::from_secs(60);

/// An async check run against one server, given the keys its config was filled with.
pub type Check = for<'a> fn(&'a ConfiguredServer, &'a TestKeys) -> BoxFuture<'a, ()>;

/// Starts `kind` with `config` (placeholders filled) and runs `check` on a two-thread
/// tokio runtime, at most [`CHECK_TIME_MAX`].
pub fn run_check(kind: ServerKind, config: &str, check: Check) {
    let keys = TestKeys::new();
    let server = ConfiguredServer::start(kind, &keys.fill_keys(config));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        tokio::time::timeout(CHECK_TIME_MAX, check(&server, &keys))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} check took over {CHECK_TIME_MAX:?}; server log:\n{}",
                    kind.name(),
                    server.server.stderr_log()
                )
            });
    });
}

/// Connects with options from `make` until the connection sits on a different shard from
/// `other` (on ringnats; the first connection on the reference), so a check's two
/// clients are on different cores.
pub async fn connect_apart(
    server: &ConfiguredServer,
    make: impl Fn() -> async_nats::ConnectOptions,
    other: &async_nats::Client,
) -> async_nats::Client {
    let avoid = server.shard_of(other.server_info().client_id);
    for _ in 0..PLACEMENT_TRIES_MAX {
        let client = make()
            .connect(server.url())
            .await
            .unwrap_or_else(|error| panic!("{} refused a client: {error}", server.kind.name()));
        if avoid.is_none() || server.shard_of(client.server_info().client_id) != avoid {
            return client;
        }
    }
    panic!("no client landed on a shard other than {avoid:?} in {PLACEMENT_TRIES_MAX} tries")
}

/// The two user key pairs a run signs with: `user` is in the configs, `stranger` is not.
pub struct TestKeys {
    pub user: KeyPair,
    pub stranger: KeyPair,
    /// More `{placeholder}` -> text replacements (JWTs made at test time), applied
    /// after the keys.
    pub replacements: Vec<(String, String)>,
}

impl TestKeys {
    pub fn new() -> TestKeys {
        TestKeys {
            user: KeyPair::new_user(),
            stranger: KeyPair::new_user(),
            replacements: Vec::new(),
        }
    }

    /// `text` with `{nkey}` and `{stranger_nkey}` replaced by the public keys, then the
    /// extra replacements.
    pub fn fill_keys(&self, text: &str) -> String {
        let mut text = text
            .replace("{nkey}", &self.user.public_key())
            .replace("{stranger_nkey}", &self.stranger.public_key());
        for (placeholder, value) in &self.replacements {
            text = text.replace(placeholder.as_str(), value);
        }
        text
    }
}

/// `nonce` signed by `key`, encoded as nats-server expects `sig` (base64 URL-safe, no
/// padding).
pub fn sign_nonce(key: &KeyPair, nonce: &str) -> String {
    let signature = key.sign(nonce.as_bytes()).expect("an nkey signs");
    base64_url(&signature)
}

/// Base64 with the URL-safe alphabet and no padding (RFC 4648 §5), as Go's
/// `base64.RawURLEncoding`.
pub fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let group = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for index in 0..chars {
            let sextet = (group >> (18 - 6 * index)) & 0x3f;
            out.push(ALPHABET[sextet as usize] as char);
        }
    }
    out
}

/// A string member of the JSON object in an `INFO {...}` line.
pub fn info_field(info_line: &[u8], key: &str) -> Option<serde_json::Value> {
    let text = std::str::from_utf8(info_line).ok()?;
    let json = text.trim_end().strip_prefix("INFO ")?;
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value.get(key).cloned()
}

/// What one step got back, masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepAnswer {
    pub bytes: Vec<u8>,
    pub closed: bool,
}

/// Everything one case saw on one server.
#[derive(Debug, Clone)]
pub struct ScriptRun {
    /// Masked greeting INFO of each connection, by connection number (empty if unused).
    pub greetings: Vec<Vec<u8>>,
    /// One answer per step (empty for pauses).
    pub answers: Vec<StepAnswer>,
    /// The server's log, for failure messages.
    pub server_log: String,
}

/// One open connection of a script and everything it has received.
struct ScriptConn {
    client: RawClient,
    /// The unmasked greeting INFO line (for the nonce).
    info_line: Vec<u8>,
    /// All unmasked bytes received after the greeting (for `{reply}`).
    received: Vec<u8>,
}

/// Runs `case` on a fresh server of `kind`; a panic (a server that does not start, a
/// missing greeting) becomes an `Err` with its message, so one broken case does not hide
/// the others.
pub fn run_case(case: &ScriptCase, kind: ServerKind, keys: &TestKeys) -> Result<ScriptRun, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let server = ConfiguredServer::start(kind, &keys.fill_keys(case.config));
        run_steps(case, &server, keys)
    }))
    .map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
            .unwrap_or_else(|| "panicked".to_string())
    })
}

/// Runs every case of `cases` on `kind`, [`CASES_IN_FLIGHT_MAX`] at a time; the results
/// are in table order.
pub fn run_cases(
    cases: &[ScriptCase],
    kind: ServerKind,
    keys: &TestKeys,
) -> Vec<Result<ScriptRun, String>> {
    let next = AtomicUsize::new(0);
    let mut finished: Vec<(usize, Result<ScriptRun, String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CASES_IN_FLIGHT_MAX)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(case) = cases.get(index) else {
                            return done;
                        };
                        done.push((index, run_case(case, kind, keys)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("run_case catches panics"))
            .collect()
    });
    finished.sort_by_key(|(index, _)| *index);
    assert_eq!(finished.len(), cases.len(), "every case ran once");
    finished.into_iter().map(|(_, result)| result).collect()
}

fn run_steps(case: &ScriptCase, server: &ConfiguredServer, keys: &TestKeys) -> ScriptRun {
    let mut conns: Vec<Option<ScriptConn>> = Vec::new();
    let mut shards: Vec<Option<u64>> = Vec::new();
    let mut answers = Vec::new();
    for step in case.steps {
        match *step {
            Step::Pause(duration) => {
                std::thread::sleep(duration);
                answers.push(StepAnswer {
                    bytes: Vec::new(),
                    closed: false,
                });
            }
            Step::Talk {
                conn,
                input,
                expect,
                closes,
            } => {
                if conns.len() <= conn {
                    conns.resize_with(conn + 1, || None);
                    shards.resize(conn + 1, None);
                }
                if conns[conn].is_none() {
                    conns[conn] = Some(open_placed(server, conn, &mut shards));
                }
                let script_conn = conns[conn].as_mut().expect("opened above");
                let input = fill_input(input, script_conn, keys);
                script_conn.client.send(input.as_bytes());
                let received = read_answer(&mut script_conn.client, expect, closes);
                script_conn.received.extend_from_slice(&received.0);
                answers.push(StepAnswer {
                    bytes: mask_answer(&received.0),
                    closed: received.1,
                });
            }
        }
    }
    let greetings = conns
        .iter()
        .map(|conn| {
            conn.as_ref()
                .map_or_else(Vec::new, |conn| mask_id_bytes(&conn.info_line))
        })
        .collect();
    ScriptRun {
        greetings,
        answers,
        server_log: server.server.stderr_log(),
    }
}

/// Opens connection number `number`. On ringnats it must sit on the shard opposite to the
/// nearest lower-numbered open connection (so 0 and 1 differ, 1 and 2 differ, ...);
/// connections on the wrong shard are closed before they say anything and tried again.
fn open_placed(server: &ConfiguredServer, number: usize, shards: &mut [Option<u64>]) -> ScriptConn {
    let neighbour = shards[..number].iter().rev().flatten().next().copied();
    for _ in 0..PLACEMENT_TRIES_MAX {
        let mut client = RawClient::connect(server.addr());
        let info_line = client.read_info_line(ANSWER_WAIT_MAX);
        let shard = match server.kind {
            ServerKind::Reference => None,
            ServerKind::Ringnats => {
                let cid = info_field(&info_line, "client_id")
                    .and_then(|cid| cid.as_u64())
                    .unwrap_or_else(|| panic!("no client_id in {}", escape_bytes(&info_line)));
                server.shard_of(cid)
            }
        };
        if neighbour.is_none() || shard.is_none() || shard != neighbour {
            shards[number] = shard;
            return ScriptConn {
                client,
                info_line,
                received: Vec::new(),
            };
        }
    }
    panic!(
        "no connection landed on a shard other than {neighbour:?} in {PLACEMENT_TRIES_MAX} tries"
    )
}

/// Replaces the input placeholders for connection `conn`.
fn fill_input(input: &str, conn: &ScriptConn, keys: &TestKeys) -> String {
    if !input.contains('{') {
        return input.to_string();
    }
    let mut text = keys.fill_keys(input);
    if text.contains("{sig}") || text.contains("{stranger_sig}") {
        let nonce = info_field(&conn.info_line, "nonce")
            .and_then(|nonce| nonce.as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("no nonce in {}", escape_bytes(&conn.info_line)));
        text = text
            .replace("{sig}", &sign_nonce(&keys.user, &nonce))
            .replace("{stranger_sig}", &sign_nonce(&keys.stranger, &nonce));
    }
    if text.contains("{reply}") {
        let reply = last_reply_subject(&conn.received).unwrap_or_else(|| {
            panic!(
                "{{reply}} but no MSG with a reply arrived: {}",
                escape_bytes(&conn.received)
            )
        });
        text = text.replace("{reply}", &reply);
    }
    text
}

/// The reply subject of the last `MSG <subject> <sid> <reply> <size>` line in `bytes`.
fn last_reply_subject(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .split("\r\n")
        .filter(|line| line.starts_with("MSG "))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() == 5).then(|| fields[3].to_string())
        })
        .last()
}

/// Reads one step's answer; returns the raw bytes and whether the server closed.
fn read_answer(client: &mut RawClient, expect: &str, closes: bool) -> (Vec<u8>, bool) {
    let (bytes, closed) = read_raw_answer(client, expect, closes);
    (without_keepalive_pings(&bytes), closed)
}

/// Drops the server's own `PING` lines: both servers ping a client 2-2.4 s after its
/// CONNECT to measure its RTT, which a case with pauses may or may not catch in its
/// read window. No case expects a server PING.
fn without_keepalive_pings(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let end = find(rest, b"\r\n").map_or(rest.len(), |at| at + 2);
        let (line, tail) = rest.split_at(end);
        if line != b"PING\r\n" {
            out.extend_from_slice(line);
        }
        rest = tail;
    }
    out
}

fn read_raw_answer(client: &mut RawClient, expect: &str, closes: bool) -> (Vec<u8>, bool) {
    if closes {
        let received = client.read_until_closed(SCRIPT_CLOSE_WAIT_MAX);
        return (received.bytes, received.closed);
    }
    let pongs = pong_lines(expect.as_bytes());
    if pongs == 0 {
        let received = client.read_until_quiet(QUIET_PERIOD);
        return (received.bytes, received.closed);
    }
    // As `common::run_transcript`: wait (up to a long silence) for the expected PONGs,
    // then briefly for anything sent after them.
    let mut first = client.read_until_quiet_or(ANSWER_WAIT_MAX, |bytes| pong_lines(bytes) >= pongs);
    if !first.closed {
        let rest = client.read_until_quiet(SETTLE_PERIOD);
        first.bytes.extend_from_slice(&rest.bytes);
        first.closed = rest.closed;
    }
    (first.bytes, first.closed)
}

/// INFO masking plus service-import replies: `_R_.<anything up to a space, CR or quote>`
/// becomes `_R_.*`, since the reply token is random on both servers.
pub fn mask_answer(bytes: &[u8]) -> Vec<u8> {
    let bytes = mask_id_bytes(bytes);
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = &bytes[..];
    while let Some(at) = find(rest, b"_R_.") {
        let start = at + 4;
        out.extend_from_slice(&rest[..start]);
        let end = rest[start..]
            .iter()
            .position(|&byte| matches!(byte, b' ' | b'\r' | b'"' | b'\''))
            .map_or(rest.len(), |offset| start + offset);
        out.push(b'*');
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    out
}

/// Shows bytes as a Rust string literal body, ready to paste into a table.
pub fn show(bytes: &[u8]) -> String {
    let escaped = escape_bytes(bytes);
    escaped[1..].to_string()
}

/// Checks every case's reference run against its table entry; returns one text per
/// mismatch.
pub fn table_mismatches(cases: &[ScriptCase], runs: &[Result<ScriptRun, String>]) -> Vec<String> {
    let mut failures = Vec::new();
    for (case, run) in cases.iter().zip(runs) {
        let run = match run {
            Ok(run) => run,
            Err(panic) => {
                failures.push(format!("case {}: did not run: {panic}", case.name));
                continue;
            }
        };
        let mut problems = Vec::new();
        for (conn, greeting) in run.greetings.iter().enumerate() {
            if !greeting.is_empty() && greeting != case.greeting.as_bytes() {
                problems.push(format!("  conn {conn} greeting: {}", show(greeting)));
            }
        }
        for (index, (step, answer)) in case.steps.iter().zip(&run.answers).enumerate() {
            if let Step::Talk { expect, closes, .. } = step {
                if answer.bytes != expect.as_bytes() || answer.closed != *closes {
                    problems.push(format!(
                        "  step {index}: table (closes: {closes}): {}\n  \
                         {} reference (closed: {}): {}",
                        show(expect.as_bytes()),
                        " ".repeat(index.to_string().len() + 4),
                        answer.closed,
                        show(&answer.bytes)
                    ));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "case {}: {}\n{}",
                case.name,
                case.why,
                problems.join("\n")
            ));
        }
    }
    failures
}

/// Compares ringnats's run of each case with the reference's; returns one text per
/// difference (greetings, answers, closes), with ringnats's log tail.
pub fn differences(
    cases: &[ScriptCase],
    reference: &[Result<ScriptRun, String>],
    ringnats: &[Result<ScriptRun, String>],
) -> Vec<String> {
    const LOG_TAIL_BYTES: usize = 1500;
    let mut failures = Vec::new();
    for ((case, expected), actual) in cases.iter().zip(reference).zip(ringnats) {
        let expected = match expected {
            Ok(run) => run,
            Err(panic) => {
                failures.push(format!(
                    "case {}: reference did not run: {panic}",
                    case.name
                ));
                continue;
            }
        };
        let actual = match actual {
            Ok(run) => run,
            Err(panic) => {
                failures.push(format!("case {}: ringnats did not run: {panic}", case.name));
                continue;
            }
        };
        let mut problems = Vec::new();
        if expected.greetings != actual.greetings {
            for (conn, (ours, theirs)) in
                actual.greetings.iter().zip(&expected.greetings).enumerate()
            {
                if ours != theirs {
                    problems.push(format!(
                        "  conn {conn} greeting\n    nats-server: {}\n    ringnats:    {}",
                        show(theirs),
                        show(ours)
                    ));
                }
            }
        }
        for (index, (theirs, ours)) in expected.answers.iter().zip(&actual.answers).enumerate() {
            if theirs != ours {
                problems.push(format!(
                    "  step {index}\n    nats-server (closed: {}): {}\n    ringnats    (closed: {}): {}",
                    theirs.closed,
                    show(&theirs.bytes),
                    ours.closed,
                    show(&ours.bytes)
                ));
            }
        }
        if !problems.is_empty() {
            let log = &actual.server_log;
            let tail = &log[log.len().saturating_sub(LOG_TAIL_BYTES)..];
            failures.push(format!(
                "case {}: {}\n{}\n  ringnats log tail:\n{tail}",
                case.name,
                case.why,
                problems.join("\n")
            ));
        }
    }
    failures
}

/// The whole differential check: runs `cases` on both servers side by side and panics
/// with every difference.
pub fn assert_ringnats_matches_reference(cases: &[ScriptCase]) {
    assert_ringnats_matches_reference_with(cases, &TestKeys::new());
}

/// [`assert_ringnats_matches_reference`] with the caller's keys and replacements.
pub fn assert_ringnats_matches_reference_with(cases: &[ScriptCase], keys: &TestKeys) {
    let (reference, ringnats) = std::thread::scope(|scope| {
        let reference = scope.spawn(|| run_cases(cases, ServerKind::Reference, keys));
        let ringnats = scope.spawn(|| run_cases(cases, ServerKind::Ringnats, keys));
        (
            reference.join().expect("reference runs"),
            ringnats.join().expect("ringnats runs"),
        )
    });
    let failures = differences(cases, &reference, &ringnats);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ between nats-server {} and ringnats:\n{}",
        failures.len(),
        cases.len(),
        crate::common::REFERENCE_VERSION,
        failures.join("\n")
    );
}

/// Runs `cases` on the reference alone and panics with every mismatch against the table.
pub fn assert_reference_matches_table(cases: &[ScriptCase]) {
    assert_reference_matches_table_with(cases, &TestKeys::new());
}

/// [`assert_reference_matches_table`] with the caller's keys and replacements.
pub fn assert_reference_matches_table_with(cases: &[ScriptCase], keys: &TestKeys) {
    let runs = run_cases(cases, ServerKind::Reference, keys);
    let failures = table_mismatches(cases, &runs);
    assert!(
        failures.is_empty(),
        "{} of {} cases no longer match nats-server {}:\n{}",
        failures.len(),
        cases.len(),
        crate::common::REFERENCE_VERSION,
        failures.join("\n")
    );
}
