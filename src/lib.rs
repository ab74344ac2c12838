//! ringnats: a drop-in replacement for `nats-server`, one pinned io_uring event loop per
//! core.
//!
//! # Architecture map
//!
//! ```text
//!   main.rs      flags (+ config) -> Config; signals; starts the server
//!   server.rs    bind SO_REUSEPORT listeners, build the ring mesh, spawn pinned shards
//!   shard/       the per-core loop: accept, read, parse, route, write, timers
//!   io/          the Backend interface and its io_uring implementation
//!   conn/        connection record, read buffer, outbound queue
//!   proto/       parser (zero-copy, resumable), CONNECT, INFO, encoders, -ERR texts
//!   subject/     subject validation and the Sublist (token trie + match cache)
//!   router/      SPSC ring, ring mesh + doorbells, envelopes, other shards' interest
//!   config/      Config with nats-server's defaults, Go-style flags, the conf file
//!                (auth.rs, users.rs, permissions.rs, accounts.rs, import_export.rs,
//!                account_links.rs read authorization {} and accounts {} into auth/)
//!   auth/        users, permissions and accounts: credential checks (bcrypt, nkeys,
//!                JWTs), compiled permissions, the account table with imports/exports
//!   shard/auth.rs, imports.rs, system.rs   authentication, cross-account delivery and
//!                the system account on the data path
//!   shard/stall.rs   fast-producer stalls: slow subscribers slow their publishers
//!   workers.rs   auth workers (bcrypt off the shards) and the $SYS responder thread
//!   monitor/     HTTP endpoints, $SYS answers and client advisories, /metrics
//!   log.rs       nats-server's log format
//! ```
//!
//! # Invariants
//!
//! - Architecture Invariant: a connection never leaves the shard that accepted it, and
//!   nothing on the data path is shared through a lock. Shards talk only through the
//!   bounded SPSC rings of `router::mesh`, one per ordered pair of shards.
//! - Architecture Invariant: every io operation carries its connection's slab index and
//!   generation; a completion for a closed or reused slot is dropped.
//! - Architecture Invariant: a connection's read buffer and in-flight send buffer are
//!   never moved or freed while the kernel owns them (one receive and one send in
//!   flight at most; a closing connection is freed only once both completed).
//! - Architecture Invariant: a PONG (and every reply after it) that follows a SUB or
//!   UNSUB which changed the shard's interest is sent only after every other shard has
//!   acknowledged that change (the subscribe barrier), so "subscribe, flush, publish
//!   from anywhere" always delivers.
//! - Architecture Invariant: every subscription, interest message and envelope belongs
//!   to one account, and a publish matches only its own account's tables; messages
//!   cross accounts only through configured imports.
//! - Architecture Invariant: no credential check slower than an nkey signature runs on
//!   a shard; bcrypt goes to the auth workers while the connection's input is paused.
//! - Messages from one publisher to one subscriber keep their order: one FIFO ring per
//!   shard pair, and one ordered outbound queue per connection.
//! - Architecture Invariant: a fast publisher is slowed, not its subscribers dropped. A
//!   client publish that reaches a subscriber over three quarters of `max_pending`
//!   parks the publisher's input (never a loop) on the publisher's own shard, until
//!   the subscriber catches up or for at most 10 ms per read (`shard::stall`); only a
//!   subscriber that is still taking bytes stalls anyone, so a stuck one is closed at
//!   its limit and costs its publishers at most `STALL_PROGRESS_WINDOW`. The bytes in
//!   flight between two shards are bounded by an eighth of `max_pending`.

pub mod auth;
pub mod config;
pub mod conn;
pub mod io;
pub mod jetstream;
pub mod log;
pub mod monitor;
pub mod proto;
pub mod reload;
pub mod router;
pub mod server;
pub mod shard;
pub mod subject;
pub mod workers;
