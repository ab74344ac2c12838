//! The epoll backend: the same completion-style [`Backend`] as io_uring, emulated over
//! one edge-triggered epoll instance per shard, for the places io_uring is blocked
//! (Docker 25+ and containerd 2.x default seccomp, Podman/CRI-O, `kernel.io_uring_disabled`).
//!
//! Emulation: `recv`, `send` and `arm_doorbell` try their syscall at once. A result (bytes,
//! end-of-stream or an error) becomes a completion queued for the next `wait`; `EAGAIN`
//! leaves the operation pending on its descriptor until epoll reports the descriptor
//! ready, when the syscall is tried again. Because every operation is tried before it
//! waits, and edge-triggered epoll reports every new arrival after an `EAGAIN`, no
//! wake-up is lost and no readiness has to be remembered. An armed listener is drained
//! with `accept4` on readiness, a bounded number per `wait`, each socket an
//! [`OpKind::Accept`] completion with `more: true`, as the io_uring backend does.
//!
//! Results follow io_uring's conventions exactly (bytes or a new fd when `>= 0`, `0` for
//! end-of-stream, `-errno` otherwise), so the shard cannot tell the backends apart.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{Backend, Completion, OpKind, Token};
use crate::conn::ConnId;

/// Events taken from the kernel per `epoll_wait`; the shard's own completion list starts
/// at this size (`shard::COMPLETIONS_PER_TURN`). Descriptors left over stay on epoll's
/// ready list for the next turn.
pub const EVENTS_PER_WAIT: usize = 1024;
/// Connections accepted from one listener per `wait`, so a connect storm cannot starve
/// the shard's existing connections; 128 is Linux's historical `SOMAXCONN`. The rest wait
/// in the kernel's backlog for the next turn.
pub const ACCEPTS_PER_WAIT_MAX: usize = 128;
/// Size bound of the per-descriptor table: Linux's default `fs.nr_open` (1,048,576), the
/// highest open-file limit a process gets without raising that sysctl. An operation on a
/// descriptor beyond it completes with `-EMFILE`.
pub const FD_TABLE_ENTRIES_MAX: usize = 1 << 20;

