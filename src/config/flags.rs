//! The command line, parsed exactly as nats-server 2.15.1 parses its own.
//!
//! nats-server uses Go's `flag` package, so scripts written for it lean on that
//! package's quirks: `-x` and `--x` are the same flag, values come as `-p 4222` or
//! `-p=4222`, a boolean takes a value only through `=`, parsing stops at the first
//! word that is not a flag (or after `--`), and integers follow Go's base-0 rules
//! (`0x1f`, `0o17`, `017`, `0b11`, `1_000`). A drop-in replacement has to accept and
//! reject the same argument vectors with the same messages, so this module
//! re-implements those rules rather than using a Rust-style parser.
//!
//! [`parse_flags`] only reads the arguments; [`Flags::apply_to`] lays them over the
//! [`Config`] built from the defaults and the config file (flags win, as in
//! nats-server), and refuses flags that ask for features ringnats does not have yet.

use std::fmt;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::{Config, ConfigError, IoBackendChoice, DEFAULT_HOST};

/// nats-server's usage text with ringnats' name and its own options: the exact bytes
/// to write to stdout (`print!("{USAGE}")`) for `-h`, `help` and flag errors.
///
/// nats-server prints its text with `Printf("%s\n")`, so its output opens with a blank
/// line and ends with one; this constant already holds both.
pub const USAGE: &str = "
Usage: ringnats [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to ringnats process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/ringnats.pid)
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
        --logtime_utc                Timestamps in UTC instead of local timezone (default: false)
    -s, --syslog                     Log to syslog or windows event log
    -r, --remote_syslog <addr>       Syslog server addr (udp://localhost:514)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces system account as well)
        --log_size_limit <limit>     Logfile size limit (default: auto)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Profiling Options:
        --profile <port>             Profiling HTTP port

ringnats Options:
        --threads <n>                Shards, one pinned thread each (default: CPUs this process may use)
        --io_backend <auto|io_uring|epoll>
                                     Event loop backend (default: auto, io_uring with epoll fallback)

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help

";

/// What the command line asks the process to do.
#[derive(Debug, Clone, PartialEq)]
pub enum FlagsOutcome {
    /// Start the server (or, with [`Flags::check_config`], check the config file).
    Run(Box<Flags>),
    /// `-v`, `--version` or a leftover `version` word: print the version, exit 0.
    Version,
    /// `-h`, `--help` or a leftover `help` word: print [`USAGE`] to stdout, exit 0.
    Help,
    /// `--help_tls`: print the TLS help, exit 0.
    HelpTls,
    /// `-sl/--signal <command>[=<pid or pid file>]`: signal a running server and exit.
    ///
    /// `command` is not checked here: nats-server rejects unknown ones with
    /// `unknown signal "<command>"` only when it sends. `target` is the text after `=`
    /// (possibly empty); nats-server reads it as a pid file if such a file exists and
    /// otherwise as a pid, with a trailing `*` as a pid-prefix glob.
    Signal {
        /// `ldm`, `stop`, `quit`, `term`, `reopen` or `reload` when valid.
        command: String,
        /// The pid or pid file after `=`; `None` means "the one running server".
        target: Option<String>,
    },
}

/// A secret flag value (`--user`, `--pass`, `--auth`) that `Debug` never shows, as
/// nats-server redacts these before anything can print its arguments.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Every value flag nats-server 2.15.1 defines, plus ringnats' own, as given on the
/// command line. `None` is "not given", so a flag set to its default still overrides
/// the config file, as it does in nats-server.
///
/// Paths and strings are kept as given, empty included: nats-server treats an empty
/// value as "unset" (`-l ""` logs to stderr, `-a ""` binds 0.0.0.0), and so does
/// [`Flags::apply_to`]. Integers are Go's 64-bit `int`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Flags {
    /// `-a`, `--addr`, `--net`.
    pub host: Option<String>,
    /// `-p`, `--port`.
    pub port: Option<i64>,
    /// `-n`, `--name`, `--server_name`.
    pub server_name: Option<String>,
    /// `-P`, `--pid`.
    pub pid_file: Option<PathBuf>,
    /// `-m`, `--http_port`.
    pub http_port: Option<i64>,
    /// `-ms`, `--https_port`.
    pub https_port: Option<i64>,
    /// `-c`, `--config`; an empty value counts as no file, as in nats-server.
    pub config_file: Option<PathBuf>,
    /// `-t`: check the config file and exit.
    pub check_config: bool,
    /// `--client_advertise`.
    pub client_advertise: Option<String>,
    /// `--ports_file_dir`.
    pub ports_file_dir: Option<PathBuf>,
    /// `-l`, `--log`.
    pub log_file: Option<PathBuf>,
    /// `-T`, `--logtime`.
    pub logtime: Option<bool>,
    /// `--logtime_utc`.
    pub logtime_utc: Option<bool>,
    /// `-s`, `--syslog`.
    pub syslog: Option<bool>,
    /// `-r`, `--remote_syslog`.
    pub remote_syslog: Option<String>,
    /// `-D`, `--debug`.
    pub debug: Option<bool>,
    /// `-V`, `--trace`.
    pub trace: Option<bool>,
    /// `-VV`: trace and verbose trace.
    pub trace_and_verbose: Option<bool>,
    /// `-DV`: debug and trace.
    pub debug_and_trace: Option<bool>,
    /// `-DVV`: debug, trace and verbose trace.
    pub debug_and_trace_verbose: Option<bool>,
    /// `--log_size_limit` in bytes (Go `int64`).
    pub log_size_limit_bytes: Option<i64>,
    /// `--max_traced_msg_len` in bytes.
    pub traced_message_bytes_max: Option<i64>,
    /// `-js`, `--jetstream`.
    pub jetstream: Option<bool>,
    /// `-sd`, `--store_dir`.
    pub store_dir: Option<PathBuf>,
    /// `--user`.
    pub user: Option<Secret>,
    /// `--pass`.
    pub password: Option<Secret>,
    /// `--auth`.
    pub auth_token: Option<Secret>,
    /// `--tls`.
    pub tls: Option<bool>,
    /// `--tlscert`.
    pub tls_cert: Option<PathBuf>,
    /// `--tlskey`.
    pub tls_key: Option<PathBuf>,
    /// `--tlsverify`.
    pub tls_verify: Option<bool>,
    /// `--tlscacert`.
    pub tls_ca_cert: Option<PathBuf>,
    /// `--routes`: comma-separated route URLs.
    pub routes: Option<String>,
    /// `--cluster`, `--cluster_listen`.
    pub cluster_listen: Option<String>,
    /// `--cluster_name`.
    pub cluster_name: Option<String>,
    /// `--no_advertise`.
    pub no_advertise: Option<bool>,
    /// `--cluster_advertise`.
    pub cluster_advertise: Option<String>,
    /// `--connect_retries`.
    pub connect_retries: Option<i64>,
    /// `--profile`: profiling HTTP port.
    pub profile_port: Option<i64>,
    /// `--threads` (ringnats): shards, parsed as a Go `uint`.
    pub threads: Option<u64>,
    /// `--io_backend` (ringnats).
    pub io_backend: Option<IoBackendChoice>,
}

