//! The harness's command line: a mode word and `--flag value` options, parsed by hand so the
//! benchmark binary adds no argument-parsing dependency to the crate. Every limit of a run
//! (message count, duration, flow-control window) is decided here, once, so the scenario
//! code only follows a plan.

use std::net::{SocketAddr, ToSocketAddrs};
use std::num::NonZeroU64;
use std::time::Duration;

/// What the run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Publishers only; nobody subscribes.
    Publish,
    /// N publishers to M plain subscribers: every subscriber receives every message.
    PubSub,
    /// N publishers to a queue group of M: every message reaches exactly one member.
    Queue,
    /// K concurrent requesters against responders; round-trip latency.
    Request,
    /// Many idle connections, each with one subscription; server memory per connection.
    Idle,
}

impl Mode {
    /// The word used on the command line and in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Publish => "pub",
            Mode::PubSub => "pubsub",
            Mode::Queue => "queue",
            Mode::Request => "request",
            Mode::Idle => "idle",
        }
    }
}

/// Which client code talks to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// Pre-encoded frames over blocking sockets, one std thread per connection.
    Raw,
    /// The official async-nats client on tokio: what a real application sees.
    AsyncNats,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Raw => "raw",
            ClientKind::AsyncNats => "async-nats",
        }
    }
}

/// A fully decided run.
#[derive(Clone, Debug)]
pub struct Args {
    pub mode: Mode,
    /// The server's client port; always a loopback address.
    pub server: SocketAddr,
    pub client: ClientKind,
    /// Publishing connections (publish, pubsub, queue).
    pub publishers: usize,
    /// Subscribing connections (pubsub, queue) or responders (request).
    pub subscribers: usize,
    /// Concurrent requesters, each with one request in flight (request).
    pub requesters: usize,
    /// Payload size of every message, in bytes.
    pub payload_bytes: usize,
    /// Messages (or requests) to send in total, split across publishers (requesters).
    pub msgs_max: Option<u64>,
    /// Wall-clock limit of the sending phase.
    pub duration_max: Option<Duration>,
    pub subject: String,
    pub queue_group: String,
    /// A publisher sends a PING every `window_msgs` messages, keeps at most two windows
    /// unconfirmed and stays within one window of its subscribers. `None` (`--window 0` or
    /// `--no-flow-control`): publishers send as fast as the server reads, with only a final
    /// PING/PONG.
    pub window_msgs: Option<NonZeroU64>,
    /// Idle connections to open (idle).
    pub connections: usize,
    /// The server's process id, for its RSS (idle).
    pub server_pid: Option<u32>,
    /// How long deliveries may stall after the publishers finish before the rest counts as
    /// lost; also how long a publisher waits for stalled subscribers.
    pub drain_timeout: Duration,
    /// The server's HTTP monitoring address (same host as `server`), for `/varz`; `None`
    /// when not given.
    pub monitor: Option<SocketAddr>,
    /// Extra subscribers on the subject that never read (pubsub); never counted in
    /// expected or delivered. Needs `monitor`, which tells when the server closed them.
    pub stuck_subscribers: usize,
    /// async-nats `subscription_capacity` (messages buffered per subscription before the
    /// client drops them); `None` keeps the client's default.
    pub subscription_capacity: Option<usize>,
    pub json: bool,
    pub progress: bool,
    /// A free-form name carried into the report (the scenario name in scripts).
    pub label: String,
}

pub const USAGE: &str = "\
Usage: ringnats-bench <MODE> [OPTIONS]

Measures any NATS server (ringnats or nats-server) over loopback.

Modes:
  pub        publishers only
  pubsub     N publishers -> M subscribers (fan-out with --subs, fan-in with --pubs)
  queue      N publishers -> a queue group of M subscribers
  request    request/reply latency with K concurrent requesters
  idle       open --conns idle connections (one SUB each); server RSS per connection (--pid)

Options:
  -s, --server <addr>       nats://127.0.0.1:4222, 127.0.0.1:4222 or [::1]:4222 (loopback only)
  -p, --port <port>         shorthand for --server 127.0.0.1:<port>
      --client <raw|async-nats>  raw pre-encoded frames (default) or the async-nats client
      --pubs <n>            publishers (default 1)
      --subs <n>            subscribers, queue members or responders (default 1)
      --requesters <n>      concurrent requesters (default 1)
      --size <bytes>        payload size (default 128)
      --msgs <n>            total messages or requests (default 1000000 without --duration)
      --duration <secs>     stop sending after this many seconds (fractions allowed)
      --subject <name>      subject (default bench.subject)
      --queue <name>        queue group name (default bench.queue)
      --window <msgs>       flow-control window in messages (default 4096; 0 = off)
      --no-flow-control     publishers send as fast as the server reads (--window 0)
      --conns <n>           idle connections (default 10000)
      --pid <pid>           server pid, to read its RSS from /proc (idle)
      --drain-timeout <secs> stall allowed after publishing ends (default 3)
      --monitor <port>      the server's HTTP monitoring port (or loopback host:port): report
                            the /varz slow_consumers and stalled_clients deltas
      --stuck <n>           pubsub: n more raw subscribers that never read (needs --monitor);
                            reports when the server closed them and the rates after that
      --subscription-capacity <msgs>  async-nats per-subscription buffer (client default)
      --label <text>        name carried into the report
      --json                print one JSON object instead of a table
      --no-progress         no progress line on stderr
  -h, --help                this text
