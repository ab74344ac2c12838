//! The raw-protocol client: blocking sockets, pre-encoded frames and a memchr-based scanner
//! that counts `MSG` frames without allocating. It exists so that the harness is never the
//! bottleneck: a publisher writes whole batches of identical `PUB` frames with one syscall,
//! and a subscriber jumps over each payload by its declared length instead of copying it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Read buffer of every raw connection; large reads keep syscalls per message low.
pub const READ_BUFFER_BYTES: usize = 256 * 1024;
/// A control line longer than this is a protocol error (nats-server's max_control_line).
const CONTROL_LINE_BYTES_MAX: usize = 4096;
/// How long a handshake may take before the server counts as unresponsive.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Read timeout of worker sockets, so blocked readers notice stop flags.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Connects and sends CONNECT (no verbose, no echo) followed by `extra` and a PING; returns
/// once the PONG arrives, so every SUB in `extra` is in force.
pub fn connect(server: SocketAddr, name: &str, extra: &[u8]) -> io::Result<TcpStream> {
    handshake(TcpStream::connect(server)?, name, extra)
}

/// `connect` on a stream already connected, for sockets that need options set before the
/// connection is made.
pub fn handshake(mut stream: TcpStream, name: &str, extra: &[u8]) -> io::Result<TcpStream> {
    stream.set_nodelay(true)?;
    let mut hello = Vec::with_capacity(256 + extra.len());
    write!(
        hello,
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"echo\":false,\"name\":\"{name}\",\
         \"lang\":\"rust-raw\",\"version\":\"{}\",\"protocol\":1}}\r\n",
        env!("CARGO_PKG_VERSION")
    )?;
    hello.extend_from_slice(extra);
    hello.extend_from_slice(b"PING\r\n");
    stream.write_all(&hello)?;
    wait_for_pong(&mut stream)?;
    stream.set_read_timeout(Some(POLL_INTERVAL))?;
    Ok(stream)
}

/// Reads the server's INFO line, which it sends before anything else, and returns its JSON.
/// Until the client's CONNECT nothing follows that line, so no read can take more.
pub fn read_info(stream: &mut TcpStream) -> io::Result<serde_json::Value> {
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut line = Vec::with_capacity(CONTROL_LINE_BYTES_MAX);
    let mut buffer = [0u8; 1024];
    while memchr::memchr(b'\n', &line).is_none() {
        if line.len() > CONTROL_LINE_BYTES_MAX {
            return Err(io::Error::other("INFO line too long"));
        }
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection before INFO",
            ));
        }
        line.extend_from_slice(&buffer[..read]);
    }
    if !line.ends_with(b"\n") {
        return Err(io::Error::other("bytes after INFO before CONNECT"));
    }
    let json = trim_line_end(&line)
        .strip_prefix(b"INFO")
        .ok_or_else(|| io::Error::other("the server's first line is not INFO"))?;
    serde_json::from_slice(json).map_err(|error| io::Error::other(format!("INFO: {error}")))
}

/// Reads until the first PONG. Nothing but INFO, PING and PONG can precede it on a
/// connection that has not published, so leftover bytes need no keeping.
fn wait_for_pong(stream: &mut TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut scanner = MsgScanner::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    while scanner.pongs == 0 {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no PONG to CONNECT",
            ));
        }
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection during the handshake",
            ));
        }
        scanner.scan(&buffer[..read], |_| {});
        if let Some(error) = scanner.first_error.take() {
            return Err(io::Error::other(error));
        }
    }
    Ok(())
}

/// Appends one `PUB <subject> [reply] <size>\r\n<payload>\r\n` frame. Writes the size digits
/// straight into `out`, so the responder may call it per request without allocating.
pub fn encode_pub(out: &mut Vec<u8>, subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject);
    if let Some(reply) = reply {
        out.push(b' ');
        out.extend_from_slice(reply);
    }
    let _ = write!(out, " {}\r\n", payload.len());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// The payload every message carries; its content does not matter to a broker.
pub fn payload(bytes: usize) -> Vec<u8> {
    (0..bytes).map(|index| b'a' + (index % 26) as u8).collect()
}

/// Counts the frames a server sends, skipping payloads by their declared length.
///
/// Resumable: a read may end anywhere, inside a control line (the only thing ever copied,
/// into a buffer reused for the whole run) or inside a payload (remembered as bytes to skip).
pub struct MsgScanner {
    /// Payload bytes plus the closing CRLF still to skip; valid across calls to `scan`.
    skip_bytes: usize,
    /// A control line cut by the end of a read; empty when the last read ended between frames.
    partial_line: Vec<u8>,
    /// MSG and HMSG frames seen.
    pub msgs: u64,
    /// Payload bytes of those frames (headers included for HMSG).
    pub payload_bytes: u64,
    /// PONGs seen.
    pub pongs: u64,
    /// PINGs seen from the server; the owner of the socket answers them.
    pub pings: u64,
    /// The first `-ERR` line, if any, for the report.
    pub first_error: Option<String>,
    /// Lines that could not be parsed (a harness or server bug).
    pub garbled_lines: u64,
}

impl MsgScanner {
    pub fn new() -> Self {
        MsgScanner {
            skip_bytes: 0,
            partial_line: Vec::with_capacity(CONTROL_LINE_BYTES_MAX),
            msgs: 0,
            payload_bytes: 0,
            pongs: 0,
            pings: 0,
            first_error: None,
            garbled_lines: 0,
        }
    }

