//! `/varz` and `VARZ` requests: the server's configuration and counters with
//! nats-server's field names and order. Go-only fields are filled with their nearest
//! ringnats meaning (`go` names ringnats, `gomaxprocs` is the shard count), and two are
//! added: `io_backend` and `shards`. `config_digest` is nats-server's digest of the
//! configuration file loaded at start-up.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::time::{Instant, SystemTime};

use serde::Serialize;
use serde_json::{Map, Value};

use super::accounts::system_account;
use super::time::{rfc3339_nanos, since, uptime};
use super::MonitorContext;
use crate::proto::info::{COMPATIBLE_VERSION, GIT_COMMIT, RINGNATS_VERSION};
use crate::shard::shared::ShardStats;

/// nats-server's `tls_timeout` default, in seconds (TLS is not built; the field stays).
const TLS_TIMEOUT_SECONDS: f64 = 2.0;

/// Counters per connection kind, as `slow_consumer_stats` and `stale_connection_stats`.
#[derive(Serialize, Default)]
pub struct KindCounts {
    clients: u64,
    routes: u64,
    gateways: u64,
    leafs: u64,
}

impl KindCounts {
    /// Counts that are all clients' (ringnats has no routes, gateways or leaf nodes).
    pub fn clients(clients: u64) -> Self {
        Self {
            clients,
            ..Self::default()
        }
    }
}

#[derive(Serialize, Default)]
struct DiskIoWaitStats {
    waiters: u64,
    waits: u64,
    wait_time: u64,
    max_wait_time: u64,
}

/// The `/varz` document.
#[derive(Serialize)]
pub struct Varz {
    server_id: String,
    server_name: String,
    version: &'static str,
    proto: u8,
    git_commit: &'static str,
    go: String,
    host: String,
    port: u16,
    #[serde(skip_serializing_if = "is_false")]
    auth_required: bool,
    max_connections: u32,
    #[serde(skip_serializing_if = "is_zero")]
    max_subscriptions: u32,
    ping_interval: u128,
    ping_max: u32,
    http_host: String,
    http_port: i32,
    http_base_path: String,
    https_port: i32,
    auth_timeout: f64,
    max_control_line: u32,
    max_payload: u32,
    max_pending: u64,
    cluster: Map<String, Value>,
    gateway: Map<String, Value>,
    leaf: Map<String, Value>,
    mqtt: Map<String, Value>,
    websocket: Map<String, Value>,
    jetstream: Map<String, Value>,
    tls_timeout: f64,
    write_deadline: u128,
    start: String,
    now: String,
    uptime: String,
    mem: u64,
    cores: usize,
    gomaxprocs: usize,
    cpu: f64,
    connections: u64,
    total_connections: u64,
    routes: u64,
    remotes: u64,
    leafnodes: u64,
    in_msgs: u64,
    in_bytes: u64,
    in_client_msgs: u64,
    in_client_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    out_client_msgs: u64,
    out_client_bytes: u64,
    slow_consumers: u64,
    stale_connections: u64,
    stalled_clients: u64,
    subscriptions: u64,
    http_req_stats: BTreeMap<String, u64>,
    config_load_time: String,
    config_digest: String,
    feature_flags: BTreeMap<&'static str, bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_account: Option<String>,
    slow_consumer_stats: KindCounts,
    stale_connection_stats: KindCounts,
    disk_io_wait_stats: DiskIoWaitStats,
    io_backend: &'static str,
    shards: usize,
}

/// Server-wide counters summed over the shards.
pub struct Totals {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    pub connections: u64,
    pub total_connections: u64,
    pub subscriptions: u64,
    pub stalled_clients: u64,
}

impl Totals {
    /// Sums the shards' published counters.
    pub fn read(context: &MonitorContext) -> Self {
        let sum = |counter: fn(&ShardStats) -> &AtomicU64| context.shared.total(counter);
        Self {
            in_msgs: sum(|stats| &stats.in_msgs),
            in_bytes: sum(|stats| &stats.in_bytes),
            out_msgs: sum(|stats| &stats.out_msgs),
            out_bytes: sum(|stats| &stats.out_bytes),
            slow_consumers: sum(|stats| &stats.slow_consumers),
            stale_connections: sum(|stats| &stats.stale_connections),
            connections: sum(|stats| &stats.connections),
            total_connections: sum(|stats| &stats.total_connections),
            subscriptions: sum(|stats| &stats.subscriptions),
            stalled_clients: sum(|stats| &stats.stalled_clients),
        }
    }
}

fn is_false(value: &bool) -> bool {
    !value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// nats-server's `feature_flags` (its defaults: ringnats has none of these features to
/// switch), in `/varz` and in every `$SYS` answer's `server` object.
pub fn feature_flags() -> BTreeMap<&'static str, bool> {
    BTreeMap::from([
        ("js_ack_fc_v2", false),
        ("js_api_reply_v2", false),
        ("js_raft_delete_range", true),
        ("js_snapshot_sources", false),
    ])
}

