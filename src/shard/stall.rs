//! Fast-producer stalls: a publisher whose message reached a subscriber that is falling
//! behind stops being read for a few milliseconds, so the subscriber catches up instead
//! of being closed as a slow consumer.
//!
//! This is nats-server's rule (`stalledWait` in its `server/client.go`) in a per-core
//! shape that never blocks a loop:
//!
//! - **The gate.** A subscriber whose pending output passes three quarters of
//!   `max_pending` closes its stall gate. The gate opens again when a send completes
//!   that leaves the subscriber below that mark, or that took everything it was offered,
//!   or when the subscriber closes.
//! - **The stall.** A client's publish that reaches a subscriber with a closed gate parks
//!   the publisher's input: the op is consumed, the rest of its read buffer waits, and no
//!   receive is armed, until the gate opens, for at most 10 ms in total per read of its
//!   socket (nats-server waits 2–5 ms per message, 10 ms per read; one wait of the whole
//!   budget, cut short by the gate, is the same bound without a timer per message, and
//!   it also covers the round trip to another shard). Past the budget the publisher's
//!   messages flow again. The subscriber counts the stall (`/connz` `stalls`, `/varz`
//!   `stalled_clients`).
//! - **Across shards.** When the subscriber lives on another shard, that shard sees the
//!   closed gate while delivering the envelope and sends the publisher's shard a
//!   [`ShardMsg::Stall`]; the publisher's shard parks it, and a
//!   [`ShardMsg::StallRelease`] opens it early. Each publisher is told at most once per
//!   stall period, so a closed gate does not flood the ring back.
//! - **`no_fast_producer_stall: true`** drops the message for a subscriber with a closed
//!   gate instead of stalling (nats-server's choice; ringnats also counts the drops in
//!   `/metrics`).
//!
//! **Beyond nats-server: a stuck subscriber stalls no one for long.** nats-server keeps
//! stalling publishers for as long as a subscriber's gate is closed, so one subscriber
//! that stopped reading costs every publisher 10 ms per read until it is finally closed
//! (its issues #2631, #5394). ringnats stalls only for a subscriber that is *draining*:
//! it took bytes within the last [`STALL_PROGRESS_WINDOW`] (a send completed, or its
//! peer acknowledged more of what the kernel holds, `tcpi_bytes_acked`). A subscriber
//! that took nothing for longer is stuck: publishers are not slowed for it (shards whose
//! publishers it stalled are released), it reaches `max_pending` and is closed as a slow
//! consumer, and the publishers keep their rate.
//!
//! **Across shards, the ring is part of the queue.** Messages already in the ring to a
//! subscriber's shard land in its queue whatever its gate says, so the mesh bounds the
//! message bytes in flight between two shards by an eighth of `max_pending`
//! (`router::mesh::in_flight_bytes_max`), and a publisher stalled by another shard's
//! subscriber stalls again by itself on every read that sends there, until that gate
//! opens, without waiting for the other shard to see the message and say so.
//!
//! Architecture Invariant: a stall never blocks a loop and never drops a message; it
//! only delays reading the publisher's socket, on the publisher's own shard.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::Shard;
use crate::conn::ConnId;
use crate::io::Backend;
use crate::router::ShardMsg;

/// A read's total stall from which it is reported in the log (nats-server's
/// `stallClientMaxDuration`).
pub const STALL_REPORTED_MIN: Duration = Duration::from_millis(5);
/// Total stall allowed per read of a publisher's socket (nats-server's
/// `stallTotalAllowed`).
pub const STALL_PER_READ_MAX: Duration = Duration::from_millis(10);
/// A subscriber whose send made no progress for this long is stuck and stalls no one.
/// Long enough to carry a healthy client over a scheduling or GC pause (tens of
/// milliseconds); short enough that a subscriber that stopped reading costs its
/// publishers a blink, not the seconds nats-server lets it cost.
pub const STALL_PROGRESS_WINDOW: Duration = Duration::from_millis(50);
/// Publishers one gate remembers having told to stall (others are still stalled by
/// their own shard's check; this only bounds the memory of a gate).
pub const GATE_PRODUCERS_MAX: usize = 1024;
/// How often a gated subscriber that looks stuck is checked with the kernel.
const PROGRESS_CHECK_INTERVAL: Duration = Duration::from_millis(1);
/// How often the "Producer was stalled" warning may be logged per shard.
const STALL_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// A subscriber's closed stall gate.
#[derive(Debug)]
pub struct StallGate {
    /// Publishers on other shards told to stall during this gate, with when their stall
    /// ends (told again only after that).
    pub remote_producers: Vec<(usize, ConnId, Instant)>,
    /// When the subscriber was last seen taking bytes: a send completed, or its peer
    /// acknowledged more of what the kernel holds for it.
    progress_at: Instant,
    /// When the kernel was last asked (at most every [`PROGRESS_CHECK_INTERVAL`]).
    checked_at: Instant,
    /// The socket's acknowledged byte count at that time (`tcpi_bytes_acked`).
    acked_bytes: u64,
}

