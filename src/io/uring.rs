//! The io_uring backend: one ring per shard, set up single-issuer with deferred task
//! running, plain recv/send per connection, the doorbell eventfd watched with a read, and
//! the listener watched through an epoll instance the ring polls.
//!
//! The listener is never the target of a ring operation. An operation in flight holds a
//! reference to its file, and when the process dies (`kill -9`) the kernel drops those
//! references only in the ring's deferred teardown, tens of milliseconds after the
//! process has been reaped: a listener armed with an accept (multishot or not) or a poll
//! stays in LISTEN, owned by no process, and a server restarted at once on the same port
//! fails with "address already in use" (binding beside it with SO_REUSEPORT instead would
//! let the kernel hash new connections to a listener nobody accepts on). An epoll
//! instance holds no reference to what it watches, so the listener sits in one
//! (level-triggered), the ring keeps a multishot poll on that instance, and each wake-up
//! drains the listener with `accept4`, a bounded number per `wait`, each socket an
//! [`OpKind::Accept`] completion with `more: true`, as the epoll backend does. The
//! listener then closes with the process's descriptor table, as nats-server's does.
//!
//! One `wait` is one `io_uring_enter`: it submits everything queued during the turn and
//! waits for the first completion (bounded by the next timer), then reaps every
//! completion that is ready. Nothing is handled here; the shard loop handles the
//! completions after reaping, never recursively.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use io_uring::{opcode, squeue, types, IoUring};
use rustix::event::epoll;
use rustix::io::Errno;
use rustix::net::SocketFlags;

use super::epoll::{is_transient_accept_error, ACCEPTS_PER_WAIT_MAX};
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
    /// The listener and how it is watched (see the module docs for why not by the ring).
    accept: AcceptWatch,
    /// Accept completions made since the last `wait`: at most [`ACCEPTS_PER_WAIT_MAX`]
    /// sockets plus one error, handed out by the next `wait`.
    accepted: Vec<Completion>,
}