";

/// Why the command line was refused.
#[derive(Debug)]
pub enum ArgsError {
    Help,
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> ArgsError {
    ArgsError::Invalid(message.into())
}

/// Parses `args` (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, ArgsError> {
    let mut args = args.into_iter();
    let mode = match args.next().as_deref() {
        None | Some("-h" | "--help" | "help") => return Err(ArgsError::Help),
        Some("pub") => Mode::Publish,
        Some("pubsub" | "sub") => Mode::PubSub,
        Some("queue") => Mode::Queue,
        Some("request" | "req") => Mode::Request,
        Some("idle") => Mode::Idle,
        Some(other) => return Err(invalid(format!("unknown mode `{other}`"))),
    };
    let mut parsed = Args {
        mode,
        server: SocketAddr::from(([127, 0, 0, 1], 4222)),
        client: ClientKind::Raw,
        publishers: 1,
        subscribers: 1,
        requesters: 1,
        payload_bytes: 128,
        msgs_max: None,
        duration_max: None,
        subject: "bench.subject".into(),
        queue_group: "bench.queue".into(),
        window_msgs: NonZeroU64::new(4096),
        connections: 10_000,
        server_pid: None,
        drain_timeout: Duration::from_secs(3),
        monitor: None,
        stuck_subscribers: 0,
        subscription_capacity: None,
        json: false,
        progress: true,
        label: String::new(),
    };
    while let Some(flag) = args.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (flag.clone(), None),
        };
        if apply_switch(&mut parsed, &name)? {
            continue;
        }
        let Some(value) = inline.or_else(|| args.next()) else {
            return Err(invalid(format!("{name} needs a value")));
        };
        apply_option(&mut parsed, &name, &value)?;
    }
    finish(parsed)
}

/// Options without a value; returns whether `name` was one.
fn apply_switch(args: &mut Args, name: &str) -> Result<bool, ArgsError> {
    match name {
        "-h" | "--help" => Err(ArgsError::Help),
        "--json" => {
            args.json = true;
            Ok(true)
        }
        "--no-progress" => {
            args.progress = false;
            Ok(true)
        }
        "--no-flow-control" => {
            args.window_msgs = None;
            Ok(true)
        }
        _ => Ok(false),
    }
}

fn apply_option(args: &mut Args, name: &str, value: &str) -> Result<(), ArgsError> {
    match name {
        "-s" | "--server" => args.server = parse_server(value)?,
        "-p" | "--port" => args.server.set_port(number(name, value)?),
        "--client" => {
            args.client = match value {
                "raw" => ClientKind::Raw,
                "async-nats" | "async_nats" => ClientKind::AsyncNats,
                _ => return Err(invalid("--client must be raw or async-nats")),
            }
        }
        "--pubs" => args.publishers = number(name, value)?,
        "--subs" | "--responders" => args.subscribers = number(name, value)?,
        "--requesters" => args.requesters = number(name, value)?,
        "--size" => args.payload_bytes = number(name, value)?,
        "--msgs" => args.msgs_max = Some(number(name, value)?),
        "--duration" => args.duration_max = Some(seconds(name, value)?),
        "--subject" => args.subject = value.to_string(),
        "--queue" => args.queue_group = value.to_string(),
        "--window" => args.window_msgs = NonZeroU64::new(number(name, value)?),
        "--conns" => args.connections = number(name, value)?,
        "--pid" => args.server_pid = Some(number(name, value)?),
        "--drain-timeout" => args.drain_timeout = seconds(name, value)?,
        "--monitor" => args.monitor = Some(parse_monitor(value)?),
        "--stuck" => args.stuck_subscribers = number(name, value)?,
        "--subscription-capacity" => args.subscription_capacity = Some(number(name, value)?),
        "--label" => args.label = value.to_string(),
        _ => return Err(invalid(format!("unknown option `{name}`"))),
    }
    Ok(())
}