/// What epoll watches on every registered descriptor: both directions, the peer's
/// half-close, edge-triggered.
const WATCHED_EVENTS: u32 =
    (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
/// Event bits that let a pending receive (or accept, or doorbell read) make progress.
const READABLE_EVENTS: u32 =
    (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
/// Event bits that let a pending send make progress (an error or hang-up completes it).
const WRITABLE_EVENTS: u32 = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;

/// A receive waiting for its descriptor to become readable.
struct PendingRecv {
    token: Token,
    buf: *mut u8,
    len: usize,
}

/// A send waiting for its descriptor to become writable.
struct PendingSend {
    token: Token,
    buf: *const u8,
    len: usize,
}

/// Everything the backend knows about one descriptor.
#[derive(Default)]
struct FdState {
    /// Added to the epoll set (registration is lazy, on the first operation).
    registered: bool,
    /// The one receive the shard may have in flight on this descriptor.
    recv: Option<PendingRecv>,
    /// The one send the shard may have in flight on this descriptor.
    send: Option<PendingSend>,
    /// This is an armed listener.
    accepting: bool,
    /// The listener may have connections waiting beyond what was accepted so far.
    accept_pending: bool,
    /// This is the doorbell eventfd and a read of it is armed.
    doorbell: bool,
}

/// A shard's epoll instance and the operations pending on it.
pub struct EpollBackend {
    /// The epoll instance.
    epoll: OwnedFd,
    /// Per-descriptor state, indexed by fd; grows on demand up to [`FD_TABLE_ENTRIES_MAX`].
    fds: Vec<FdState>,
    /// Completions produced since the last `wait`. Bounded: the shard keeps at most one
    /// receive and one send per connection, one doorbell read, and accepts are capped per
    /// `wait` by [`ACCEPTS_PER_WAIT_MAX`].
    ready: Vec<Completion>,
    /// Armed listeners (a shard has one).
    listeners: Vec<RawFd>,
    /// Landing buffer for `epoll_wait`.
    events: Vec<libc::epoll_event>,
    /// Landing place for the doorbell eventfd's 8-byte counter.
    doorbell_counter: u64,
}

impl EpollBackend {
    /// Creates the shard's epoll instance.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            epoll: unsafe { OwnedFd::from_raw_fd(fd) },
            fds: Vec::new(),
            ready: Vec::with_capacity(EVENTS_PER_WAIT),
            listeners: Vec::new(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAIT],
            doorbell_counter: 0,
        })
    }

    /// The state of `fd`, registering it with epoll first if needed; `Err(-errno)` when it
    /// cannot be watched.
    fn watch(&mut self, fd: RawFd) -> Result<&mut FdState, i32> {
        let index = usize::try_from(fd).map_err(|_| -libc::EBADF)?;
        if index >= FD_TABLE_ENTRIES_MAX {
            return Err(-libc::EMFILE);
        }
        if index >= self.fds.len() {
            self.fds.resize_with(index + 1, FdState::default);
        }
        if !self.fds[index].registered {
            let mut event = libc::epoll_event {
                events: WATCHED_EVENTS,
                u64: index as u64,
            };
            // SAFETY: valid epoll fd and a pointer to a live event.
            let rc = unsafe {
                libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event)
            };
            if rc != 0 && errno() != libc::EEXIST {
                return Err(-errno());
            }
            self.fds[index].registered = true;
        }
        Ok(&mut self.fds[index])
    }

    /// Queues a completion for the next `wait`.
    fn complete(&mut self, token: Token, result: i32, more: bool) {
        self.ready.push(Completion {
            token,
            result,
            more,
        });
    }

    /// Tries the pending receive on `fd`; completes it unless the socket has no data yet.
    fn try_recv(&mut self, fd: RawFd) {
        let Some(pending) = self.fds[fd as usize].recv.take() else {
            return;
        };
        // SAFETY: the shard keeps `buf..buf+len` valid and unaliased until the completion
        // (`Backend::recv`'s contract); MSG_DONTWAIT makes this never block.
        let result = retry_eintr(|| unsafe {
            libc::recv(fd, pending.buf.cast(), pending.len, libc::MSG_DONTWAIT)
        });
        match result {
            Err(libc::EAGAIN) => self.fds[fd as usize].recv = Some(pending),
            result => self.complete(pending.token, result_code(result), false),
        }
    }

    /// Tries the pending send on `fd`; completes it unless the socket buffer is full.
    fn try_send(&mut self, fd: RawFd) {
        let Some(pending) = self.fds[fd as usize].send.take() else {
            return;
        };
        let flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
        // SAFETY: the shard keeps `buf..buf+len` valid and unmodified until the completion
        // (`Backend::send`'s contract).
        let result =
            retry_eintr(|| unsafe { libc::send(fd, pending.buf.cast(), pending.len, flags) });
        match result {
            Err(libc::EAGAIN) => self.fds[fd as usize].send = Some(pending),
            result => self.complete(pending.token, result_code(result), false),
        }
    }

    /// Tries the armed doorbell read; completes it if the eventfd was rung.
    fn try_doorbell(&mut self, fd: RawFd) {
        let state = &mut self.fds[fd as usize];
        if !state.doorbell {
            return;
        }
        let counter: *mut u64 = &mut self.doorbell_counter;
        // SAFETY: reads 8 bytes into a live u64 we own; the eventfd is non-blocking
        // (`Doorbell::new`) and MSG-less `read` on it never blocks then.
        let result = retry_eintr(|| unsafe { libc::read(fd, counter.cast(), 8) });
        if result != Err(libc::EAGAIN) {
            self.fds[fd as usize].doorbell = false;
            self.complete(Token::bare(OpKind::Doorbell), result_code(result), false);
        }
    }

    /// Accepts from an armed listener until it is drained or the per-wait bound is hit.
    fn accept_some(&mut self, listener: RawFd) {
        let token = Token::bare(OpKind::Accept);
        for _ in 0..ACCEPTS_PER_WAIT_MAX {
            let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
            // SAFETY: plain syscall; a null address is allowed (we ask for it later).
            let result = retry_eintr(|| unsafe {
                libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), flags) as isize
            });
            match result {
                Ok(fd) => self.complete(token, fd as i32, true),
                Err(libc::EAGAIN) => {
                    self.fds[listener as usize].accept_pending = false;
                    return;
                }
                // accept(2): a connection that failed in the backlog; take the next one.
                Err(code) if is_transient_accept_error(code) => {}
                Err(code) => {
                    // Like a terminated multishot accept: the shard logs and re-arms.
                    let state = &mut self.fds[listener as usize];
                    state.accepting = false;
                    state.accept_pending = false;
                    self.listeners.retain(|&fd| fd != listener);
                    self.complete(token, -code, false);
                    return;
                }
            }
        }
    }

    /// Handles one readiness event.
    fn dispatch(&mut self, fd: RawFd, events: u32) {
        let Some(state) = self.fds.get_mut(fd as usize) else {
            return;
        };
        if events & READABLE_EVENTS != 0 {
            if state.accepting {
                state.accept_pending = true;
                self.accept_some(fd);
            }
            self.try_doorbell(fd);
            self.try_recv(fd);
        }
        if events & WRITABLE_EVENTS != 0 {
            self.try_send(fd);
        }
    }
}