impl StallGate {
    /// A gate closing now on the subscriber socket `fd`.
    fn new(fd: RawFd, now: Instant) -> Self {
        Self {
            remote_producers: Vec::new(),
            progress_at: now,
            checked_at: now,
            acked_bytes: tcp_bytes_acked(fd).unwrap_or(0),
        }
    }

    /// True when the subscriber has taken nothing for longer than
    /// [`STALL_PROGRESS_WINDOW`]. A send completing is too coarse a sign of life: the
    /// kernel's send buffer (megabytes on loopback) reports room only once a good part
    /// of it drained, which for a slow reader can take longer than the window; the
    /// peer's acknowledgements move with every read it makes.
    fn stuck(&mut self, fd: RawFd, now: Instant) -> bool {
        if now.duration_since(self.progress_at) <= STALL_PROGRESS_WINDOW {
            return false;
        }
        if now.duration_since(self.checked_at) >= PROGRESS_CHECK_INTERVAL {
            self.checked_at = now;
            if let Some(acked) = tcp_bytes_acked(fd) {
                if acked != self.acked_bytes {
                    self.acked_bytes = acked;
                    self.progress_at = now;
                    return false;
                }
            }
        }
        true
    }
}

/// The bytes the peer of a TCP socket has acknowledged so far, from `TCP_INFO`.
fn tcp_bytes_acked(fd: RawFd) -> Option<u64> {
    // SAFETY: `tcp_info` is plain old data; zeroed is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into the live `info`. A raw call:
    // neither rustix nor socket2 exposes TCP_INFO.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    let needed = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + 8;
    (rc == 0 && len as usize >= needed).then_some(info.tcpi_bytes_acked)
}

/// Names a stall gate: the subscriber's shard and its connection there.
pub type GateId = (usize, ConnId);

/// A closed gate that the publish in progress reached.
#[derive(Debug, Clone, Copy)]
pub struct StallHit {
    /// The gate: a subscriber on this shard, or on another shard whose gate is known
    /// to be closed (a publisher it stalled before keeps stalling on its way there).
    pub gate: GateId,
}

/// Who is publishing the message being delivered, for stall decisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Producer {
    /// The server itself (system messages, advisories): never stalled.
    #[default]
    Server,
    /// A client connection on this shard.
    Local(ConnId),
    /// A client connection on another shard.
    Remote {
        /// Its shard.
        shard: usize,
        /// The connection there.
        conn: ConnId,
    },
}

/// A publisher whose input is parked.
#[derive(Debug, Clone, Copy)]
pub struct StalledProducer {
    /// The publisher (on this shard).
    pub conn: ConnId,
    /// When the stall ends at the latest.
    pub until: Instant,
    /// The gate it waits for.
    pub gate: GateId,
    /// The gate opened: release it this turn, before `until`.
    pub gate_opened: bool,
}

impl<B: Backend> Shard<B> {
    /// The gate check of one delivery, before the message is queued: `false` when the
    /// message must be dropped for this subscriber (`no_fast_producer_stall`). Records a
    /// stall hit when the producer should wait for this subscriber.
    #[inline]
    pub(super) fn pass_stall_gate(&mut self, subscriber: ConnId) -> bool {
        if self.producer == Producer::Server || self.producer == Producer::Local(subscriber) {
            return true;
        }
        if self.config.no_fast_producer_stall {
            self.turn_stats.stall_drops += 1;
            return false;
        }
        let conn = &mut self.conns[subscriber.index as usize];
        let fd = conn.fd;
        let sending = conn.out.send_in_flight();
        let Some(gate) = conn.stall_gate.as_mut() else {
            return true;
        };
        if sending && gate.stuck(fd, Instant::now()) {
            self.release_remote_producers(subscriber);
        } else if self.stall_hit.is_none() {
            self.stall_hit = Some(StallHit {
                gate: (self.id, subscriber),
            });
        }
        true
    }

    /// A publish of `publisher` sends an envelope to `shard`: when a subscriber there
    /// stalled this publisher before and its gate is still closed, the publisher stalls
    /// again now, without waiting for that shard to see the message and say so. The
    /// ring between the shards holds up to the in-flight bound of messages; without this
    /// each of the publisher's reads would push a ring's worth past the gate.
    #[inline]
    pub(super) fn check_remote_gate(&mut self, publisher: ConnId, shard: usize) {
        let Some(gate) = self.conns[publisher.index as usize].remote_gate else {
            return;
        };
        if gate.0 == shard && self.stall_hit.is_none() && self.closed_remote_gates.contains(&gate) {
            self.stall_hit = Some(StallHit { gate });
        }
    }

