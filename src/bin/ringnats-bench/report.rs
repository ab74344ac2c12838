//! The result of a run, the same for every mode and client: a table for people and one JSON
//! object (`--json`) for scripts. Rates are payload rates: MB/s counts payload bytes only, in
//! units of 10^6 bytes, as `nats bench` does.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Throughput of one side (publishers or subscribers) of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Side {
    pub clients: usize,
    pub msgs: u64,
    pub payload_bytes: u64,
    /// From the common start to this side's last message.
    pub seconds: f64,
    pub msgs_per_sec: f64,
    pub megabytes_per_sec: f64,
    /// Each client's own rate, to show skew between members.
    pub per_client_msgs_per_sec: Vec<f64>,
}

impl Side {
    /// `per_client` holds each client's (messages, seconds).
    pub fn new(payload_bytes_each: usize, per_client: &[(u64, Duration)]) -> Side {
        let msgs: u64 = per_client.iter().map(|(msgs, _)| msgs).sum();
        let seconds = per_client
            .iter()
            .map(|(_, elapsed)| elapsed.as_secs_f64())
            .fold(0.0, f64::max);
        let payload_bytes = msgs * payload_bytes_each as u64;
        Side {
            clients: per_client.len(),
            msgs,
            payload_bytes,
            seconds,
            msgs_per_sec: rate(msgs as f64, seconds),
            megabytes_per_sec: rate(payload_bytes as f64 / 1e6, seconds),
            per_client_msgs_per_sec: per_client
                .iter()
                .map(|(msgs, elapsed)| rate(*msgs as f64, elapsed.as_secs_f64()))
                .collect(),
        }
    }
}

fn rate(amount: f64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        amount / seconds
    } else {
        0.0
    }
}

/// Round-trip latency percentiles, in microseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

impl Latency {
    /// From a histogram recorded in nanoseconds.
    pub fn from_nanos(histogram: &Histogram<u64>) -> Latency {
        let micros = |nanos: u64| nanos as f64 / 1e3;
        Latency {
            count: histogram.len(),
            mean_us: histogram.mean() / 1e3,
            p50_us: micros(histogram.value_at_quantile(0.50)),
            p90_us: micros(histogram.value_at_quantile(0.90)),
            p99_us: micros(histogram.value_at_quantile(0.99)),
            p999_us: micros(histogram.value_at_quantile(0.999)),
            max_us: micros(histogram.max()),
        }
    }
}

/// A latency histogram in nanoseconds from 1 ns to 60 s with three significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("constant histogram bounds are valid")
}

/// Server memory measured around N idle connections.
#[derive(Clone, Debug, Serialize)]
pub struct IdleMemory {
    pub connections: usize,
    pub rss_before_bytes: u64,
    pub rss_after_bytes: u64,
    /// `(rss_after - rss_before) / connections`.
    pub bytes_per_connection: f64,
    /// Seconds to open and handshake all connections.
    pub connect_seconds: f64,
}

/// Everything a run produced.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub label: String,
    pub mode: String,
    pub client: String,
    pub server: String,
    pub payload_bytes: usize,
    /// The flow-control window; 0 when flow control was off.
    pub window_msgs: u64,
    pub publish: Option<Side>,
    pub subscribe: Option<Side>,
    /// Deliveries the subscribers should have seen (all subscribers together).
    pub expected: u64,
    pub delivered: u64,
    /// `expected - delivered`; negative means duplicates.
    pub lost: i64,
    pub latency: Option<Latency>,
    pub idle: Option<IdleMemory>,
    pub errors: Vec<String>,
}

impl Report {
    /// A report naming the run (mode, client, server, sizes); results are filled in by
    /// the mode with `..Report::for_run(args)`.
    pub fn for_run(args: &crate::args::Args) -> Report {
        Report {
            label: args.label.clone(),
            mode: args.mode.name().into(),
            client: args.client.name().into(),
            server: args.server.to_string(),
            payload_bytes: args.payload_bytes,
            window_msgs: args.window_msgs.map_or(0, u64::from),
            ..Report::default()
        }
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} ({} client, {} B payload{}) against {}{}",
            self.mode,
            self.client,
            self.payload_bytes,
            // Request and idle runs have no publishers to pace.
            match (self.mode.as_str(), self.window_msgs) {
                ("request" | "idle", _) => String::new(),
                (_, 0) => ", flow control off".to_string(),
                (_, window) => format!(", window {window}"),
            },
            self.server,
            if self.label.is_empty() {
                String::new()
            } else {
                format!("  [{}]", self.label)
            }
        );
        for (name, side) in [("pub", &self.publish), ("sub", &self.subscribe)] {
            if let Some(side) = side {
                write_side(&mut out, name, side);
            }
        }
        if self.publish.is_some() && self.subscribe.is_some() || self.lost != 0 {
            let _ = writeln!(
                out,
                "  delivered {} of {} expected, lost {}",
                self.delivered, self.expected, self.lost
            );
        }
        if let Some(latency) = &self.latency {
            write_latency(&mut out, latency);
        }
        if let Some(idle) = &self.idle {
            write_idle(&mut out, idle);
        }
        for error in &self.errors {
            let _ = writeln!(out, "  error: {error}");
        }
        out
    }
}

fn write_side(out: &mut String, name: &str, side: &Side) {
    let _ = writeln!(
        out,
        "  {name:<4} {:>3} client(s) {:>12} msgs in {:>7.3} s  {:>12.0} msgs/s  {:>9.2} MB/s",
        side.clients, side.msgs, side.seconds, side.msgs_per_sec, side.megabytes_per_sec
    );
    if side.clients > 1 {
        let rates: Vec<String> = side
            .per_client_msgs_per_sec
            .iter()
            .map(|rate| format!("{rate:.0}"))
            .collect();
        let _ = writeln!(out, "       per client msgs/s: {}", rates.join(", "));
    }
}

fn write_latency(out: &mut String, latency: &Latency) {
    let _ = writeln!(
        out,
        "  latency over {} requests (us): p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  mean {:.1}",
        latency.count,
        latency.p50_us,
        latency.p90_us,
        latency.p99_us,
        latency.p999_us,
        latency.max_us,
        latency.mean_us
    );
}

fn write_idle(out: &mut String, idle: &IdleMemory) {
    let _ = writeln!(
        out,
        "  {} idle connections (opened in {:.2} s): server RSS {} -> {} bytes, {:.0} bytes per connection",
        idle.connections,
        idle.connect_seconds,
        idle.rss_before_bytes,
        idle.rss_after_bytes,
        idle.bytes_per_connection
    );
}
