//! Fast producers are slowed, not their subscribers closed: nats-server's fast-producer
//! stall, in ringnats's per-core shape (`shard::stall`), over real sockets against
//! in-process servers with a small `max_pending`.
//!
//! - A subscriber that reads in small bursts with sleeps keeps every message while raw
//!   publishers write as fast as they can: the publisher is stalled (`stalls` in
//!   `/connz`, `stalled_clients` in `/varz`), nobody is a slow consumer. With the
//!   subscriber on the publisher's shard and on the other shard.
//! - `no_fast_producer_stall: true`: the subscriber is not stalled for; messages it has
//!   no room for are dropped (and counted in `/metrics`), as nats-server drops them.
//! - A subscriber that stopped reading stalls no one once it is stuck, is closed at
//!   `max_pending`, and the healthy subscriber beside it gets every message.
//!
//! The end of a delivery stream is found exactly, never by waiting for quiet: once the
//! server's counters say every message was queued for (or dropped for) the subscriber,
//! a PING sent on the subscriber's connection comes back behind all of them.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::in_process::{raw_on_shard, read_until, start};
use ringnats::server::RunningServer;

/// Payload bytes per message.
const PAYLOAD_BYTES: usize = 128;
/// One delivery frame: `MSG x 1 128\r\n` + payload + `\r\n`.
const DELIVERY_BYTES: usize = 13 + PAYLOAD_BYTES + 2;
/// `max_pending` of these servers: small, so a slow reader passes the stall mark soon,
/// and still large next to what the kernel's socket buffers hold on loopback (a few
/// MiB), which move in coarse steps.
const PENDING_BYTES_MAX: u64 = 8 * 1024 * 1024;
/// Publish frames written per `write_all`.
const BATCH_FRAMES: usize = 400;
/// Bound on any one case.
const CASE_TIME_MAX: Duration = Duration::from_secs(60);

const SUBSCRIBER: &str = "CONNECT {\"verbose\":false}\r\nSUB x 1\r\nPING\r\n";
const PUBLISHER: &str = "CONNECT {\"verbose\":false}\r\nPING\r\n";

fn server(no_fast_producer_stall: bool, pending_bytes_max: u64) -> RunningServer {
    start(2, |config| {
        config.pending_bytes_max = pending_bytes_max;
        config.no_fast_producer_stall = no_fast_producer_stall;
        config.http_port = Some(-1);
        config.http_host = Some("127.0.0.1".into());
    })
}

fn monitor_port(server: &RunningServer) -> u16 {
    server.monitor_address().expect("monitoring on").port()
}

/// Publish frames for messages `first..first + count`, each payload carrying its index.
fn publish_frames(first: usize, count: usize) -> Vec<u8> {
    let mut frames = Vec::with_capacity(count * (PAYLOAD_BYTES + 16));
    for index in first..first + count {
        frames.extend_from_slice(format!("PUB x {PAYLOAD_BYTES}\r\n").as_bytes());
        frames.extend_from_slice(format!("{index:0width$}", width = PAYLOAD_BYTES).as_bytes());
        frames.extend_from_slice(b"\r\n");
    }
    frames
}

/// Shrinks a client socket's receive buffer, so the kernel holds little of what the
/// server sends it and the server's own queue (what `max_pending` limits) fills.
fn shrink_receive_buffer(stream: &TcpStream) {
    let size: libc::c_int = 32 * 1024;
    // SAFETY: setsockopt on a live socket with a pointer to a live int of its size.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_RCVBUF");
}

/// Sends PING and waits for its PONG: the server has handled everything sent before.
/// The server's own PINGs (its first RTT ping comes 2 s after CONNECT) are answered.
fn ping_pong(stream: &mut TcpStream) {
    stream.write_all(b"PING\r\n").unwrap();
    let (seen, closed) = read_until(stream, b"PONG\r\n", CASE_TIME_MAX);
    assert!(
        common::in_process::contains(&seen, b"PONG\r\n") && !closed,
        "PONG expected, got {:?}",
        String::from_utf8_lossy(&seen[seen.len().saturating_sub(200)..])
    );
    if common::in_process::contains(&seen, b"PING\r\n") {
        stream.write_all(b"PONG\r\n").unwrap();
    }
}

/// What a subscriber read before the PONG that ends its stream.
struct Received {
    /// Message indexes in arrival order.
    indexes: Vec<usize>,
    /// The server closed the connection instead.
    closed: bool,
}

/// How a subscriber reads: slowly (1 KiB a millisecond, far slower than any publisher
/// here, debug build and loaded machine included) until `caught_up` says the server
/// reacted to it (a stall or a drop was counted), then as fast as it can so the case
/// ends soon. A reader that never slows down passes `caught_up` as always true.
struct Pace {
    caught_up: Box<dyn Fn() -> bool + Send>,
}

impl Pace {
    fn fast() -> Self {
        Self {
            caught_up: Box::new(|| true),
        }
    }

    fn slow_until(caught_up: impl Fn() -> bool + Send + 'static) -> Self {
        Self {
            caught_up: Box::new(caught_up),
        }
    }
}

