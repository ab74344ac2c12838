//! The server's HTTP monitoring endpoints, read over loopback (`--monitor`): `/varz`
//! counters before and after a run say whether the server closed anyone as a slow consumer
//! or stalled a producer, and `/connz?state=closed` says when it closed a given connection.
//!
//! A few lines of HTTP/1.0 instead of an HTTP client: the harness needs one GET at a time,
//! and both servers answer an HTTP/1.0 request with a body that ends when they close the
//! connection (chunked bodies are decoded anyway, in case a server sends one).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde::Serialize;

use crate::report::ServerCountersDelta;

/// A monitoring request not answered within this long fails (the server is stuck).
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// A response larger than this is refused: the answers read here (`/varz`, a page of
/// `/connz`) are far smaller, and the harness must not buffer without bound.
const RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The server's monitoring port.
#[derive(Clone, Copy, Debug)]
pub struct Monitor {
    address: SocketAddr,
}

/// The `/varz` counters a fast-producer run changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServerCounters {
    /// Clients closed as slow consumers since the server started.
    pub slow_consumers: u64,
    /// Times a producer was stalled because a subscriber's pending bytes passed 3/4 of
    /// max_pending.
    pub stalled_clients: u64,
}

/// One entry of `/connz?state=closed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedConnection {
    /// The server's client id (`client_id` in the INFO it sent that connection).
    pub cid: u64,
    /// The client's port: the harness's local port of that socket.
    pub port: u16,
    /// Why the server closed it, in nats-server's words ("Slow Consumer (Pending Bytes)").
    pub reason: String,
}

impl Monitor {
    pub fn new(address: SocketAddr) -> Monitor {
        Monitor { address }
    }

    pub fn counters(&self) -> io::Result<ServerCounters> {
        let varz = self.get_json("/varz")?;
        let counter = |name: &str| {
            varz.get(name)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| io::Error::other(format!("/varz has no {name}")))
        };
        Ok(ServerCounters {
            slow_consumers: counter("slow_consumers")?,
            stalled_clients: counter("stalled_clients")?,
        })
    }

    /// The most recently closed connections, newest first, at most `limit`.
    pub fn closed_connections(&self, limit: usize) -> io::Result<Vec<ClosedConnection>> {
        let connz = self.get_json(&format!("/connz?state=closed&sort=stop&limit={limit}"))?;
        closed_connections(&connz)
    }

    fn get_json(&self, path: &str) -> io::Result<serde_json::Value> {
        let body = http_get(self.address, path)?;
        serde_json::from_slice(&body)
            .map_err(|error| io::Error::other(format!("{path}: not JSON: {error}")))
    }
}

fn closed_connections(connz: &serde_json::Value) -> io::Result<Vec<ClosedConnection>> {
    let connections = connz
        .get("connections")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| io::Error::other("/connz has no connections list"))?;
    Ok(connections
        .iter()
        .filter_map(|connection| {
            let number = |name: &str| connection.get(name).and_then(serde_json::Value::as_u64);
            let reason = connection.get("reason").and_then(serde_json::Value::as_str);
            Some(ClosedConnection {
                cid: number("cid")?,
                port: u16::try_from(number("port")?).ok()?,
                reason: reason.unwrap_or("").to_string(),
            })
        })
        .collect())
}

/// `/varz` read before a run and again after it, when there is a monitor.
pub struct CountersWatch {
    monitor: Option<Monitor>,
    before: ServerCounters,
}

impl CountersWatch {
    /// Reads the counters now; fails if the monitor does not answer, since a wrong
    /// `--monitor` would otherwise go unnoticed until the end of the run.
    pub fn begin(address: Option<SocketAddr>) -> io::Result<CountersWatch> {
        let monitor = address.map(Monitor::new);
        let before = match &monitor {
            Some(monitor) => monitor.counters().map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("--monitor {}: {error}", monitor.address),
                )
            })?,
            None => ServerCounters::default(),
        };
        Ok(CountersWatch { monitor, before })
    }

    /// Reads the counters again: the deltas, or the error that prevented them.
    pub fn end(self) -> (Option<ServerCountersDelta>, Option<String>) {
        let Some(monitor) = self.monitor else {
            return (None, None);
        };
        match monitor.counters() {
            Ok(after) => (Some(ServerCountersDelta::new(self.before, after)), None),
            Err(error) => (None, Some(format!("monitor after the run: {error}"))),
        }
    }
}

fn http_get(address: SocketAddr, path: &str) -> io::Result<Vec<u8>> {
    let with_path = |error: io::Error| io::Error::new(error.kind(), format!("GET {path}: {error}"));
    let mut stream = TcpStream::connect_timeout(&address, HTTP_TIMEOUT).map_err(with_path)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").map_err(with_path)?;
    let mut response = Vec::new();
    stream
        .take(RESPONSE_BYTES_MAX as u64 + 1)
        .read_to_end(&mut response)
        .map_err(with_path)?;
    if response.len() > RESPONSE_BYTES_MAX {
        return Err(io::Error::other(format!(
            "GET {path}: response over {RESPONSE_BYTES_MAX} bytes"
        )));
    }
    response_body(&response).map_err(|error| io::Error::other(format!("GET {path}: {error}")))
}

/// The body of a complete `200` response, de-chunked if it was chunked.
fn response_body(response: &[u8]) -> Result<Vec<u8>, String> {
    let head_end = memchr::memmem::find(response, b"\r\n\r\n").ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&response[..head_end]);
    let body = &response[head_end + 4..];
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("answered `{status}`"));
    }
    let chunked = lines.any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if chunked {
        dechunk(body)
    } else {
        Ok(body.to_vec())
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let line_end = memchr::memmem::find(body, b"\r\n").ok_or("chunk size line cut")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size `{size_text}`"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("chunk cut")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).ok_or("chunk end cut")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_chunked_bodies() {
        let plain = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
        assert_eq!(response_body(plain).unwrap(), b"{\"a\":1}");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(response_body(chunked).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn reads_closed_connections() {
        let connz = serde_json::json!({"connections": [
            {"cid": 7, "ip": "127.0.0.1", "port": 40001, "reason": "Slow Consumer (Pending Bytes)"},
            {"cid": 8, "port": 40002},
        ]});
        let closed = closed_connections(&connz).unwrap();
        assert_eq!(closed.len(), 2);
        assert_eq!((closed[0].cid, closed[0].port), (7, 40001));
        assert_eq!(closed[0].reason, "Slow Consumer (Pending Bytes)");
        assert_eq!(closed[1].reason, "");
    }

    #[test]
    fn refuses_errors_and_cut_responses() {
        assert!(response_body(b"HTTP/1.0 404 Not Found\r\n\r\nnope").is_err());
        assert!(response_body(b"HTTP/1.0 200 OK\r\n").is_err());
        let cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"a\"";
        assert!(response_body(cut).is_err());
    }
}