impl Backend for EpollBackend {
    fn name(&self) -> &'static str {
        "epoll"
    }

    fn arm_accept(&mut self, listener: RawFd) {
        set_nonblocking(listener);
        match self.watch(listener) {
            Ok(state) => {
                state.accepting = true;
                // Connections queued before now are taken at the next wait.
                state.accept_pending = true;
                if !self.listeners.contains(&listener) {
                    self.listeners.push(listener);
                }
            }
            Err(code) => self.complete(Token::bare(OpKind::Accept), code, false),
        }
    }

    unsafe fn recv(&mut self, conn: ConnId, fd: RawFd, buf: *mut u8, len: usize) {
        let token = Token::new(OpKind::Recv, conn);
        match self.watch(fd) {
            Ok(state) => {
                debug_assert!(state.recv.is_none(), "two receives in flight on fd {fd}");
                state.recv = Some(PendingRecv { token, buf, len });
                self.try_recv(fd);
            }
            Err(code) => self.complete(token, code, false),
        }
    }

    unsafe fn send(&mut self, conn: ConnId, fd: RawFd, buf: *const u8, len: usize) {
        let token = Token::new(OpKind::Send, conn);
        match self.watch(fd) {
            Ok(state) => {
                debug_assert!(state.send.is_none(), "two sends in flight on fd {fd}");
                state.send = Some(PendingSend { token, buf, len });
                self.try_send(fd);
            }
            Err(code) => self.complete(token, code, false),
        }
    }

    fn arm_doorbell(&mut self, eventfd: RawFd) {
        match self.watch(eventfd) {
            Ok(state) => {
                state.doorbell = true;
                self.try_doorbell(eventfd);
            }
            Err(code) => self.complete(Token::bare(OpKind::Doorbell), code, false),
        }
    }

    fn forget(&mut self, fd: RawFd) {
        let Some(state) = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)) else {
            return;
        };
        if state.registered {
            // SAFETY: valid epoll fd; DEL ignores the event pointer on kernels >= 2.6.9.
            unsafe {
                libc::epoll_ctl(
                    self.epoll.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    fd,
                    std::ptr::null_mut(),
                )
            };
        }
        // The descriptor number will be reused; nothing of this socket may linger.
        *state = FdState::default();
        self.listeners.retain(|&listener| listener != fd);
    }

    fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<Completion>) -> io::Result<()> {
        let mut index = 0;
        while let Some(&listener) = self.listeners.get(index) {
            if self.fds[listener as usize].accept_pending {
                self.accept_some(listener);
            }
            // `accept_some` drops a listener whose accept failed; do not skip the next.
            if self.listeners.get(index) == Some(&listener) {
                index += 1;
            }
        }
        let timeout_ms = if self.ready.is_empty() {
            timeout_millis(timeout)
        } else {
            0
        };
        // SAFETY: `events` is a live buffer of EVENTS_PER_WAIT entries.
        let count = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.events.as_mut_ptr(),
                EVENTS_PER_WAIT as libc::c_int,
                timeout_ms,
            )
        };
        if count < 0 && errno() != libc::EINTR {
            return Err(io::Error::last_os_error());
        }
        for index in 0..count.max(0) as usize {
            let event = self.events[index];
            self.dispatch(event.u64 as RawFd, event.events);
        }
        out.append(&mut self.ready);
        Ok(())
    }
}