/// Reads a subscriber's deliveries at `pace` until the PONG of `PING` (sent once
/// `finished` is set).
fn read_deliveries(
    mut stream: TcpStream,
    pace: Pace,
    finished: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Received {
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let deadline = Instant::now() + CASE_TIME_MAX;
    let mut seen: Vec<u8> = Vec::new();
    let mut parsed = 0;
    let mut indexes = Vec::new();
    let mut pinged = false;
    let mut buf = vec![0u8; 256 * 1024];
    let mut slow = !(pace.caught_up)();
    while Instant::now() < deadline {
        slow = slow && !(pace.caught_up)();
        let chunk = if slow { 1024 } else { buf.len() };
        if !pinged && finished.load(Ordering::Acquire) {
            stream.write_all(b"PING\r\n").unwrap();
            pinged = true;
        }
        match stream.read(&mut buf[..chunk]) {
            Ok(0) => {
                return Received {
                    indexes,
                    closed: true,
                }
            }
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                return Received {
                    indexes,
                    closed: true,
                }
            }
        }
        loop {
            let rest = &seen[parsed..];
            if rest.starts_with(b"PING\r\n") {
                // The server's RTT ping (2 s after CONNECT): answer it, as clients do.
                stream.write_all(b"PONG\r\n").unwrap();
                parsed += 6;
            } else if rest.len() >= DELIVERY_BYTES && rest.starts_with(b"MSG x 1 ") {
                let frame = &rest[..DELIVERY_BYTES];
                assert!(frame.starts_with(b"MSG x 1 128\r\n"), "a delivery frame");
                let digits = std::str::from_utf8(&frame[13..13 + PAYLOAD_BYTES]).unwrap();
                indexes.push(digits.parse().unwrap());
                parsed += DELIVERY_BYTES;
            } else {
                break;
            }
        }
        if pinged && seen[parsed..].starts_with(b"PONG\r\n") {
            return Received {
                indexes,
                closed: false,
            };
        }
        if slow {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    panic!(
        "the subscriber's stream did not end in time ({} messages)",
        indexes.len()
    );
}

/// Polls `done` until it holds, failing after `limit`.
fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `/connz?state=all` entry of the connection whose client port is `port`.
fn connz_entry(monitor: u16, port: u16) -> serde_json::Value {
    let connz = common::http_get(monitor, "/connz?state=all&limit=1000").json();
    connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|conn| conn["port"] == port)
        .cloned()
        .unwrap_or_else(|| panic!("connection with port {port} in {connz}"))
}

fn varz(monitor: u16, field: &str) -> u64 {
    common::http_get(monitor, "/varz").json()[field]
        .as_u64()
        .unwrap_or_else(|| panic!("/varz {field}"))
}

/// Publishes `messages` as fast as the server lets it, then waits for its PONG.
fn publish_all(mut publisher: TcpStream, messages: usize) {
    for first in (0..messages).step_by(BATCH_FRAMES) {
        let count = BATCH_FRAMES.min(messages - first);
        publisher.write_all(&publish_frames(first, count)).unwrap();
    }
    ping_pong(&mut publisher);
}

/// A slow subscriber (see [`Pace`]) and a raw publisher on the given shards; returns
/// what the subscriber got, and the server.
fn slow_subscriber_case(
    subscriber_shard: usize,
    publisher_shard: usize,
    no_fast_producer_stall: bool,
    messages: usize,
) -> (Received, RunningServer, u16) {
    let server = server(no_fast_producer_stall, PENDING_BYTES_MAX);
    let subscriber = raw_on_shard(&server, SUBSCRIBER, subscriber_shard);
    shrink_receive_buffer(&subscriber);
    let subscriber_port = subscriber.local_addr().unwrap().port();
    let publisher = raw_on_shard(&server, PUBLISHER, publisher_shard);
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let shared = server.shared().clone();
    let pace = Pace::slow_until(move || {
        shared.total(|s| &s.stalled_clients) + shared.total(|s| &s.stall_drops) > 0
    });
    let reader = {
        let finished = finished.clone();
        std::thread::spawn(move || read_deliveries(subscriber, pace, finished))
    };
    publish_all(publisher, messages);
    wait_for(CASE_TIME_MAX, "every message queued or dropped", || {
        let shared = server.shared();
        shared.total(|s| &s.out_msgs) + shared.total(|s| &s.stall_drops) >= messages as u64
    });
    finished.store(true, Ordering::Release);
    let received = reader.join().expect("reader thread");
    (received, server, subscriber_port)
}

fn assert_nothing_lost(shards: (usize, usize)) {
    const MESSAGES: usize = 200_000;
    let (received, server, subscriber_port) =
        slow_subscriber_case(shards.0, shards.1, false, MESSAGES);
    let monitor = monitor_port(&server);
    assert!(!received.closed, "the slow subscriber was closed");
    assert_eq!(varz(monitor, "slow_consumers"), 0);
    assert_eq!(received.indexes.len(), MESSAGES, "every message delivered");
    assert!(
        received.indexes.iter().copied().eq(0..MESSAGES),
        "in publish order"
    );
    let stalls = connz_entry(monitor, subscriber_port)["stalls"]
        .as_u64()
        .unwrap_or(0);
    assert!(stalls > 0, "the subscriber stalled its publisher");
    assert!(varz(monitor, "stalled_clients") >= stalls);
}

#[test]
fn slow_subscriber_on_the_publishers_shard_loses_nothing() {
    assert_nothing_lost((0, 0));
}

#[test]
fn slow_subscriber_on_another_shard_loses_nothing() {
    assert_nothing_lost((1, 0));
}

#[test]
fn no_fast_producer_stall_drops_for_the_slow_subscriber_instead() {
    const MESSAGES: usize = 200_000;
    let (received, server, _) = slow_subscriber_case(1, 0, true, MESSAGES);
    let monitor = monitor_port(&server);
    // nats-server 2.15.1 observed: the subscriber stays, the messages it had no room
    // for are dropped, no stall and no slow consumer is counted.
    assert!(!received.closed, "the subscriber stays connected");
    assert_eq!(varz(monitor, "slow_consumers"), 0);
    assert_eq!(varz(monitor, "stalled_clients"), 0);
    let got = received.indexes.len();
    assert!(
        got < MESSAGES,
        "messages were dropped ({got} of {MESSAGES})"
    );
    assert!(
        received.indexes.windows(2).all(|pair| pair[0] < pair[1]),
        "what arrives keeps publish order"
    );
    let metrics = String::from_utf8(common::http_get(monitor, "/metrics").body).unwrap();
    let drops: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("ringnats_stall_drops_total "))
        .expect("ringnats_stall_drops_total in /metrics")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(drops as usize, MESSAGES - got, "every drop counted");
}

