//! Answers to the monitor's questions (`/connz`, `/subsz`), asked as control messages and
//! answered in the shard's next turn, plus the shard's memory of closed connections
//! (nats-server's `max_closed_clients` ring, kept per shard and merged by the monitor).

use std::sync::Arc;

use super::Shard;
use crate::conn::{Conn, Subscription};
use crate::io::Backend;
use crate::monitor::snapshot::{
    wall_clock, ConnSnapshot, ShardConnz, ShardSubsz, SubscriptionSnapshot,
};

impl<B: Backend> Shard<B> {
    /// Copies the open connections (and the remembered closed ones when asked).
    pub(super) fn connz(&self, subscriptions: bool, closed: bool) -> ShardConnz {
        let open = self
            .conns
            .iter()
            .filter(|(_, conn)| conn.is_open())
            .map(|(_, conn)| {
                snapshot(
                    conn,
                    self.id,
                    subscriptions,
                    self.account_name(conn.account),
                )
            })
            .collect();
        let closed = if closed {
            self.closed_conns.iter().cloned().collect()
        } else {
            Vec::new()
        };
        ShardConnz { open, closed }
    }

    /// The Sublist counters, and every subscription when asked.
    pub(super) fn subsz(&self, subscriptions: bool, account: Option<&str>) -> ShardSubsz {
        let only = account.map(|name| self.auth.accounts.id(name));
        let stats = self
            .accounts
            .iter()
            .enumerate()
            .filter(|(index, _)| only.is_none_or(|id| id.is_some_and(|id| id.index() == *index)))
            .map(|(_, tables)| tables.sublist.stats())
            .reduce(|total, stats| total.merged(&stats))
            .unwrap_or_default();
        let subscriptions = if subscriptions {
            self.conns
                .iter()
                .filter(|(_, conn)| conn.is_open())
                .filter(|(_, conn)| only.is_none_or(|id| id == Some(conn.account)))
                .flat_map(|(_, conn)| {
                    let account = self.account_name(conn.account);
                    conn.subs
                        .values()
                        .map(move |sub| sub_snapshot(sub, conn.cid, account))
                })
                .collect()
        } else {
            Vec::new()
        };
        ShardSubsz {
            cache_hits: stats.cache_hit_rate * stats.num_matches as f64,
            stats,
            subscriptions,
        }
    }

    /// Remembers a connection being closed, for `/connz?state=closed` (only when
    /// monitoring runs, so a server without it pays nothing).
    pub(super) fn remember_closed(&mut self, id: crate::conn::ConnId) {
        let kept_max = self.config.closed_clients_max as usize;
        if self.shared.config.http_port.is_none() || kept_max == 0 {
            return;
        }
        let Some(conn) = self.conns.get(id.index as usize) else {
            return;
        };
        let mut record = snapshot(conn, self.id, true, self.account_name(conn.account));
        record.stop = Some(std::time::SystemTime::now());
        record.reason = conn.close_reason;
        while self.closed_conns.len() >= kept_max {
            self.closed_conns.pop_front();
        }
        self.closed_conns.push_back(Arc::new(record));
    }
}

pub(super) fn snapshot(
    conn: &Conn,
    shard: usize,
    subscriptions: bool,
    account: &str,
) -> ConnSnapshot {
    let options = &conn.options;
    ConnSnapshot {
        cid: conn.cid,
        shard,
        ip: conn.peer.ip(),
        port: conn.peer.port(),
        start: wall_clock(conn.started),
        last_activity: wall_clock(conn.last_activity),
        stop: None,
        reason: None,
        rtt: conn.rtt,
        pending_bytes: conn.pending_bytes() as u64,
        stats: conn.stats,
        subscription_count: conn.subs.len() as u64,
        name: options.name.clone(),
        lang: options.lang.clone(),
        version: options.version.clone(),
        account: account.to_string(),
        user: conn.user.as_deref().map(str::to_string),
        subscriptions: if subscriptions {
            conn.subs
                .values()
                .map(|sub| sub_snapshot(sub, conn.cid, account))
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn sub_snapshot(subscription: &Subscription, cid: u64, account: &str) -> SubscriptionSnapshot {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    SubscriptionSnapshot {
        subject: text(&subscription.subject),
        queue: subscription.queue.as_deref().map(text),
        sid: text(&subscription.sid),
        msgs: subscription.delivered.get(),
        deliveries_max: subscription.deliveries_max.get(),
        cid,
        account: account.to_string(),
    }
}
