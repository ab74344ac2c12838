//! The connection record: identity, state, read buffer, outbound queue, the options the
//! client sent in CONNECT, its subscriptions and its counters.
//!
//! A connection never leaves the shard that accepted it. It lives in the shard's slab;
//! its [`ConnId`] (slab index + generation) travels in io `user_data` and in subscription
//! records, so anything that refers to a closed connection is recognised and dropped.

pub mod outbound;
pub mod read_buffer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::auth::accounts::AccountId;
use crate::auth::permissions::{CompiledPermissions, ReplyGrants};
use crate::proto::connect::ClientOptions;
use crate::proto::parser::Parser;
use crate::subject::sublist::Sublist;

pub use outbound::Outbound;
pub use read_buffer::ReadBuffer;

/// A shard-local connection id: slab index plus the generation of that slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    /// Index in the shard's slab.
    pub index: u32,
    /// Bumped each time the slot is reused (24 bits used, see `io::GENERATION_MASK`).
    pub generation: u32,
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// Accepted and INFO sent; CONNECT not yet received (ops are still accepted, as
    /// nats-server does when no auth is configured).
    AwaitingConnect,
    /// CONNECT received; its credentials are being checked off the shard (bcrypt).
    /// Input is paused until the answer comes back.
    Authenticating,
    /// CONNECT processed.
    Ready,
    /// Being closed: no more input is processed. With `flush`, pending output (an
    /// `-ERR`) is sent first; without, the socket is shut down at once.
    Closing {
        /// Send what is queued before shutting the socket down.
        flush: bool,
    },
}

/// The no-responders probe of a connection's current request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProbeState {
    /// No probe: a request that reaches no one starts one.
    #[default]
    Idle,
    /// Input is paused until every peer answered the probe with this token.
    Waiting(u64),
    /// The peers answered: the next op (the same request, parsed again) is routed
    /// without probing, and gets the 503 if it still reaches no one.
    Answered,
}

/// One subscription, shared between the connection's sid map and the shard's Sublist.
#[derive(Debug)]
pub struct Subscription {
    /// The connection that owns it.
    pub conn: ConnId,
    /// The account whose subject space it lives in (its connection's).
    pub account: AccountId,
    /// The client's subscription id, echoed in MSG.
    pub sid: Box<[u8]>,
    /// The subject pattern.
    pub subject: Box<[u8]>,
    /// The queue group, if any.
    pub queue: Option<Box<[u8]>>,
    /// Auto-unsubscribe after this many deliveries (`UNSUB sid max`); 0 = never.
    pub deliveries_max: std::cell::Cell<u64>,
    /// Messages delivered so far.
    pub delivered: std::cell::Cell<u64>,
}

/// The last publish route of a connection (nats-server's per-client L1 cache, one
/// entry): valid while both Sublists keep the generations it was taken at.
pub struct CachedRoute {
    /// The published subject.
    pub subject: Box<[u8]>,
    /// Local subscribers it reached.
    pub local: Rc<crate::subject::SublistResult<SubRef>>,
    /// Other shards' interest it reached (`None`: no peer had any interest).
    pub remote: Option<Rc<crate::subject::SublistResult<crate::router::interest::RemoteInterest>>>,
    /// `Sublist::generation` of the local table when taken.
    pub local_generation: u64,
    /// Generation of the interest table when taken.
    pub remote_generation: u64,
}

/// A handle to a subscription compared by identity, as the Sublist stores it.
#[derive(Clone, Debug)]
pub struct SubRef(pub Rc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// The shard's local subscription table.
pub type LocalSublist = Sublist<SubRef>;

/// Per-connection message counters, as `/connz` reports them.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnStats {
    /// Messages published by this client.
    pub in_msgs: u64,
    /// Payload bytes published by this client.
    pub in_bytes: u64,
    /// Messages delivered to this client.
    pub out_msgs: u64,
    /// Payload bytes delivered to this client.
    pub out_bytes: u64,
    /// Times a publisher was stalled because this client fell behind (nats-server
    /// counts stalls on the slow consumer, `/connz` `stalls`).
    pub stalls: u64,
}

