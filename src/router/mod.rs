//! Cross-shard routing: the SPSC ring, the mesh of rings and doorbells between shards,
//! the messages that travel on them, and the table of other shards' interest.
//!
//! This is nats-server's route protocol (`RS+`/`RS-`/`RMSG`) between cores: a shard
//! tells its peers when it gains or loses interest in a subject, and a publish sends one
//! envelope per interested peer shard, never one per remote subscriber.

pub mod envelope;
pub mod interest;
pub mod mesh;
pub mod ring;

pub use envelope::{Envelope, ShardMsg};
