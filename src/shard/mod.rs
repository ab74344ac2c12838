//! A shard: one pinned thread, one event loop, its own listener, connections,
//! subscriptions, buffers and timers.
//!
//! One turn of the loop: submit queued io and wait (bounded by the next timer); handle
//! the reaped completions (accepts, received bytes, finished sends); drain the inbound
//! rings from other shards; flush the outboxes to other shards and start one send per
//! connection with pending output; run due timers; release closed connections.
//!
//! Architecture Invariant: nothing on the data path is shared through a lock. A
//! connection never leaves the shard that accepted it.

mod account;
mod auth;
mod client;
mod close;
mod control;
mod imports;
mod monitor;
mod publish;
pub mod shared;
pub mod stall;
mod system;
mod timers;

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bumpalo::Bump;
use slab::Slab;

use crate::config::Config;
use crate::conn::{Conn, ConnId, ConnState, Outbound, ReadBuffer};
use crate::io::{Backend, Completion, OpKind, GENERATION_MASK};
use crate::proto::connect::ClientOptions;
use crate::proto::parser::{Parser, ParserLimits};
use crate::router::mesh::{in_flight_bytes_max, ShardLinks, OVERFLOW_MESSAGES_MAX};
use crate::router::ShardMsg;
use shared::{ControlMsg, Shared, TurnStats};

/// Match-cache entries per Sublist (nats-server's `slCacheMax`).
pub const SUBLIST_CACHE_ENTRIES: usize = 1024;
/// Messages taken from one inbound ring per turn, so one busy peer cannot starve the
/// shard's own sockets.
pub const INBOUND_BATCH_MAX: usize = 4096;
/// Completions reaped per turn are bounded by the ring size; this is the initial
/// capacity of the completion list.
pub const COMPLETIONS_PER_TURN: usize = 1024;
/// First wait after a temporary accept error (nats-server's ACCEPT_MIN_SLEEP).
pub const ACCEPT_DELAY_MIN: Duration = Duration::from_millis(10);
/// Longest wait between accept retries (nats-server's ACCEPT_MAX_SLEEP).
pub const ACCEPT_DELAY_MAX: Duration = Duration::from_secs(1);
/// How soon a shard retries an outbox whose ring was full.
pub const OVERFLOW_RETRY_INTERVAL: Duration = Duration::from_millis(1);
/// How often housekeeping (ping timers, write deadlines) runs at most.
pub const HOUSEKEEPING_INTERVAL_MAX: Duration = Duration::from_millis(250);