/// How nats-server reports a bad command line; [`FlagError::kind`] tells which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagErrorKind {
    /// Go's `flag` package rejected an argument. nats-server 2.15.1 writes the message
    /// and a newline to stderr, then the usage text ([`USAGE`]) to stdout, and exits
    /// with status **0** (its usage function exits before `flag` can exit 2).
    /// Verified: `nats-server -x` prints `flag provided but not defined: -x`, rc 0.
    Usage,
    /// A check after parsing failed: a leftover word other than `version`/`help`, a
    /// `--signal` with more than one `=`, or `-t` without `-c`. nats-server writes
    /// `nats-server: <message>` and a newline to stderr and exits with status **1**.
    Fatal,
}

/// A command line nats-server would refuse. `Display` is the message without the
/// `nats-server: ` prefix that [`FlagErrorKind::Fatal`] errors get, e.g.
/// `flag provided but not defined: -x`, `invalid value "abc" for flag -p: parse error`,
/// `flag needs an argument: -p`, `unrecognized command: "foo"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagError {
    kind: FlagErrorKind,
    message: String,
}

impl FlagError {
    fn usage(message: String) -> Self {
        Self {
            kind: FlagErrorKind::Usage,
            message,
        }
    }

    fn fatal(message: String) -> Self {
        Self {
            kind: FlagErrorKind::Fatal,
            message,
        }
    }

    /// Which of nats-server's two error paths this error takes.
    pub fn kind(&self) -> FlagErrorKind {
        self.kind
    }

    /// The exit status nats-server 2.15.1 uses for this error.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            FlagErrorKind::Usage => 0,
            FlagErrorKind::Fatal => 1,
        }
    }
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FlagError {}

/// One defined flag; several names may map to it, as several Go flags share a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlagName {
    Help,
    Version,
    HelpTls,
    Signal,
    Port,
    ServerName,
    Host,
    ClientAdvertise,
    Debug,
    Trace,
    TraceAndVerbose,
    DebugAndTrace,
    DebugAndTraceVerbose,
    Logtime,
    LogtimeUtc,
    User,
    Password,
    AuthToken,
    HttpPort,
    HttpsPort,
    ConfigFile,
    CheckConfig,
    PidFile,
    PortsFileDir,
    LogFile,
    LogSizeLimit,
    Syslog,
    RemoteSyslog,
    ProfilePort,
    Routes,
    ClusterListen,
    ClusterAdvertise,
    NoAdvertise,
    ConnectRetries,
    ClusterName,
    Tls,
    TlsVerify,
    TlsCert,
    TlsKey,
    TlsCaCert,
    TracedMessageBytesMax,
    JetStream,
    StoreDir,
    Threads,
    IoBackend,
}

/// The names nats-server's `ConfigureOptions` registers (server/opts.go), then ours.
const FLAG_NAMES: &[(&str, FlagName)] = &[
    ("h", FlagName::Help),
    ("help", FlagName::Help),
    ("port", FlagName::Port),
    ("p", FlagName::Port),
    ("n", FlagName::ServerName),
    ("name", FlagName::ServerName),
    ("server_name", FlagName::ServerName),
    ("addr", FlagName::Host),
    ("a", FlagName::Host),
    ("net", FlagName::Host),
    ("client_advertise", FlagName::ClientAdvertise),
    ("D", FlagName::Debug),
    ("debug", FlagName::Debug),
    ("V", FlagName::Trace),
    ("VV", FlagName::TraceAndVerbose),
    ("trace", FlagName::Trace),
    ("DV", FlagName::DebugAndTrace),
    ("DVV", FlagName::DebugAndTraceVerbose),
    ("T", FlagName::Logtime),
    ("logtime", FlagName::Logtime),
    ("logtime_utc", FlagName::LogtimeUtc),
    ("user", FlagName::User),
    ("pass", FlagName::Password),
    ("auth", FlagName::AuthToken),
    ("m", FlagName::HttpPort),
    ("http_port", FlagName::HttpPort),
    ("ms", FlagName::HttpsPort),
    ("https_port", FlagName::HttpsPort),
    ("c", FlagName::ConfigFile),
    ("config", FlagName::ConfigFile),
    ("t", FlagName::CheckConfig),
    ("sl", FlagName::Signal),
    ("signal", FlagName::Signal),
    ("P", FlagName::PidFile),
    ("pid", FlagName::PidFile),
    ("ports_file_dir", FlagName::PortsFileDir),
    ("l", FlagName::LogFile),
    ("log", FlagName::LogFile),
    ("log_size_limit", FlagName::LogSizeLimit),
    ("s", FlagName::Syslog),
    ("syslog", FlagName::Syslog),
    ("r", FlagName::RemoteSyslog),
    ("remote_syslog", FlagName::RemoteSyslog),
    ("version", FlagName::Version),
    ("v", FlagName::Version),
    ("profile", FlagName::ProfilePort),
    ("routes", FlagName::Routes),
    ("cluster", FlagName::ClusterListen),
    ("cluster_listen", FlagName::ClusterListen),
    ("cluster_advertise", FlagName::ClusterAdvertise),
    ("no_advertise", FlagName::NoAdvertise),
    ("connect_retries", FlagName::ConnectRetries),
    ("cluster_name", FlagName::ClusterName),
    ("help_tls", FlagName::HelpTls),
    ("tls", FlagName::Tls),
    ("tlsverify", FlagName::TlsVerify),
    ("tlscert", FlagName::TlsCert),
    ("tlskey", FlagName::TlsKey),
    ("tlscacert", FlagName::TlsCaCert),
    ("max_traced_msg_len", FlagName::TracedMessageBytesMax),
    ("js", FlagName::JetStream),
    ("jetstream", FlagName::JetStream),
    ("sd", FlagName::StoreDir),
    ("store_dir", FlagName::StoreDir),
    ("threads", FlagName::Threads),
    ("io_backend", FlagName::IoBackend),
];

/// The Go type behind a flag, which decides how its value is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Bool,
    Int,
    Uint,
    Text,
}

impl FlagName {
    fn lookup(name: &str) -> Option<Self> {
        FLAG_NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(_, flag)| flag)
    }

    fn value_kind(self) -> ValueKind {
        use FlagName::*;
        match self {
            Help | Version | HelpTls | Debug | Trace | TraceAndVerbose | DebugAndTrace
            | DebugAndTraceVerbose | Logtime | LogtimeUtc | CheckConfig | Syslog | NoAdvertise
            | Tls | TlsVerify | JetStream => ValueKind::Bool,
            Port
            | HttpPort
            | HttpsPort
            | LogSizeLimit
            | ProfilePort
            | ConnectRetries
            | TracedMessageBytesMax => ValueKind::Int,
            Threads => ValueKind::Uint,
            _ => ValueKind::Text,
        }
    }
}

/// Everything the parse collects: the flags, plus the ones that end the run early.
#[derive(Default)]
struct Parsed {
    flags: Flags,
    show_help: bool,
    show_version: bool,
    show_tls_help: bool,
    signal: String,
}

