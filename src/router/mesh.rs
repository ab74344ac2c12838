//! The mesh: one SPSC ring per ordered pair of shards, one doorbell eventfd per shard,
//! and the per-peer outbox that batches a turn's messages and never drops one.
//!
//! A producer commits its batch at the end of a loop turn and rings the peer's doorbell
//! only when the ring went from empty to non-empty. When a ring is full the message
//! waits in the outbox's overflow queue (FIFO after everything already queued, so order
//! holds); the shard stops reading publishers while an overflow is above its bound, or
//! while the message bytes the peer has not consumed yet are above the in-flight bound
//! (the consumer adds what it drained to a shared counter once per drain). That byte
//! bound keeps memory per shard pair bounded whatever the message size, and keeps the
//! messages already on their way to a subscriber small next to the room its stall gate
//! leaves (see `shard::stall`).

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::ring::{self, Consumer, Producer};
use super::ShardMsg;

/// Ring slots per ordered shard pair. At ~100 bytes a message this is a few MiB of
/// buffering per pair, enough to absorb a loop turn of a fast publisher.
pub const RING_SLOTS: usize = 16 * 1024;
/// Messages waiting in one outbox's overflow before the shard stops reading its
/// publishers (backpressure at the source).
pub const OVERFLOW_MESSAGES_MAX: usize = 64 * 1024;
/// Upper bound of message bytes in flight from one shard to another (ring and overflow)
/// before the shard stops reading its publishers; the server uses less when
/// `max_pending` is small (see [`in_flight_bytes_max`]).
pub const IN_FLIGHT_BYTES_MAX: u64 = 8 * 1024 * 1024;
/// Lower bound of the in-flight bound, so tiny `max_pending` settings still move
/// messages between shards in batches.
pub const IN_FLIGHT_BYTES_MIN: u64 = 16 * 1024;

/// The in-flight bound for a `max_pending`: an eighth of it, within
/// [`IN_FLIGHT_BYTES_MIN`]..=[`IN_FLIGHT_BYTES_MAX`], so what is already on its way to a
/// subscriber when its stall gate closes (at three quarters of `max_pending`) fits in
/// the last quarter.
pub fn in_flight_bytes_max(pending_bytes_max: u64) -> u64 {
    (pending_bytes_max / 8).clamp(IN_FLIGHT_BYTES_MIN, IN_FLIGHT_BYTES_MAX)
}

/// A shard's doorbell: an eventfd its loop watches; peers write to wake it.
#[derive(Debug)]
pub struct Doorbell {
    /// The eventfd.
    fd: OwnedFd,
}

