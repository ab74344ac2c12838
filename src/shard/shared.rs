//! What all shards share: the configuration, the pre-rendered INFO, the process-wide
//! client-id counter and connection count, the shutdown flag, and per-shard counters.
//!
//! Nothing here is touched per message: shards add their counters once per loop turn,
//! and the atomics that are touched per connection (ids, the connection count) are
//! touched only at accept and close.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::proto::info::InfoTemplate;

/// Counters one shard publishes; each on its own cache line so shards never share one.
#[derive(Default, Debug)]
#[repr(align(128))]
pub struct ShardStats {
    /// Messages received from clients.
    pub in_msgs: AtomicU64,
    /// Payload bytes received from clients.
    pub in_bytes: AtomicU64,
    /// Messages delivered to clients.
    pub out_msgs: AtomicU64,
    /// Payload bytes delivered to clients.
    pub out_bytes: AtomicU64,
    /// Clients closed as slow consumers.
    pub slow_consumers: AtomicU64,
    /// Clients closed as stale (ping_max).
    pub stale_connections: AtomicU64,
    /// Connections open on this shard now.
    pub connections: AtomicU64,
    /// Connections ever accepted by this shard.
    pub total_connections: AtomicU64,
    /// Subscriptions on this shard now.
    pub subscriptions: AtomicU64,
    /// Publishers stalled because a subscriber fell behind (`/varz` `stalled_clients`).
    pub stalled_clients: AtomicU64,
    /// Messages dropped for subscribers behind a closed stall gate under
    /// `no_fast_producer_stall` (not in nats-server, which drops them uncounted).
    pub stall_drops: AtomicU64,
}

/// Local counters a shard accumulates during a turn and publishes at its end.
#[derive(Default, Debug, Clone, Copy)]
pub struct TurnStats {
    /// See [`ShardStats::in_msgs`].
    pub in_msgs: u64,
    /// See [`ShardStats::in_bytes`].
    pub in_bytes: u64,
    /// See [`ShardStats::out_msgs`].
    pub out_msgs: u64,
    /// See [`ShardStats::out_bytes`].
    pub out_bytes: u64,
    /// See [`ShardStats::stalled_clients`].
    pub stalls: u64,
    /// See [`ShardStats::stall_drops`].
    pub stall_drops: u64,
}

impl ShardStats {
    /// Adds a turn's counters with relaxed stores (readers only sum them).
    pub fn publish(&self, turn: &mut TurnStats) {
        if turn.stalls | turn.stall_drops != 0 {
            self.stalled_clients
                .fetch_add(turn.stalls, Ordering::Relaxed);
            self.stall_drops
                .fetch_add(turn.stall_drops, Ordering::Relaxed);
            turn.stalls = 0;
            turn.stall_drops = 0;
        }
        if turn.in_msgs | turn.out_msgs | turn.in_bytes | turn.out_bytes == 0 {
            return;
        }
        self.in_msgs.fetch_add(turn.in_msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(turn.in_bytes, Ordering::Relaxed);
        self.out_msgs.fetch_add(turn.out_msgs, Ordering::Relaxed);
        self.out_bytes.fetch_add(turn.out_bytes, Ordering::Relaxed);
        *turn = TurnStats::default();
    }
}

/// Orders from the control plane (signals, reload) to every shard. Shards look for
/// them once per loop turn; a turn ends at least every `HOUSEKEEPING_INTERVAL_MAX`,
/// so no doorbell is needed for this slow path.
#[derive(Debug, Clone)]
pub enum ControlMsg {
    /// Use this configuration from now on (reloadable options only; see main.rs).
    Reload(Arc<Config>),
    /// Enter lame-duck mode: stop accepting, tell clients (`"ldm":true`), then close
    /// them spread over `duration - grace`, starting after `grace`.
    LameDuck {
        /// Time before the first client is closed.
        grace: Duration,
        /// Total time over which all clients are closed.
        duration: Duration,
    },
    /// Monitoring (`/connz`): copy the shard's connections into `reply`. Answered in the
    /// shard's next turn; not counted in `control_applied`.
    Connz {
        /// Copy each open connection's subscriptions too.
        subscriptions: bool,
        /// Include the closed connections the shard remembers.
        closed: bool,
        /// Where the answer goes.
        reply: tokio::sync::mpsc::UnboundedSender<crate::monitor::snapshot::ShardConnz>,
    },
    /// The off-shard credential check of a connection finished: `None` = refused.
    AuthDone {
        /// The connection that sent the CONNECT.
        conn: crate::conn::ConnId,
        /// Who it is, when accepted.
        outcome: AuthOutcome,
    },
    /// Publish a message from the server itself (a `$SYS` reply) in an account.
    Publish {
        /// The account to publish in.
        account: crate::auth::accounts::AccountId,
        /// The subject.
        subject: Box<[u8]>,
        /// The payload.
        payload: Box<[u8]>,
    },
    /// Monitoring (`/subsz`): the shard's Sublist counters (and subscriptions).
    Subsz {
        /// Copy the subscriptions too.
        subscriptions: bool,
        /// Only this account's counters and subscriptions (`None` = all accounts).
        account: Option<String>,
        /// Where the answer goes.
        reply: tokio::sync::mpsc::UnboundedSender<crate::monitor::snapshot::ShardSubsz>,
    },
}

impl ControlMsg {
    /// True for orders that change the shard (counted in `control_applied`), false for
    /// monitoring questions.
    pub fn is_order(&self) -> bool {
        matches!(self, Self::Reload(_) | Self::LameDuck { .. })
    }
}

/// The result of an off-shard credential check: who the client is, or `None`.
#[derive(Clone)]
pub struct AuthOutcome(pub Option<Arc<crate::auth::authenticate::Identity>>);

impl std::fmt::Debug for AuthOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Accepted"
        } else {
            "Refused"
        })
    }
}