impl Parsed {
    fn set_bool(&mut self, flag: FlagName, value: bool) {
        match flag {
            FlagName::Help => self.show_help = value,
            FlagName::Version => self.show_version = value,
            FlagName::HelpTls => self.show_tls_help = value,
            FlagName::CheckConfig => self.flags.check_config = value,
            other => *self.flags.bool_slot(other) = Some(value),
        }
    }

    fn set_int(&mut self, flag: FlagName, value: i64) {
        let flags = &mut self.flags;
        let slot = match flag {
            FlagName::Port => &mut flags.port,
            FlagName::HttpPort => &mut flags.http_port,
            FlagName::HttpsPort => &mut flags.https_port,
            FlagName::LogSizeLimit => &mut flags.log_size_limit_bytes,
            FlagName::ProfilePort => &mut flags.profile_port,
            FlagName::ConnectRetries => &mut flags.connect_retries,
            FlagName::TracedMessageBytesMax => &mut flags.traced_message_bytes_max,
            other => unreachable!("{other:?} is not an integer flag"),
        };
        *slot = Some(value);
    }

    fn set_text(&mut self, flag: FlagName, value: String) -> Result<(), String> {
        let flags = &mut self.flags;
        match flag {
            FlagName::Signal => self.signal = value,
            FlagName::Host => flags.host = Some(value),
            FlagName::ServerName => flags.server_name = Some(value),
            FlagName::ClientAdvertise => flags.client_advertise = Some(value),
            FlagName::User => flags.user = Some(Secret(value)),
            FlagName::Password => flags.password = Some(Secret(value)),
            FlagName::AuthToken => flags.auth_token = Some(Secret(value)),
            // nats-server tests `configFile != ""`, so `-c ""` undoes an earlier `-c`.
            FlagName::ConfigFile => {
                flags.config_file = (!value.is_empty()).then(|| PathBuf::from(value))
            }
            FlagName::PidFile => flags.pid_file = Some(value.into()),
            FlagName::PortsFileDir => flags.ports_file_dir = Some(value.into()),
            FlagName::LogFile => flags.log_file = Some(value.into()),
            FlagName::RemoteSyslog => flags.remote_syslog = Some(value),
            FlagName::Routes => flags.routes = Some(value),
            FlagName::ClusterListen => flags.cluster_listen = Some(value),
            FlagName::ClusterAdvertise => flags.cluster_advertise = Some(value),
            FlagName::ClusterName => flags.cluster_name = Some(value),
            FlagName::TlsCert => flags.tls_cert = Some(value.into()),
            FlagName::TlsKey => flags.tls_key = Some(value.into()),
            FlagName::TlsCaCert => flags.tls_ca_cert = Some(value.into()),
            FlagName::StoreDir => flags.store_dir = Some(value.into()),
            // Checked while parsing, like a Go `flag.Func`, so a typo fails with the
            // flag's usage rather than after start-up.
            FlagName::IoBackend => flags.io_backend = Some(value.parse()?),
            other => unreachable!("{other:?} is not a text flag"),
        }
        Ok(())
    }

    /// Go's `Value.Set`: the error is the text after `for flag -<name>: `.
    fn set(&mut self, flag: FlagName, value: &str) -> Result<(), String> {
        match flag.value_kind() {
            ValueKind::Bool => self.set_bool(flag, parse_go_bool(value)?),
            ValueKind::Int => self.set_int(flag, parse_go_int(value)?),
            ValueKind::Uint => self.flags.threads = Some(parse_go_uint(value)?),
            ValueKind::Text => self.set_text(flag, value.to_string())?,
        }
        Ok(())
    }
}

/// Parses the arguments after argv\[0\] the way nats-server 2.15.1 does, deciding what
/// the process should do. Errors come in nats-server's order: the first bad flag,
/// then (after `-v`, `-h`, `--help_tls`, which win in that order) a leftover word,
/// then a malformed `--signal`, then `-t` without `-c`.
pub fn parse_flags<I: IntoIterator<Item = String>>(args: I) -> Result<FlagsOutcome, FlagError> {
    let args: Vec<String> = args.into_iter().collect();
    let mut parsed = Parsed::default();
    let mut position = 0;
    while parse_one(&args, &mut position, &mut parsed)? {}
    let leftover = &args[position..];

    if parsed.show_version {
        return Ok(FlagsOutcome::Version);
    }
    if parsed.show_help {
        return Ok(FlagsOutcome::Help);
    }
    if parsed.show_tls_help {
        return Ok(FlagsOutcome::HelpTls);
    }
    // nats-server looks at the first leftover word only; the rest are ignored.
    if let Some(word) = leftover.first() {
        return match word.to_lowercase().as_str() {
            "version" => Ok(FlagsOutcome::Version),
            "help" => Ok(FlagsOutcome::Help),
            _ => Err(FlagError::fatal(format!(
                "unrecognized command: {}",
                go_quote(word)
            ))),
        };
    }
    if !parsed.signal.is_empty() {
        return signal_outcome(&parsed.signal);
    }
    if parsed.flags.check_config && parsed.flags.config_file.is_none() {
        return Err(FlagError::fatal(
            "must specify [-c, --config] option to check configuration file syntax".into(),
        ));
    }
    Ok(FlagsOutcome::Run(Box::new(parsed.flags)))
}

/// Splits `command[=pid]` the way nats-server's `processSignal` does.
fn signal_outcome(signal: &str) -> Result<FlagsOutcome, FlagError> {
    let mut parts = signal.split('=');
    let command = parts.next().unwrap_or_default().to_string();
    let target = parts.next().map(str::to_string);
    let extra: Vec<&str> = parts.collect();
    if !extra.is_empty() {
        // Go prints the surplus pieces as a `%v` slice: `[b c]`.
        return Err(FlagError::fatal(format!(
            "invalid signal parameters: [{}]",
            extra.join(" ")
        )));
    }
    Ok(FlagsOutcome::Signal { command, target })
}

/// Go's `FlagSet.parseOne`: reads one flag at `position`, returning `false` once
/// the flags end (no more arguments, a non-flag word, or `--`, which is consumed).
fn parse_one(
    args: &[String],
    position: &mut usize,
    parsed: &mut Parsed,
) -> Result<bool, FlagError> {
    let Some(argument) = args.get(*position) else {
        return Ok(false);
    };
    // A lone "-" is a word, not a flag.
    if argument.len() < 2 || !argument.starts_with('-') {
        return Ok(false);
    }
    if argument == "--" {
        *position += 1;
        return Ok(false);
    }
    let body = argument.strip_prefix("--").unwrap_or(&argument[1..]);
    if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
        return Err(FlagError::usage(format!("bad flag syntax: {argument}")));
    }
    *position += 1;
    let (name, inline_value) = match body.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (body, None),
    };
    let Some(flag) = FlagName::lookup(name) else {
        return Err(FlagError::usage(format!(
            "flag provided but not defined: -{name}"
        )));
    };
    if flag.value_kind() == ValueKind::Bool {
        // A boolean never takes the next argument: `-D false` is `-D` then a word.
        let value = inline_value.unwrap_or("true");
        return parsed.set(flag, value).map(|()| true).map_err(|_| {
            let quoted = go_quote(value);
            FlagError::usage(format!(
                "invalid boolean value {quoted} for -{name}: parse error"
            ))
        });
    }
    let value = match inline_value {
        Some(value) => value,
        // The next argument is the value even if it looks like a flag (`-p -1`).
        None => match args.get(*position) {
            Some(next) => {
                *position += 1;
                next.as_str()
            }
            None => return Err(FlagError::usage(format!("flag needs an argument: -{name}"))),
        },
    };
    parsed.set(flag, value).map(|()| true).map_err(|cause| {
        let quoted = go_quote(value);
        FlagError::usage(format!("invalid value {quoted} for flag -{name}: {cause}"))
    })
}

