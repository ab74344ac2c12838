//! The result of a run, the same for every mode and client: a table for people and one JSON
//! object (`--json`) for scripts. Rates are payload rates: MB/s counts payload bytes only, in
//! units of 10^6 bytes, as `nats bench` does.
//!
//! Lost deliveries are split by where they went: server-side loss (a subscriber the server
//! closed, normally as a slow consumer — what `/varz` `slow_consumers` counts), client-side
//! drops (async-nats discards messages when a subscription's channel is full), and the
//! rest, unexplained.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::monitor::ServerCounters;
use crate::progress::Delivery;
use crate::stuck::StuckReport;

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

/// One subscriber's end of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SubscriberOutcome {
    /// Messages the application (the counting loop) received.
    pub delivered: u64,
    /// The server closed this subscriber's connection (EOF or reset on the raw path, a
    /// disconnect or reconnect with async-nats).
    pub closed_by_server: bool,
    /// Messages that reached the client but were dropped inside it (async-nats: the
    /// connection's received count minus `delivered`); always 0 on the raw path.
    pub client_dropped: u64,
    /// async-nats `Event::SlowConsumer` events seen: one per dropped message, but the client
    /// drops events too when its event channel (128) is full, so this is a lower bound.
    pub client_slow_consumer_events: u64,
}

/// Where the lost deliveries went: `server_closed + client_dropped + unexplained == lost`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LostSplit {
    /// Missing from subscribers the server closed, net of their client drops.
    pub server_closed: u64,
    /// Dropped inside the client library.
    pub client_dropped: u64,
    /// Everything else (negative for duplicates).
    pub unexplained: i64,
}

impl LostSplit {
    /// Splits `lost` for a run that published `published` messages. A subscriber's shortfall
    /// goes first to its client drops (counted exactly), the rest to the server if it closed
    /// the subscriber. In a queue group the members' shortfalls cannot be told apart, so the
    /// group's is split the same way, as a whole.
    pub fn new(delivery: Delivery, published: u64, subs: &[SubscriberOutcome]) -> LostSplit {
        let (expected, delivered) = match delivery {
            Delivery::None => (0, 0),
            Delivery::EverySubscriber => (published * subs.len() as u64, delivered(subs)),
            Delivery::OneMember => (published, delivered(subs)),
        };
        let lost = expected as i64 - delivered as i64;
        let shares: Vec<(u64, u64, bool)> = match delivery {
            Delivery::None => Vec::new(),
            Delivery::EverySubscriber => subs
                .iter()
                .map(|sub| {
                    let shortfall = published.saturating_sub(sub.delivered);
                    (shortfall, sub.client_dropped, sub.closed_by_server)
                })
                .collect(),
            Delivery::OneMember => vec![(
                published.saturating_sub(delivered),
                subs.iter().map(|sub| sub.client_dropped).sum(),
                subs.iter().any(|sub| sub.closed_by_server),
            )],
        };
        let mut split = LostSplit::default();
        for (shortfall, dropped, closed) in shares {
            let dropped = dropped.min(shortfall);
            split.client_dropped += dropped;
            if closed {
                split.server_closed += shortfall - dropped;
            }
        }
        split.unexplained = lost - split.server_closed as i64 - split.client_dropped as i64;
        split
    }
}

fn delivered(subs: &[SubscriberOutcome]) -> u64 {
    subs.iter().map(|sub| sub.delivered).sum()
}

/// The server's own counters around a run (`--monitor`), read before the first connection
/// and after the last subscriber finished.
#[derive(Clone, Debug, Serialize)]
pub struct ServerCountersDelta {
    pub before: ServerCounters,
    pub after: ServerCounters,
    /// Clients the server closed as slow consumers during the run.
    pub slow_consumers: u64,
    /// Producer stalls during the run.
    pub stalled_clients: u64,
}