/// A subscriber that stopped reading: once it has made no progress for longer than the
/// stall window it stalls no one, and is closed at `max_pending`; the healthy one gets
/// everything.
fn assert_stuck_subscriber_stalls_no_one(stuck_shard: usize) {
    const PENDING_MAX: u64 = PENDING_BYTES_MAX;
    let server = server(false, PENDING_MAX);
    let monitor = monitor_port(&server);
    let stuck = raw_on_shard(&server, SUBSCRIBER, stuck_shard);
    shrink_receive_buffer(&stuck);
    let stuck_port = stuck.local_addr().unwrap().port();
    let healthy = raw_on_shard(&server, SUBSCRIBER, 0);
    let healthy_port = healthy.local_addr().unwrap().port();
    let mut publisher = raw_on_shard(&server, PUBLISHER, 0);
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let finished = finished.clone();
        std::thread::spawn(move || read_deliveries(healthy, Pace::fast(), finished))
    };
    // Phase 1: fill the stuck subscriber's queue past the stall mark (3/4 of max_pending).
    let deadline = Instant::now() + CASE_TIME_MAX;
    let mut published = 0;
    let pending = |monitor| {
        connz_entry(monitor, stuck_port)["pending_bytes"]
            .as_u64()
            .unwrap()
    };
    while pending(monitor) < PENDING_MAX * 13 / 16 {
        assert!(
            Instant::now() < deadline,
            "the stuck subscriber's queue grows"
        );
        publisher
            .write_all(&publish_frames(published, BATCH_FRAMES))
            .unwrap();
        published += BATCH_FRAMES;
        ping_pong(&mut publisher);
    }
    // Its send is now blocked; let it be stuck for longer than the stall window.
    std::thread::sleep(Duration::from_millis(300));
    let stalls_before = connz_entry(monitor, stuck_port)["stalls"]
        .as_u64()
        .unwrap_or(0);
    // Phase 2: publish on until it is closed at max_pending; it must stall no one now.
    while server.shared().total(|s| &s.slow_consumers) == 0 {
        assert!(Instant::now() < deadline, "the stuck subscriber is closed");
        publisher
            .write_all(&publish_frames(published, BATCH_FRAMES))
            .unwrap();
        published += BATCH_FRAMES;
    }
    ping_pong(&mut publisher);
    wait_for(
        CASE_TIME_MAX,
        "every message queued for the healthy subscriber",
        || connz_entry(monitor, healthy_port)["out_msgs"].as_u64() == Some(published as u64),
    );
    finished.store(true, Ordering::Release);
    let closed = connz_entry(monitor, stuck_port);
    assert_eq!(
        closed["reason"], "Slow Consumer (Pending Bytes)",
        "{closed}"
    );
    assert_eq!(
        closed["stalls"].as_u64().unwrap_or(0),
        stalls_before,
        "a stuck subscriber stalled its publisher"
    );
    let received = reader.join().expect("reader thread");
    assert!(!received.closed);
    assert!(
        received.indexes.iter().copied().eq(0..published),
        "the healthy subscriber got every message in order"
    );
    drop(stuck);
}

#[test]
fn stuck_subscriber_on_the_publishers_shard_stalls_no_one() {
    assert_stuck_subscriber_stalls_no_one(0);
}

#[test]
fn stuck_subscriber_on_another_shard_stalls_no_one() {
    assert_stuck_subscriber_stalls_no_one(1);
}