/// epoll's millisecond timeout, rounded up so a sub-millisecond timer does not spin.
fn timeout_millis(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(timeout) => {
            let millis = timeout.as_nanos().div_ceil(1_000_000);
            libc::c_int::try_from(millis).unwrap_or(libc::c_int::MAX)
        }
    }
}

/// Runs a syscall returning `-1`/errno until it is not interrupted; `Err(errno)` on error.
fn retry_eintr(mut call: impl FnMut() -> isize) -> Result<isize, i32> {
    loop {
        let result = call();
        if result >= 0 {
            return Ok(result);
        }
        match errno() {
            libc::EINTR => continue,
            code => return Err(code),
        }
    }
}

/// io_uring's result convention: the count when `>= 0`, `-errno` otherwise.
fn result_code(result: Result<isize, i32>) -> i32 {
    match result {
        Ok(count) => i32::try_from(count).unwrap_or(i32::MAX),
        Err(code) => -code,
    }
}

/// Errors accept(2) says to treat like EAGAIN-and-retry: the failed connection is gone
/// and the next one in the backlog may be fine.
pub(super) fn is_transient_accept_error(code: i32) -> bool {
    matches!(
        code,
        libc::ECONNABORTED
            | libc::EPROTO
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH
    )
}

/// Makes a listener non-blocking, so draining it stops with EAGAIN instead of sleeping.
fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on a descriptor the shard owns; failures leave it blocking, which
    // only matters if the kernel also lost the readiness edge.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