/// nats-server's `Varz`: the `/varz` document and a `VARZ` request's `data`.
pub fn build(context: &MonitorContext) -> Varz {
    let config = &context.config;
    let totals = Totals::read(context);
    let now = SystemTime::now();
    Varz {
        server_id: context.identity.server_id.clone(),
        server_name: context.identity.server_name.clone(),
        version: COMPATIBLE_VERSION,
        proto: 1,
        git_commit: GIT_COMMIT,
        go: format!("ringnats {RINGNATS_VERSION}"),
        host: config.host.clone(),
        port: context.client_port,
        auth_required: config.auth.auth_required(),
        max_connections: config.connections_max,
        max_subscriptions: config.subscriptions_max,
        ping_interval: config.ping_interval.as_nanos(),
        ping_max: config.pings_outstanding_max,
        http_host: config.monitor_host().to_string(),
        http_port: config.http_port.unwrap_or(0),
        http_base_path: config.http_base_path.clone(),
        https_port: 0,
        auth_timeout: config.auth_timeout.as_secs_f64(),
        max_control_line: config.control_line_bytes_max,
        max_payload: config.payload_bytes_max,
        max_pending: config.pending_bytes_max,
        cluster: Map::new(),
        gateway: Map::new(),
        leaf: Map::new(),
        mqtt: Map::new(),
        websocket: Map::new(),
        jetstream: Map::new(),
        tls_timeout: TLS_TIMEOUT_SECONDS,
        write_deadline: config.write_deadline.as_nanos(),
        start: rfc3339_nanos(context.start),
        now: rfc3339_nanos(now),
        uptime: uptime(since(now, context.start)),
        mem: resident_bytes(),
        cores: cores(),
        gomaxprocs: context.shards(),
        cpu: cpu_percent(context),
        connections: totals.connections,
        total_connections: totals.total_connections,
        routes: 0,
        remotes: 0,
        leafnodes: 0,
        in_msgs: totals.in_msgs,
        in_bytes: totals.in_bytes,
        in_client_msgs: totals.in_msgs,
        in_client_bytes: totals.in_bytes,
        out_msgs: totals.out_msgs,
        out_bytes: totals.out_bytes,
        out_client_msgs: totals.out_msgs,
        out_client_bytes: totals.out_bytes,
        slow_consumers: totals.slow_consumers,
        stale_connections: totals.stale_connections,
        stalled_clients: totals.stalled_clients,
        subscriptions: totals.subscriptions,
        http_req_stats: context.request_counts(),
        config_load_time: rfc3339_nanos(context.start),
        config_digest: context.config_digest.clone(),
        feature_flags: feature_flags(),
        system_account: system_account(config),
        slow_consumer_stats: KindCounts::clients(totals.slow_consumers),
        stale_connection_stats: KindCounts::clients(totals.stale_connections),
        disk_io_wait_stats: DiskIoWaitStats::default(),
        io_backend: context.io_backend,
        shards: context.shards(),
    }
}

/// CPUs this process may run on (Go's `runtime.NumCPU`).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |count| count.get())
}

/// Resident set size in bytes (`VmRSS` of /proc/self/status); 0 when unreadable.
pub fn resident_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kilobytes| kilobytes * 1024)
}

/// CPU time used by the process so far, in seconds (utime + stime of /proc/self/stat).
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The command name may hold spaces; the fields after its closing parenthesis don't.
    let Some(after_name) = stat.rfind(')').map(|end| &stat[end + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&index| fields.get(index)?.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 / ticks_per_second as f64
}

/// A CPU-time reading, to compute usage over the time between two scrapes.
pub struct CpuSample {
    at: Instant,
    cpu_seconds: f64,
}

/// Process CPU use in percent of one core since the previous reading (`/varz` or
/// `STATSZ`; since start for the first), rounded to two decimals like nats-server.
pub fn cpu_percent(context: &MonitorContext) -> f64 {
    let now = CpuSample {
        at: Instant::now(),
        cpu_seconds: cpu_seconds(),
    };
    let mut previous = context.cpu_sample.lock().unwrap_or_else(|p| p.into_inner());
    let (elapsed, used) = match previous.as_ref() {
        Some(before) => (
            now.at.duration_since(before.at).as_secs_f64(),
            now.cpu_seconds - before.cpu_seconds,
        ),
        None => (
            since(SystemTime::now(), context.start).as_secs_f64(),
            now.cpu_seconds,
        ),
    };
    *previous = Some(now);
    if elapsed <= 0.0 {
        return 0.0;
    }
    (used / elapsed * 10_000.0).round() / 100.0
}