/// Go's `strconv.ParseBool`, with the `flag` package's error text.
fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err("parse error".into()),
    }
}

/// Go's `strconv.ParseInt(text, 0, 64)` as `flag.Int` uses it, with the `flag`
/// package's error texts (`parse error`, `value out of range`).
fn parse_go_int(text: &str) -> Result<i64, String> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_go_uint(digits)?;
    if negative {
        // i64::MIN's magnitude is one more than i64::MAX.
        0i64.checked_sub_unsigned(magnitude)
            .ok_or_else(|| "value out of range".to_string())
    } else {
        i64::try_from(magnitude).map_err(|_| "value out of range".to_string())
    }
}

/// Go's `strconv.ParseUint(text, 0, 64)`: `0x`/`0o`/`0b` prefixes (either case), a
/// leading `0` for octal, and `_` between digits (a base prefix counts as a digit).
fn parse_go_uint(text: &str) -> Result<u64, String> {
    let parse_error = || "parse error".to_string();
    let bytes = text.as_bytes();
    let (radix, digits) = match bytes {
        [] => return Err(parse_error()),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'x') => (16, &bytes[2..]),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'o') => (8, &bytes[2..]),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'b') => (2, &bytes[2..]),
        [b'0', ..] => (8, &bytes[1..]),
        _ => (10, bytes),
    };
    let mut value: u64 = 0;
    for &byte in digits.iter().filter(|&&byte| byte != b'_') {
        let digit = char::from(byte).to_digit(36).ok_or_else(parse_error)?;
        if digit >= radix {
            return Err(parse_error());
        }
        // Like Go, an overflow is reported at once, before later bad digits.
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|scaled| scaled.checked_add(u64::from(digit)))
            .ok_or_else(|| "value out of range".to_string())?;
    }
    if bytes.contains(&b'_') && !underscores_between_digits(bytes) {
        return Err(parse_error());
    }
    Ok(value)
}

/// Go's `strconv.underscoreOK` for an unsigned literal: every `_` sits between two
/// digits, or between a base prefix and a digit.
fn underscores_between_digits(bytes: &[u8]) -> bool {
    let (hex, rest, mut after_digit) = match bytes {
        [b'0', prefix, rest @ ..] if b"bBoOxX".contains(prefix) => {
            (prefix.eq_ignore_ascii_case(&b'x'), rest, true)
        }
        _ => (false, bytes, false),
    };
    let mut after_underscore = false;
    for &byte in rest {
        if byte.is_ascii_digit() || (hex && byte.is_ascii_hexdigit()) {
            after_digit = true;
            after_underscore = false;
        } else if byte == b'_' {
            if !after_digit {
                return false;
            }
            after_digit = false;
            after_underscore = true;
        } else if after_underscore {
            return false;
        } else {
            after_digit = false;
        }
    }
    !after_underscore
}

/// Go's `%q` for a string (`strconv.Quote`), which the `flag` package uses to show a
/// bad value. Go's "printable" test needs Unicode category tables std does not
/// expose; this covers controls, non-ASCII spaces, format characters, private use
/// and noncharacters, and shows unassigned code points as they are.
fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        let escape = match character {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\u{7}' => "\\a",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{b}' => "\\v",
            _ => "",
        };
        let code = u32::from(character);
        // Writing to a String cannot fail.
        let _ = if !escape.is_empty() {
            quoted.write_str(escape)
        } else if go_is_print(character) {
            quoted.write_char(character)
        } else if code < 0x80 {
            write!(quoted, "\\x{code:02x}")
        } else if code < 0x1_0000 {
            write!(quoted, "\\u{code:04x}")
        } else {
            write!(quoted, "\\U{code:08x}")
        };
    }
    quoted.push('"');
    quoted
}

/// Go's `unicode.IsPrint`, as far as std's tables reach (see [`go_quote`]).
fn go_is_print(character: char) -> bool {
    if character == ' ' {
        return true;
    }
    if character.is_control() || character.is_whitespace() {
        return false;
    }
    let code = u32::from(character);
    let format = matches!(
        code,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x890..=0x891
            | 0x8E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    );
    let private_use = matches!(code, 0xE000..=0xF8FF | 0xF_0000..=0xF_FFFD | 0x10_0000..=0x10_FFFD);
    let noncharacter = matches!(code, 0xFDD0..=0xFDEF) || code & 0xFFFE == 0xFFFE;
    !(format || private_use || noncharacter)
}

impl Flags {
    /// Where a boolean flag that may override the config file is kept.
    fn bool_slot(&mut self, flag: FlagName) -> &mut Option<bool> {
        match flag {
            FlagName::Debug => &mut self.debug,
            FlagName::Trace => &mut self.trace,
            FlagName::TraceAndVerbose => &mut self.trace_and_verbose,
            FlagName::DebugAndTrace => &mut self.debug_and_trace,
            FlagName::DebugAndTraceVerbose => &mut self.debug_and_trace_verbose,
            FlagName::Logtime => &mut self.logtime,
            FlagName::LogtimeUtc => &mut self.logtime_utc,
            FlagName::Syslog => &mut self.syslog,
            FlagName::NoAdvertise => &mut self.no_advertise,
            FlagName::Tls => &mut self.tls,
            FlagName::TlsVerify => &mut self.tls_verify,
            FlagName::JetStream => &mut self.jetstream,
            other => unreachable!("{other:?} is not a boolean flag"),
        }
    }

    /// Lays the flags over `config` (already holding the defaults and the config
    /// file), as nats-server re-parses its flags after loading the file.
    ///
    /// A flag that asks for a feature ringnats lacks fails with
    /// [`ConfigError::NotYetSupported`] before anything is changed; a flag that only
    /// turns such a feature off, or is inert without it, is accepted.
    pub fn apply_to(&self, config: &mut Config) -> Result<(), ConfigError> {
        self.refuse_unsupported()?;
        self.apply_server(config)?;
        self.apply_logging(config);
        self.apply_auth(config);
        Ok(())
    }

    /// `--user`, `--pass`, `--auth`: nats-server's `MergeOptions` lets a non-empty
    /// value replace the file's single user, password or token and ignores an empty
    /// one. A `users` list in the file stays; nats-server then ignores the single user.
    fn apply_auth(&self, config: &mut Config) {
        let auth = &mut config.auth;
        let slots = [
            (&self.user, &mut auth.user),
            (&self.password, &mut auth.password),
            (&self.auth_token, &mut auth.token),
        ];
        for (flag, slot) in slots {
            if let Some(Secret(value)) = flag.as_ref().filter(|value| !value.0.is_empty()) {
                *slot = Some(value.clone());
            }
        }
    }