    /// After a message was queued for `subscriber`: closes its gate when its pending
    /// output passed three quarters of `max_pending`.
    #[inline]
    pub(super) fn update_stall_gate(&mut self, subscriber: ConnId) {
        let threshold = stall_threshold(self.config.pending_bytes_max);
        let conn = &mut self.conns[subscriber.index as usize];
        if conn.stall_gate.is_none() && conn.pending_bytes() > threshold {
            conn.stall_gate = Some(Box::new(StallGate::new(conn.fd, Instant::now())));
        }
    }

    /// After a send completed on `subscriber`: opens its gate when it caught up below the
    /// mark or its socket took all it was offered, releasing every publisher waiting.
    pub(super) fn check_stall_gate_after_send(&mut self, subscriber: ConnId, took_all: bool) {
        let threshold = stall_threshold(self.config.pending_bytes_max);
        let Some(conn) = self.conn_mut(subscriber) else {
            return;
        };
        if took_all || conn.pending_bytes() < threshold {
            self.open_stall_gate(subscriber);
        } else if let Some(gate) = conn.stall_gate.as_mut() {
            gate.progress_at = Instant::now();
        }
    }

    /// Opens a subscriber's gate (caught up or closed): local publishers waiting for it
    /// resume now, and shards whose publishers were told to stall are told it opened.
    pub(super) fn open_stall_gate(&mut self, subscriber: ConnId) {
        if self
            .conn_mut(subscriber)
            .is_none_or(|conn| conn.stall_gate.is_none())
        {
            return;
        }
        self.release_remote_producers(subscriber);
        if let Some(conn) = self.conn_mut(subscriber) {
            conn.stall_gate = None;
        }
        let key = (self.id, subscriber);
        self.release_stalled(|stalled| stalled.gate == key);
    }

    /// Tells every shard whose publishers this subscriber stalled that they may go on
    /// (its gate opened, or it is stuck and stalls no one any more).
    fn release_remote_producers(&mut self, subscriber: ConnId) {
        let Some(gate) = self
            .conn_mut(subscriber)
            .and_then(|conn| conn.stall_gate.as_mut())
        else {
            return;
        };
        if gate.remote_producers.is_empty() {
            return;
        }
        let mut told: Vec<usize> = gate.remote_producers.drain(..).map(|p| p.0).collect();
        told.sort_unstable();
        told.dedup();
        for shard in told {
            if let Some(outbox) = self.links.outboxes[shard].as_mut() {
                outbox.send(ShardMsg::StallRelease { subscriber });
            }
        }
    }

    /// A publish hit a closed gate: parks the publisher. Returns true when it was parked
    /// (its input must stop now).
    pub(super) fn stall_local_producer(&mut self, publisher: ConnId, hit: StallHit) -> bool {
        if !self.park_producer(publisher, hit.gate) {
            return false;
        }
        if hit.gate.0 == self.id {
            self.count_stall(hit.gate.1);
        } else {
            self.turn_stats.stalls += 1;
        }
        true
    }

    /// A delivered envelope hit a closed gate: tells the publisher's shard to park it,
    /// once per stall period.
    pub(super) fn stall_remote_producer(&mut self, shard: usize, publisher: ConnId, hit: StallHit) {
        let now = Instant::now();
        let subscriber = hit.gate.1;
        let Some(gate) = self
            .conn_mut(subscriber)
            .and_then(|conn| conn.stall_gate.as_mut())
        else {
            return;
        };
        let producers = &mut gate.remote_producers;
        match producers
            .iter()
            .position(|(s, conn, _)| *s == shard && *conn == publisher)
        {
            Some(index) if producers[index].2 > now => return,
            Some(index) => producers[index].2 = now + STALL_PER_READ_MAX,
            None if producers.len() >= GATE_PRODUCERS_MAX => return,
            None => producers.push((shard, publisher, now + STALL_PER_READ_MAX)),
        }
        if let Some(outbox) = self.links.outboxes[shard].as_mut() {
            outbox.send(ShardMsg::Stall {
                publisher,
                subscriber,
            });
        }
        self.count_stall(subscriber);
    }

    /// Another shard's subscriber asks us to park one of our publishers; until that
    /// gate opens, the publisher also stalls on its own whenever it sends there.
    pub(super) fn stall_requested(&mut self, peer: usize, publisher: ConnId, subscriber: ConnId) {
        let gate = (peer, subscriber);
        let Some(conn) = self.conn_mut(publisher) else {
            return;
        };
        conn.remote_gate = Some(gate);
        if !self.closed_remote_gates.contains(&gate) {
            self.closed_remote_gates.push(gate);
        }
        self.park_producer(publisher, gate);
    }