/// Cross-field checks and defaults that depend on other fields.
fn finish(mut args: Args) -> Result<Args, ArgsError> {
    if args.msgs_max.is_none() && args.duration_max.is_none() {
        args.msgs_max = Some(1_000_000);
    }
    let subject_ok = !args.subject.is_empty()
        && !args
            .subject
            .contains(|c: char| c.is_whitespace() || c == '*' || c == '>');
    if !subject_ok {
        return Err(invalid("--subject must be a literal subject"));
    }
    if args.queue_group.is_empty() || args.queue_group.contains(char::is_whitespace) {
        return Err(invalid("--queue must be a non-empty word"));
    }
    if args.publishers == 0 || args.subscribers == 0 || args.requesters == 0 {
        return Err(invalid(
            "--pubs, --subs and --requesters must be at least 1",
        ));
    }
    if let Some(monitor) = &mut args.monitor {
        // A bare port means the server's own host; `--server` may come after `--monitor`.
        if monitor.ip().is_unspecified() {
            monitor.set_ip(args.server.ip());
        }
    }
    if args.stuck_subscribers > 0 && args.mode != Mode::PubSub {
        return Err(invalid("--stuck needs pubsub mode"));
    }
    if args.stuck_subscribers > 0 && args.monitor.is_none() {
        return Err(invalid(
            "--stuck needs --monitor: the server's /connz says when it closed them",
        ));
    }
    if args.subscription_capacity == Some(0) {
        return Err(invalid("--subscription-capacity must be at least 1"));
    }
    if args.mode == Mode::Idle && args.client == ClientKind::AsyncNats {
        return Err(invalid("idle runs use the raw client only"));
    }
    if args.mode == Mode::Idle && args.server_pid.is_none() {
        return Err(invalid("idle runs need the server's --pid"));
    }
    Ok(args)
}

/// Accepts `nats://host:port`, `host:port` or `[::1]:port`; refuses anything but loopback,
/// because this harness floods whatever it points at.
fn parse_server(value: &str) -> Result<SocketAddr, ArgsError> {
    let stripped = value.strip_prefix("nats://").unwrap_or(value);
    let addr = stripped
        .to_socket_addrs()
        .map_err(|error| invalid(format!("--server {value}: {error}")))?
        .next()
        .ok_or_else(|| invalid(format!("--server {value}: no address")))?;
    if !addr.ip().is_loopback() {
        return Err(invalid(
            "--server must be a loopback address (127.0.0.1 or ::1)",
        ));
    }
    Ok(addr)
}

/// `--monitor 8222` (the server's host, filled in by `finish`) or a loopback `host:port`.
fn parse_monitor(value: &str) -> Result<SocketAddr, ArgsError> {
    if let Ok(port) = value.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    let stripped = value.strip_prefix("http://").unwrap_or(value);
    parse_server(stripped.trim_end_matches('/'))
        .map_err(|_| invalid("--monitor must be a port or a loopback host:port"))
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ArgsError> {
    value
        .replace('_', "")
        .parse()
        .map_err(|_| invalid(format!("{name}: `{value}` is not a valid number")))
}

fn seconds(name: &str, value: &str) -> Result<Duration, ArgsError> {
    let secs: f64 = number(name, value.trim_end_matches('s'))?;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(invalid(format!(
            "{name} must be a positive number of seconds"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &str) -> Result<Args, ArgsError> {
        parse(words.split_whitespace().map(str::to_string))
    }

    #[test]
    fn defaults_to_a_million_messages_without_a_duration() {
        let args = parse_words("pub --port 4333").unwrap();
        assert_eq!(args.msgs_max, Some(1_000_000));
        assert_eq!(args.server.port(), 4333);
    }

    #[test]
    fn refuses_non_loopback_servers() {
        assert!(matches!(
            parse_words("pub --server 10.1.2.3:4222"),
            Err(ArgsError::Invalid(_))
        ));
        assert!(parse_words("pub --server nats://[::1]:4222").is_ok());
    }

    #[test]
    fn reads_inline_values_and_durations() {
        let args = parse_words("queue --subs=4 --duration 1.5s --size=16").unwrap();
        assert_eq!(args.subscribers, 4);
        assert_eq!(args.duration_max, Some(Duration::from_millis(1500)));
        assert_eq!(args.msgs_max, None);
        assert_eq!(args.payload_bytes, 16);
    }

    #[test]
    fn refuses_wildcard_subjects_and_idle_without_a_pid() {
        assert!(parse_words("pub --subject a.*").is_err());
        assert!(parse_words("idle --conns 10").is_err());
        assert!(parse_words("idle --conns 10 --pid 1").is_ok());
    }

    #[test]
    fn turns_flow_control_off_with_a_zero_window_or_the_switch() {
        assert_eq!(
            parse_words("pubsub").unwrap().window_msgs,
            NonZeroU64::new(4096)
        );
        assert_eq!(parse_words("pubsub --window 0").unwrap().window_msgs, None);
        assert_eq!(
            parse_words("pubsub --no-flow-control").unwrap().window_msgs,
            None
        );
    }

    #[test]
    fn refuses_stuck_subscribers_without_a_monitor_or_outside_pubsub() {
        assert!(parse_words("pubsub --stuck 1").is_err());
        assert!(parse_words("queue --stuck 1 --monitor 8222").is_err());
        assert!(parse_words("pubsub --stuck 1 --monitor 8222").is_ok());
    }

    #[test]
    fn puts_the_monitor_on_the_servers_host() {
        let args = parse_words("pubsub --monitor 8222 --server [::1]:4222").unwrap();
        assert_eq!(args.monitor, Some("[::1]:8222".parse().unwrap()));
        let args = parse_words("pubsub --monitor http://127.0.0.1:8223/").unwrap();
        assert_eq!(args.monitor, Some("127.0.0.1:8223".parse().unwrap()));
        assert!(parse_words("pubsub --monitor 10.0.0.1:8222").is_err());
    }
}