/// One client connection.
pub struct Conn {
    /// This slot's id (index + generation).
    pub id: ConnId,
    /// The socket; owned, closed by the shard once no operation is in flight.
    pub fd: RawFd,
    /// The process-wide client id (`cid`), from a global counter.
    pub cid: u64,
    /// The peer's address.
    pub peer: SocketAddr,
    /// Life-cycle state.
    pub state: ConnState,
    /// Received bytes not yet parsed.
    pub read: ReadBuffer,
    /// True while a receive is in flight (its buffer must not move).
    pub recv_in_flight: bool,
    /// True while reading is paused for backpressure or a subscribe barrier.
    pub recv_paused: bool,
    /// Bytes waiting to be sent, and the send in flight.
    pub out: Outbound,
    /// Resumable protocol parser state.
    pub parser: Parser,
    /// What the client said in CONNECT (nats-server defaults before it).
    pub options: ClientOptions,
    /// Subscriptions by sid.
    pub subs: HashMap<Box<[u8]>, Rc<Subscription>>,
    /// PINGs sent by the server and not yet answered.
    pub pings_outstanding: u32,
    /// Whether a PONG answered one of our PINGs yet (nats-server's RTT measurement:
    /// until then, the ping timer pings even an active client).
    pub rtt_measured: bool,
    /// When the client last sent us anything (for the ping timer).
    pub last_activity: Instant,
    /// When the ping timer next fires for this connection.
    pub next_ping: Instant,
    /// Whether the first PONG has been sent (the second INFO follows it, protocol 1).
    pub first_pong_sent: bool,
    /// Output held back, in order, until the subscribe barrier passes: replies and
    /// deliveries queued after a SUB/UNSUB that changed the shard's interest.
    pub held_output: Vec<u8>,
    /// The interest sequence the held output waits for; 0 when not waiting.
    pub barrier_seq: u64,
    /// Input processing is paused until in-flight interest changes from other shards
    /// are applied (a publish that would reach no one waits for them).
    pub awaiting_interest: bool,
    /// Where the connection is in a no-responders probe (see `shard::client`).
    pub probe: ProbeState,
    /// The last publish route (a one-entry cache; `None` until the first publish).
    pub last_route: Option<Box<CachedRoute>>,
    /// Listed in the shard's dirty list this turn (each connection at most once).
    pub dirty: bool,
    /// Message counters.
    pub stats: ConnStats,
    /// When the connection was accepted.
    pub started: Instant,
    /// Why it was closed, once known (nats-server's ClosedState text).
    pub close_reason: Option<&'static str>,
    /// The account the client authenticated into (`$G` before CONNECT).
    pub account: AccountId,
    /// The authenticated user (name or nkey), as `/connz` shows it.
    pub user: Option<Box<str>>,
    /// What the user may publish and subscribe to; `None` = everything.
    pub permissions: Option<Arc<CompiledPermissions>>,
    /// Reply subjects this client may answer (`allow_responses`); `None` without it.
    pub reply_grants: Option<Box<ReplyGrants>>,
    /// A wildcard subscription overlaps a subscribe deny entry, so deliveries are
    /// checked against the deny list (nats-server's `mperms`).
    pub delivery_filter: bool,
    /// The nonce sent in INFO for nkey signatures (base64), when required.
    pub nonce: Option<[u8; 15]>,
    /// Authentication must complete before this instant (`auth_timeout`), when
    /// authentication is required and not done yet.
    pub auth_deadline: Option<Instant>,
    /// When the client's credentials expire (a user JWT's `exp`); the client is
    /// closed with `User Authentication Expired` then.
    pub auth_expires: Option<Instant>,
    /// Counted in its account's connection total (undone at close).
    pub account_counted: bool,
    /// The checks of a CONNECT whose credentials are being verified off the shard;
    /// set only in `ConnState::Authenticating`.
    pub pending_connect: Option<crate::proto::connect::ConnectChecks>,
    /// The last PING round trip measured (zero before the first PONG), for `/connz`.
    pub rtt: std::time::Duration,
    /// When the PING awaiting its PONG was sent.
    pub ping_sent_at: Option<Instant>,
    /// As a subscriber: its stall gate, closed (`Some`) while its pending output is
    /// above three quarters of `max_pending` (see `shard::stall`).
    pub stall_gate: Option<Box<crate::shard::stall::StallGate>>,
    /// As a publisher: since when its input is parked by a fast-producer stall; while
    /// set, no op is parsed and no receive is armed.
    pub stall_started: Option<Instant>,
    /// As a publisher: time stalled during the current read of its socket.
    pub stall_in_read: std::time::Duration,
    /// As a publisher: the other shard's gate that stalled it last (it stalls again on
    /// sends there while that gate stays closed).
    pub remote_gate: Option<crate::shard::stall::GateId>,
}

impl Conn {
    /// True when the connection may still process input and accept deliveries.
    pub fn is_open(&self) -> bool {
        !matches!(self.state, ConnState::Closing { .. })
    }

    /// Where output goes now: the held buffer while waiting at the subscribe barrier,
    /// else the outbound queue.
    pub fn output(&mut self) -> &mut Vec<u8> {
        if self.barrier_seq > 0 {
            &mut self.held_output
        } else {
            self.out.pending_mut()
        }
    }

    /// Bytes queued for this client, held or pending (compared to `max_pending`).
    pub fn pending_bytes(&self) -> usize {
        self.out.pending_bytes() + self.held_output.len()
    }

    /// The client's own INFO fields: its id, its address, and the `max_payload` its
    /// parser enforces (the server's, or its account's if lower).
    pub fn info_fields(&self) -> crate::proto::info::ClientFields {
        crate::proto::info::ClientFields {
            client_id: self.cid,
            client_ip: self.peer.ip(),
            payload_max: self.parser.limits().payload_bytes_max as u32,
        }
    }

    /// True once no io is in flight, so the socket and buffers may be released.
    pub fn is_quiescent(&self) -> bool {
        !self.recv_in_flight && !self.out.send_in_flight()
    }
}
