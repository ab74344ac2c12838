//! Housekeeping timers: the ping timer per connection (nats-server's
//! `processPingTimer`), the write deadline of stalled sends, and the authentication
//! deadlines (`auth_timeout`, an expiring user JWT).
//!
//! One sweep over the shard's connections runs at most every
//! `HOUSEKEEPING_INTERVAL_MAX` and at the earliest deadline; at 64 Ki connections a sweep
//! is a few hundred microseconds, far below the timers' own granularity.

use std::time::{Duration, Instant};

use super::auth::{auth_due, AuthLapse};
use super::{Shard, HOUSEKEEPING_INTERVAL_MAX};
use crate::conn::ConnId;
use crate::io::Backend;
use crate::proto::errors::{self, close_reason};

/// nats-server pings a new client after at most 2 s to measure its RTT
/// (`firstClientPingInterval`).
pub const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);

/// When the first PING after CONNECT is due, as nats-server's `setFirstPingTimer` sets
/// it: the ping interval capped at [`FIRST_PING_INTERVAL`], plus up to 20% (`jitter` in
/// 0..1) so clients connected together are not pinged together.
pub fn first_ping_delay(ping_interval: Duration, jitter: f64) -> Duration {
    let base = ping_interval.min(FIRST_PING_INTERVAL);
    base + base.mul_f64(0.2 * jitter.clamp(0.0, 1.0))
}

/// What the ping timer decided for one connection.
enum PingAction {
    Nothing,
    Ping,
    Stale,
}

impl<B: Backend> Shard<B> {
    /// Runs due timers and schedules the next sweep.
    pub(super) fn housekeeping(&mut self, now: Instant) {
        let ping_interval = self.config.ping_interval;
        let pings_max = self.config.pings_outstanding_max;
        let write_deadline = self.config.write_deadline;
        let mut next = now + HOUSEKEEPING_INTERVAL_MAX;
        let mut due: Vec<(ConnId, PingAction)> = Vec::new();
        let mut stalled: Vec<ConnId> = Vec::new();
        let mut auth_lapsed: Vec<(ConnId, AuthLapse)> = Vec::new();
        for (_, conn) in self.conns.iter_mut() {
            if !conn.is_open() {
                continue;
            }
            match auth_due(conn, now) {
                Err(lapse) => {
                    auth_lapsed.push((conn.id, lapse));
                    continue;
                }
                Ok(Some(due)) => next = next.min(due),
                Ok(None) => {}
            }
            if let Some(started) = conn.out.send_started() {
                if now.duration_since(started) >= write_deadline {
                    stalled.push(conn.id);
                    continue;
                }
                next = next.min(started + write_deadline);
            }
            if now >= conn.next_ping {
                conn.next_ping = now + ping_interval;
                let since_input = now.duration_since(conn.last_activity);
                let action = if conn.rtt_measured && since_input < ping_interval {
                    PingAction::Nothing
                } else if conn.pings_outstanding + 1 > pings_max {
                    PingAction::Stale
                } else {
                    conn.pings_outstanding += 1;
                    conn.ping_sent_at.get_or_insert(now);
                    PingAction::Ping
                };
                due.push((conn.id, action));
            }
            next = next.min(conn.next_ping);
        }
        if let Some(rearm_at) = self.accept_rearm_at {
            if now >= rearm_at {
                self.accept_rearm_at = None;
                if self.accepting {
                    self.backend.arm_accept(self.listener);
                }
            } else {
                next = next.min(rearm_at);
            }
        }
        if let Some(close_at) = self.lame_duck_tick(now) {
            next = next.min(close_at);
        }
        self.next_housekeeping = next;
        for (id, lapse) in auth_lapsed {
            self.close_for_auth(id, lapse);
        }
        for id in stalled {
            self.slow_consumer(id, close_reason::SLOW_CONSUMER_WRITE_DEADLINE);
        }
        for (id, action) in due {
            match action {
                PingAction::Nothing => {}
                PingAction::Ping => self.reply(id, b"PING\r\n"),
                PingAction::Stale => {
                    self.shared.stats[self.id]
                        .stale_connections
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.close_with_error(
                        id,
                        errors::STALE_CONNECTION,
                        close_reason::STALE_CONNECTION,
                    );
                }
            }
        }
    }
}