impl ServerCountersDelta {
    pub fn new(before: ServerCounters, after: ServerCounters) -> ServerCountersDelta {
        ServerCountersDelta {
            before,
            after,
            slow_consumers: after.slow_consumers.saturating_sub(before.slow_consumers),
            stalled_clients: after.stalled_clients.saturating_sub(before.stalled_clients),
        }
    }
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
    /// Where `lost` went.
    pub lost_split: LostSplit,
    /// Each subscriber's outcome (pub/sub and queue runs).
    pub subscribers: Vec<SubscriberOutcome>,
    /// `/varz` counters around the run, with `--monitor`.
    pub server_counters: Option<ServerCountersDelta>,
    /// The stuck subscribers' closes and the rates after them, with `--stuck`.
    pub stuck: Option<StuckReport>,
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
        write_loss(&mut out, self);
        if let Some(stuck) = &self.stuck {
            write_stuck(&mut out, stuck);
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

fn write_loss(out: &mut String, report: &Report) {
    let closed: Vec<String> = (report.subscribers.iter().enumerate())
        .filter(|(_, sub)| sub.closed_by_server)
        .map(|(index, _)| format!("#{index}"))
        .collect();
    if report.lost != 0 || !closed.is_empty() {
        let split = &report.lost_split;
        let _ = writeln!(
            out,
            "  lost: {} server-closed, {} client-dropped, {} unexplained; subscribers closed by the server: {}",
            split.server_closed,
            split.client_dropped,
            split.unexplained,
            if closed.is_empty() { "none".to_string() } else { closed.join(" ") }
        );
    }
    if let Some(counters) = &report.server_counters {
        let _ = writeln!(
            out,
            "  server /varz during the run: slow_consumers +{}, stalled_clients +{}",
            counters.slow_consumers, counters.stalled_clients
        );
    }
}

fn write_stuck(out: &mut String, stuck: &StuckReport) {
    let closes: Vec<String> = (stuck.subscribers.iter().enumerate())
        .map(
            |(index, close)| match (close.closed_after_seconds, &close.reason) {
                (Some(seconds), reason) => format!(
                    "#{index} closed after {seconds:.2} s ({})",
                    reason.as_deref().unwrap_or("no reason given")
                ),
                (None, _) => format!("#{index} not closed"),
            },
        )
        .collect();
    let _ = writeln!(
        out,
        "  stuck: {} subscriber(s), SO_RCVBUF {} B: {}",
        stuck.subscribers.len(),
        stuck.receive_buffer_bytes,
        closes.join(", ")
    );
    match &stuck.after_close {
        Some(after) => {
            let _ = writeln!(
                out,
                "  after the last stuck one closed (from {:.2} s): pub {:.0} msgs/s over {:.3} s, sub {:.0} msgs/s over {:.3} s",
                after.from_seconds,
                after.publish_msgs_per_sec,
                after.publish_seconds,
                after.subscribe_msgs_per_sec,
                after.subscribe_seconds
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  after the last stuck one closed: no figures (not all closed while publishing)"
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(delivered: u64, closed_by_server: bool, client_dropped: u64) -> SubscriberOutcome {
        SubscriberOutcome {
            delivered,
            closed_by_server,
            client_dropped,
            client_slow_consumer_events: 0,
        }
    }

    #[test]
    fn splits_fan_out_losses_per_subscriber() {
        let subs = [
            sub(100, false, 0),
            sub(60, true, 10),
            sub(90, false, 4),
            sub(97, false, 0),
        ];
        let split = LostSplit::new(Delivery::EverySubscriber, 100, &subs);
        assert_eq!(
            split,
            LostSplit {
                server_closed: 30,
                client_dropped: 14,
                unexplained: 6 + 3,
            }
        );
    }

    #[test]
    fn splits_a_queue_groups_loss_as_a_whole() {
        let subs = [sub(40, true, 0), sub(50, false, 3)];
        let split = LostSplit::new(Delivery::OneMember, 100, &subs);
        assert_eq!(
            (split.server_closed, split.client_dropped, split.unexplained),
            (7, 3, 0)
        );
        let healthy = [sub(40, false, 0), sub(50, false, 3)];
        let split = LostSplit::new(Delivery::OneMember, 100, &healthy);
        assert_eq!(
            (split.server_closed, split.client_dropped, split.unexplained),
            (0, 3, 7)
        );
    }

    #[test]
    fn counts_duplicates_as_negative_unexplained() {
        let split = LostSplit::new(Delivery::EverySubscriber, 10, &[sub(12, false, 0)]);
        assert_eq!(split.unexplained, -2);
    }
}