    /// Parks a publisher's input until the gate opens, for at most what is left of its
    /// per-read budget.
    fn park_producer(&mut self, id: ConnId, gate: GateId) -> bool {
        let now = Instant::now();
        let Some(conn) = self.conn_mut(id) else {
            return false;
        };
        if !conn.is_open() || conn.stall_started.is_some() {
            return false;
        }
        let duration = STALL_PER_READ_MAX.saturating_sub(conn.stall_in_read);
        if duration.is_zero() {
            return false;
        }
        conn.stall_started = Some(now);
        self.stalled.push(StalledProducer {
            conn: id,
            until: now + duration,
            gate,
            gate_opened: false,
        });
        true
    }

    /// Counts a stall against the subscriber that caused it, as nats-server does.
    fn count_stall(&mut self, subscriber: ConnId) {
        if let Some(conn) = self.conn_mut(subscriber) {
            conn.stats.stalls += 1;
        }
        self.turn_stats.stalls += 1;
    }

    /// Resumes publishers whose stall timed out or whose gate opened; returns the
    /// earliest remaining end. Runs once per loop turn, never from inside another
    /// connection's input, so resuming a publisher never nests in a delivery.
    pub(super) fn release_due_stalls(&mut self, now: Instant) -> Option<Instant> {
        if self.stalled.is_empty() {
            return None;
        }
        let (released, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.stalled)
            .into_iter()
            .partition(|stalled| stalled.gate_opened || stalled.until <= now);
        self.stalled = kept;
        for stalled in released {
            self.resume_producer(stalled, now);
        }
        self.stalled.iter().map(|stalled| stalled.until).min()
    }

    /// Marks the parked publishers `matches` selects for release this turn.
    fn release_stalled(&mut self, matches: impl Fn(&StalledProducer) -> bool) {
        for stalled in self.stalled.iter_mut().filter(|stalled| matches(stalled)) {
            stalled.gate_opened = true;
        }
    }

    /// Another shard's subscriber caught up: its publishers here resume this turn.
    pub(super) fn stall_released(&mut self, peer: usize, subscriber: ConnId) {
        let gate = (peer, subscriber);
        self.closed_remote_gates.retain(|closed| *closed != gate);
        self.release_stalled(|stalled| stalled.gate == gate);
    }

    /// Ends one publisher's stall: the time joins its read's total, the rest of its
    /// input is parsed, and its receive re-armed.
    fn resume_producer(&mut self, stalled: StalledProducer, now: Instant) {
        let Some(conn) = self.conn_mut(stalled.conn) else {
            return;
        };
        let Some(started) = conn.stall_started.take() else {
            return;
        };
        conn.stall_in_read += now.duration_since(started);
        if !stalled.gate_opened {
            crate::debug!(
                "{} - cid:{} - Timed out of fast producer stall ({:?})",
                conn.peer,
                conn.cid,
                stalled.until.duration_since(started)
            );
        }
        if !conn.is_open() || conn.awaiting_interest {
            // Closing, or another pause owns the input and resumes it itself.
            return;
        }
        self.process_input(stalled.conn);
        self.arm_recv(stalled.conn);
    }

    /// A new read of a publisher's socket begins: its stall total starts over, and a
    /// total of at least [`STALL_REPORTED_MIN`] is reported, as nats-server does.
    pub(super) fn reset_read_stall(&mut self, id: ConnId) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        let total = std::mem::take(&mut conn.stall_in_read);
        if total < STALL_REPORTED_MIN {
            return;
        }
        let now = Instant::now();
        if self
            .stall_logged_at
            .is_some_and(|at| now.duration_since(at) < STALL_LOG_INTERVAL)
        {
            return;
        }
        self.stall_logged_at = Some(now);
        let conn = &self.conns[id.index as usize];
        crate::warn!(
            "{} - cid:{} - Producer was stalled for a total of {}ms",
            conn.peer,
            conn.cid,
            (total.as_micros() + 500) / 1000
        );
    }
}

/// The pending bytes above which a subscriber's gate closes: three quarters of
/// `max_pending` (nats-server's `mp/4*3`).
pub fn stall_threshold(pending_bytes_max: u64) -> usize {
    (pending_bytes_max / 4 * 3) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_closes_at_three_quarters_of_max_pending() {
        assert_eq!(stall_threshold(64 * 1024 * 1024), 48 * 1024 * 1024);
        assert_eq!(stall_threshold(1000), 750);
    }

    #[test]
    fn the_limits_keep_nats_server_relations() {
        const _: () = assert!(STALL_REPORTED_MIN.as_nanos() < STALL_PER_READ_MAX.as_nanos());
        const _: () = assert!(STALL_PER_READ_MAX.as_nanos() < STALL_PROGRESS_WINDOW.as_nanos());
    }
}