impl Doorbell {
    /// Creates a non-blocking eventfd.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Wakes the owning shard.
    pub fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd. EAGAIN (counter at its
        // maximum) means a wake-up is already pending, which is all we need.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// The descriptor, for the backend to watch.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Messages from this shard to one peer.
pub struct Outbox {
    /// The ring to the peer.
    producer: Producer<ShardMsg>,
    /// Messages that did not fit in the ring, oldest first.
    overflow: VecDeque<ShardMsg>,
    /// The peer's doorbell.
    doorbell: Arc<Doorbell>,
    /// Items pushed since the last commit.
    uncommitted: bool,
    /// Message bytes ever queued to the peer.
    sent_bytes: u64,
    /// Message bytes the peer has drained (it adds to this once per drain).
    consumed_bytes: Arc<AtomicU64>,
}

impl Outbox {
    /// Queues a message for the peer; it becomes visible at [`Outbox::flush`].
    pub fn send(&mut self, message: ShardMsg) {
        self.sent_bytes += message.size() as u64;
        if !self.overflow.is_empty() {
            self.overflow.push_back(message);
            return;
        }
        match self.producer.push(message) {
            Ok(()) => self.uncommitted = true,
            Err(message) => self.overflow.push_back(message),
        }
    }

    /// Moves overflow into the ring as room allows, publishes the batch and rings the
    /// peer's doorbell if it may be asleep.
    pub fn flush(&mut self) {
        while let Some(message) = self.overflow.pop_front() {
            match self.producer.push(message) {
                Ok(()) => self.uncommitted = true,
                Err(message) => {
                    self.overflow.push_front(message);
                    break;
                }
            }
        }
        if self.uncommitted {
            self.uncommitted = false;
            if self.producer.commit() {
                self.doorbell.ring();
            }
        }
    }

    /// True when messages were pushed since the last flush (not yet visible to the peer).
    pub fn has_uncommitted(&self) -> bool {
        self.uncommitted
    }

    /// Messages waiting outside the ring.
    pub fn overflow_len(&self) -> usize {
        self.overflow.len()
    }

    /// Message bytes queued to the peer that it has not drained yet.
    pub fn bytes_in_flight(&self) -> u64 {
        self.sent_bytes
            .saturating_sub(self.consumed_bytes.load(Ordering::Acquire))
    }
}

/// One shard's ends of the mesh.
pub struct ShardLinks {
    /// This shard's index.
    pub shard: usize,
    /// This shard's doorbell (peers ring it).
    pub doorbell: Arc<Doorbell>,
    /// Outboxes indexed by peer shard; `None` at our own index.
    pub outboxes: Vec<Option<Outbox>>,
    /// Inbound rings indexed by peer shard; `None` at our own index.
    pub inboxes: Vec<Option<Consumer<ShardMsg>>>,
    /// Per peer, the counter of message bytes we drained from its ring (its outbox
    /// reads it); `None` at our own index.
    pub inbox_consumed: Vec<Option<Arc<AtomicU64>>>,
}

impl ShardLinks {
    /// Tells `peer` we drained `bytes` more of its messages.
    pub fn consumed(&self, peer: usize, bytes: u64) {
        if bytes > 0 {
            if let Some(counter) = &self.inbox_consumed[peer] {
                counter.fetch_add(bytes, Ordering::Release);
            }
        }
    }
}

/// Builds the full mesh for `shards` shards.
pub fn build(shards: usize) -> io::Result<Vec<ShardLinks>> {
    let doorbells: Vec<Arc<Doorbell>> = (0..shards)
        .map(|_| Doorbell::new().map(Arc::new))
        .collect::<io::Result<_>>()?;
    let mut links: Vec<ShardLinks> = (0..shards)
        .map(|shard| ShardLinks {
            shard,
            doorbell: doorbells[shard].clone(),
            outboxes: (0..shards).map(|_| None).collect(),
            inboxes: (0..shards).map(|_| None).collect(),
            inbox_consumed: (0..shards).map(|_| None).collect(),
        })
        .collect();
    for from in 0..shards {
        for to in 0..shards {
            if from == to {
                continue;
            }
            let (producer, consumer) = ring::channel(RING_SLOTS);
            let consumed_bytes = Arc::new(AtomicU64::new(0));
            links[from].outboxes[to] = Some(Outbox {
                producer,
                overflow: VecDeque::new(),
                doorbell: doorbells[to].clone(),
                uncommitted: false,
                sent_bytes: 0,
                consumed_bytes: consumed_bytes.clone(),
            });
            links[to].inboxes[from] = Some(consumer);
            links[to].inbox_consumed[from] = Some(consumed_bytes);
        }
    }
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::Envelope;

    fn message(n: u32) -> ShardMsg {
        ShardMsg::Deliver(Envelope::new(b"s", None, None, &n.to_be_bytes()))
    }

    fn number(message: ShardMsg) -> u32 {
        match message {
            ShardMsg::Deliver(envelope) => {
                u32::from_be_bytes(envelope.payload().try_into().unwrap())
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_full_ring_overflows_in_order_and_nothing_is_lost() {
        let mut links = build(2).unwrap();
        let mut inbox = links[1].inboxes[0].take().unwrap();
        let outbox = links[0].outboxes[1].as_mut().unwrap();
        let total = (RING_SLOTS * 3) as u32;
        for n in 0..total {
            outbox.send(message(n));
        }
        assert_eq!(
            outbox.overflow_len(),
            total as usize - RING_SLOTS,
            "ring full, rest queued"
        );
        let mut received = Vec::new();
        while received.len() < total as usize {
            outbox.flush();
            inbox.drain(usize::MAX, |m| received.push(number(m)));
        }
        assert_eq!(outbox.overflow_len(), 0);
        assert!(
            received.iter().copied().eq(0..total),
            "FIFO across ring and overflow"
        );
    }

    #[test]
    fn flush_rings_the_doorbell_only_when_the_ring_was_empty() {
        let mut links = build(2).unwrap();
        let doorbell = links[1].doorbell.clone();
        let mut inbox = links[1].inboxes[0].take().unwrap();
        let outbox = links[0].outboxes[1].as_mut().unwrap();
        let counter = |bell: &Doorbell| {
            let mut value = 0u64;
            // SAFETY: reads the 8-byte counter of our non-blocking eventfd into a u64.
            let n = unsafe { libc::read(bell.raw_fd(), (&mut value as *mut u64).cast(), 8) };
            if n == 8 {
                value
            } else {
                0
            }
        };
        outbox.send(message(1));
        outbox.flush();
        assert_eq!(counter(&doorbell), 1, "empty -> non-empty rings");
        outbox.send(message(2));
        outbox.flush();
        assert_eq!(counter(&doorbell), 0, "still non-empty: no second ring");
        inbox.drain(usize::MAX, |_| {});
        assert!(inbox.is_empty_for_sleep());
        outbox.send(message(3));
        outbox.flush();
        assert_eq!(counter(&doorbell), 1, "drained, then new work rings again");
    }
}
