//! Servers started in-process with a `Config` (so limits can be small without hidden
//! flags) on a random loopback port, on the io backend `RINGNATS_TEST_IO_BACKEND` asks
//! for, and raw-protocol connections to them.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ringnats::config::Config;
use ringnats::server::{self, RunningServer};

/// Starts a server with `threads` shards on 127.0.0.1, a random port, and the suite's
/// io backend, after `adjust` changed the configuration.
pub fn start(threads: usize, adjust: impl FnOnce(&mut Config)) -> RunningServer {
    // RINGNATS_TEST_DEBUG=1 shows the servers' debug and trace lines on stderr.
    if std::env::var("RINGNATS_TEST_DEBUG").is_ok() {
        let log = ringnats::config::LogConfig {
            debug: true,
            trace: std::env::var("RINGNATS_TEST_DEBUG").is_ok_and(|v| v == "trace"),
            ..Default::default()
        };
        ringnats::log::init(&log).unwrap();
    }
    let mut config = Config {
        host: "127.0.0.1".into(),
        port: -1,
        threads: Some(threads),
        ..Config::default()
    };
    if let Some(backend) = super::test_io_backend() {
        config.io_backend = backend
            .parse()
            .expect("RINGNATS_TEST_IO_BACKEND is auto, io_uring or epoll");
    }
    adjust(&mut config);
    server::start(config).expect("server starts")
}

/// The server's client URL.
pub fn url(server: &RunningServer) -> String {
    format!("nats://127.0.0.1:{}", server.port())
}

/// Reads until `needle` shows up, EOF, or the deadline; returns everything read and
/// whether the server closed the connection.
pub fn read_until(stream: &mut TcpStream, needle: &[u8], limit: Duration) -> (Vec<u8>, bool) {
    super::read_stream_until(stream, limit, |seen| {
        !needle.is_empty() && contains(seen, needle)
    })
}

/// True when `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Connects, reads the INFO greeting and sends `connect` (a CONNECT line, maybe more).
pub fn raw(server: &RunningServer, connect: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stream.set_nodelay(true).unwrap();
    let (info, _) = read_until(&mut stream, b"\r\n", Duration::from_secs(5));
    assert!(
        info.starts_with(b"INFO {"),
        "got {:?}",
        String::from_utf8_lossy(&info)
    );
    stream.write_all(connect.as_bytes()).unwrap();
    stream
}

/// Open connections per shard now.
pub fn connections_per_shard(server: &RunningServer) -> Vec<u64> {
    let stats = &server.shared().stats;
    stats
        .iter()
        .map(|s| s.connections.load(Ordering::Relaxed))
        .collect()
}

/// The index of the one shard whose connection count went up.
pub fn shard_that_grew(before: &[u64], after: &[u64]) -> usize {
    let grown: Vec<usize> = (0..before.len())
        .filter(|&i| after[i] > before[i])
        .collect();
    assert_eq!(
        grown.len(),
        1,
        "one new connection: {before:?} -> {after:?}"
    );
    grown[0]
}

/// Opens raw connections (each sending `connect` and then waiting for the PONG of a
/// PING it must end with) until one lands on `shard`; the others are dropped.
pub fn raw_on_shard(server: &RunningServer, connect: &str, shard: usize) -> TcpStream {
    assert!(
        connect.ends_with("PING\r\n"),
        "the connect script ends with PING"
    );
    for _ in 0..200 {
        let before = connections_per_shard(server);
        let mut stream = raw(server, connect);
        let (pong, _) = read_until(&mut stream, b"PONG\r\n", Duration::from_secs(5));
        assert!(contains(&pong, b"PONG\r\n"), "no PONG");
        if shard_that_grew(&before, &connections_per_shard(server)) == shard {
            return stream;
        }
        drop(stream);
        // The dropped connection must be gone before the next count is taken.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while connections_per_shard(server) != before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    panic!("no connection landed on shard {shard} in 200 tries");
}