/// The calling thread's errno.
fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::net::UnixStream;

    const CONN: ConnId = ConnId {
        index: 7,
        generation: 3,
    };
    /// Long enough for a loopback event to arrive on a loaded machine; only a bug makes a
    /// test wait this long.
    const EVENT_WAIT_MAX: Duration = Duration::from_secs(5);

    /// Waits (up to [`EVENT_WAIT_MAX`] in total) until `count` completions arrived.
    fn wait_for(backend: &mut EpollBackend, count: usize) -> Vec<Completion> {
        let deadline = std::time::Instant::now() + EVENT_WAIT_MAX;
        let mut out = Vec::new();
        while out.len() < count && std::time::Instant::now() < deadline {
            backend
                .wait(Some(Duration::from_millis(100)), &mut out)
                .unwrap();
        }
        out
    }

    fn pair() -> (UnixStream, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        (ours, theirs)
    }

    #[test]
    fn receive_waits_for_data_then_completes_with_the_byte_count() {
        let mut backend = EpollBackend::new().unwrap();
        let (ours, mut theirs) = pair();
        let mut buf = [0u8; 16];
        // SAFETY: `buf` outlives the operation, which completes below.
        unsafe { backend.recv(CONN, ours.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
        let mut out = Vec::new();
        backend.wait(Some(Duration::ZERO), &mut out).unwrap();
        assert!(out.is_empty(), "nothing was sent yet: {out:?}");
        theirs.write_all(b"hello").unwrap();
        let out = wait_for(&mut backend, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].token, Token::new(OpKind::Recv, CONN));
        assert_eq!(out[0].result, 5);
        assert!(!out[0].more);
        assert_eq!(&buf[..5], b"hello");
    }

    #[test]
    fn receive_of_waiting_data_and_end_of_stream_complete_at_the_next_wait() {
        let mut backend = EpollBackend::new().unwrap();
        let (ours, mut theirs) = pair();
        theirs.write_all(b"abc").unwrap();
        drop(theirs);
        let mut buf = [0u8; 2];
        let mut results = Vec::new();
        for _ in 0..3 {
            // SAFETY: `buf` outlives the operation, which completes in this iteration.
            unsafe { backend.recv(CONN, ours.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
            let out = wait_for(&mut backend, 1);
            results.push(out[0].result);
        }
        assert_eq!(results, [2, 1, 0]);
    }

    #[test]
    fn send_completes_with_bytes_and_errors_as_negative_errno() {
        let mut backend = EpollBackend::new().unwrap();
        let (ours, mut theirs) = pair();
        let data = b"PING\r\n";
        // SAFETY: `data` is static.
        unsafe { backend.send(CONN, ours.as_raw_fd(), data.as_ptr(), data.len()) };
        let out = wait_for(&mut backend, 1);
        assert_eq!(out[0].token, Token::new(OpKind::Send, CONN));
        assert_eq!(out[0].result, 6);
        let mut got = [0u8; 6];
        theirs.read_exact(&mut got).unwrap();
        assert_eq!(&got, data);
        drop(theirs);
        // SAFETY: as above.
        unsafe { backend.send(CONN, ours.as_raw_fd(), data.as_ptr(), data.len()) };
        let out = wait_for(&mut backend, 1);
        assert_eq!(out[0].result, -libc::EPIPE);
    }

    #[test]
    fn a_send_blocked_by_a_full_buffer_completes_once_the_peer_reads() {
        let mut backend = EpollBackend::new().unwrap();
        let (ours, mut theirs) = pair();
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0usize;
        let mut out;
        loop {
            // SAFETY: `chunk` outlives every operation, each completed before the next.
            unsafe { backend.send(CONN, ours.as_raw_fd(), chunk.as_ptr(), chunk.len()) };
            out = Vec::new();
            backend.wait(Some(Duration::ZERO), &mut out).unwrap();
            match out.first() {
                Some(completion) => sent += completion.result as usize,
                None => break, // the socket buffer is full: the send is pending
            }
        }
        let mut drained = vec![0u8; sent + chunk.len()];
        theirs.read_exact(&mut drained[..sent]).unwrap();
        let out = wait_for(&mut backend, 1);
        assert!(out[0].result > 0, "{out:?}");
    }

    #[test]
    fn forget_drops_a_pending_receive() {
        let mut backend = EpollBackend::new().unwrap();
        let (ours, mut theirs) = pair();
        let mut buf = [0u8; 16];
        // SAFETY: `buf` outlives the backend's knowledge of it (forgotten below).
        unsafe { backend.recv(CONN, ours.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
        backend.forget(ours.as_raw_fd());
        theirs.write_all(b"late").unwrap();
        let mut out = Vec::new();
        backend
            .wait(Some(Duration::from_millis(50)), &mut out)
            .unwrap();
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(buf, [0u8; 16]);
    }

    #[test]
    fn doorbell_completes_when_rung_and_again_after_rearming() {
        let mut backend = EpollBackend::new().unwrap();
        let doorbell = crate::router::mesh::Doorbell::new().unwrap();
        backend.arm_doorbell(doorbell.raw_fd());
        let mut out = Vec::new();
        backend.wait(Some(Duration::ZERO), &mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
        for _ in 0..2 {
            doorbell.ring();
            let out = wait_for(&mut backend, 1);
            assert_eq!(out[0].token, Token::bare(OpKind::Doorbell));
            assert_eq!(out[0].result, 8);
            backend.arm_doorbell(doorbell.raw_fd());
        }
    }

    #[test]
    fn accept_delivers_every_waiting_connection_as_multishot() {
        let mut backend = EpollBackend::new().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let clients: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        backend.arm_accept(listener.as_raw_fd());
        let out = wait_for(&mut backend, clients.len());
        assert_eq!(out.len(), clients.len(), "{out:?}");
        for completion in out {
            assert_eq!(completion.token, Token::bare(OpKind::Accept));
            assert!(completion.result >= 0 && completion.more, "{completion:?}");
            // SAFETY: a socket the backend accepted for us.
            let flags = unsafe { libc::fcntl(completion.result, libc::F_GETFL) };
            assert_ne!(flags & libc::O_NONBLOCK, 0);
            // SAFETY: closing the accepted socket we own.
            unsafe { libc::close(completion.result) };
        }
    }

    #[test]
    fn timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(timeout_millis(None), -1);
        assert_eq!(timeout_millis(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_millis(Some(Duration::from_micros(10))), 1);
        assert_eq!(timeout_millis(Some(Duration::from_millis(250))), 250);
    }
}
