//! Closing connections: with or without flushing an `-ERR` first, removing their
//! subscriptions (and the shard's interest with them), counting slow consumers, and
//! releasing the slot once the kernel has finished every in-flight operation.

use std::sync::atomic::Ordering;

use super::{shutdown_socket, Shard};
use crate::conn::{ConnId, ConnState};
use crate::io::Backend;
use crate::proto::errors::encode_err;

impl<B: Backend> Shard<B> {
    /// Starts closing a connection. With `flush`, queued output (an `-ERR`) is sent
    /// before the socket is shut down; without, it is shut down now.
    pub(super) fn close(&mut self, id: ConnId, reason: &'static str, flush: bool) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if !conn.is_open() {
            return;
        }
        conn.state = ConnState::Closing { flush };
        conn.close_reason = Some(reason);
        crate::debug!(
            "{} - cid:{} - Client connection closed: {}",
            conn.peer,
            conn.cid,
            reason
        );
        if !flush {
            conn.out.discard_pending();
        }
        let fd = conn.fd;
        let idle = !conn.out.wants_send() && !conn.out.send_in_flight();
        let gate_closed = conn.stall_gate.is_some();
        let subscriptions: Vec<_> = conn.subs.values().cloned().collect();
        if gate_closed {
            self.open_stall_gate(id); // publishers waiting for it go on
        }
        self.remember_closed(id);
        self.leave_account(id);
        for subscription in subscriptions {
            self.remove_subscription(&subscription);
        }
        if flush && !idle {
            // SHUT_RD makes the in-flight receive complete now; the send path shuts
            // the rest down once the output is flushed (see `Shard::sent`).
            // SAFETY: plain syscall on a descriptor this shard owns.
            unsafe { libc::shutdown(fd, libc::SHUT_RD) };
            self.mark_dirty(id);
        } else {
            shutdown_socket(fd);
        }
        self.closing.push(id);
    }

    /// Sends `-ERR '<text>'` and closes after flushing it.
    pub(super) fn close_with_error(&mut self, id: ConnId, text: &str, reason: &'static str) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if !conn.is_open() {
            return;
        }
        // Held replies (subscribe barrier) go out first, in order.
        conn.barrier_seq = 0;
        let held = std::mem::take(&mut conn.held_output);
        conn.out.queue(&held);
        encode_err(conn.out.pending_mut(), text);
        self.close(id, reason, true);
    }

    /// Closes a subscriber whose pending output or stalled send crossed a limit, and
    /// counts it, as nats-server does (no `-ERR`, no flush).
    pub(super) fn slow_consumer(&mut self, id: ConnId, reason: &'static str) {
        let config = self.config.clone();
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if !conn.is_open() {
            return;
        }
        // nats-server's notices (`queueOutbound`, `handleWriteTimeout`).
        let detail = if reason == crate::proto::errors::close_reason::SLOW_CONSUMER_WRITE_DEADLINE {
            format!(
                "WriteDeadline of {} exceeded with 1 chunks of {} total bytes.",
                crate::config::file::go_duration_text(config.write_deadline),
                conn.out.pending_bytes()
            )
        } else {
            format!("MaxPending of {} Exceeded", config.pending_bytes_max)
        };
        crate::info!(
            "{} - cid:{} - Slow Consumer Detected: {detail}",
            conn.peer,
            conn.cid
        );
        let account = conn.account;
        self.shared.stats[self.id]
            .slow_consumers
            .fetch_add(1, Ordering::Relaxed);
        if let Some(counter) = self.shared.account_slow_consumers.get(account.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.close(id, reason, false);
    }

    /// Frees closing connections whose io has completed.
    pub(super) fn release_closed(&mut self) {
        if self.closing.is_empty() {
            return;
        }
        let mut closing = std::mem::take(&mut self.closing);
        closing.retain(|&id| {
            let Some(conn) = self.conn_mut(id) else {
                return false;
            };
            if !conn.is_quiescent() {
                return true;
            }
            let fd = conn.fd;
            self.backend.forget(fd);
            // SAFETY: no operation on `fd` is in flight any more and the slot is removed
            // right after, so nothing uses the descriptor again.
            unsafe { libc::close(fd) };
            self.conns.remove(id.index as usize);
            self.shared.connections.fetch_sub(1, Ordering::AcqRel);
            self.shared.stats[self.id]
                .connections
                .fetch_sub(1, Ordering::Relaxed);
            false
        });
        closing.append(&mut self.closing);
        self.closing = closing;
    }
}