    fn apply_server(&self, config: &mut Config) -> Result<(), ConfigError> {
        if let Some(host) = &self.host {
            // nats-server's setBaselineOptions turns an empty host into the default.
            config.host = if host.is_empty() {
                DEFAULT_HOST.to_string()
            } else {
                host.clone()
            };
        }
        if let Some(port) = self.port {
            config.port = port_to_i32(port)?;
        }
        if let Some(name) = &self.server_name {
            config.server_name = (!name.is_empty()).then(|| name.clone());
        }
        if let Some(path) = &self.pid_file {
            config.pid_file = non_empty_path(path);
        }
        if let Some(path) = &self.ports_file_dir {
            config.ports_file_dir = non_empty_path(path);
        }
        if let Some(port) = self.http_port {
            // Port 0 is nats-server's "monitoring off"; it overrides the file too.
            config.http_port = (port != 0).then(|| port_to_i32(port)).transpose()?;
        }
        if let Some(path) = &self.config_file {
            config.config_file = Some(path.clone());
        }
        if let Some(threads) = self.threads {
            // Out-of-range counts are left for Config::validate to name.
            config.threads = Some(usize::try_from(threads).unwrap_or(usize::MAX));
        }
        if let Some(backend) = self.io_backend {
            config.io_backend = backend;
        }
        Ok(())
    }

    fn apply_logging(&self, config: &mut Config) {
        let log = &mut config.log;
        if let Some(path) = &self.log_file {
            log.file = non_empty_path(path);
        }
        log.debug = self.debug.unwrap_or(log.debug);
        log.trace = self.trace.unwrap_or(log.trace);
        log.logtime = self.logtime.unwrap_or(log.logtime);
        log.logtime_utc = self.logtime_utc.unwrap_or(log.logtime_utc);
        log.size_limit_bytes = self.log_size_limit_bytes.unwrap_or(log.size_limit_bytes);
        // nats-server applies the combined flags after -D/-V wherever they stood, in
        // flag-name order (DV, DVV, VV): `-DV -D=false` debugs, `-DV -VV=false` does
        // not trace. Verified against the 2.15.1 binary.
        if let Some(on) = self.debug_and_trace {
            (log.debug, log.trace) = (on, on);
        }
        if let Some(on) = self.debug_and_trace_verbose {
            (log.debug, log.trace, log.trace_verbose) = (on, on, on);
        }
        if let Some(on) = self.trace_and_verbose {
            (log.trace, log.trace_verbose) = (on, on);
        }
    }

    /// The first flag, in usage order, that asks for a missing feature.
    fn refuse_unsupported(&self) -> Result<(), ConfigError> {
        let asks = [
            (
                nonzero(self.https_port),
                "HTTPS monitoring (-ms/--https_port)",
            ),
            // Changes the host and port clients see in INFO (checked on 2.15.1).
            (
                non_empty(&self.client_advertise),
                "client advertise address (--client_advertise)",
            ),
            (self.syslog == Some(true), "syslog (-s/--syslog)"),
            (
                non_empty(&self.remote_syslog),
                "remote syslog (-r/--remote_syslog)",
            ),
            (self.jetstream == Some(true), "JetStream (-js/--jetstream)"),
            (
                self.asks_for_tls(),
                "TLS (--tls/--tlscert/--tlskey/--tlsverify/--tlscacert)",
            ),
            (non_empty(&self.routes), "routes (--routes)"),
            (
                non_empty(&self.cluster_listen),
                "clustering (--cluster/--cluster_listen)",
            ),
            // Even without a cluster, nats-server puts the name in INFO's "cluster".
            (
                non_empty(&self.cluster_name),
                "cluster name (--cluster_name)",
            ),
            (nonzero(self.profile_port), "profiling (--profile)"),
        ];
        match asks.iter().find(|(asked, _)| *asked) {
            Some((_, feature)) => Err(ConfigError::NotYetSupported((*feature).to_string())),
            None => Ok(()),
        }
    }

    /// nats-server turns TLS on when any `--tls*` flag is given, even `--tlsverify=false`
    /// or an empty `--tlscert`, unless `--tls=false` is among them: that one wins.
    fn asks_for_tls(&self) -> bool {
        if self.tls == Some(false) {
            return false;
        }
        self.tls.is_some()
            || self.tls_verify.is_some()
            || self.tls_cert.is_some()
            || self.tls_key.is_some()
            || self.tls_ca_cert.is_some()
    }
}

// Accepted and kept in `Flags` only, inert in ringnats today:
// `-sd/--store_dir` (JetStream's directory; nats-server does not even create it
// without -js), `--no_advertise`, `--cluster_advertise`, `--connect_retries` (cluster
// settings, inert without --cluster), `--log_size_limit` (log rotation) and
// `--max_traced_msg_len` (trace truncation). Empty values of the refused text flags,
// `=false` booleans and 0 ports are how nats-server users turn a feature off, so
// they pass.

fn port_to_i32(port: i64) -> Result<i32, ConfigError> {
    i32::try_from(port).map_err(|_| ConfigError::Invalid(format!("invalid port {port}")))
}

fn non_empty_path(path: &std::path::Path) -> Option<PathBuf> {
    (!path.as_os_str().is_empty()).then(|| path.to_path_buf())
}

fn non_empty(text: &Option<String>) -> bool {
    text.as_deref().is_some_and(|text| !text.is_empty())
}

fn nonzero(port: Option<i64>) -> bool {
    port.is_some_and(|port| port != 0)
}

#[cfg(test)]
mod tests {
    //! Cases marked "binary" were checked against the nats-server 2.15.1 binary
    //! (`nats-server -v <args>` prints the version only if every flag parses).

    use super::*;

    fn strings(line: &[&str]) -> Vec<String> {
        line.iter().map(|word| word.to_string()).collect()
    }