/// One shard's whole state; lives on its own thread.
pub struct Shard<B: Backend> {
    /// Index of this shard.
    id: usize,
    /// The io backend.
    backend: B,
    /// Our SO_REUSEPORT listener.
    listener: RawFd,
    /// Connections, indexed by `ConnId::index`.
    conns: Slab<Conn>,
    /// Next generation to stamp on a new connection.
    next_generation: u32,
    /// Subject tables, one per account, indexed by `AccountId`.
    accounts: Vec<account::AccountShard>,
    /// Who may connect, and the account table.
    auth: account::AuthState,
    /// Singleton service answers already delivered from this shard.
    answered_replies: imports::AnsweredReplies,
    /// Requests sent through service imports from this shard (reply tokens).
    service_requests: u64,
    /// Rings and doorbells to the other shards.
    links: ShardLinks,
    /// Server-wide shared state.
    shared: Arc<Shared>,
    /// The configuration in force (replaced on reload).
    config: Arc<Config>,
    /// INFO as this shard sends it (re-rendered when max_payload is reloaded).
    info: Arc<crate::proto::info::InfoTemplate>,
    /// Orders from the control plane.
    control: std::sync::mpsc::Receiver<ControlMsg>,
    /// Whether the listener still accepts (false in lame-duck mode).
    accepting: bool,
    /// When to re-arm accept after a temporary accept error.
    accept_rearm_at: Option<Instant>,
    /// The next wait after a temporary accept error.
    accept_delay: Duration,
    /// Lame-duck schedule, once entered.
    lame_duck: Option<control::LameDuckSchedule>,
    /// Completions reaped this turn.
    completions: Vec<Completion>,
    /// Connections with output queued this turn (each at most once: `Conn::dirty`).
    dirty: Vec<ConnId>,
    /// Connections being closed, released once their io has completed.
    closing: Vec<ConnId>,
    /// Connections whose receive is paused because an outbox overflowed.
    paused: Vec<ConnId>,
    /// Our interest-change sequence number (the subscribe barrier).
    interest_seq: u64,
    /// Highest interest sequence each peer has acknowledged.
    peer_acked: Vec<u64>,
    /// Highest interest sequence received from each peer this turn, to acknowledge.
    acks_owed: Vec<u64>,
    /// Interest changes applied from each peer (compared with
    /// `Shared::interest_announced`).
    interest_applied: Vec<u64>,
    /// Per peer, the interest-change count waiting connections need applied.
    interest_wait_targets: Vec<u64>,
    /// Connections whose input waits for in-flight interest changes.
    interest_waiters: Vec<ConnId>,
    /// Outstanding no-responders probes: token, connection, answers still missing.
    probes: Vec<(u64, ConnId, usize)>,
    /// The next probe token.
    next_probe_token: u64,
    /// Probes received from peers this turn, answered next turn: (peer, token).
    probe_acks_deferred: Vec<(usize, u64)>,
    /// Connections holding replies until the barrier passes.
    barrier_waiters: Vec<ConnId>,
    /// Who publishes the message being delivered now (stall decisions).
    producer: stall::Producer,
    /// The subscriber behind a closed stall gate that the delivery in progress reached.
    stall_hit: Option<stall::StallHit>,
    /// Publishers whose input is parked by a fast-producer stall.
    stalled: Vec<stall::StalledProducer>,
    /// Other shards' stall gates that stalled one of our publishers and have not
    /// opened since (few: one per lagging subscriber elsewhere).
    closed_remote_gates: Vec<stall::GateId>,
    /// When the "Producer was stalled" warning was last logged.
    stall_logged_at: Option<Instant>,
    /// Per-turn scratch (publish destinations), reset every turn.
    arena: Bump,
    /// Counters of this turn, published at its end.
    turn_stats: TurnStats,
    /// State of the queue-member chooser (xorshift).
    random_state: u64,
    /// When housekeeping runs next.
    next_housekeeping: Instant,
    /// Parser limits from the config.
    parser_limits: ParserLimits,
    /// Closed connections remembered for `/connz?state=closed`, oldest first.
    closed_conns: std::collections::VecDeque<Arc<crate::monitor::snapshot::ConnSnapshot>>,
}

