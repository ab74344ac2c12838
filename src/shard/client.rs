//! Client ops: what a shard does with each op a connection sends.
//!
//! The connection's read buffer is taken out of the record while its ops are handled,
//! so ops can borrow the received bytes (zero-copy) while deliveries mutate other
//! connections in the slab.

use std::rc::Rc;

use super::publish::Route;
use super::Shard;
use crate::auth::accounts::AccountId;
use crate::conn::{ConnId, ConnState, ProbeState, SubRef, Subscription};
use crate::io::Backend;
use crate::proto::encode::Delivery;
use crate::proto::errors::{self, close_reason};
use crate::proto::info::InfoKind;
use crate::proto::parser::{Op, Step};
use crate::router::ShardMsg;
use crate::subject::validate;

/// What handling one op asks of the input loop.
pub(super) enum Next {
    /// Go on with the next op.
    Continue,
    /// The connection is closing: stop processing its input.
    Stop,
    /// Leave this op unconsumed and pause the connection's input until in-flight
    /// interest changes are applied; the op is parsed again then.
    Wait,
}

impl<B: Backend> Shard<B> {
    /// Parses and handles every complete op in a connection's read buffer.
    pub(super) fn process_input(&mut self, id: ConnId) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if conn.stall_started.is_some() {
            return; // parked by a fast-producer stall; resumed when it ends
        }
        let mut read = conn.read.take();
        while let Some(conn) = self.conn_mut(id).filter(|conn| conn.is_open()) {
            match conn.parser.parse(read.unparsed()) {
                Step::Op { op, consumed } => match self.handle_op(id, op) {
                    Next::Continue => read.consume(consumed),
                    Next::Stop => {
                        read.consume(consumed);
                        break;
                    }
                    Next::Wait => break,
                },
                Step::NeedMore => break,
                Step::Error(error) => {
                    match error.err_text() {
                        Some(text) if error.closes_connection() => {
                            self.close_with_error(id, text, error.close_reason())
                        }
                        Some(text) => {
                            self.reply_err(id, text);
                            continue;
                        }
                        None => self.close(id, error.close_reason(), false),
                    }
                    break;
                }
            }
        }
        if let Some(conn) = self.conn_mut(id) {
            conn.read.restore(read);
        }
    }

    fn handle_op(&mut self, id: ConnId, op: Op<'_>) -> Next {
        crate::trace!(
            "cid:{} - <<- {:?}",
            self.conns[id.index as usize].cid,
            TraceOp(&op)
        );
        if !matches!(op, Op::Connect { .. })
            && self.awaiting_auth(id)
            && !self.admit_before_connect(id)
        {
            return Next::Stop;
        }
        match op {
            Op::Connect { json } => self.handle_connect(id, json),
            Op::Ping => {
                self.handle_ping(id);
                Next::Continue
            }
            Op::Pong => {
                let conn = &mut self.conns[id.index as usize];
                conn.pings_outstanding = 0;
                conn.rtt_measured = true;
                if let Some(sent) = conn.ping_sent_at.take() {
                    conn.rtt = round_trip(sent.elapsed());
                }
                Next::Continue
            }
            Op::Pub {
                subject,
                reply,
                payload,
                size_text,
            } => self.handle_pub(id, subject, reply, None, payload, size_text),
            Op::HPub {
                subject,
                reply,
                headers,
                payload,
                size_text,
            } => {
                if !self.conns[id.index as usize].options.headers {
                    // nats-server closes silently when a client that did not announce
                    // headers sends HPUB.
                    self.close(id, close_reason::PROTOCOL_VIOLATION, false);
                    return Next::Stop;
                }
                self.handle_pub(id, subject, reply, Some(headers), payload, size_text)
            }
            Op::Sub {
                subject,
                queue,
                sid,
            } => {
                self.handle_sub(id, subject, queue, sid);
                Next::Continue
            }
            Op::Unsub { sid, max } => {
                self.handle_unsub(id, sid, max);
                Next::Continue
            }
            // nats-server ignores `+OK` and INFO from a client; `-ERR` closes silently.
            Op::Ok | Op::Info { .. } => Next::Continue,
            Op::Err { .. } => {
                self.close(id, close_reason::PARSE_ERROR, false);
                Next::Stop
            }
        }
    }

    fn handle_ping(&mut self, id: ConnId) {
        self.reply(id, b"PONG\r\n");
        let info_template = self.info.clone();
        let conn = &mut self.conns[id.index as usize];
        // nats-server pushes the second INFO after the first PONG that follows CONNECT.
        if !conn.first_pong_sent && conn.state == ConnState::Ready {
            conn.first_pong_sent = true;
            if conn.options.protocol >= 1 {
                let client = conn.info_fields();
                let account = conn.account;
                let system = self.auth.accounts.system() == Some(account);
                let mut info = Vec::with_capacity(512);
                info_template.encode(
                    &mut info,
                    &client,
                    InfoKind::AfterConnect {
                        account: self.account_name(account),
                        system,
                    },
                );
                self.reply(id, &info);
            }
        }
    }

    fn handle_pub(
        &mut self,
        id: ConnId,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
        size_text: Option<crate::proto::parser::SizeText<'_>>,
    ) -> Next {
        // Looked up once: nothing below changes a Sublist before the message is routed.
        let route = self.route(id, subject);
        if self.conns[id.index as usize].probe == ProbeState::Answered {
            self.conns[id.index as usize].probe = ProbeState::Idle;
        } else if reaches_no_one(&route) && !self.reaches_through_imports(id, subject) {
            if self.interest_in_flight() {
                // A SUB parsed on another shard before this PUB may not have reached our
                // interest table yet; nats-server would deliver to it, so wait for it.
                self.wait_for_interest(id);
                return Next::Wait;
            }
            let options = &self.conns[id.index as usize].options;
            if reply.is_some() && options.no_responders && self.peer_acked.len() > 1 {
                // Before answering 503, let every peer handle the io it has already
                // received: a responder's SUB written before this request is applied.
                self.start_probe(id);
                return Next::Wait;
            }
        }
        let conn = &mut self.conns[id.index as usize];
        let (pedantic, verbose) = (conn.options.pedantic, conn.options.verbose);
        let size = (payload.len() + headers.map_or(0, <[u8]>::len)) as u64;
        conn.stats.in_msgs += 1;
        conn.stats.in_bytes += size;
        self.turn_stats.in_msgs += 1;
        self.turn_stats.in_bytes += size;
        if pedantic && !validate::is_valid_literal_subject(subject) {
            // nats-server answers the error and still routes the message (observed).
            self.reply_err(id, errors::INVALID_PUBLISH_SUBJECT);
        }
        if needs_publish_checks(&self.conns[id.index as usize], subject, reply)
            && !self.publish_allowed(id, subject, reply)
        {
            return Next::Continue;
        }
        // nats-server queues the +OK before the message reaches the publisher's own
        // subscriptions (observed: `+OK` precedes the echoed MSG).
        if verbose {
            self.reply(id, b"+OK\r\n");
        }
        let answered_by_server = subject.first() == Some(&b'$')
            && self.forward_system_request(id, subject, reply, payload);
        let message = Delivery {
            subject,
            sid: b"",
            reply,
            headers,
            payload,
            size_text,
        };
        self.producer = super::stall::Producer::Local(id);
        self.publish(id, &message, route, answered_by_server);
        self.producer = super::stall::Producer::Server;
        let stall_hit = self.stall_hit.take();
        if !self
            .conns
            .get(id.index as usize)
            .is_some_and(|conn| conn.is_open())
        {
            return Next::Stop;
        }
        match stall_hit {
            // Parked: the op is consumed, the rest of the input waits for the stall.
            Some(hit) if self.stall_local_producer(id, hit) => Next::Stop,
            _ => Next::Continue,
        }
    }

    fn handle_sub(&mut self, id: ConnId, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let account = self.conns[id.index as usize].account;
        let account_max = self.auth.accounts.limits(account).subscriptions_max;
        let subscriptions_max = match (self.config.subscriptions_max, account_max) {
            (0, Some(max)) => max as usize,
            (server, Some(max)) => server.min(max) as usize,
            (server, None) => server as usize,
        };
        let tokens_max = self.config.subscription_tokens_max as usize;
        let conn = &mut self.conns[id.index as usize];
        let verbose = conn.options.verbose;
        if !validate::is_valid_subject(subject) {
            self.reply_err(id, errors::INVALID_SUBJECT);
            return;
        }
        if queue == Some(validate::RESERVED_QUEUE_NAME) {
            // nats-server reserves `_sys_` and answers with a permissions violation.
            let text = format!(
                "Permissions Violation for Subscription to {} using queue {}",
                errors::go_quote(subject),
                errors::go_quote(validate::RESERVED_QUEUE_NAME)
            );
            self.reply_err(id, &text);
            return;
        }
        if tokens_max > 0 && validate::token_count(subject) > tokens_max {
            self.reply_err(id, errors::INVALID_SUBJECT);
            return;
        }
        if !self.subscribe_allowed(id, subject, queue, sid) {
            return;
        }
        let conn = &mut self.conns[id.index as usize];
        if subscriptions_max > 0 && conn.subs.len() >= subscriptions_max {
            self.reply_err(id, errors::MAXIMUM_SUBSCRIPTIONS_EXCEEDED);
            return;
        }
        if !conn.subs.contains_key(sid) {
            let subscription = Rc::new(Subscription {
                conn: id,
                account,
                sid: sid.into(),
                subject: subject.into(),
                queue: queue.map(Into::into),
                deliveries_max: Default::default(),
                delivered: Default::default(),
            });
            conn.subs.insert(sid.into(), subscription.clone());
            let outcome =
                self.accounts[account.index()]
                    .sublist
                    .insert(subject, queue, SubRef(subscription));
            self.shared.stats[self.id]
                .subscriptions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(queue) = queue {
                let weight = self.queue_weight_change(account, subject, queue, 1);
                self.announce_interest(id, account, subject, Some(queue), weight);
            } else if outcome.first_for_subject_queue {
                self.announce_interest(id, account, subject, None, 1);
            }
        }
        if verbose {
            self.reply(id, b"+OK\r\n");
        }
    }

    fn handle_unsub(&mut self, id: ConnId, sid: &[u8], max: Option<u64>) {
        let conn = &mut self.conns[id.index as usize];
        let verbose = conn.options.verbose;
        if let Some(subscription) = conn.subs.get(sid).cloned() {
            match max {
                Some(max) if max > subscription.delivered.get() => {
                    subscription.deliveries_max.set(max);
                }
                _ => self.remove_subscription(&subscription),
            }
        }
        if verbose {
            self.reply(id, b"+OK\r\n");
        }
    }

    /// Removes a subscription from its connection and the Sublist, telling peers when
    /// the shard's interest changes.
    pub(super) fn remove_subscription(&mut self, subscription: &Rc<Subscription>) {
        let id = subscription.conn;
        if let Some(conn) = self.conn_mut(id) {
            conn.subs.remove(&subscription.sid);
        }
        let queue = subscription.queue.as_deref();
        let account = subscription.account;
        let outcome = self.accounts[account.index()].sublist.remove(
            &subscription.subject,
            queue,
            &SubRef(subscription.clone()),
        );
        if outcome.found {
            self.shared.stats[self.id]
                .subscriptions
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            let subject = &subscription.subject;
            if let Some(queue) = queue {
                let weight = self.queue_weight_change(account, subject, queue, -1);
                self.announce_interest(id, account, subject, Some(queue), weight);
            } else if outcome.last_for_subject_queue {
                self.announce_interest(id, account, subject, None, 0);
            }
        }
    }

    /// Tells every peer our current weight on (subject, queue), and makes the
    /// connection that caused the change hold its replies until all peers applied it.
    fn announce_interest(
        &mut self,
        id: ConnId,
        account: AccountId,
        subject: &[u8],
        queue: Option<&[u8]>,
        weight: u32,
    ) {
        if self.peer_acked.len() <= 1 {
            return;
        }
        self.interest_seq += 1;
        let seq = self.interest_seq;
        let shards = self.peer_acked.len();
        for peer in (0..shards).filter(|&peer| peer != self.id) {
            self.shared.interest_announced[self.id * shards + peer]
                .0
                .fetch_add(1, std::sync::atomic::Ordering::Release);
        }
        for outbox in self.links.outboxes.iter_mut().flatten() {
            outbox.send(ShardMsg::Interest {
                seq,
                account: account.0,
                subject: subject.into(),
                queue: queue.map(Into::into),
                weight,
            });
        }
        crate::debug!(
            "shard {} announces interest seq {seq} in {:?} (queue {:?}) weight {weight}",
            self.id,
            String::from_utf8_lossy(subject),
            queue.map(String::from_utf8_lossy)
        );
        if let Some(conn) = self.conn_mut(id) {
            if conn.is_open() {
                conn.barrier_seq = seq;
                self.barrier_waiters.push(id);
            }
        }
    }

    /// Interest changes each peer has announced to this shard so far.
    fn announced_by_peers(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        let shards = self.peer_acked.len();
        (0..shards)
            .filter(move |&peer| peer != self.id)
            .map(move |peer| {
                let announced = self.shared.interest_announced[peer * shards + self.id]
                    .0
                    .load(std::sync::atomic::Ordering::Acquire);
                (peer, announced)
            })
    }

    /// True while some peer has announced interest changes we have not applied yet;
    /// raises the resume targets of waiting connections to what is announced now.
    fn interest_in_flight(&mut self) -> bool {
        let mut in_flight = false;
        let announced: Vec<(usize, u64)> = self.announced_by_peers().collect();
        for (peer, announced) in announced {
            if announced > self.interest_applied[peer] {
                in_flight = true;
                self.interest_wait_targets[peer] = self.interest_wait_targets[peer].max(announced);
            }
        }
        in_flight
    }

    /// Pauses a connection's input until in-flight interest changes are applied.
    fn wait_for_interest(&mut self, id: ConnId) {
        crate::debug!("shard {}: input waits for interest in flight", self.id);
        self.conns[id.index as usize].awaiting_interest = true;
        self.interest_waiters.push(id);
    }

    /// Pauses a connection's input and asks every peer to answer once it has handled
    /// the io it already received.
    fn start_probe(&mut self, id: ConnId) {
        let token = self.next_probe_token;
        self.next_probe_token += 1;
        let mut peers = 0;
        for outbox in self.links.outboxes.iter_mut().flatten() {
            outbox.send(ShardMsg::Probe { token });
            peers += 1;
        }
        self.probes.push((token, id, peers));
        let conn = &mut self.conns[id.index as usize];
        conn.probe = ProbeState::Waiting(token);
        conn.awaiting_interest = true;
    }

    /// Counts a peer's answer; when all answered, the paused request is routed again.
    pub(super) fn probe_answered(&mut self, token: u64) {
        let Some(index) = self.probes.iter().position(|(t, _, _)| *t == token) else {
            return;
        };
        self.probes[index].2 -= 1;
        if self.probes[index].2 > 0 {
            return;
        }
        let (_, id, _) = self.probes.swap_remove(index);
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if conn.probe != ProbeState::Waiting(token) {
            return;
        }
        conn.probe = ProbeState::Answered;
        conn.awaiting_interest = false;
        self.process_input(id);
        if !self.conn_mut(id).is_some_and(|conn| conn.awaiting_interest) {
            self.arm_recv(id);
        }
    }

    /// Resumes connections whose input waited for interest changes, once every change
    /// announced when they started waiting has been applied.
    pub(super) fn resume_interest_waiters(&mut self) {
        if self.interest_waiters.is_empty() {
            return;
        }
        let reached = self
            .interest_wait_targets
            .iter()
            .zip(&self.interest_applied)
            .all(|(target, applied)| applied >= target);
        if !reached {
            return;
        }
        crate::debug!(
            "shard {}: resuming {} waiting connection(s)",
            self.id,
            self.interest_waiters.len()
        );
        for id in std::mem::take(&mut self.interest_waiters) {
            let Some(conn) = self.conn_mut(id) else {
                continue;
            };
            conn.awaiting_interest = false;
            self.process_input(id);
            if !self.conn_mut(id).is_some_and(|conn| conn.awaiting_interest) {
                self.arm_recv(id);
            }
        }
    }

    /// Adjusts the count of local members of a queue group on a subject; returns the
    /// new count (the weight peers use to spread the group's messages).
    fn queue_weight_change(
        &mut self,
        account: AccountId,
        subject: &[u8],
        queue: &[u8],
        delta: i32,
    ) -> u32 {
        let weights = &mut self.accounts[account.index()].queue_weights;
        let key = (Box::<[u8]>::from(subject), Box::<[u8]>::from(queue));
        let weight = weights.entry(key.clone()).or_insert(0);
        *weight = weight.saturating_add_signed(delta);
        let weight = *weight;
        if weight == 0 {
            weights.remove(&key);
        }
        weight
    }

    /// The lowest interest sequence every peer has acknowledged.
    fn barrier_passed(&self, seq: u64) -> bool {
        self.peer_acked
            .iter()
            .enumerate()
            .all(|(peer, acked)| peer == self.id || *acked >= seq)
    }

    /// Queues a protocol reply (`+OK`, `PONG`, `-ERR`, INFO), holding it back while the
    /// connection waits for its subscribe barrier.
    pub(super) fn reply(&mut self, id: ConnId, bytes: &[u8]) {
        let conn = &mut self.conns[id.index as usize];
        conn.output().extend_from_slice(bytes);
        if conn.barrier_seq == 0 {
            self.mark_dirty(id);
        }
    }

    /// Queues `-ERR '<text>'` without closing.
    pub(super) fn reply_err(&mut self, id: ConnId, text: &str) {
        let mut frame = Vec::with_capacity(text.len() + 9);
        errors::encode_err(&mut frame, text);
        self.reply(id, &frame);
    }

    /// Releases the held replies of connections whose barrier has passed.
    pub(super) fn release_barrier_waiters(&mut self) {
        let mut waiters = std::mem::take(&mut self.barrier_waiters);
        waiters.retain(|&id| {
            let Some(conn) = self.conns.get(id.index as usize).filter(|c| c.id == id) else {
                return false;
            };
            if !self.barrier_passed(conn.barrier_seq) {
                return true;
            }
            let conn = &mut self.conns[id.index as usize];
            conn.barrier_seq = 0;
            let held = std::mem::take(&mut conn.held_output);
            conn.out.queue(&held);
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(id);
            }
            false
        });
        waiters.append(&mut self.barrier_waiters);
        self.barrier_waiters = waiters;
    }
}

