//! Configuration: the validated [`Config`] every other module reads, built from the NATS
//! conf file ([`file::load`]) with nats-server-style command-line flags laid over it.
//!
//! Every limit lives here once, with nats-server's default and a note on where the
//! number comes from. `Config::validate` runs once at start-up; nothing on the data
//! path re-checks these values.
//!
//! Code map of the file side: [`conf`] parses the text, `file` walks the top-level keys
//! and `keys` says what each means; `auth` (with `users`, `permissions`) reads
//! `authorization {}` and the other auth keys, `accounts` (with `import_export`) reads
//! `accounts {}`, and `account_links` (with `subject_transform`) checks imports against
//! exports. They fill [`Config::auth`] ([`crate::auth::AuthConfig`]).

mod account_links;
mod accounts;
mod auth;
pub mod conf;
pub mod digest;
pub mod file;
pub mod flags;
mod import_export;
mod jwt;
mod keys;
mod permissions;
mod subject_transform;
mod users;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// nats-server's `MAX_PAYLOAD_SIZE` (const.go): 1 MiB.
pub const DEFAULT_PAYLOAD_BYTES_MAX: u32 = 1024 * 1024;
/// nats-server's `MAX_CONTROL_LINE_SIZE` (const.go): 4 KiB.
pub const DEFAULT_CONTROL_LINE_BYTES_MAX: u32 = 4096;
/// nats-server's `MAX_PENDING_SIZE` (const.go): 64 MiB.
pub const DEFAULT_PENDING_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// nats-server's `DEFAULT_MAX_CONNECTIONS` (const.go): 64 Ki.
pub const DEFAULT_CONNECTIONS_MAX: u32 = 64 * 1024;
/// nats-server's `DEFAULT_PING_INTERVAL` (const.go): 2 minutes.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
/// nats-server's `DEFAULT_PING_MAX_OUT` (const.go).
pub const DEFAULT_PINGS_OUTSTANDING_MAX: u32 = 2;
/// nats-server's `DEFAULT_FLUSH_DEADLINE` (const.go): 10 seconds.
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// nats-server's `AUTH_TIMEOUT` (const.go): 2 seconds.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// nats-server's `DEFAULT_PORT`.
pub const DEFAULT_PORT: i32 = 4222;
/// nats-server's `DEFAULT_HOST`.
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// nats-server's `DEFAULT_LAME_DUCK_DURATION` (const.go): 2 minutes.
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// nats-server's `DEFAULT_LAME_DUCK_GRACE_PERIOD` (const.go): 10 seconds.
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// nats-server's `DEFAULT_MAX_CLOSED_CLIENTS`.
pub const DEFAULT_CLOSED_CLIENTS_MAX: u32 = 10_000;
/// A hard ceiling on shards: rings grow with the square of this.
pub const SHARDS_MAX: usize = 64;

/// Which io backend runs the shard loops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IoBackendChoice {
    /// Probe io_uring at start-up and fall back to epoll if it cannot work.
    #[default]
    Auto,
    /// io_uring or a start-up error that names the cause.
    IoUring,
    /// epoll, even where io_uring works.
    Epoll,
}

impl std::str::FromStr for IoBackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "io_uring" | "iouring" | "uring" => Ok(Self::IoUring),
            "epoll" => Ok(Self::Epoll),
            other => Err(format!(
                "invalid io_backend {other:?}: expected auto, io_uring or epoll"
            )),
        }
    }
}