/// A credential check too slow for a shard loop (bcrypt), run by an auth worker.
pub struct AuthJob {
    /// The shard of the connection.
    pub shard: usize,
    /// The connection waiting in `ConnState::Authenticating`.
    pub conn: crate::conn::ConnId,
    /// The check.
    pub check: crate::auth::authenticate::SlowCheck,
}

/// A request published in the system account on `$SYS.REQ.>`, for the control thread.
#[derive(Debug)]
pub struct SysRequest {
    /// The shard it was published on (its reply is published there).
    pub shard: usize,
    /// The account it was published in.
    pub account: crate::auth::accounts::AccountId,
    /// The request subject.
    pub subject: String,
    /// Where the answer goes.
    pub reply: Box<[u8]>,
    /// The request body (options JSON).
    pub payload: Box<[u8]>,
    /// For `$SYS.REQ.USER.INFO` (any account may ask): who asked.
    pub requester: Option<Box<Requester>>,
}

/// The client behind a `$SYS.REQ.USER.INFO` request, as nats-server's `UserInfo` shows it.
#[derive(Debug)]
pub struct Requester {
    /// The authenticated user (`""` without one).
    pub user: String,
    /// The client's account.
    pub account: String,
    /// Its permissions as configured; `None` = may do anything.
    pub permissions: Option<crate::auth::Permissions>,
    /// Time left until its credentials expire (a user JWT's `exp`).
    pub expires_in: Option<Duration>,
}

/// A client connected to or left an account: the system account hears of it
/// (`$SYS.ACCOUNT.<account>.CONNECT|DISCONNECT`), as nats-server announces it.
#[derive(Debug)]
pub struct ClientEvent {
    /// The shard of the client (the event is published there).
    pub shard: usize,
    /// Connected (true) or disconnected.
    pub connected: bool,
    /// What `/connz` would say of the client (stop and reason set on disconnect).
    pub client: crate::monitor::snapshot::ConnSnapshot,
}

/// Work for the control thread's `$SYS` responder.
#[derive(Debug)]
pub enum SysWork {
    /// A request to answer.
    Request(SysRequest),
    /// An event to announce.
    Event(Box<ClientEvent>),
}

/// A counter alone on its cache line (written by one shard, read by another).
#[derive(Default, Debug)]
#[repr(align(128))]
pub struct PaddedCounter(pub AtomicU64);

