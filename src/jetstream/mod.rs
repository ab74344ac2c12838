//! JetStream: streams with sequence numbers and acknowledgements, persisted in
//! nats-server's file-store format.
//!
//! The layout follows DESIGN.md §7: every stream lives on one home shard, which owns its
//! store; publishes that match a stream's subjects travel to that shard as ordinary
//! envelopes; the `$JS.API` requests are served by internal subscriptions.
//!
//! - [`store`]: the on-disk format (blocks of checksummed records, `meta.inf`,
//!   `meta.sum`), the in-memory index, limits, and the memory store.
//! - [`api`]: the JSON of the `$JS.API` (configs, infos, errors, acks) and the rules
//!   that validate and normalise a stream's configuration, as nats-server 2.15.1 does.
//!
//! Not built yet: consumers, mirrors and sources, KV and object-store specifics;
//! `-js` still refuses to start until the shards serve the API.

pub mod api;
pub mod config;
pub mod store;