/// Logging settings, nats-server's `-l`, `-D`, `-V`, `-T`, `--logtime_utc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Log file; `None` logs to stderr.
    pub file: Option<PathBuf>,
    /// `-D`: debug lines (`[DBG]`).
    pub debug: bool,
    /// `-V`: protocol trace lines (`[TRC]`).
    pub trace: bool,
    /// `-VV`: trace including system-account traffic.
    pub trace_verbose: bool,
    /// `-T`: timestamps on each line (nats-server default: true).
    pub logtime: bool,
    /// `--logtime_utc`: timestamps in UTC rather than local time.
    pub logtime_utc: bool,
    /// `log_size_limit`: rotate the log file past this many bytes; 0 = never. Stored,
    /// not acted on yet (ringnats does not rotate logs).
    pub size_limit_bytes: i64,
    /// `log_max_num`: rotated log files to keep; 0 = all. Stored, not acted on yet.
    pub files_max: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            file: None,
            debug: false,
            trace: false,
            trace_verbose: false,
            logtime: true,
            logtime_utc: false,
            size_limit_bytes: 0,
            files_max: 0,
        }
    }
}

/// The whole server configuration. Field invariants hold after [`Config::validate`].
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Interface to listen on for clients (`-a`, `host`). IPv4 or IPv6 literal or name.
    pub host: String,
    /// Client port (`-p`); `-1` picks a random free port, `0` means the default 4222.
    pub port: i32,
    /// `server_name`; defaults to the server id.
    pub server_name: Option<String>,
    /// Number of shards (`--threads`); `None` = min(affinity CPUs, cgroup quota).
    pub threads: Option<usize>,
    /// `io_backend`.
    pub io_backend: IoBackendChoice,
    /// `max_payload`: the largest PUB payload (headers included), advertised in INFO.
    pub payload_bytes_max: u32,
    /// `max_control_line`: the longest protocol line a client may send.
    pub control_line_bytes_max: u32,
    /// `max_pending`: outbound bytes queued for one client before it is a slow consumer.
    pub pending_bytes_max: u64,
    /// `max_connections`: client connections accepted at once, across all shards.
    pub connections_max: u32,
    /// `max_subscriptions`: per connection; 0 means unlimited.
    pub subscriptions_max: u32,
    /// `max_sub_tokens`: tokens in a SUB subject; 0 means unlimited.
    pub subscription_tokens_max: u32,
    /// `ping_interval`: how often the server pings an idle client.
    pub ping_interval: Duration,
    /// `ping_max`: unanswered pings before `-ERR 'Stale Connection'`.
    pub pings_outstanding_max: u32,
    /// `write_deadline`: how long a send may stall before the client is closed.
    pub write_deadline: Duration,
    /// `auth_timeout`: time allowed between accept and CONNECT when auth is required.
    pub auth_timeout: Duration,
    /// Authentication, authorization and accounts.
    pub auth: crate::auth::AuthConfig,
    /// `no_header_support`: turn off headers in INFO.
    pub no_header_support: bool,
    /// `no_fast_producer_stall`: drop messages for a subscriber that fell behind
    /// instead of stalling its publishers (see `shard::stall`).
    pub no_fast_producer_stall: bool,
    /// `max_closed_clients`: closed connections remembered for `/connz?state=closed`.
    pub closed_clients_max: u32,
    /// Logging.
    pub log: LogConfig,
    /// `-P`: pid file.
    pub pid_file: Option<PathBuf>,
    /// `--ports_file_dir`: where `<exe>_<pid>.ports` is written.
    pub ports_file_dir: Option<PathBuf>,
    /// `-m`, `http_port`, `monitor_port`, `http`: monitoring port (`None` = off, -1 =
    /// any free port).
    pub http_port: Option<i32>,
    /// The host of `http: "host:port"`; `None` = the client listener's host, as
    /// nats-server defaults it.
    pub http_host: Option<String>,
    /// `-c`: the config file this configuration came from, if any.
    pub config_file: Option<PathBuf>,
    /// `http_base_path`: URL prefix of the monitoring endpoints.
    pub http_base_path: String,
    /// `no_sublist_cache`/`disable_sublist_cache`: nats-server's switch for its match
    /// cache. Stored, no effect: ringnats' Sublist has no such cache to turn off.
    pub no_sublist_cache: bool,
    /// `store_dir`: JetStream's directory. Stored, inert without JetStream (as in
    /// nats-server, it does not enable JetStream by itself).
    pub store_dir: Option<PathBuf>,
    /// `lame_duck_duration`: how long lame duck mode spreads client closes over; at
    /// least 30 seconds. Stored; lame duck mode (SIGUSR2) is not built yet.
    pub lame_duck_duration: Duration,
    /// `lame_duck_grace_period`: wait before lame duck mode starts closing clients;
    /// below `lame_duck_duration`. Stored; lame duck mode is not built yet.
    pub lame_duck_grace_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            server_name: None,
            threads: None,
            io_backend: IoBackendChoice::Auto,
            payload_bytes_max: DEFAULT_PAYLOAD_BYTES_MAX,
            control_line_bytes_max: DEFAULT_CONTROL_LINE_BYTES_MAX,
            pending_bytes_max: DEFAULT_PENDING_BYTES_MAX,
            connections_max: DEFAULT_CONNECTIONS_MAX,
            subscriptions_max: 0,
            subscription_tokens_max: 0,
            ping_interval: DEFAULT_PING_INTERVAL,
            pings_outstanding_max: DEFAULT_PINGS_OUTSTANDING_MAX,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            auth: crate::auth::AuthConfig::default(),
            no_header_support: false,
            no_fast_producer_stall: false,
            closed_clients_max: DEFAULT_CLOSED_CLIENTS_MAX,
            log: LogConfig::default(),
            pid_file: None,
            ports_file_dir: None,
            http_port: None,
            http_host: None,
            config_file: None,
            http_base_path: String::new(),
            no_sublist_cache: false,
            store_dir: None,
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: DEFAULT_LAME_DUCK_GRACE_PERIOD,
        }
    }
}