/// True when a publish needs the permission and reserved-prefix checks: the client has
/// permissions, or the subject or reply starts like a reserved prefix (`$…`, `_…`).
/// Keeps the common publish free of them.
fn needs_publish_checks(conn: &crate::conn::Conn, subject: &[u8], reply: Option<&[u8]>) -> bool {
    let reserved_start = |bytes: &[u8]| matches!(bytes.first(), Some(b'$' | b'_'));
    conn.permissions.is_some() || reserved_start(subject) || reply.is_some_and(reserved_start)
}

/// True when a route reaches no subscriber on any shard.
fn reaches_no_one((local, remote): &Route) -> bool {
    local.is_empty() && remote.as_ref().is_none_or(|remote| remote.is_empty())
}

/// Formats an op for trace lines without copying the payload.
struct TraceOp<'a, 'b>(&'a Op<'b>);

impl std::fmt::Debug for TraceOp<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match self.0 {
            Op::Connect { json } => write!(
                f,
                "[CONNECT {}]",
                crate::proto::redact::redact_connect(json)
            ),
            Op::Ping => write!(f, "[PING]"),
            Op::Pong => write!(f, "[PONG]"),
            Op::Pub {
                subject,
                reply,
                payload,
                ..
            } => write!(
                f,
                "[PUB {} {}{}]",
                text(subject),
                reply.map(|r| text(r) + " ").unwrap_or_default(),
                payload.len()
            ),
            Op::HPub {
                subject,
                payload,
                headers,
                ..
            } => {
                write!(
                    f,
                    "[HPUB {} {} {}]",
                    text(subject),
                    headers.len(),
                    headers.len() + payload.len()
                )
            }
            Op::Sub {
                subject,
                queue,
                sid,
            } => write!(
                f,
                "[SUB {} {}{}]",
                text(subject),
                queue.map(|q| text(q) + " ").unwrap_or_default(),
                text(sid)
            ),
            Op::Unsub { sid, max } => write!(f, "[UNSUB {} {:?}]", text(sid), max),
            Op::Info { json } => write!(f, "[INFO {}]", text(json)),
            Op::Ok => write!(f, "[OK]"),
            Op::Err { message } => write!(f, "[-ERR {}]", text(message)),
        }
    }
}

/// A PING round trip as nats-server keeps it: whole microseconds below a millisecond.
fn round_trip(elapsed: std::time::Duration) -> std::time::Duration {
    let micros = std::time::Duration::from_micros(1);
    if elapsed > micros && elapsed < std::time::Duration::from_millis(1) {
        micros * elapsed.as_micros() as u32
    } else {
        elapsed
    }
}
