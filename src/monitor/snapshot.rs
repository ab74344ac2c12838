//! What a shard hands the monitor when asked: plain, owned copies of its connections
//! and subscriptions, so the monitor thread can sort, page and render them without ever
//! touching a shard's data. Closed connections are kept by their shard as `Arc`s, so a
//! scrape of `/connz?state=closed` copies pointers, not subscription lists.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::conn::ConnStats;
use crate::subject::sublist::SublistStats;

/// One subscription as `/connz?subs=detail` and `/subsz?subs=1` list it.
#[derive(Clone, Debug)]
pub struct SubscriptionSnapshot {
    /// The subject pattern.
    pub subject: String,
    /// The queue group, if any.
    pub queue: Option<String>,
    /// The client's subscription id.
    pub sid: String,
    /// Messages delivered so far.
    pub msgs: u64,
    /// Auto-unsubscribe limit (`UNSUB sid max`); 0 = none.
    pub deliveries_max: u64,
    /// The owning connection's client id.
    pub cid: u64,
    /// The account it lives in.
    pub account: String,
}

/// One client connection, open or closed.
#[derive(Clone, Debug)]
pub struct ConnSnapshot {
    /// The process-wide client id.
    pub cid: u64,
    /// The shard that owns (owned) it.
    pub shard: usize,
    /// The peer's address.
    pub ip: IpAddr,
    /// The peer's port.
    pub port: u16,
    /// When it was accepted.
    pub start: SystemTime,
    /// When the client last sent anything.
    pub last_activity: SystemTime,
    /// When it was closed (closed connections only).
    pub stop: Option<SystemTime>,
    /// Why it was closed, in nats-server's words (closed connections only).
    pub reason: Option<&'static str>,
    /// The last measured PING round trip; zero before the first.
    pub rtt: Duration,
    /// Bytes queued for the client.
    pub pending_bytes: u64,
    /// Message and byte counters.
    pub stats: ConnStats,
    /// Subscriptions it has (had, when closed).
    pub subscription_count: u64,
    /// `name` from CONNECT.
    pub name: String,
    /// `lang` from CONNECT.
    pub lang: String,
    /// `version` from CONNECT.
    pub version: String,
    /// The client's account.
    pub account: String,
    /// The authenticated user (name or nkey), if any.
    pub user: Option<String>,
    /// The subscriptions themselves (always kept for closed connections; for open ones
    /// only when the query asked for them).
    pub subscriptions: Vec<SubscriptionSnapshot>,
}

/// One shard's answer to a `/connz` question.
#[derive(Debug, Default)]
pub struct ShardConnz {
    /// Open connections.
    pub open: Vec<ConnSnapshot>,
    /// Closed connections remembered (oldest first), when asked for.
    pub closed: Vec<Arc<ConnSnapshot>>,
}

/// One shard's answer to a `/subsz` question.
#[derive(Debug, Default)]
pub struct ShardSubsz {
    /// The shard's Sublist counters.
    pub stats: SublistStats,
    /// Match-cache hits (`cache_hit_rate * num_matches`), to weigh the sum.
    pub cache_hits: f64,
    /// The subscriptions, when asked for.
    pub subscriptions: Vec<SubscriptionSnapshot>,
}

/// Turns an `Instant` of this process into wall-clock time.
pub fn wall_clock(instant: std::time::Instant) -> SystemTime {
    let age = instant.elapsed();
    SystemTime::now() - age
}