/// A configuration that cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The configuration asks for a feature ringnats does not have yet.
    NotYetSupported(String),
    /// A value is out of range or inconsistent; the text names it.
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotYetSupported(feature) => write!(f, "not yet supported: {feature}"),
            Self::Invalid(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks the relations between limits once, at start-up.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.lame_duck_grace_period >= self.lame_duck_duration {
            // nats-server's validateOptions, same words.
            return Err(ConfigError::Invalid(format!(
                "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                file::go_duration_text(self.lame_duck_grace_period),
                file::go_duration_text(self.lame_duck_duration)
            )));
        }
        if self.port < -1 || self.port > 65535 {
            return Err(ConfigError::Invalid(format!("invalid port {}", self.port)));
        }
        if self.payload_bytes_max == 0 {
            return Err(ConfigError::Invalid("max_payload must be positive".into()));
        }
        if u64::from(self.payload_bytes_max) > self.pending_bytes_max {
            // nats-server: "max_payload (%v) cannot be higher than max_pending (%v)".
            return Err(ConfigError::Invalid(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                self.payload_bytes_max, self.pending_bytes_max
            )));
        }
        if self.control_line_bytes_max < 32 {
            return Err(ConfigError::Invalid(
                "max_control_line must be at least 32 bytes".into(),
            ));
        }
        if let Some(threads) = self.threads {
            if threads == 0 || threads > SHARDS_MAX {
                return Err(ConfigError::Invalid(format!(
                    "threads must be between 1 and {SHARDS_MAX}, got {threads}"
                )));
            }
        }
        if let Some(port) = self.http_port {
            if !(-1..=i32::from(u16::MAX)).contains(&port) {
                return Err(ConfigError::Invalid(format!(
                    "invalid monitoring port {port}"
                )));
            }
        }
        auth::validate(&self.auth)
    }

    /// The monitoring listener's host: `http`'s host, else the client host.
    pub fn monitor_host(&self) -> &str {
        self.http_host.as_deref().unwrap_or(&self.host)
    }

    /// The port to bind: nats-server treats 0 as the default port and -1 as "any".
    pub fn bind_port(&self) -> u16 {
        match self.port {
            -1 => 0,
            0 => DEFAULT_PORT as u16,
            p => p as u16,
        }
    }
}
