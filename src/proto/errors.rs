//! nats-server's `-ERR` texts, spelled exactly as it sends them (`-ERR '%s'\r\n`,
//! client.go), and the close reasons `/connz` reports.

/// An unknown or malformed op name (parser.go); closes.
pub const UNKNOWN_PROTOCOL_OPERATION: &str = "Unknown Protocol Operation";
/// A SUB with an invalid subject (client.go processSub); the connection stays open.
pub const INVALID_SUBJECT: &str = "Invalid Subject";
/// A pedantic PUB to a wildcard or invalid subject; the connection stays open.
pub const INVALID_PUBLISH_SUBJECT: &str = "Invalid Publish Subject";
/// `protocol` outside 0..=1 in CONNECT; closes.
pub const INVALID_CLIENT_PROTOCOL: &str = "invalid client protocol";
/// `no_responders` without `headers` in CONNECT; closes.
pub const NO_RESPONDERS_REQUIRES_HEADERS: &str = "no responders requires headers support";
/// Too many subscriptions on one connection; the connection stays open.
pub const MAXIMUM_SUBSCRIPTIONS_EXCEEDED: &str = "maximum subscriptions exceeded";
/// Too many connections on the server; closes.
pub const MAXIMUM_CONNECTIONS_EXCEEDED: &str = "maximum connections exceeded";
/// Unanswered pings exceeded `ping_max`; closes.
pub const STALE_CONNECTION: &str = "Stale Connection";
/// Failed authentication; closes.
pub const AUTHORIZATION_VIOLATION: &str = "Authorization Violation";
/// No (successful) CONNECT within `auth_timeout`; closes.
pub const AUTHENTICATION_TIMEOUT: &str = "Authentication Timeout";
/// A user JWT expired while the client was connected; closes.
pub const USER_AUTHENTICATION_EXPIRED: &str = "User Authentication Expired";
/// The account's `max_connections` is reached; closes.
pub const MAXIMUM_ACCOUNT_CONNECTIONS_EXCEEDED: &str =
    "maximum account active connections exceeded";

/// Close reasons as nats-server's `ClosedState` strings.
pub mod close_reason {
    /// The client closed its side.
    pub const CLIENT_CLOSED: &str = "Client Closed";
    /// The server is shutting down.
    pub const SERVER_SHUTDOWN: &str = "Server Shutdown";
    /// A protocol error.
    pub const PROTOCOL_VIOLATION: &str = "Protocol Violation";
    /// Outbound bytes exceeded `max_pending`.
    pub const SLOW_CONSUMER_PENDING_BYTES: &str = "Slow Consumer (Pending Bytes)";
    /// A send stalled past `write_deadline`.
    pub const SLOW_CONSUMER_WRITE_DEADLINE: &str = "Slow Consumer (Write Deadline)";
    /// `ping_max` unanswered pings.
    pub const STALE_CONNECTION: &str = "Stale Connection";
    /// The client sent `-ERR`.
    pub const PARSE_ERROR: &str = "Parse Error";
    /// A write failed.
    pub const WRITE_ERROR: &str = "Write Error";
    /// A read failed.
    pub const READ_ERROR: &str = "Read Error";
    /// Connection limit reached.
    pub const MAX_CONNECTIONS_EXCEEDED: &str = "Maximum Connections Exceeded";
    /// CONNECT asked for a protocol we do not speak.
    pub const BAD_CLIENT_PROTOCOL_VERSION: &str = "Bad Client Protocol Version";
    /// `no_responders` without `headers`.
    pub const NO_RESPONDERS_REQUIRES_HEADERS: &str = "No Responders Requires Headers";
    /// Credentials refused.
    pub const AUTHENTICATION_FAILURE: &str = "Authentication Failure";
    /// No CONNECT within `auth_timeout`.
    pub const AUTHENTICATION_TIMEOUT: &str = "Authentication Timeout";
    /// Credentials expired while connected.
    pub const AUTHENTICATION_EXPIRED: &str = "Authentication Expired";
    /// The account's connection limit.
    pub const MAX_ACCOUNT_CONNECTIONS_EXCEEDED: &str = "Maximum Account Connections Exceeded";
}

/// Appends `-ERR '<text>'\r\n` to `out`.
pub fn encode_err(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"-ERR '");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"'\r\n");
}

/// Quotes bytes the way Go's `%q` does for the ASCII range (permission texts use it);
/// other bytes are escaped as `\xNN`.
pub fn go_quote(bytes: &[u8]) -> String {
    let mut quoted = String::with_capacity(bytes.len() + 2);
    quoted.push('"');
    for &byte in bytes {
        match byte {
            b'"' => quoted.push_str("\\\""),
            b'\\' => quoted.push_str("\\\\"),
            b'\n' => quoted.push_str("\\n"),
            b'\r' => quoted.push_str("\\r"),
            b'\t' => quoted.push_str("\\t"),
            0x20..=0x7e => quoted.push(byte as char),
            _ => quoted.push_str(&format!("\\x{byte:02x}")),
        }
    }
    quoted.push('"');
    quoted
}