impl<B: Backend> Shard<B> {
    /// Builds a shard around an already bound listener.
    pub fn new(
        id: usize,
        backend: B,
        listener: RawFd,
        links: ShardLinks,
        shared: Arc<Shared>,
    ) -> Self {
        let peers = links.outboxes.len();
        let parser_limits = ParserLimits {
            control_line_bytes_max: shared.config.control_line_bytes_max as usize,
            payload_bytes_max: shared.config.payload_bytes_max as usize,
        };
        let config = Arc::new(shared.config.clone());
        let info = Arc::new(shared.info.clone());
        let control = shared.take_control_inbox(id);
        let auth = account::AuthState::new(&shared.config.auth);
        Self {
            id,
            backend,
            listener,
            conns: Slab::with_capacity(256),
            next_generation: 0,
            accounts: (0..auth.accounts.len())
                .map(|_| account::AccountShard::new())
                .collect(),
            auth,
            answered_replies: Default::default(),
            service_requests: 0,
            links,
            shared,
            config,
            info,
            control,
            accepting: true,
            accept_rearm_at: None,
            accept_delay: ACCEPT_DELAY_MIN,
            lame_duck: None,
            completions: Vec::with_capacity(COMPLETIONS_PER_TURN),
            dirty: Vec::new(),
            closing: Vec::new(),
            paused: Vec::new(),
            interest_seq: 0,
            peer_acked: vec![0; peers],
            acks_owed: vec![0; peers],
            interest_applied: vec![0; peers],
            interest_wait_targets: vec![0; peers],
            interest_waiters: Vec::new(),
            probes: Vec::new(),
            next_probe_token: 1,
            probe_acks_deferred: Vec::new(),
            barrier_waiters: Vec::new(),
            producer: stall::Producer::Server,
            stall_hit: None,
            stalled: Vec::new(),
            closed_remote_gates: Vec::new(),
            stall_logged_at: None,
            arena: Bump::with_capacity(64 * 1024),
            turn_stats: TurnStats::default(),
            random_state: 0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1),
            next_housekeeping: Instant::now(),
            parser_limits,
            closed_conns: Default::default(),
        }
    }

    /// Runs the loop until shutdown.
    pub fn run(mut self) {
        self.backend.arm_accept(self.listener);
        let doorbell = self.links.doorbell.raw_fd();
        self.backend.arm_doorbell(doorbell);
        while !self.shared.shutdown.load(Ordering::Acquire) {
            let timeout = self.wait_timeout();
            if let Err(error) = self.backend.wait(Some(timeout), &mut self.completions) {
                crate::error!("shard {}: io wait failed: {error}", self.id);
                break;
            }
            let mut completions = std::mem::take(&mut self.completions);
            for completion in completions.drain(..) {
                self.handle_completion(completion);
            }
            self.completions = completions;
            self.drain_inbound();
            self.handle_control();
            self.resume_interest_waiters();
            self.release_due_stalls(Instant::now());
            self.flush();
            let now = Instant::now();
            if now >= self.next_housekeeping {
                self.housekeeping(now);
            }
            self.release_closed();
            self.shared.stats[self.id].publish(&mut self.turn_stats);
            self.arena.reset();
        }
        self.shut_down_connections();
    }

    /// How long the next wait may block: zero when work is already waiting.
    fn wait_timeout(&mut self) -> Duration {
        let inbound_waiting = self
            .links
            .inboxes
            .iter_mut()
            .flatten()
            .any(|inbox| !inbox.is_empty_for_sleep());
        // Work queued after this turn's flush (housekeeping's PINGs, a close's interest
        // change) must not wait for the next timer. Closing connections need no spin:
        // their in-flight io completes and wakes the loop.
        let unflushed = !self.dirty.is_empty()
            || self
                .links
                .outboxes
                .iter()
                .flatten()
                .any(|outbox| outbox.has_uncommitted());
        let gate_opened = self.stalled.iter().any(|stalled| stalled.gate_opened);
        if inbound_waiting
            || unflushed
            || gate_opened
            || !self.interest_waiters.is_empty()
            || !self.probe_acks_deferred.is_empty()
        {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let stall_ends = self.stalled.iter().map(|stalled| stalled.until).min();
        let timer = stall_ends
            .map_or(self.next_housekeeping, |end| {
                end.min(self.next_housekeeping)
            })
            .saturating_duration_since(now)
            .min(HOUSEKEEPING_INTERVAL_MAX);
        let overflowing = self
            .links
            .outboxes
            .iter()
            .flatten()
            .any(|outbox| outbox.overflow_len() > 0);
        if overflowing || !self.paused.is_empty() {
            // A full ring drains as the peer works; retry soon without spinning.
            timer.min(OVERFLOW_RETRY_INTERVAL)
        } else {
            timer
        }
    }

    fn handle_completion(&mut self, completion: Completion) {
        match completion.token.kind() {
            Some(OpKind::Accept) => self.accepted(completion),
            Some(OpKind::Recv) => self.received(completion),
            Some(OpKind::Send) => self.sent(completion),
            Some(OpKind::Doorbell) => {
                // The rings are drained every turn; just watch the doorbell again.
                self.backend.arm_doorbell(self.links.doorbell.raw_fd());
            }
            None => debug_assert!(
                false,
                "completion with unknown token {:?}",
                completion.token
            ),
        }
    }

    /// Looks up a live connection by id; `None` for closed or reused slots.
    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns
            .get_mut(id.index as usize)
            .filter(|conn| conn.id.generation == id.generation)
    }

    fn accepted(&mut self, completion: Completion) {
        if !self.accepting {
            if completion.result >= 0 {
                // SAFETY: a socket accepted just before lame-duck mode; nobody owns it.
                unsafe { libc::close(completion.result) };
            }
            return;
        }
        if completion.result < 0 {
            self.accept_failed(completion);
            return;
        }
        self.accept_delay = ACCEPT_DELAY_MIN;
        if !completion.more {
            self.backend.arm_accept(self.listener);
        }
        let fd = completion.result;
        let connections_max = self.config.connections_max;
        let open = self.shared.connections.fetch_add(1, Ordering::AcqRel) + 1;
        let Some(peer) = peer_address(fd) else {
            self.shared.connections.fetch_sub(1, Ordering::AcqRel);
            // SAFETY: `fd` came from accept and is owned by nobody else.
            unsafe { libc::close(fd) };
            return;
        };
        set_nodelay(fd);
        let id = self.insert_conn(fd, peer);
        let stats = &self.shared.stats[self.id];
        stats.connections.fetch_add(1, Ordering::Relaxed);
        stats.total_connections.fetch_add(1, Ordering::Relaxed);
        let conn = &mut self.conns[id.index as usize];
        crate::debug!(
            "{} - cid:{} - Client connection created on shard {}",
            conn.peer,
            conn.cid,
            self.id
        );
        self.greet(id);
        self.mark_dirty(id);
        if open > connections_max {
            self.close_with_error(
                id,
                crate::proto::errors::MAXIMUM_CONNECTIONS_EXCEEDED,
                crate::proto::errors::close_reason::MAX_CONNECTIONS_EXCEEDED,
            );
            return;
        }
        self.arm_recv(id);
    }

    /// An accept error: out of descriptors or memory is temporary, so wait before
    /// accepting again (10 ms doubling to 1 s, nats-server's ACCEPT_MIN/MAX_SLEEP)
    /// instead of spinning; anything else re-arms at once.
    fn accept_failed(&mut self, completion: Completion) {
        let errno = -completion.result;
        let error = std::io::Error::from_raw_os_error(errno);
        let temporary = matches!(
            errno,
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM
        );
        if !temporary {
            crate::error!("Error accepting client connection: {error}");
            if !completion.more {
                self.backend.arm_accept(self.listener);
            }
            return;
        }
        crate::error!(
            "Temporary Client Accept Error({error}), sleeping {}ms",
            self.accept_delay.as_millis()
        );
        if !completion.more {
            self.accept_rearm_at = Some(Instant::now() + self.accept_delay);
            self.next_housekeeping = self
                .next_housekeeping
                .min(Instant::now() + self.accept_delay);
        }
        self.accept_delay = (self.accept_delay * 2).min(ACCEPT_DELAY_MAX);
    }

    fn insert_conn(&mut self, fd: RawFd, peer: SocketAddr) -> ConnId {
        let now = Instant::now();
        let generation = self.next_generation;
        self.next_generation = (self.next_generation + 1) & GENERATION_MASK;
        let entry = self.conns.vacant_entry();
        let id = ConnId {
            index: entry.key() as u32,
            generation,
        };
        entry.insert(Conn {
            id,
            fd,
            cid: self.shared.next_client_id.fetch_add(1, Ordering::Relaxed),
            peer,
            state: ConnState::AwaitingConnect,
            read: ReadBuffer::new(),
            recv_in_flight: false,
            recv_paused: false,
            out: Outbound::default(),
            parser: Parser::new(self.parser_limits),
            options: ClientOptions::default(),
            subs: Default::default(),
            pings_outstanding: 0,
            rtt_measured: false,
            last_activity: now,
            // nats-server starts the ping timer at CONNECT (`setFirstPingTimer`); until
            // then only a client idle for a whole ping interval is pinged.
            next_ping: now + self.config.ping_interval,
            first_pong_sent: false,
            held_output: Vec::new(),
            barrier_seq: 0,
            awaiting_interest: false,
            probe: Default::default(),
            last_route: None,
            dirty: false,
            stats: Default::default(),
            started: now,
            close_reason: None,
            rtt: Duration::ZERO,
            ping_sent_at: None,
            stall_gate: None,
            stall_started: None,
            stall_in_read: Duration::ZERO,
            remote_gate: None,
            account: crate::auth::accounts::AccountId::GLOBAL,
            user: None,
            permissions: None,
            reply_grants: None,
            delivery_filter: false,
            nonce: None,
            auth_deadline: None,
            auth_expires: None,
            account_counted: false,
            pending_connect: None,
        });
        id
    }

    /// Submits a receive for a connection (not while one is in flight or paused).
    fn arm_recv(&mut self, id: ConnId) {
        let op_bytes_max = (self.parser_limits.payload_bytes_max
            + self.parser_limits.control_line_bytes_max)
            .saturating_add(64);
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if conn.recv_in_flight
            || conn.recv_paused
            || conn.stall_started.is_some()
            || !conn.is_open()
            || conn.state == ConnState::Authenticating
        {
            return;
        }
        let Some((buf, len)) = conn.read.spare(op_bytes_max) else {
            // The parser bounds ops below this size; reaching it is a bug.
            unreachable!("read buffer full with a partial op below the parser's limits");
        };
        conn.recv_in_flight = true;
        let fd = conn.fd;
        // SAFETY: the buffer belongs to the connection, which is not freed or resized
        // while `recv_in_flight` is set (see `release_closed` and `ReadBuffer::spare`).
        unsafe { self.backend.recv(id, fd, buf, len) };
    }

    fn received(&mut self, completion: Completion) {
        let id = completion.token.conn();
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        conn.recv_in_flight = false;
        if !conn.is_open() {
            return;
        }
        if completion.result <= 0 {
            let reason = if completion.result == 0 {
                crate::proto::errors::close_reason::CLIENT_CLOSED
            } else {
                crate::proto::errors::close_reason::READ_ERROR
            };
            self.close(id, reason, false);
            return;
        }
        conn.read.filled(completion.result as usize);
        conn.last_activity = Instant::now();
        if conn.stall_started.is_some() {
            // A stall arrived from another shard while this receive was in flight: the
            // bytes wait, parsed when the stall ends.
            return;
        }
        self.reset_read_stall(id);
        self.process_input(id);
        if self
            .conn_mut(id)
            .is_some_and(|conn| conn.awaiting_interest || conn.state == ConnState::Authenticating)
        {
            // Re-armed once the input is processed (resume_interest_waiters) or the
            // credentials are checked (auth_done).
            return;
        }
        if self.backpressured() {
            if let Some(conn) = self.conn_mut(id) {
                conn.recv_paused = true;
                self.paused.push(id);
            }
            return;
        }
        self.arm_recv(id);
    }

    fn sent(&mut self, completion: Completion) {
        let id = completion.token.conn();
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if completion.result < 0 {
            conn.out.failed();
            if conn.is_open() {
                self.close(id, crate::proto::errors::close_reason::WRITE_ERROR, false);
            }
            return;
        }
        let took_all = conn.out.sent(completion.result as usize);
        let gate_closed = conn.stall_gate.is_some();
        if conn.out.wants_send() {
            self.mark_dirty(id);
        } else if matches!(conn.state, ConnState::Closing { flush: true }) {
            shutdown_socket(conn.fd);
        }
        if gate_closed {
            self.check_stall_gate_after_send(id, took_all);
        }
    }

    /// Queues a connection for a send at the end of the turn.
    fn mark_dirty(&mut self, id: ConnId) {
        if let Some(conn) = self.conn_mut(id) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// True while an outbox is over its overflow or in-flight bound: stop reading
    /// publishers.
    fn backpressured(&self) -> bool {
        let bytes_max = in_flight_bytes_max(self.config.pending_bytes_max);
        self.links.outboxes.iter().flatten().any(|outbox| {
            outbox.overflow_len() > OVERFLOW_MESSAGES_MAX || outbox.bytes_in_flight() > bytes_max
        })
    }

    /// End of turn: hand batches to peers, start one send per dirty connection.
    fn flush(&mut self) {
        for outbox in self.links.outboxes.iter_mut().flatten() {
            outbox.flush();
        }
        if !self.paused.is_empty() && !self.backpressured() {
            for id in std::mem::take(&mut self.paused) {
                if let Some(conn) = self.conn_mut(id) {
                    conn.recv_paused = false;
                }
                self.arm_recv(id);
            }
        }
        let now = Instant::now();
        for id in std::mem::take(&mut self.dirty) {
            let Some(conn) = self.conn_mut(id) else {
                continue;
            };
            conn.dirty = false;
            if let Some((buf, len)) = conn.out.start_send(now) {
                let fd = conn.fd;
                // SAFETY: the outbound's in-flight buffer is not touched until its
                // completion (`Outbound::sent`), and the connection is not freed while a
                // send is in flight.
                unsafe { self.backend.send(id, fd, buf, len) };
            }
        }
    }

    /// Takes everything the peers sent, within a per-ring batch bound.
    fn drain_inbound(&mut self) {
        // Probes that arrived last turn are answered now, after this turn's wait reaped
        // and handled every completion the kernel had ready: see `answer_probes`.
        self.answer_probes();
        let mut inboxes = std::mem::take(&mut self.links.inboxes);
        for (peer, inbox) in inboxes.iter_mut().enumerate() {
            let Some(inbox) = inbox else { continue };
            let mut messages = Vec::new();
            inbox.drain(INBOUND_BATCH_MAX, |message| messages.push(message));
            let bytes: usize = messages.iter().map(ShardMsg::size).sum();
            for message in messages {
                self.handle_peer_message(peer, message);
            }
            self.links.consumed(peer, bytes as u64);
        }
        self.links.inboxes = inboxes;
        for peer in 0..self.acks_owed.len() {
            let seq = std::mem::take(&mut self.acks_owed[peer]);
            if seq > 0 {
                if let Some(outbox) = self.links.outboxes[peer].as_mut() {
                    outbox.send(ShardMsg::InterestAck { seq });
                }
            }
        }
    }

    fn handle_peer_message(&mut self, peer: usize, message: ShardMsg) {
        match message {
            ShardMsg::Deliver(envelope) => self.deliver_envelope(peer, &envelope),
            ShardMsg::Interest {
                seq,
                account,
                subject,
                queue,
                weight,
            } => {
                crate::debug!(
                    "shard {} applies interest seq {seq} of shard {peer} in {:?} weight {weight}",
                    self.id,
                    String::from_utf8_lossy(&subject)
                );
                if let Some(tables) = self.accounts.get_mut(account as usize) {
                    tables
                        .interest
                        .apply(peer, &subject, queue.as_deref(), weight);
                }
                self.interest_applied[peer] += 1;
                self.acks_owed[peer] = self.acks_owed[peer].max(seq);
            }
            ShardMsg::Probe { token } => self.probe_acks_deferred.push((peer, token)),
            ShardMsg::ProbeAck { token } => self.probe_answered(token),
            ShardMsg::Stall {
                publisher,
                subscriber,
            } => self.stall_requested(peer, publisher, subscriber),
            ShardMsg::StallRelease { subscriber } => self.stall_released(peer, subscriber),
            ShardMsg::InterestAck { seq } => {
                crate::debug!("shard {} got ack {seq} from shard {peer}", self.id);
                self.peer_acked[peer] = self.peer_acked[peer].max(seq);
                self.release_barrier_waiters();
            }
        }
    }

    /// Answers the probes received in the previous turn.
    ///
    /// A probe asks "have you handled the io you had received when I asked?". Bytes that
    /// reached one of our sockets before the probe was sent are not yet a completion in
    /// the turn that drains the probe: io_uring posts a receive only when the loop next
    /// enters the kernel (deferred task work), and epoll reports readiness only at the
    /// next `epoll_wait`. So a probe is answered one turn later, after a wait (with a
    /// zero timeout, see `wait_timeout`) has reaped those receives and their ops were
    /// handled; interest changes they caused sit in the ring ahead of the answer.
    fn answer_probes(&mut self) {
        for (peer, token) in std::mem::take(&mut self.probe_acks_deferred) {
            if let Some(outbox) = self.links.outboxes[peer].as_mut() {
                outbox.send(ShardMsg::ProbeAck { token });
            }
        }
    }

    /// Closes every connection at shutdown (nats-server: "Server Shutdown").
    fn shut_down_connections(&mut self) {
        for (_, conn) in self.conns.iter() {
            shutdown_socket(conn.fd);
            // SAFETY: the process is stopping this shard; no further io is submitted and
            // the kernel only completes in-flight operations against a closed fd.
            unsafe { libc::close(conn.fd) };
        }
        self.conns.clear();
    }
}

/// The peer address of an accepted socket.
fn peer_address(fd: RawFd) -> Option<SocketAddr> {
    // SAFETY: `storage` is large enough for any address; the kernel fills `len`.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: valid pointers to live locals.
    let rc = unsafe {
        libc::getpeername(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    crate::server::sockaddr_to_std(&storage)
}

/// Turns off Nagle, as Go does by default for nats-server's sockets.
fn set_nodelay(fd: RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a pointer to a live int of the right size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// Shuts both directions so in-flight operations complete and the peer sees EOF.
fn shutdown_socket(fd: RawFd) {
    // SAFETY: plain syscall on a descriptor this shard owns.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}
