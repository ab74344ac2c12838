//! Stuck subscribers (`--stuck N`): extra subscribers on the run's subject that subscribe,
//! confirm it with PING/PONG and then never read — the consumer a server must close without
//! slowing anyone else for long. They are raw sockets whatever `--client` says (async-nats
//! reads its socket whatever the application does, so it cannot be made stuck), with a
//! small receive buffer so the kernel does not hide the stall behind megabytes of window.
//! They count in no expected or delivered figure.
//!
//! A watcher thread polls `/connz?state=closed` every 50 ms until each one is listed (matched
//! by the client id the server gave it and its local port), which says when and why the
//! server closed it. Reading a socket that never reads is no way to learn that: the EOF sits
//! behind everything already queued. At the moment the last one is seen closed the watcher
//! reads the run's counters, and the rates after that moment are set against the whole run.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::args::Args;
use crate::monitor::Monitor;
use crate::progress::RunState;
use crate::raw;

/// SO_RCVBUF asked for each stuck socket (the kernel doubles it for its own bookkeeping).
pub const RECEIVE_BUFFER_BYTES: u32 = 32 * 1024;
/// How often the watcher asks `/connz` — the resolution of the close times; cheap next to
/// the run, and it stops once every stuck subscriber is closed.
const CLOSED_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Closed connections asked for per poll, newest first: the run's own few are among them.
const CLOSED_PAGE_MAX: usize = 1024;

/// The open stuck sockets; dropping them closes whatever the server has not.
pub struct StuckSubscribers {
    streams: Vec<TcpStream>,
    /// Per socket: (the server's client id, the local port), as `/connz` lists them.
    ids: Vec<(u64, u16)>,
}

/// When the server closed one stuck subscriber.
#[derive(Clone, Debug, Serialize)]
pub struct StuckClose {
    pub client_id: u64,
    pub local_port: u16,
    /// From the common start to the poll that first listed it closed; `None`: not closed
    /// before the run ended.
    pub closed_after_seconds: Option<f64>,
    /// The server's reason ("Slow Consumer (Pending Bytes)", ...).
    pub reason: Option<String>,
}

/// The run's counters at one moment.
#[derive(Clone, Debug)]
struct CountersAt {
    at: Duration,
    published: u64,
    delivered: Vec<u64>,
}

/// Rates from the moment the last stuck subscriber was seen closed to the end of each side.
#[derive(Clone, Debug, Serialize)]
pub struct AfterClose {
    /// The moment, from the common start.
    pub from_seconds: f64,
    pub publish_msgs: u64,
    pub publish_seconds: f64,
    pub publish_msgs_per_sec: f64,
    pub subscribe_msgs: u64,
    pub subscribe_seconds: f64,
    pub subscribe_msgs_per_sec: f64,
    pub per_subscriber_msgs_per_sec: Vec<f64>,
}

/// What `--stuck` adds to a report.
#[derive(Clone, Debug, Serialize)]
pub struct StuckReport {
    pub receive_buffer_bytes: u32,
    pub subscribers: Vec<StuckClose>,
    /// When the last one was seen closed; `None` unless all were.
    pub last_closed_after_seconds: Option<f64>,
    /// `None` unless all were closed while the publishers were still sending.
    pub after_close: Option<AfterClose>,
}

