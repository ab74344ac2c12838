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
//!   auth/        the configuration's view of users, permissions and accounts
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
//! - Messages from one publisher to one subscriber keep their order: one FIFO ring per
//!   shard pair, and one ordered outbound queue per connection.

pub mod auth;
pub mod config;
pub mod conn;
pub mod io;
pub mod log;
pub mod monitor;
pub mod proto;
pub mod reload;
pub mod router;
pub mod server;
pub mod shard;
pub mod subject;
pub mod workers;
