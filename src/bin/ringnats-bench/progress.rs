//! The counters every worker of a run shares, the flow-control rule built on them, and the
//! once-a-second progress line on stderr. Workers update plain atomics once per batch or
//! read, so sharing costs nothing per message.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A counter on its own cache line, so subscribers on different threads do not slow each
/// other down by sharing one.
#[repr(align(64))]
#[derive(Default)]
pub struct PaddedCounter(pub AtomicU64);

/// How deliveries are counted against publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// No subscribers: nothing to wait for.
    None,
    /// Every subscriber gets every message; progress is the slowest one's count.
    EverySubscriber,
    /// Each message reaches one member; progress is the members' sum.
    OneMember,
}

impl Delivery {
    /// How a pub, pub/sub or queue run counts deliveries, and how many subscribers it
    /// starts.
    pub fn for_run(args: &crate::args::Args) -> (Delivery, usize) {
        match args.mode {
            crate::args::Mode::Publish => (Delivery::None, 0),
            crate::args::Mode::PubSub => (Delivery::EverySubscriber, args.subscribers),
            _ => (Delivery::OneMember, args.subscribers),
        }
    }
}

/// Shared state of one run.
pub struct RunState {
    /// Messages written by all publishers (requests, in request mode).
    pub published: PaddedCounter,
    /// Messages received, one counter per subscriber.
    pub delivered: Vec<PaddedCounter>,
    /// Per subscriber: set once the server closed its connection (a slow consumer, most
    /// likely). It gets nothing more on that connection, so it no longer holds back the
    /// flow-control rule; what it missed is counted as server-side loss.
    pub closed_by_server: Vec<AtomicBool>,
    /// Publishers that have not yet confirmed their last message with a PONG.
    pub publishers_running: AtomicUsize,
    /// Set when the run must end now (an error, or the drain timed out).
    pub stop: AtomicBool,
    pub delivery: Delivery,
}

impl RunState {
    pub fn new(subscribers: usize, publishers: usize, delivery: Delivery) -> Arc<Self> {
        Arc::new(RunState {
            published: PaddedCounter::default(),
            delivered: (0..subscribers).map(|_| PaddedCounter::default()).collect(),
            closed_by_server: (0..subscribers).map(|_| AtomicBool::new(false)).collect(),
            publishers_running: AtomicUsize::new(publishers),
            stop: AtomicBool::new(false),
            delivery,
        })
    }

    pub fn published(&self) -> u64 {
        self.published.0.load(Ordering::Acquire)
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    pub fn publishers_done(&self) -> bool {
        self.publishers_running.load(Ordering::Acquire) == 0
    }

    /// Deliveries in publish units: how far the slowest consumer the server still serves
    /// has come.
    pub fn delivery_progress(&self) -> u64 {
        let counts = self.delivered.iter().map(|c| c.0.load(Ordering::Acquire));
        match self.delivery {
            Delivery::None => u64::MAX,
            Delivery::EverySubscriber => counts
                .zip(&self.closed_by_server)
                .filter(|(_, closed)| !closed.load(Ordering::Acquire))
                .map(|(count, _)| count)
                .min()
                .unwrap_or(u64::MAX),
            Delivery::OneMember => counts.sum(),
        }
    }

    /// Records that the server closed subscriber `index`.
    pub fn mark_closed_by_server(&self, index: usize) {
        self.closed_by_server[index].store(true, Ordering::Release);
    }

    /// Total deliveries so far (every subscriber's count added up).
    pub fn delivered_total(&self) -> u64 {
        self.delivered
            .iter()
            .map(|c| c.0.load(Ordering::Acquire))
            .sum()
    }

    /// Whether subscriber `index` has everything it can expect: known only once every
    /// publisher has had its last message confirmed.
    pub fn subscriber_complete(&self, index: usize) -> bool {
        if !self.publishers_done() {
            return false;
        }
        let expected = self.published();
        match self.delivery {
            Delivery::None => true,
            Delivery::EverySubscriber => {
                self.delivered[index].0.load(Ordering::Acquire) >= expected
            }
            Delivery::OneMember => self.delivery_progress() >= expected,
        }
    }
}

/// Waits without burning the core the server might share in unpinned runs: a few yields
/// (cheap when the awaited thread is runnable on this core), then short sleeps.
pub struct Backoff {
    spins: u32,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff { spins: 0 }
    }

    pub fn wait(&mut self) {
        if self.spins < 64 {
            self.spins += 1;
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// Prints `published / delivered` once a second to stderr until dropped.
pub struct ProgressLine {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProgressLine {
    pub fn start(state: Arc<RunState>, enabled: bool) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let thread = enabled.then(|| {
            let done = done.clone();
            std::thread::spawn(move || print_progress(&state, &done))
        });
        ProgressLine { done, thread }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn print_progress(state: &RunState, done: &AtomicBool) {
    let start = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let mut printed = false;
    let mut last = (start, 0u64);
    let mut next = start + Duration::from_secs(1);
    while !done.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        if now < next {
            continue;
        }
        next += Duration::from_secs(1);
        let published = state.published();
        let rate = (published - last.1) as f64 / (now - last.0).as_secs_f64();
        last = (now, published);
        let line = format!(
            "{:6.1}s  sent {published:>12}  ({:>8.3} M/s)  delivered {:>12}",
            (now - start).as_secs_f64(),
            rate / 1e6,
            state.delivered_total()
        );
        let mut stderr = std::io::stderr().lock();
        let _ = if terminal {
            write!(stderr, "\r{line}")
        } else {
            writeln!(stderr, "{line}")
        };
        printed = true;
    }
    if printed && terminal {
        let _ = writeln!(std::io::stderr());
    }
}