impl StuckSubscribers {
    /// Opens `args.stuck_subscribers` stuck subscribers (none is fine).
    pub fn open(args: &Args) -> io::Result<StuckSubscribers> {
        let mut stuck = StuckSubscribers {
            streams: Vec::with_capacity(args.stuck_subscribers),
            ids: Vec::with_capacity(args.stuck_subscribers),
        };
        let sub_line = format!("SUB {} 1\r\n", args.subject);
        for index in 0..args.stuck_subscribers {
            let mut stream = connect_with_small_buffer(args.server)?;
            let local_port = stream.local_addr()?.port();
            let info = raw::read_info(&mut stream)?;
            let client_id = info
                .get("client_id")
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| io::Error::other("the server's INFO has no client_id"))?;
            let name = format!("bench-stuck-{index}");
            stuck
                .streams
                .push(raw::handshake(stream, &name, sub_line.as_bytes())?);
            stuck.ids.push((client_id, local_port));
        }
        Ok(stuck)
    }

    /// Starts the watcher, if there is anything to watch.
    pub fn watch(
        &self,
        monitor: Option<SocketAddr>,
        state: Arc<RunState>,
        start: Instant,
    ) -> Option<StuckWatch> {
        let monitor = Monitor::new(monitor.filter(|_| !self.ids.is_empty())?);
        let done = Arc::new(AtomicBool::new(false));
        let watcher = Watcher {
            monitor,
            ids: self.ids.clone(),
            state,
            start,
            done: done.clone(),
        };
        Some(StuckWatch {
            done,
            thread: thread::spawn(move || watcher.run()),
        })
    }
}

/// A socket with the small receive buffer set before the connection is made (so the
/// window it advertises is small from the first segment). tokio's `TcpSocket` is the
/// crate's safe wrapper for that option; it needs a reactor only to connect, so a
/// throwaway current-thread runtime on its own thread does that, whatever runtime (if any)
/// the caller is on.
fn connect_with_small_buffer(server: SocketAddr) -> io::Result<TcpStream> {
    thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()?;
                let stream = runtime.block_on(async {
                    let socket = match server {
                        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
                    };
                    socket.set_recv_buffer_size(RECEIVE_BUFFER_BYTES)?;
                    socket.connect(server).await?.into_std()
                })?;
                stream.set_nonblocking(false)?;
                Ok(stream)
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("stuck subscriber connect panicked")))
    })
}

/// The running watcher.
pub struct StuckWatch {
    done: Arc<AtomicBool>,
    thread: JoinHandle<WatchResult>,
}

impl StuckWatch {
    /// Stops the watcher (after one last poll) and builds the report. `published` and
    /// `publish_elapsed` are the publishers' final total and end; `subscribers` each healthy
    /// subscriber's final count and last message time.
    pub fn finish(
        self,
        published: u64,
        publish_elapsed: Duration,
        subscribers: &[(u64, Duration)],
    ) -> (StuckReport, Option<String>) {
        self.done.store(true, Ordering::Release);
        let result = self.thread.join().unwrap_or_else(|_| WatchResult {
            closes: Vec::new(),
            at_last_close: None,
            error: Some("stuck-subscriber watcher panicked".into()),
        });
        let after_close = result
            .at_last_close
            .as_ref()
            .and_then(|at| after_close(at, published, publish_elapsed, subscribers));
        let report = StuckReport {
            receive_buffer_bytes: RECEIVE_BUFFER_BYTES,
            last_closed_after_seconds: result.at_last_close.map(|at| at.at.as_secs_f64()),
            subscribers: result.closes,
            after_close,
        };
        (report, result.error)
    }
}

struct WatchResult {
    closes: Vec<StuckClose>,
    at_last_close: Option<CountersAt>,
    error: Option<String>,
}

struct Watcher {
    monitor: Monitor,
    ids: Vec<(u64, u16)>,
    state: Arc<RunState>,
    start: Instant,
    done: Arc<AtomicBool>,
}

