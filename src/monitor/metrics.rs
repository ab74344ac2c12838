//! `/metrics`: the `/varz` counters and gauges in Prometheus's text exposition format
//! (version 0.0.4), named `ringnats_*`, each with HELP and TYPE lines, plus the same
//! counters per shard (a `shard` label) and the summed subscription-table counters.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use hyper::StatusCode;

use super::subsz::sum_stats;
use super::time::since;
use super::varz::{cores, cpu_seconds, resident_bytes};
use super::{MonitorContext, Reply};
use crate::proto::info::{COMPATIBLE_VERSION, RINGNATS_VERSION};
use crate::shard::shared::{ControlMsg, ShardStats};

/// Prometheus's content type for the text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type Counter = fn(&ShardStats) -> &AtomicU64;

/// (name, type, help, counter) of the series also exported per shard.
const SHARD_SERIES: &[(&str, &str, &str, Counter)] = &[
    (
        "in_msgs_total",
        "counter",
        "Messages received from clients.",
        |s| &s.in_msgs,
    ),
    (
        "in_bytes_total",
        "counter",
        "Payload bytes received from clients.",
        |s| &s.in_bytes,
    ),
    (
        "out_msgs_total",
        "counter",
        "Messages delivered to clients.",
        |s| &s.out_msgs,
    ),
    (
        "out_bytes_total",
        "counter",
        "Payload bytes delivered to clients.",
        |s| &s.out_bytes,
    ),
    (
        "slow_consumers_total",
        "counter",
        "Clients closed as slow consumers.",
        |s| &s.slow_consumers,
    ),
    (
        "stalled_producers_total",
        "counter",
        "Publishers stalled because a subscriber fell behind (varz stalled_clients).",
        |s| &s.stalled_clients,
    ),
    (
        "stall_drops_total",
        "counter",
        "Messages dropped for subscribers behind a closed stall gate (no_fast_producer_stall).",
        |s| &s.stall_drops,
    ),
    (
        "stale_connections_total",
        "counter",
        "Clients closed as stale (no PONG).",
        |s| &s.stale_connections,
    ),
    (
        "connections",
        "gauge",
        "Client connections open now.",
        |s| &s.connections,
    ),
    (
        "connections_total",
        "counter",
        "Client connections accepted.",
        |s| &s.total_connections,
    ),
    ("subscriptions", "gauge", "Subscriptions now.", |s| {
        &s.subscriptions
    }),
];

/// Writes one family: HELP, TYPE, then its samples.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP ringnats_{name} {help}");
    let _ = writeln!(out, "# TYPE ringnats_{name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "ringnats_{name}{labels} {value}");
    }
}

/// Serves `/metrics`.
pub async fn metrics(context: &MonitorContext) -> Reply {
    let mut out = String::with_capacity(4096);
    let info_labels = format!(
        "{{server_id=\"{}\",server_name=\"{}\",version=\"{RINGNATS_VERSION}\",nats_server_version=\"{COMPATIBLE_VERSION}\",io_backend=\"{}\"}}",
        escape(&context.identity.server_id),
        escape(&context.identity.server_name),
        context.io_backend
    );
    family(
        &mut out,
        "info",
        "gauge",
        "Server identity; always 1.",
        &[(info_labels, 1.0)],
    );
    for &(name, kind, help, counter) in SHARD_SERIES {
        let total = context.shared.total(counter) as f64;
        family(&mut out, name, kind, help, &[(String::new(), total)]);
    }
    for &(name, kind, help, counter) in SHARD_SERIES {
        let samples: Vec<_> = context
            .shared
            .stats
            .iter()
            .enumerate()
            .map(|(shard, stats)| {
                let value = counter(stats).load(Ordering::Relaxed) as f64;
                (format!("{{shard=\"{shard}\"}}"), value)
            })
            .collect();
        let help = format!("{help} Per shard.");
        family(&mut out, &format!("shard_{name}"), kind, &help, &samples);
    }
    process_families(&mut out, context);
    account_families(&mut out, context);
    sublist_families(&mut out, context).await;
    Reply::text(StatusCode::OK, CONTENT_TYPE, out)
}

/// Per-account gauges and counters from the shards' shared atomics (no shard is asked).
fn account_families(out: &mut String, context: &MonitorContext) {
    let table = crate::auth::AccountTable::new(&context.config.auth);
    let shared = &context.shared;
    let per_account = |value: &dyn Fn(usize) -> Option<u64>| -> Vec<(String, f64)> {
        (0..table.len() as u32)
            .map(crate::auth::AccountId)
            .filter_map(|id| {
                let labels = format!("{{account=\"{}\"}}", escape(table.name(id)));
                Some((labels, value(id.index())? as f64))
            })
            .collect()
    };
    family(
        out,
        "account_connections",
        "gauge",
        "Authenticated client connections per account.",
        &per_account(&|index| {
            let counter = shared.account_connections.get(index)?;
            Some(u64::from(counter.load(Ordering::Relaxed)))
        }),
    );
    family(
        out,
        "account_slow_consumers_total",
        "counter",
        "Clients closed as slow consumers, per account.",
        &per_account(&|index| {
            let counter = shared.account_slow_consumers.get(index)?;
            Some(counter.load(Ordering::Relaxed))
        }),
    );
}

fn process_families(out: &mut String, context: &MonitorContext) {
    let gauges: [(&str, &str, &str, f64); 5] = [
        (
            "uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            since(SystemTime::now(), context.start).as_secs_f64(),
        ),
        (
            "resident_memory_bytes",
            "gauge",
            "Resident set size of the process.",
            resident_bytes() as f64,
        ),
        (
            "cpu_seconds_total",
            "counter",
            "CPU time used by the process (user + system).",
            cpu_seconds(),
        ),
        (
            "cores",
            "gauge",
            "CPUs the process may run on.",
            cores() as f64,
        ),
        (
            "shards",
            "gauge",
            "Shards (pinned event loops) running.",
            context.shards() as f64,
        ),
    ];
    for (name, kind, help, value) in gauges {
        family(out, name, kind, help, &[(String::new(), value)]);
    }
}

async fn sublist_families(out: &mut String, context: &MonitorContext) {
    let answers = context
        .ask_shards(|reply| ControlMsg::Subsz {
            account: None,
            subscriptions: false,
            reply,
        })
        .await;
    let stats = sum_stats(&answers);
    let series: [(&str, &str, &str, f64); 6] = [
        (
            "sublist_cache_entries",
            "gauge",
            "Match results cached, all shards.",
            stats.num_cache as f64,
        ),
        (
            "sublist_inserts_total",
            "counter",
            "Subscription-table inserts.",
            stats.num_inserts as f64,
        ),
        (
            "sublist_removes_total",
            "counter",
            "Subscription-table removes.",
            stats.num_removes as f64,
        ),
        (
            "sublist_matches_total",
            "counter",
            "Subscription-table lookups.",
            stats.num_matches as f64,
        ),
        (
            "sublist_cache_hit_ratio",
            "gauge",
            "Lookups answered from the cache.",
            stats.cache_hit_rate,
        ),
        (
            "sublist_fanout_max",
            "gauge",
            "Largest fanout among cached results.",
            stats.max_fanout as f64,
        ),
    ];
    for (name, kind, help, value) in series {
        family(out, name, kind, help, &[(String::new(), value)]);
    }
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
