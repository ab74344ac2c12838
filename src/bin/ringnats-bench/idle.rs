//! Memory per idle connection: read the server's RSS, open N connections that each
//! subscribe to their own subject and confirm it with PING/PONG, let the server settle, read
//! the RSS again. `(after - before) / N` is what a server pays for a connection that does
//! nothing, the number that decides how many clients a box can hold.

use std::io;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::progress::{Delivery, ProgressLine, RunState};
use crate::raw;
use crate::report::{IdleMemory, Report};

/// Time given to the server after the last connection before the second reading, so lazily
/// freed or allocated buffers are counted the same way on both servers.
const SETTLE: Duration = Duration::from_millis(500);

pub fn run(args: &Args) -> io::Result<Report> {
    let pid = args
        .server_pid
        .ok_or_else(|| io::Error::other("idle runs need --pid"))?;
    let state = RunState::new(0, 1, Delivery::None);
    std::thread::sleep(SETTLE);
    let rss_before_bytes = rss_bytes(pid)?;
    let progress = ProgressLine::start(state.clone(), args.progress);
    let start = Instant::now();
    let mut connections: Vec<TcpStream> = Vec::with_capacity(args.connections);
    for index in 0..args.connections {
        let sub = format!("SUB {}.{index} 1\r\n", args.subject);
        let stream = raw::connect(args.server, "bench-idle", sub.as_bytes()).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("connection {index} of {}: {error}", args.connections),
            )
        })?;
        connections.push(stream);
        state.published.0.fetch_add(1, Ordering::Relaxed);
    }
    let connect_seconds = start.elapsed().as_secs_f64();
    drop(progress);
    std::thread::sleep(SETTLE);
    let rss_after_bytes = rss_bytes(pid)?;
    drop(connections);
    let connections = args.connections.max(1);
    Ok(Report {
        payload_bytes: 0,
        idle: Some(IdleMemory {
            connections: args.connections,
            rss_before_bytes,
            rss_after_bytes,
            bytes_per_connection: (rss_after_bytes as f64 - rss_before_bytes as f64)
                / connections as f64,
            connect_seconds,
        }),
        ..Report::for_run(args)
    })
}

/// The resident set size of `pid`, from the `VmRSS:` line of `/proc/<pid>/status`.
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|kilobytes| kilobytes.trim().parse::<u64>().ok())
        .map(|kilobytes| kilobytes * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_rss() {
        let rss = rss_bytes(std::process::id()).unwrap();
        assert!(rss > 0);
    }
}