    /// Consumes `data`; calls `on_msg` with each MSG control line (without its CRLF).
    pub fn scan(&mut self, data: &[u8], mut on_msg: impl FnMut(&[u8])) {
        let mut position = 0;
        if !self.partial_line.is_empty() {
            let Some(newline) = memchr::memchr(b'\n', data) else {
                self.keep_partial(data);
                return;
            };
            let mut line = std::mem::take(&mut self.partial_line);
            line.extend_from_slice(&data[..=newline]);
            self.control_line(&line, &mut on_msg);
            line.clear();
            self.partial_line = line;
            position = newline + 1;
        }
        while position < data.len() {
            if self.skip_bytes > 0 {
                let skipped = self.skip_bytes.min(data.len() - position);
                self.skip_bytes -= skipped;
                position += skipped;
                continue;
            }
            let rest = &data[position..];
            let Some(newline) = memchr::memchr(b'\n', rest) else {
                self.keep_partial(rest);
                return;
            };
            self.control_line(&rest[..=newline], &mut on_msg);
            position += newline + 1;
        }
    }

    fn keep_partial(&mut self, bytes: &[u8]) {
        if self.partial_line.len() + bytes.len() > CONTROL_LINE_BYTES_MAX {
            self.garbled_lines += 1;
            self.partial_line.clear();
            return;
        }
        self.partial_line.extend_from_slice(bytes);
    }

    /// Handles one control line, `line` ending in `\n`.
    fn control_line(&mut self, line: &[u8], on_msg: &mut impl FnMut(&[u8])) {
        let line = trim_line_end(line);
        let size = || last_number(line);
        match line.get(..4) {
            Some(b"MSG ") | Some(b"HMSG") => match size() {
                Some(size) => {
                    self.msgs += 1;
                    self.payload_bytes += size as u64;
                    self.skip_bytes = size + 2;
                    on_msg(line);
                }
                None => self.garbled_lines += 1,
            },
            Some(b"PONG") => self.pongs += 1,
            Some(b"PING") => self.pings += 1,
            Some(b"-ERR") => {
                if self.first_error.is_none() {
                    self.first_error = Some(String::from_utf8_lossy(line).into_owned());
                }
            }
            Some(b"INFO") => {}
            _ if line.starts_with(b"+OK") => {}
            _ => self.garbled_lines += 1,
        }
    }
}

impl Default for MsgScanner {
    fn default() -> Self {
        Self::new()
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The decimal number that ends `line` (a MSG's size, an HMSG's total size), if it is one.
fn last_number(line: &[u8]) -> Option<usize> {
    let start = memchr::memrchr(b' ', line)? + 1;
    let digits = &line[start..];
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    digits.iter().try_fold(0usize, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + usize::from(byte - b'0'))
    })
}

/// The reply subject of a control line `MSG <subject> <sid> [reply] <size>`.
pub fn reply_subject(line: &[u8]) -> Option<&[u8]> {
    let mut tokens = line
        .split(|&byte| byte == b' ')
        .filter(|token| !token.is_empty());
    let (_verb, _subject, _sid) = (tokens.next()?, tokens.next()?, tokens.next()?);
    let reply = tokens.next()?;
    tokens.next().map(|_size| reply)
}

/// Whether an I/O error is the read timeout used for polling.
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> Vec<u8> {
        let mut bytes = b"INFO {\"a\":1} \r\nPONG\r\n".to_vec();
        bytes.extend_from_slice(b"MSG foo 1 5\r\nhello\r\n");
        bytes.extend_from_slice(b"MSG foo.bar 22 _INBOX.x 3\r\n\r\n\n\r\n");
        bytes.extend_from_slice(b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        bytes.extend_from_slice(b"PING\r\n-ERR 'Slow Consumer'\r\n");
        bytes
    }

    #[test]
    fn counts_frames_split_at_every_offset() {
        let bytes = frames();
        for split in 0..=bytes.len() {
            let mut scanner = MsgScanner::new();
            let mut lines = Vec::new();
            scanner.scan(&bytes[..split], |line| lines.push(line.to_vec()));
            scanner.scan(&bytes[split..], |line| lines.push(line.to_vec()));
            assert_eq!(scanner.msgs, 3, "split at {split}");
            assert_eq!(scanner.payload_bytes, 5 + 3 + 14);
            assert_eq!((scanner.pongs, scanner.pings), (1, 1));
            assert_eq!(scanner.garbled_lines, 0);
            assert_eq!(scanner.first_error.as_deref(), Some("-ERR 'Slow Consumer'"));
            assert_eq!(lines[1], b"MSG foo.bar 22 _INBOX.x 3");
        }
    }

    #[test]
    fn finds_reply_subjects() {
        assert_eq!(reply_subject(b"MSG a 1 r.1 5"), Some(&b"r.1"[..]));
        assert_eq!(reply_subject(b"MSG a 1 5"), None);
    }

    #[test]
    fn encodes_pub_frames() {
        let mut out = Vec::new();
        encode_pub(&mut out, b"a.b", Some(b"r"), b"xy");
        assert_eq!(out, b"PUB a.b r 2\r\nxy\r\n");
    }
}
