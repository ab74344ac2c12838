//! A connection's outbound queue: bytes appended by deliveries and replies, and the one
//! send in flight.
//!
//! Two buffers swap roles: `pending` collects everything queued during a loop turn while
//! `in_flight` is owned by the kernel until its send completes. At the end of the turn a
//! connection with pending bytes and no send in flight gets exactly one send, so many
//! messages go out in one syscall and a buffer is never modified while the kernel reads
//! it.

use std::time::Instant;

/// Buffers above this size are released after they drain, so a burst does not pin
/// memory for the life of the connection.
pub const OUTBOUND_RETAINED_BYTES_MAX: usize = 64 * 1024;

/// Queued output of one connection.
#[derive(Default)]
pub struct Outbound {
    /// Bytes queued since the last send was started.
    pending: Vec<u8>,
    /// Bytes handed to the kernel; `in_flight[sent..]` is still to go.
    in_flight: Vec<u8>,
    /// How much of `in_flight` the kernel has taken.
    sent: usize,
    /// Since when a send has been in flight (`None` = no send in flight).
    send_started: Option<Instant>,
}

impl Outbound {
    /// Appends bytes to the pending side.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The pending side, to append an encoded frame in several pieces.
    pub fn pending_mut(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// Bytes queued and not yet taken by the kernel (compared to `max_pending`).
    pub fn pending_bytes(&self) -> usize {
        self.pending.len() + (self.in_flight.len() - self.sent)
    }

    /// True while the kernel owns the in-flight buffer.
    pub fn send_in_flight(&self) -> bool {
        self.send_started.is_some()
    }

    /// When the current send started, for the write deadline.
    pub fn send_started(&self) -> Option<Instant> {
        self.send_started
    }

    /// True when there is something to send and no send in flight.
    pub fn wants_send(&self) -> bool {
        self.send_started.is_none() && self.pending_bytes() > 0
    }

    /// Starts a send: returns the bytes the kernel may read until [`Outbound::sent`].
    pub fn start_send(&mut self, now: Instant) -> Option<(*const u8, usize)> {
        if !self.wants_send() {
            return None;
        }
        if self.sent == self.in_flight.len() {
            self.in_flight.clear();
            self.sent = 0;
            std::mem::swap(&mut self.pending, &mut self.in_flight);
        }
        self.send_started = Some(now);
        let rest = &self.in_flight[self.sent..];
        Some((rest.as_ptr(), rest.len()))
    }

    /// Records a completed send of `n` bytes; true when the kernel took everything the
    /// send offered (nats-server's `n == attempted`).
    pub fn sent(&mut self, n: usize) -> bool {
        assert!(
            self.send_started.is_some(),
            "send completion without a send"
        );
        assert!(
            self.sent + n <= self.in_flight.len(),
            "sent more than queued"
        );
        self.send_started = None;
        self.sent += n;
        if self.sent < self.in_flight.len() {
            return false;
        }
        self.sent = 0;
        if self.in_flight.capacity() > OUTBOUND_RETAINED_BYTES_MAX {
            self.in_flight = Vec::new();
        } else {
            self.in_flight.clear();
        }
        true
    }

    /// Records a failed send; the connection is being closed.
    pub fn failed(&mut self) {
        self.send_started = None;
    }

    /// Drops everything queued (slow consumer: close without flushing).
    pub fn discard_pending(&mut self) {
        self.pending = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_bytes_go_out_in_one_send_and_partial_sends_resume() {
        let mut out = Outbound::default();
        out.queue(b"MSG a 1 1\r\n");
        out.queue(b"x\r\n");
        let now = Instant::now();
        let (_, len) = out.start_send(now).expect("send");
        assert_eq!(len, 14);
        out.queue(b"PONG\r\n");
        assert!(
            out.start_send(now).is_none(),
            "one send in flight at a time"
        );
        out.sent(4);
        let (_, len) = out.start_send(now).expect("rest of the first buffer");
        assert_eq!(len, 10);
        out.sent(10);
        let (ptr, len) = out.start_send(now).expect("the pending PONG");
        // SAFETY: the buffer is alive and unmodified until `sent`.
        assert_eq!(unsafe { std::slice::from_raw_parts(ptr, len) }, b"PONG\r\n");
        out.sent(len);
        assert_eq!(out.pending_bytes(), 0);
        assert!(!out.wants_send());
    }
}
