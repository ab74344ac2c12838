//! Subjects, wildcards and the `Sublist`: how a published message finds its subscribers.
//!
//! A NATS subject is a byte string of `.`-separated tokens, such as `orders.eu.created`.
//! Tokens are compared byte for byte: case-sensitive, and the server imposes no character
//! set on them (no UTF-8 check; nats-server 2.15.1 happily routes `SUB \xff 1`). The only
//! structural rule is that no token may be empty, so `foo..bar`, `.foo` and `foo.` are
//! invalid.
//!
//! A subscription subject may use two wildcards, each only as a whole token:
//!
//! - `*` matches exactly one token: `orders.*.created` matches `orders.eu.created`.
//! - `>` matches one or more trailing tokens and must be the last token: `orders.>` matches
//!   `orders.eu` and `orders.eu.created`, but not `orders`.
//!
//! `foo*` or `>>` are not wildcards, just literal tokens. A published subject is always taken
//! literally: a `*` token in a PUB subject is an ordinary token (it is matched by a `*`
//! subscription, never by `foo.bar`), and pedantic clients are told off for publishing one
//! (`-ERR 'Invalid Publish Subject'`).
//!
//! [`validate`] holds the byte-slice checks the server applies to SUB and pedantic PUB
//! subjects, the token helpers, and a naive matcher used as the reference model in tests
//! and by the interest code. [`sublist`] holds the [`Sublist`]: a shard-local token trie of
//! plain and queue-group subscriptions with a bounded match cache, modelled on
//! nats-server's `server/sublist.go`.
//!
//! Architecture Invariant: a `Sublist` is owned by one shard and never shared across
//! threads; its results are `Rc`s so that a cache hit hands out the cached result without
//! allocating.

pub mod sublist;
pub mod validate;

pub use sublist::{InsertOutcome, QueueGroup, RemoveOutcome, Sublist, SublistResult, SublistStats};