impl Watcher {
    fn run(self) -> WatchResult {
        let mut closes: Vec<StuckClose> = (self.ids.iter())
            .map(|&(client_id, local_port)| StuckClose {
                client_id,
                local_port,
                closed_after_seconds: None,
                reason: None,
            })
            .collect();
        let (mut at_last_close, mut error) = (None, None);
        loop {
            // Read before polling, so the last poll comes after the run has ended.
            let finishing = self.done.load(Ordering::Acquire);
            match self.monitor.closed_connections(CLOSED_PAGE_MAX) {
                Ok(closed) => {
                    let at = self.start.elapsed();
                    for close in closes
                        .iter_mut()
                        .filter(|c| c.closed_after_seconds.is_none())
                    {
                        let listed = closed
                            .iter()
                            .find(|c| c.cid == close.client_id && c.port == close.local_port);
                        if let Some(listed) = listed {
                            close.closed_after_seconds = Some(at.as_secs_f64());
                            close.reason = Some(listed.reason.clone());
                        }
                    }
                    if closes.iter().all(|c| c.closed_after_seconds.is_some()) {
                        at_last_close = Some(self.counters_at(at));
                        break;
                    }
                }
                Err(poll_error) => {
                    error.get_or_insert(format!("stuck-subscriber watcher: {poll_error}"));
                }
            }
            if finishing {
                break;
            }
            thread::sleep(CLOSED_POLL_INTERVAL);
        }
        WatchResult {
            closes,
            at_last_close,
            error,
        }
    }

    fn counters_at(&self, at: Duration) -> CountersAt {
        CountersAt {
            at,
            published: self.state.published(),
            delivered: (self.state.delivered.iter())
                .map(|counter| counter.0.load(Ordering::Acquire))
                .collect(),
        }
    }
}

/// The rates from `at` on; `None` when publishing had already ended.
fn after_close(
    at: &CountersAt,
    published: u64,
    publish_elapsed: Duration,
    subscribers: &[(u64, Duration)],
) -> Option<AfterClose> {
    let publish_seconds = publish_elapsed.checked_sub(at.at)?.as_secs_f64();
    let rate = |msgs: u64, seconds: f64| {
        if seconds > 0.0 {
            msgs as f64 / seconds
        } else {
            0.0
        }
    };
    let per_subscriber: Vec<(u64, f64)> = (subscribers.iter().zip(&at.delivered))
        .map(|(&(msgs, last_msg_at), &before)| {
            let seconds = last_msg_at.saturating_sub(at.at).as_secs_f64();
            (msgs.saturating_sub(before), seconds)
        })
        .collect();
    let subscribe_msgs = per_subscriber.iter().map(|(msgs, _)| msgs).sum();
    let subscribe_seconds = per_subscriber.iter().map(|s| s.1).fold(0.0, f64::max);
    let publish_msgs = published.saturating_sub(at.published);
    Some(AfterClose {
        from_seconds: at.at.as_secs_f64(),
        publish_msgs,
        publish_seconds,
        publish_msgs_per_sec: rate(publish_msgs, publish_seconds),
        subscribe_msgs,
        subscribe_seconds,
        subscribe_msgs_per_sec: rate(subscribe_msgs, subscribe_seconds),
        per_subscriber_msgs_per_sec: (per_subscriber.iter())
            .map(|&(msgs, seconds)| rate(msgs, seconds))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_from_the_close_to_each_sides_end() {
        let at = CountersAt {
            at: Duration::from_secs(1),
            published: 1_000,
            delivered: vec![900, 1_000],
        };
        let subs = [
            (3_000, Duration::from_secs(3)),
            (3_000, Duration::from_millis(2_500)),
        ];
        let after = after_close(&at, 3_000, Duration::from_secs(3), &subs).unwrap();
        assert_eq!(after.publish_msgs, 2_000);
        assert_eq!(after.publish_msgs_per_sec, 1_000.0);
        assert_eq!(after.subscribe_msgs, 2_100 + 2_000);
        assert_eq!(after.subscribe_seconds, 2.0);
        assert_eq!(
            after.per_subscriber_msgs_per_sec,
            vec![1_050.0, 2_000.0 / 1.5]
        );
    }

    #[test]
    fn has_no_after_figures_when_the_close_came_after_publishing() {
        let at = CountersAt {
            at: Duration::from_secs(4),
            published: 10,
            delivered: vec![10],
        };
        let subs = [(10, Duration::from_secs(3))];
        assert!(after_close(&at, 10, Duration::from_secs(3), &subs).is_none());
    }
}