/// State shared by every shard of one server.
pub struct Shared {
    /// The validated configuration.
    pub config: Config,
    /// INFO, rendered once.
    pub info: InfoTemplate,
    /// The next client id (`cid`), process-wide like nats-server's.
    pub next_client_id: AtomicU64,
    /// Client connections open across all shards (for `max_connections`).
    pub connections: AtomicU32,
    /// Set once to stop every shard.
    pub shutdown: AtomicBool,
    /// One counter block per shard.
    pub stats: Vec<ShardStats>,
    /// Interest changes announced, per ordered pair (`from * shards + to`), counted when
    /// the SUB/UNSUB is parsed, before the message enters the ring. A shard that sees
    /// more announced than it has applied knows an interest change is in flight.
    pub interest_announced: Vec<PaddedCounter>,
    /// Control orders, one channel per shard.
    control: Vec<Sender<ControlMsg>>,
    /// Control orders applied, summed over shards (see [`Shared::broadcast`]).
    pub control_applied: AtomicU64,
    /// The receiving ends, each taken once by its shard at start-up.
    control_inboxes: Vec<Mutex<Option<Receiver<ControlMsg>>>>,
    /// Clients authenticated per account, across shards (account `max_connections`).
    pub account_connections: Vec<AtomicU32>,
    /// Slow consumers closed per account, across shards (`/accstatz`).
    pub account_slow_consumers: Vec<AtomicU64>,
    /// Slow credential checks, for the auth workers.
    pub auth_jobs: Sender<AuthJob>,
    /// The auth workers' end of `auth_jobs`.
    pub auth_job_inbox: Mutex<Receiver<AuthJob>>,
    /// `$SYS` requests, for the control thread.
    pub sys_requests: tokio::sync::mpsc::UnboundedSender<SysWork>,
    /// The key of service-import reply tags (see `shard::imports`), random per process.
    pub service_reply_secret: [u8; 16],
    /// The control thread's end of `sys_requests`, taken once.
    pub sys_request_inbox: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<SysWork>>>,
}

impl Shared {
    /// Builds the shared state for `shards` shards.
    pub fn new(config: Config, info: InfoTemplate, shards: usize) -> Self {
        let accounts = crate::auth::accounts::AccountTable::new(&config.auth).len();
        let (auth_jobs, auth_job_inbox) = channel();
        let (sys_requests, sys_request_inbox) = tokio::sync::mpsc::unbounded_channel();
        let (control, control_inboxes) = (0..shards)
            .map(|_| {
                let (sender, receiver) = channel();
                (sender, Mutex::new(Some(receiver)))
            })
            .unzip();
        Self {
            control,
            control_applied: AtomicU64::new(0),
            control_inboxes,
            account_connections: (0..accounts).map(|_| AtomicU32::new(0)).collect(),
            account_slow_consumers: (0..accounts).map(|_| AtomicU64::new(0)).collect(),
            auth_jobs,
            auth_job_inbox: Mutex::new(auth_job_inbox),
            sys_requests,
            sys_request_inbox: Mutex::new(Some(sys_request_inbox)),
            service_reply_secret: random_secret(),
            config,
            info,
            next_client_id: AtomicU64::new(1),
            connections: AtomicU32::new(0),
            shutdown: AtomicBool::new(false),
            stats: (0..shards).map(|_| ShardStats::default()).collect(),
            interest_announced: (0..shards * shards)
                .map(|_| PaddedCounter::default())
                .collect(),
        }
    }

    /// Sends a control order to every shard; returns the value `control_applied` reaches
    /// once every shard has applied it.
    pub fn broadcast(&self, message: &ControlMsg) -> u64 {
        let applied = self.control_applied.load(Ordering::Acquire);
        let mut sent = 0;
        for sender in &self.control {
            // A shard that has stopped no longer needs orders.
            if sender.send(message.clone()).is_ok() && message.is_order() {
                sent += 1;
            }
        }
        applied + sent
    }

    /// Sends one message to one shard's control inbox (the caller rings its doorbell).
    pub fn send_to(&self, shard: usize, message: ControlMsg) {
        if let Some(sender) = self.control.get(shard) {
            let _ = sender.send(message);
        }
    }

    /// The control inbox of `shard`; each shard takes its own once.
    pub fn take_control_inbox(&self, shard: usize) -> Receiver<ControlMsg> {
        self.control_inboxes[shard]
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take()
            .expect("each shard takes its control inbox once")
    }

    /// Sums one counter over all shards.
    pub fn total(&self, counter: impl Fn(&ShardStats) -> &AtomicU64) -> u64 {
        self.stats
            .iter()
            .map(|stats| counter(stats).load(Ordering::Relaxed))
            .sum()
    }
}

/// 16 bytes from the kernel's random source.
fn random_secret() -> [u8; 16] {
    let mut secret = [0u8; 16];
    crate::auth::authenticate::fill_random(&mut secret);
    secret
}