/// The shard's listener, watched through an epoll instance the ring polls.
struct AcceptWatch {
    /// Level-triggered `EPOLLIN` on the armed listener; holds no reference to it.
    epoll: OwnedFd,
    /// The armed listener; `None` before `arm_accept` and after an accept error ended
    /// the watch, when it is out of `epoll` too.
    listener: Option<RawFd>,
    /// The ring's multishot poll on `epoll` is in flight; it outlives listener errors
    /// and re-arms, and only a completion with `more == false` ends it.
    poll_armed: bool,
    /// Connections may be waiting in the listener's backlog: the next `wait` drains it
    /// before blocking in the kernel.
    pending: bool,
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
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|errno| Unavailable {
            error: errno.into(),
            explanation: "epoll_create1 failed for the listener watch",
        })?;
        Ok(Self {
            ring,
            doorbell_buffer: Box::new(0),
            accept: AcceptWatch {
                epoll,
                listener: None,
                poll_armed: false,
                pending: false,
            },
            accepted: Vec::with_capacity(ACCEPTS_PER_WAIT_MAX + 1),
        })
    }

    /// Confirms the kernel knows every opcode the loop submits.
    fn check_opcodes(ring: &IoUring) -> Result<(), Unavailable> {
        let mut probe = io_uring::Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(explain)?;
        let needed = [
            opcode::PollAdd::CODE,
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
                    "the kernel lacks poll/recv/send opcodes; Linux 5.19 or newer is needed",
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

    /// Keeps a multishot poll on the listener's epoll instance in the ring.
    fn arm_accept_poll(&mut self) {
        let epoll = types::Fd(self.accept.epoll.as_raw_fd());
        let entry = opcode::PollAdd::new(epoll, libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(Token::bare(OpKind::Accept).0);
        self.push(entry);
        self.accept.poll_armed = true;
    }

    /// Handles a completion of the epoll poll: the listener may have connections, or the
    /// poll ended. A failed poll ends the watch like a failed multishot accept, so the
    /// shard logs it and re-arms.
    fn accept_poll_completed(&mut self, result: i32, more: bool) {
        if result < 0 {
            self.accept.poll_armed = false;
            self.stop_watching();
            self.accepted.push(Completion {
                token: Token::bare(OpKind::Accept),
                result,
                more: false,
            });
            return;
        }
        // A wake-up queued before an accept error ended the watch finds nothing to drain;
        // leaving `pending` set then would keep every `wait` from blocking.
        self.accept.pending = self.accept.listener.is_some();
        if !more {
            // Ended without an error (e.g. the completion queue overflowed): poll again.
            self.arm_accept_poll();
        }
    }

    /// Accepts from the armed listener until its backlog is empty or the per-wait bound
    /// is hit (then `pending` stays set and the next `wait` does not block).
    fn accept_some(&mut self) {
        let Some(listener) = self.accept.listener.filter(|_| self.accept.pending) else {
            return;
        };
        // SAFETY: the shard owns the listener and keeps it open while it is armed.
        let listener = unsafe { BorrowedFd::borrow_raw(listener) };
        let token = Token::bare(OpKind::Accept);
        for _ in 0..ACCEPTS_PER_WAIT_MAX {
            // Blocking sockets, as the ring's accept made them; recv and send go through
            // the ring, which waits for readiness itself.
            match rustix::net::accept_with(listener, SocketFlags::CLOEXEC) {
                Ok(socket) => self.accepted.push(Completion {
                    token,
                    result: socket.into_raw_fd(),
                    more: true,
                }),
                Err(Errno::AGAIN) => {
                    self.accept.pending = false;
                    return;
                }
                // accept(2): a connection that failed in the backlog; take the next one.
                Err(errno)
                    if errno == Errno::INTR || is_transient_accept_error(errno.raw_os_error()) => {}
                Err(errno) => {
                    // Like a terminated multishot accept: the shard logs and re-arms.
                    self.stop_watching();
                    self.accepted.push(Completion {
                        token,
                        result: -errno.raw_os_error(),
                        more: false,
                    });
                    return;
                }
            }
        }
    }

    /// Takes the listener out of the epoll instance, so a listener that keeps failing
    /// (shut down in lame-duck mode, out of descriptors) does not wake the ring.
    fn stop_watching(&mut self) {
        if let Some(listener) = self.accept.listener.take() {
            // SAFETY: the shard owns the listener and keeps it open while it is armed.
            let listener = unsafe { BorrowedFd::borrow_raw(listener) };
            // Fails only if it is not in the set, which is the state we want.
            let _ = epoll::delete(&self.accept.epoll, listener);
        }
        self.accept.pending = false;
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
        debug_assert!(
            self.accept.listener.is_none_or(|armed| armed == listener),
            "a shard has one listener"
        );
        // SAFETY: the shard owns the listener and keeps it open for its lifetime.
        let borrowed = unsafe { BorrowedFd::borrow_raw(listener) };
        // Non-blocking, so draining the backlog stops with EAGAIN instead of sleeping.
        let watched = rustix::io::ioctl_fionbio(borrowed, true).and_then(|()| {
            let data = epoll::EventData::new_u64(0);
            match epoll::add(&self.accept.epoll, borrowed, data, epoll::EventFlags::IN) {
                Err(Errno::EXIST) => Ok(()),
                other => other,
            }
        });
        match watched {
            Ok(()) => {
                self.accept.listener = Some(listener);
                // Connections queued before now are taken at the next wait.
                self.accept.pending = true;
                if !self.accept.poll_armed {
                    self.arm_accept_poll();
                }
            }
            Err(errno) => self.accepted.push(Completion {
                token: Token::bare(OpKind::Accept),
                result: -errno.raw_os_error(),
                more: false,
            }),
        }
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
        // Sockets already accepted, or still waiting in the backlog past the per-wait
        // bound, must not wait for the next kernel event.
        let timeout = if self.accept.pending || !self.accepted.is_empty() {
            Some(Duration::ZERO)
        } else {
            timeout
        };
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
        // The only ring operation with an accept token is the listener watch's poll. Its
        // completions all mean "look at the backlog", and only the last can end it, so
        // the last one says everything.
        let mut accept_poll = None;
        for entry in self.ring.completion() {
            let completion = Completion {
                token: Token(entry.user_data()),
                result: entry.result(),
                more: io_uring::cqueue::more(entry.flags()),
            };
            if completion.token.kind() == Some(OpKind::Accept) {
                accept_poll = Some(completion);
            } else {
                out.push(completion);
            }
        }
        if let Some(poll) = accept_poll {
            self.accept_poll_completed(poll.result, poll.more);
        }
        self.accept_some();
        out.append(&mut self.accepted);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    /// Long enough for a loopback event to arrive on a loaded machine; only a bug makes a
    /// test wait this long.
    const EVENT_WAIT_MAX: Duration = Duration::from_secs(5);

    /// A ring, or `None` (the test skips) where the kernel or a sandbox refuses io_uring.
    fn backend() -> Option<UringBackend> {
        match UringBackend::new() {
            Ok(backend) => Some(backend),
            Err(unavailable) => {
                eprintln!("skipped: {unavailable}");
                None
            }
        }
    }

    /// Waits (up to [`EVENT_WAIT_MAX`] in total) until `count` completions arrived.
    fn wait_for(backend: &mut UringBackend, count: usize) -> Vec<Completion> {
        let deadline = std::time::Instant::now() + EVENT_WAIT_MAX;
        let mut out = Vec::new();
        while out.len() < count && std::time::Instant::now() < deadline {
            backend
                .wait(Some(Duration::from_millis(100)), &mut out)
                .unwrap();
        }
        out
    }

    fn close_accepted(completions: Vec<Completion>) {
        for completion in completions {
            assert_eq!(completion.token, Token::bare(OpKind::Accept));
            assert!(completion.result >= 0 && completion.more, "{completion:?}");
            // SAFETY: closing a socket the backend accepted for us.
            unsafe { libc::close(completion.result) };
        }
    }

    #[test]
    fn accept_delivers_waiting_and_later_connections_as_multishot() {
        let Some(mut backend) = backend() else { return };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let early: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        backend.arm_accept(listener.as_raw_fd());
        let out = wait_for(&mut backend, early.len());
        assert_eq!(out.len(), early.len(), "{out:?}");
        close_accepted(out);
        // Arrivals after the backlog was drained wake the ring through the epoll watch.
        let late = TcpStream::connect(address).unwrap();
        let out = wait_for(&mut backend, 1);
        assert_eq!(out.len(), 1, "{out:?}");
        close_accepted(out);
        drop(late);
    }

    #[test]
    fn an_armed_listener_closes_with_its_last_descriptor() {
        // The restart-after-kill-9 regression: a ring operation on the listener would hold
        // its file until the ring is torn down, so the socket would stay listening here.
        let Some(mut backend) = backend() else { return };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        backend.arm_accept(listener.as_raw_fd());
        let mut out = Vec::new();
        backend.wait(Some(Duration::ZERO), &mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
        drop(listener);
        match TcpStream::connect(address) {
            Err(error) => assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error}"),
            Ok(_) => panic!("the closed listener still accepted a connection"),
        }
    }

    #[test]
    fn a_failing_listener_ends_the_watch_until_re_armed() {
        let Some(mut backend) = backend() else { return };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        backend.arm_accept(listener.as_raw_fd());
        // What lame-duck mode does: accept4 now fails with EINVAL.
        // SAFETY: plain syscall on the listener we own.
        unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR) };
        let out = wait_for(&mut backend, 1);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].token, Token::bare(OpKind::Accept));
        assert!(out[0].result < 0 && !out[0].more, "{:?}", out[0]);
        // The watch is over: the shut-down listener does not keep waking the ring.
        let mut out = Vec::new();
        backend
            .wait(Some(Duration::from_millis(20)), &mut out)
            .unwrap();
        assert!(out.is_empty(), "{out:?}");
    }
}
