//! The io layer: one small completion-style interface, [`Backend`], that the shard loop
//! drives, and its two implementations: io_uring ([`uring`]) and epoll ([`epoll`]), one
//! of which [`probe`] chooses at start-up.
//!
//! The shard loop never talks to the kernel directly. It asks the backend to accept on a
//! listener, to receive into a connection's buffer, to send a connection's pending bytes
//! and to watch the shard's doorbell, then collects [`Completion`]s once per loop turn.
//! A completion-style interface suits io_uring natively; a readiness backend (epoll)
//! emulates it by performing the read or write itself when the socket is ready, so the
//! protocol and routing code never knows which backend runs.
//!
//! Architecture Invariant: every operation carries a [`Token`] holding the connection's
//! slab index and generation, so a completion for a slot that was closed and reused is
//! recognised as stale and dropped.

pub mod epoll;
pub mod probe;
pub mod uring;

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::conn::ConnId;

/// What an in-flight operation was for; the top byte of `user_data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OpKind {
    /// A (multishot) accept on the shard's listener.
    Accept = 1,
    /// A receive into a connection's read buffer.
    Recv = 2,
    /// A send of a connection's in-flight outbound bytes.
    Send = 3,
    /// A read of the shard's doorbell eventfd.
    Doorbell = 4,
}

/// The 64-bit `user_data` of an operation: kind (8 bits), generation (24), index (32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token(pub u64);

/// Generations wrap at 24 bits; a slot would have to be reused 16 M times while one
/// stale completion is in flight for a mix-up, which the in-flight counts rule out.
pub const GENERATION_MASK: u32 = (1 << 24) - 1;

impl Token {
    /// Packs an operation kind and the connection it belongs to.
    pub fn new(kind: OpKind, conn: ConnId) -> Self {
        debug_assert!(conn.generation <= GENERATION_MASK);
        Token(((kind as u64) << 56) | (u64::from(conn.generation) << 32) | u64::from(conn.index))
    }

    /// A token for an operation that belongs to no connection (accept, doorbell).
    pub fn bare(kind: OpKind) -> Self {
        Token((kind as u64) << 56)
    }

    /// The operation kind, or `None` for a value no backend produced.
    pub fn kind(self) -> Option<OpKind> {
        match (self.0 >> 56) as u8 {
            1 => Some(OpKind::Accept),
            2 => Some(OpKind::Recv),
            3 => Some(OpKind::Send),
            4 => Some(OpKind::Doorbell),
            _ => None,
        }
    }

    /// The connection this operation was submitted for.
    pub fn conn(self) -> ConnId {
        ConnId {
            index: self.0 as u32,
            generation: ((self.0 >> 32) as u32) & GENERATION_MASK,
        }
    }
}

/// A finished operation, as the shard loop sees it.
#[derive(Clone, Copy, Debug)]
pub struct Completion {
    /// Which operation finished.
    pub token: Token,
    /// The syscall-style result: bytes or a new fd when `>= 0`, `-errno` otherwise.
    pub result: i32,
    /// For multishot operations: the operation stays armed.
    pub more: bool,
}

/// The contract between a shard loop and its io backend.
///
/// Buffers passed to `recv` and `send` must stay valid and untouched until their
/// completion is returned by `wait`; the shard keeps at most one receive and one send in
/// flight per connection and only frees a connection once both have completed.
pub trait Backend {
    /// A short name for logs and monitoring ("io_uring", "epoll").
    fn name(&self) -> &'static str;

    /// Starts accepting on `listener`; each accepted socket arrives as an
    /// [`OpKind::Accept`] completion whose result is the new fd. Re-armed by calling
    /// again when a completion says `more == false`.
    fn arm_accept(&mut self, listener: RawFd);

    /// Receives up to `len` bytes from `fd` into `buf`.
    ///
    /// # Safety
    /// `buf..buf+len` must stay valid and unaliased until the completion is returned.
    unsafe fn recv(&mut self, conn: ConnId, fd: RawFd, buf: *mut u8, len: usize);

    /// Sends up to `len` bytes from `buf` to `fd`.
    ///
    /// # Safety
    /// `buf..buf+len` must stay valid and unmodified until the completion is returned.
    unsafe fn send(&mut self, conn: ConnId, fd: RawFd, buf: *const u8, len: usize);

    /// Watches the shard's doorbell eventfd; a [`OpKind::Doorbell`] completion means it
    /// rang. Re-armed by calling again after each completion.
    fn arm_doorbell(&mut self, eventfd: RawFd);

    /// Forgets a connection's socket before the shard closes it (epoll unregisters it;
    /// io_uring needs nothing, the in-flight operations complete on their own).
    fn forget(&mut self, fd: RawFd);

    /// Submits queued operations, waits until at least one completes or `timeout`
    /// passes (`Some(ZERO)` polls), and appends the completions to `out`.
    fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<Completion>) -> io::Result<()>;
}