    fn run(line: &[&str]) -> Flags {
        match parse_flags(strings(line)) {
            Ok(FlagsOutcome::Run(flags)) => *flags,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    fn error(line: &[&str]) -> FlagError {
        match parse_flags(strings(line)) {
            Err(error) => error,
            other => panic!("{line:?} gave {other:?}, not an error"),
        }
    }

    fn applied(line: &[&str]) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        run(line).apply_to(&mut config).map(|()| config)
    }

    #[test]
    fn value_flags_accept_every_spelling() {
        let expected = Flags {
            port: Some(4333),
            ..Flags::default()
        };
        for line in [
            &["-p", "4333"][..],
            &["--p", "4333"],
            &["-p=4333"],
            &["--p=4333"],
            &["-port", "4333"],
            &["--port=4333"],
            &["-p", "1", "--port", "4333"],
        ] {
            assert_eq!(run(line), expected, "{line:?}");
        }
    }

    #[test]
    fn aliases_share_one_value() {
        let table: &[(&[&str], Flags)] = &[
            (
                &["-a", "127.0.0.1", "--net", "::1"],
                Flags {
                    host: Some("::1".into()),
                    ..Flags::default()
                },
            ),
            (
                &["--addr=10.0.0.1"],
                Flags {
                    host: Some("10.0.0.1".into()),
                    ..Flags::default()
                },
            ),
            (
                &["-n", "a", "--name", "b", "--server_name", "c"],
                Flags {
                    server_name: Some("c".into()),
                    ..Flags::default()
                },
            ),
            (
                &["-P", "/run/x.pid", "-m", "8222", "-ms=8443"],
                Flags {
                    pid_file: Some("/run/x.pid".into()),
                    http_port: Some(8222),
                    https_port: Some(8443),
                    ..Flags::default()
                },
            ),
            (
                &["--cluster", "nats://a:1", "--cluster_listen", "nats://b:2"],
                Flags {
                    cluster_listen: Some("nats://b:2".into()),
                    ..Flags::default()
                },
            ),
            (
                &[
                    "-sd",
                    "/data",
                    "-js=false",
                    "-l",
                    "x.log",
                    "-r",
                    "udp://h:514",
                ],
                Flags {
                    store_dir: Some("/data".into()),
                    jetstream: Some(false),
                    log_file: Some("x.log".into()),
                    remote_syslog: Some("udp://h:514".into()),
                    ..Flags::default()
                },
            ),
            (
                &["--user", "u", "--pass", "p", "--auth", "t"],
                Flags {
                    user: Some(Secret("u".into())),
                    password: Some(Secret("p".into())),
                    auth_token: Some(Secret("t".into())),
                    ..Flags::default()
                },
            ),
            (
                &[
                    "--threads",
                    "0x4",
                    "--io_backend",
                    "EPOLL",
                    "--io_backend=io_uring",
                ],
                Flags {
                    threads: Some(4),
                    io_backend: Some(IoBackendChoice::IoUring),
                    ..Flags::default()
                },
            ),
        ];
        for (line, expected) in table {
            assert_eq!(&run(line), expected, "{line:?}");
        }
    }

    #[test]
    fn every_defined_flag_parses() {
        let flags = run(&[
            "-a=h",
            "-p=1",
            "-n=n",
            "-P=p",
            "-m=2",
            "-ms=0",
            "-c=f",
            "-t",
            "--client_advertise=ca",
            "--ports_file_dir=d",
            "-l=l",
            "-T=false",
            "--logtime_utc",
            "-s=false",
            "-r=",
            "-D",
            "-V",
            "-VV",
            "-DV",
            "-DVV",
            "--log_size_limit=3",
            "--max_traced_msg_len=4",
            "-js=0",
            "-sd=s",
            "--user=",
            "--pass=",
            "--auth=",
            "--tls=f",
            "--tlscert=c",
            "--tlskey=k",
            "--tlsverify",
            "--tlscacert=a",
            "--routes=",
            "--cluster_name=",
            "--no_advertise",
            "--cluster_advertise=x",
            "--connect_retries=5",
            "--profile=0",
            "-h=false",
            "-v=false",
            "--help_tls=false",
            "--threads=2",
            "--io_backend=auto",
        ]);
        assert_eq!(flags.config_file, Some(PathBuf::from("f")));
        assert!(flags.check_config);
        assert_eq!(flags.logtime, Some(false));
        assert_eq!(flags.debug_and_trace_verbose, Some(true));
        assert_eq!(flags.log_size_limit_bytes, Some(3));
        assert_eq!(flags.traced_message_bytes_max, Some(4));
        assert_eq!(flags.connect_retries, Some(5));
        assert_eq!(flags.tls, Some(false));
        assert_eq!(flags.tls_verify, Some(true));
        assert_eq!(flags.no_advertise, Some(true));
        assert_eq!(flags.remote_syslog, Some(String::new()));
        assert_eq!(flags.threads, Some(2));
    }

    #[test]
    fn booleans_take_values_only_after_equals() {
        let table: &[(&[&str], Option<bool>)] = &[
            (&["-D"], Some(true)),
            (&["--debug"], Some(true)),
            (&["-D=true"], Some(true)),
            (&["-D=false"], Some(false)),
            (&["-D=T"], Some(true)),
            (&["-D=0"], Some(false)),
            (&["--debug=False"], Some(false)),
            (&["-D", "-D=FALSE"], Some(false)),
            (&[], None),
        ];
        for (line, debug) in table {
            assert_eq!(run(line).debug, *debug, "{line:?}");
        }
        // binary: `nats-server -D true` exits 1 with `unrecognized command: "true"`.
        let leftover = error(&["-D", "true"]);
        assert_eq!(leftover.to_string(), "unrecognized command: \"true\"");
        assert_eq!(leftover.kind(), FlagErrorKind::Fatal);
    }

    #[test]
    fn value_flags_take_the_next_argument_whatever_it_looks_like() {
        assert_eq!(run(&["-p", "-1"]).port, Some(-1));
        assert_eq!(run(&["-a", "-D"]).host, Some("-D".into()));
        assert_eq!(run(&["-a", "-D"]).debug, None);
        assert_eq!(run(&["-a=b=c"]).host, Some("b=c".into()));
        assert_eq!(run(&["-a="]).host, Some(String::new()));
        assert_eq!(run(&["-a", ""]).host, Some(String::new()));
    }

    #[test]
    fn parsing_stops_at_double_dash_or_a_word() {
        // binary: `-v --` and `-v -` print the version.
        assert_eq!(run(&["-p", "5", "--"]).port, Some(5));
        assert_eq!(
            parse_flags(strings(&["--", "-x"])).unwrap_err().to_string(),
            "unrecognized command: \"-x\""
        );
        assert_eq!(
            parse_flags(strings(&["-"])).unwrap_err().to_string(),
            "unrecognized command: \"-\""
        );
        // binary: `-p 1 foo bar` -> `nats-server: unrecognized command: "foo"`, rc 1.
        let leftover = error(&["-p", "1", "foo", "bar"]);
        assert_eq!(leftover.to_string(), "unrecognized command: \"foo\"");
        assert_eq!(leftover.exit_code(), 1);
    }

    #[test]
    fn early_exits_follow_nats_server_precedence() {
        let table: &[(&[&str], FlagsOutcome)] = &[
            (&["-v"], FlagsOutcome::Version),
            (&["--version", "-h", "--help_tls"], FlagsOutcome::Version),
            (&["-h", "--help_tls"], FlagsOutcome::Help),
            (&["--help"], FlagsOutcome::Help),
            (&["--help_tls"], FlagsOutcome::HelpTls),
            // binary: `Version` and `HELP -v` (the -v is a leftover word there).
            (&["Version"], FlagsOutcome::Version),
            (&["HELP", "-v"], FlagsOutcome::Help),
            (&["-v", "foo"], FlagsOutcome::Version),
            (&["help", "junk"], FlagsOutcome::Help),
            (&["-v", "-sl", "stop"], FlagsOutcome::Version),
            (&["-t", "-v"], FlagsOutcome::Version),
            (
                &["-sl", "reload"],
                FlagsOutcome::Signal {
                    command: "reload".into(),
                    target: None,
                },
            ),
            (
                &["--signal=stop=/run/nats.pid", "-t"],
                FlagsOutcome::Signal {
                    command: "stop".into(),
                    target: Some("/run/nats.pid".into()),
                },
            ),
        ];
        for (line, expected) in table {
            assert_eq!(&parse_flags(strings(line)).unwrap(), expected, "{line:?}");
        }
        assert!(!run(&["-h=false", "-v=0", "--help_tls=f", "-sl="]).check_config);
    }

    #[test]
    fn errors_match_go_flag_and_nats_server_text() {
        use FlagErrorKind::{Fatal, Usage};
        // All checked against the binary for message, stream and exit code.
        let table: &[(&[&str], FlagErrorKind, &str)] = &[
            (&["-x"], Usage, "flag provided but not defined: -x"),
            (
                &["--threadz=2"],
                Usage,
                "flag provided but not defined: -threadz",
            ),
            (&["-d"], Usage, "flag provided but not defined: -d"),
            (
                &["-p", "abc"],
                Usage,
                "invalid value \"abc\" for flag -p: parse error",
            ),
            (
                &["--port=abc"],
                Usage,
                "invalid value \"abc\" for flag -port: parse error",
            ),
            (&["-p"], Usage, "flag needs an argument: -p"),
            (
                &["-p="],
                Usage,
                "invalid value \"\" for flag -p: parse error",
            ),
            (
                &["-p", " 1"],
                Usage,
                "invalid value \" 1\" for flag -p: parse error",
            ),
            (
                &["-p", "99999999999999999999"],
                Usage,
                "invalid value \"99999999999999999999\" for flag -p: value out of range",
            ),
            (
                &["-D=yes"],
                Usage,
                "invalid boolean value \"yes\" for -D: parse error",
            ),
            (
                &["-D="],
                Usage,
                "invalid boolean value \"\" for -D: parse error",
            ),
            (
                &["--DVV=x"],
                Usage,
                "invalid boolean value \"x\" for -DVV: parse error",
            ),
            (&["---p"], Usage, "bad flag syntax: ---p"),
            (&["-=x"], Usage, "bad flag syntax: -=x"),
            (&["--=x"], Usage, "bad flag syntax: --=x"),
            (
                &["-x", "-p", "abc"],
                Usage,
                "flag provided but not defined: -x",
            ),
            (&["-v", "-x"], Usage, "flag provided but not defined: -x"),
            (
                &["--threads", "-1"],
                Usage,
                "invalid value \"-1\" for flag -threads: parse error",
            ),
            (
                &["--io_backend", "kqueue"],
                Usage,
                "invalid value \"kqueue\" for flag -io_backend: invalid io_backend \"kqueue\": \
                 expected auto, io_uring or epoll",
            ),
            (&["foo"], Fatal, "unrecognized command: \"foo\""),
            (
                &["-t"],
                Fatal,
                "must specify [-c, --config] option to check configuration file syntax",
            ),
            (
                &["-c", "", "-t"],
                Fatal,
                "must specify [-c, --config] option to check configuration file syntax",
            ),
            (&["-sl", "a=b=c"], Fatal, "invalid signal parameters: [c]"),
            (
                &["-sl", "stop=a=b=c"],
                Fatal,
                "invalid signal parameters: [b c]",
            ),
        ];
        for (line, kind, message) in table {
            let error = error(line);
            assert_eq!(error.to_string(), *message, "{line:?}");
            assert_eq!(error.kind(), *kind, "{line:?}");
            assert_eq!(error.exit_code(), if *kind == Usage { 0 } else { 1 });
        }
    }

    #[test]
    fn integers_follow_go_base_zero_rules() {
        // binary: each accepted or refused the same way as `-p <text>`.
        let accepted: &[(&str, i64)] = &[
            ("0", 0),
            ("-1", -1),
            ("+5", 5),
            ("4222", 4222),
            ("0x10", 16),
            ("0X1F", 31),
            ("0o17", 15),
            ("0O17", 15),
            ("017", 15),
            ("0b101", 5),
            ("0B1", 1),
            ("1_000", 1000),
            ("1_0_0", 100),
            ("0_1", 1),
            ("0_7", 7),
            ("0b_1", 1),
            ("0x_1_f", 31),
            ("-0x10", -16),
            ("0x7fffffffffffffff", i64::MAX),
            ("-0x8000000000000000", i64::MIN),
            ("-9223372036854775808", i64::MIN),
        ];
        for &(text, value) in accepted {
            assert_eq!(parse_go_int(text), Ok(value), "{text}");
        }
        let refused: &[(&str, &str)] = &[
            ("", "parse error"),
            ("-", "parse error"),
            ("0x", "parse error"),
            ("0o", "parse error"),
            ("08", "parse error"),
            ("0b2", "parse error"),
            ("1e3", "parse error"),
            ("1_", "parse error"),
            ("_1", "parse error"),
            ("1__0", "parse error"),
            ("0x_", "parse error"),
            ("-_1", "parse error"),
            ("+-1", "parse error"),
            ("１", "parse error"),
            ("0x8000000000000000", "value out of range"),
            ("9223372036854775808", "value out of range"),
            ("-9223372036854775809", "value out of range"),
            ("99999999999999999999x", "value out of range"),
        ];
        for &(text, message) in refused {
            assert_eq!(parse_go_int(text), Err(message.to_string()), "{text}");
        }
        assert_eq!(parse_go_uint("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_go_uint("-1"), Err("parse error".to_string()));
    }

    #[test]
    fn bad_values_are_quoted_like_go() {
        // binary: the text between `invalid value ` and ` for flag -p`.
        let table: &[(&str, &str)] = &[
            ("a\"b\\c\t\u{1}é ", r#""a\"b\\c\t\x01é ""#),
            ("\u{7f}", r#""\x7f""#),
            ("\u{85}", r#""\u0085""#),
            ("\u{a0}", r#""\u00a0""#),
            ("\u{ad}", r#""\u00ad""#),
            ("\u{200b}", r#""\u200b""#),
            ("\u{2028}", r#""\u2028""#),
            ("\u{1F600}", "\"\u{1F600}\""),
            ("\u{E0001}", r#""\U000e0001""#),
            ("\u{301}", "\"\u{301}\""),
            ("\u{feff}", r#""\ufeff""#),
            ("\u{3000}", r#""\u3000""#),
            ("\u{7}\u{8}\u{c}\n\r\u{b}", r#""\a\b\f\n\r\v""#),
            ("\u{10FFFF}", r#""\U0010ffff""#),
            ("\u{E000}", r#""\ue000""#),
        ];
        for &(raw, quoted) in table {
            assert_eq!(go_quote(raw), quoted, "{raw:?}");
        }
    }

    #[test]
    fn apply_sets_config_fields() {
        let config = applied(&[
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-n",
            "edge",
            "-P",
            "/tmp/r.pid",
            "-m",
            "8222",
            "--ports_file_dir",
            "/tmp",
            "-l",
            "/tmp/r.log",
            "-T=false",
            "--logtime_utc",
            "--threads",
            "3",
            "--io_backend",
            "epoll",
            "-c",
            "/etc/nats.conf",
            "-D",
        ])
        .unwrap();
        let expected = Config {
            host: "127.0.0.1".into(),
            port: -1,
            server_name: Some("edge".into()),
            pid_file: Some("/tmp/r.pid".into()),
            http_port: Some(8222),
            ports_file_dir: Some("/tmp".into()),
            threads: Some(3),
            io_backend: IoBackendChoice::Epoll,
            config_file: Some("/etc/nats.conf".into()),
            log: super::super::LogConfig {
                file: Some("/tmp/r.log".into()),
                debug: true,
                logtime: false,
                logtime_utc: true,
                ..Default::default()
            },
            ..Config::default()
        };
        assert_eq!(config, expected);
    }

    #[test]
    fn apply_overrides_the_file_and_empty_values_unset() {
        let mut config = Config {
            host: "10.1.1.1".into(),
            port: 5000,
            server_name: Some("from-file".into()),
            pid_file: Some("/f.pid".into()),
            http_port: Some(8222),
            ..Config::default()
        };
        config.log.file = Some("/f.log".into());
        config.log.debug = true;
        run(&[
            "-a", "", "-p", "0", "-n=", "-P=", "-m", "0", "-l", "", "-D=false",
        ])
        .apply_to(&mut config)
        .unwrap();
        assert_eq!(config.host, DEFAULT_HOST);
        assert_eq!(config.port, 0);
        assert_eq!(config.server_name, None);
        assert_eq!(config.pid_file, None);
        assert_eq!(config.http_port, None);
        assert_eq!(config.log.file, None);
        assert!(!config.log.debug);
        // Flags not given leave the file's values alone.
        let mut untouched = config.clone();
        Flags::default().apply_to(&mut untouched).unwrap();
        assert_eq!(untouched, config);
    }

    #[test]
    fn combined_log_flags_win_in_flag_name_order() {
        // (debug, trace, trace_verbose); rows marked * checked against the binary's log.
        // (debug, trace, trace_verbose)
        type Levels = (bool, bool, bool);
        let table: &[(&[&str], Levels)] = &[
            (&["-D"], (true, false, false)),
            (&["-V"], (false, true, false)),
            (&["--trace"], (false, true, false)),
            (&["-VV"], (false, true, true)),
            (&["-DV"], (true, true, false)),
            (&["-DVV"], (true, true, true)),
            (&["-DV", "-D=false"], (true, true, false)),
            (&["-D=false", "-DV"], (true, true, false)),
            (&["-DV=false", "-D"], (false, false, false)),
            (&["-DV", "-V=false"], (true, true, false)),
            (&["-DV", "-VV=false"], (true, false, false)),
            (&["-VV", "-DV=false"], (false, true, true)),
            (&["-DVV", "-DV=false"], (true, true, true)),
        ];
        for (line, (debug, trace, verbose)) in table {
            let log = applied(line).unwrap().log;
            assert_eq!(
                (log.debug, log.trace, log.trace_verbose),
                (*debug, *trace, *verbose),
                "{line:?}"
            );
        }
    }

    #[test]
    fn apply_refuses_missing_features_by_flag() {
        let table: &[(&[&str], &str)] = &[
            (&["-js"], "-js/--jetstream"),
            (&["--jetstream=true"], "-js/--jetstream"),
            (&["--tls"], "--tls"),
            (&["--tlsverify=false"], "--tls"),
            (&["--tlscert", ""], "--tls"),
            (&["--tlscacert", "ca.pem"], "--tls"),
            (&["--routes", "nats://a:6222"], "--routes"),
            (&["--cluster", "nats://0.0.0.0:6222"], "--cluster"),
            (&["--cluster_listen=nats://h:1"], "--cluster"),
            (&["--cluster_name", "east"], "--cluster_name"),
            (&["-s"], "-s/--syslog"),
            (&["-r", "udp://h:514"], "--remote_syslog"),
            (&["--profile", "6060"], "--profile"),
            (&["-ms", "8443"], "--https_port"),
            (&["--client_advertise", "h:1"], "--client_advertise"),
        ];
        for (line, named) in table {
            let mut config = Config::default();
            match run(line).apply_to(&mut config) {
                Err(ConfigError::NotYetSupported(feature)) => {
                    assert!(feature.contains(named), "{line:?}: {feature}")
                }
                other => panic!("{line:?} gave {other:?}"),
            }
            assert_eq!(config, Config::default(), "{line:?} changed the config");
        }
    }

    #[test]
    fn apply_accepts_flags_that_turn_features_off_or_are_inert() {
        for line in [
            &["-js=false", "-sd", "/data"][..],
            &["--tls=false", "--tlscert", "c.pem", "--tlsverify"],
            &["--tlsverify", "--tls=false"],
            &["--routes", "", "--cluster", "", "--cluster_name="],
            &[
                "--no_advertise",
                "--cluster_advertise",
                "h:1",
                "--connect_retries",
                "3",
            ],
            &["--user", "", "--pass", "", "--auth", ""],
            &[
                "-s=false",
                "-r",
                "",
                "--profile",
                "0",
                "-ms",
                "0",
                "--client_advertise=",
            ],
            &["--max_traced_msg_len", "64"],
        ] {
            assert_eq!(applied(line), Ok(Config::default()), "{line:?}");
        }
    }

    #[test]
    fn auth_flags_override_the_file_unless_empty() {
        let config = applied(&["--user", "u", "--pass", "p", "--auth", "t"]).unwrap();
        assert_eq!(config.auth.user.as_deref(), Some("u"));
        assert_eq!(config.auth.password.as_deref(), Some("p"));
        assert_eq!(config.auth.token.as_deref(), Some("t"));
        let mut config = Config::default();
        config.auth.user = Some("file-user".into());
        config.auth.password = Some("file-pass".into());
        run(&["--user", "flag-user", "--pass", ""])
            .apply_to(&mut config)
            .unwrap();
        assert_eq!(config.auth.user.as_deref(), Some("flag-user"));
        assert_eq!(config.auth.password.as_deref(), Some("file-pass"));
        assert_eq!(config.auth.token, None);
    }

    #[test]
    fn apply_sets_the_log_size_limit() {
        let config = applied(&["--log_size_limit", "1_000"]).unwrap();
        assert_eq!(config.log.size_limit_bytes, 1000);
    }

    #[test]
    fn apply_rejects_ports_beyond_i32() {
        assert_eq!(
            applied(&["-p", "0x100000000"]),
            Err(ConfigError::Invalid("invalid port 4294967296".into()))
        );
        // In range for i32 but not a port: left for Config::validate.
        assert_eq!(applied(&["-p", "70000"]).unwrap().port, 70000);
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let text = format!("{:?}", run(&["--pass", "hunter2", "--auth=tok3n"]));
        assert!(
            !text.contains("hunter2") && !text.contains("tok3n"),
            "{text}"
        );
        assert!(text.contains("[REDACTED]"));
    }

    #[test]
    fn usage_lists_every_flag_and_section() {
        for (name, _) in FLAG_NAMES {
            let listed = [" ", ",", "\n"]
                .iter()
                .any(|end| USAGE.contains(&format!("-{name}{end}")));
            assert!(listed, "-{name} missing from USAGE");
        }
        for section in [
            "Server Options:",
            "Logging Options:",
            "JetStream Options:",
            "Authorization Options:",
            "TLS Options:",
            "Cluster Options:",
            "Profiling Options:",
            "ringnats Options:",
            "Common Options:",
        ] {
            assert!(USAGE.contains(&format!("\n{section}\n")), "{section}");
        }
        assert!(USAGE.starts_with("\nUsage: ringnats [options]\n\n"));
        assert!(USAGE.ends_with("TLS help\n\n"));
    }
}
