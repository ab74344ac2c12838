//! Control-plane orders against a live in-process server: a reloaded limit takes effect
//! on a connection that stays open, and lame-duck mode stops accepting, announces
//! `"ldm":true` and closes clients after the grace period.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringnats::config::Config;
use ringnats::server::{self, RunningServer};
use ringnats::shard::shared::ControlMsg;

fn start(adjust: impl FnOnce(&mut Config)) -> RunningServer {
    let mut config = Config {
        host: "127.0.0.1".into(),
        port: -1,
        threads: Some(2),
        ..Config::default()
    };
    if let Ok(backend) = std::env::var("RINGNATS_TEST_IO_BACKEND") {
        config.io_backend = backend.parse().expect("valid RINGNATS_TEST_IO_BACKEND");
    }
    adjust(&mut config);
    server::start(config).expect("server starts")
}

/// Reads until `done` holds, EOF, or the deadline; returns the bytes and whether EOF.
fn read_until(
    stream: &mut TcpStream,
    limit: Duration,
    done: impl Fn(&[u8]) -> bool,
) -> (Vec<u8>, bool) {
    common::read_stream_until(stream, limit, done)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn connect(server: &RunningServer) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    read_until(&mut stream, Duration::from_secs(5), |seen| {
        seen.ends_with(b"\r\n")
    });
    stream
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    read_until(&mut stream, Duration::from_secs(5), |seen| {
        contains(seen, b"PONG\r\n")
    });
    stream
}

#[test]
fn reloaded_ping_interval_reaches_an_open_connection() {
    let server = start(|_| {});
    let mut stream = connect(&server);
    let mut reloaded = server.shared().config.clone();
    reloaded.ping_interval = Duration::from_millis(100);
    reloaded.pings_outstanding_max = 1;
    assert!(server.apply(&ControlMsg::Reload(Arc::new(reloaded))));
    let (seen, closed) = read_until(&mut stream, Duration::from_secs(10), |_| false);
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("PING\r\n"), "{text}");
    assert!(text.ends_with("-ERR 'Stale Connection'\r\n"), "{text}");
    assert!(closed, "closed as stale under the reloaded limits");
}

#[test]
fn lame_duck_stops_accepting_announces_and_closes_clients() {
    let server = start(|_| {});
    let mut clients: Vec<TcpStream> = (0..4).map(|_| connect(&server)).collect();
    server.apply(&ControlMsg::LameDuck {
        grace: Duration::from_millis(200),
        duration: Duration::from_millis(600),
    });
    for client in &mut clients {
        let (seen, closed) = read_until(client, Duration::from_secs(10), |_| false);
        assert!(
            contains(&seen, b"\"ldm\":true"),
            "{}",
            String::from_utf8_lossy(&seen)
        );
        assert!(closed, "every client is closed within the lame-duck window");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpStream::connect(("127.0.0.1", server.port())) {
            Err(_) => break,
            Ok(mut late) => {
                // A connection the kernel completed must not be served.
                let (seen, _) =
                    read_until(&mut late, Duration::from_millis(300), |s| !s.is_empty());
                if seen.is_empty() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "still accepting in lame-duck mode"
                );
            }
        }
    }
}
