//! The io_uring backend: one ring per shard, set up single-issuer with deferred task
//! running, multishot accept, plain recv/send per connection, and the doorbell eventfd
//! watched with a read.
//!
//! One `wait` is one `io_uring_enter`: it submits everything queued during the turn and
//! waits for the first completion (bounded by the next timer), then reaps every
//! completion that is ready. Nothing is handled here; the shard loop handles the
//! completions after reaping, never recursively.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use io_uring::{opcode, squeue, types, IoUring};

use super::{Backend, Completion, OpKind, Token};
use crate::conn::ConnId;

/// Submission queue entries per ring. Each connection has at most two operations in
/// flight; a full queue is flushed to the kernel, so this bounds batching, not conns.
pub const SUBMISSION_ENTRIES: u32 = 4096;
/// Completion queue entries: twice the submission queue, the kernel's own default ratio;
/// the ring is created with NODROP semantics (any kernel since 5.5), so an overflow
/// waits in the kernel instead of being lost.
pub const COMPLETION_ENTRIES: u32 = 2 * SUBMISSION_ENTRIES;

/// Why io_uring cannot be used here, for the start-up log line and error.
#[derive(Debug)]
pub struct Unavailable {
    /// The errno-style cause.
    pub error: io::Error,
    /// A human explanation: which mechanism blocks it and how to lift it.
    pub explanation: &'static str,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "io_uring unavailable: {} ({})",
            self.error, self.explanation
        )
    }
}

/// A shard's io_uring.
pub struct UringBackend {
    /// The ring; owned by one shard thread (SINGLE_ISSUER).
    ring: IoUring,
    /// Landing place for the doorbell eventfd's 8-byte counter; read by the kernel.
    doorbell_buffer: Box<u64>,
}

impl UringBackend {
    /// Creates a ring with the flags we want, dropping optional ones the kernel refuses.
    pub fn new() -> Result<Self, Unavailable> {
        let preferred = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_coop_taskrun()
            .setup_cqsize(COMPLETION_ENTRIES)
            .build(SUBMISSION_ENTRIES);
        let ring = match preferred {
            Ok(ring) => ring,
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => IoUring::builder()
                .setup_cqsize(COMPLETION_ENTRIES)
                .build(SUBMISSION_ENTRIES)
                .map_err(explain)?,
            Err(error) => return Err(explain(error)),
        };
        Self::check_opcodes(&ring)?;
        Ok(Self {
            ring,
            doorbell_buffer: Box::new(0),
        })
    }

    /// Confirms the kernel knows every opcode the loop submits.
    fn check_opcodes(ring: &IoUring) -> Result<(), Unavailable> {
        let mut probe = io_uring::Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(explain)?;
        let needed = [
            opcode::Accept::CODE,
            opcode::Recv::CODE,
            opcode::Send::CODE,
            opcode::Read::CODE,
        ];
        if needed.iter().all(|code| probe.is_supported(*code)) {
            Ok(())
        } else {
            Err(Unavailable {
                error: io::Error::from_raw_os_error(libc::EOPNOTSUPP),
                explanation:
                    "the kernel lacks accept/recv/send opcodes; Linux 5.19 or newer is needed",
            })
        }
    }

    /// Queues one entry, flushing the submission queue to the kernel when it is full.
    fn push(&mut self, entry: squeue::Entry) {
        loop {
            // SAFETY: every entry's buffers are owned by the shard (connection buffers,
            // the boxed doorbell counter) and outlive the operation, as the `Backend`
            // contract requires of callers.
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return;
            }
            if let Err(error) = self.ring.submit() {
                if error.raw_os_error() != Some(libc::EBUSY) {
                    panic!("io_uring submit failed with a full submission queue: {error}");
                }
                // EBUSY: the completion queue is backed up; reap later, retry now.
            }
        }
    }
}

/// Maps a setup errno to the cause a user can act on.
fn explain(error: io::Error) -> Unavailable {
    let explanation = match error.raw_os_error() {
        Some(libc::EPERM) => {
            "blocked by seccomp (Docker 25+, containerd 2.x) or kernel.io_uring_disabled; \
             allow io_uring_setup/enter/register or use --io_backend epoll"
        }
        Some(libc::ENOSYS) => {
            "the kernel or sandbox does not provide io_uring (Podman/CRI-O seccomp, gVisor, \
             old kernel); use --io_backend epoll"
        }
        Some(libc::ENOMEM) => "locked-memory limit too low for the ring (RLIMIT_MEMLOCK)",
        _ => "io_uring setup failed",
    };
    Unavailable { error, explanation }
}

impl Backend for UringBackend {
    fn name(&self) -> &'static str {
        "io_uring"
    }

    fn arm_accept(&mut self, listener: RawFd) {
        let entry = opcode::AcceptMulti::new(types::Fd(listener))
            .build()
            .user_data(Token::bare(OpKind::Accept).0);
        self.push(entry);
    }

    unsafe fn recv(&mut self, conn: ConnId, fd: RawFd, buf: *mut u8, len: usize) {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let entry = opcode::Recv::new(types::Fd(fd), buf, len)
            .build()
            .user_data(Token::new(OpKind::Recv, conn).0);
        self.push(entry);
    }

    unsafe fn send(&mut self, conn: ConnId, fd: RawFd, buf: *const u8, len: usize) {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let entry = opcode::Send::new(types::Fd(fd), buf, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(Token::new(OpKind::Send, conn).0);
        self.push(entry);
    }

    fn arm_doorbell(&mut self, eventfd: RawFd) {
        let buffer: *mut u64 = &mut *self.doorbell_buffer;
        let entry = opcode::Read::new(types::Fd(eventfd), buffer.cast(), 8)
            .build()
            .user_data(Token::bare(OpKind::Doorbell).0);
        self.push(entry);
    }

    fn forget(&mut self, _fd: RawFd) {}

    fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<Completion>) -> io::Result<()> {
        let submitted = match timeout {
            // A zero timeout still enters with GETEVENTS, which a DEFER_TASKRUN ring needs
            // before it posts completions.
            Some(timeout) => {
                let timespec = types::Timespec::from(timeout);
                let args = types::SubmitArgs::new().timespec(&timespec);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None => self.ring.submit_and_wait(1),
        };
        match submitted {
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.raw_os_error(),
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)
                ) => {}
            Err(error) => return Err(error),
        }
        for entry in self.ring.completion() {
            out.push(Completion {
                token: Token(entry.user_data()),
                result: entry.result(),
                more: io_uring::cqueue::more(entry.flags()),
            });
        }
        Ok(())
    }
}
