//! Publish-only, fan-out, fan-in and queue-group runs over raw sockets.
//!
//! Each publisher writes pre-encoded batches of identical `PUB` frames and, every window,
//! a `PING`; it never has more than two windows unconfirmed by a `PONG` and never runs more
//! than a window ahead of the slowest subscriber. That makes the result independent of how
//! much a server is willing to buffer: a server that queued gigabytes would otherwise "win"
//! the publish rate and lose the messages later. Each subscriber counts `MSG` frames with the
//! scanner in `raw`. All clients start together after every subscription is confirmed.
//!
//! With flow control off (`--window 0`) a publisher only writes: the server's own reading
//! speed is the limit, which is how a fast producer meets a server's slow-consumer policy.
//! The final PING/PONG stays, so "published" still counts only what the server has read.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::args::{Args, Mode};
use crate::monitor::CountersWatch;
use crate::progress::{Backoff, Delivery, ProgressLine, RunState};
use crate::raw::{self, MsgScanner, READ_BUFFER_BYTES};
use crate::report::{LostSplit, Report, Side, SubscriberOutcome};
use crate::stuck::StuckSubscribers;

/// One write carries about this many bytes of frames.
const BATCH_BYTES_TARGET: usize = 64 * 1024;
/// A PING unanswered for this long means the server is stuck.
const PONG_TIMEOUT: Duration = Duration::from_secs(10);

/// What one publisher sends.
#[derive(Clone)]
struct PublishPlan {
    subject: String,
    payload_bytes: usize,
    msgs_max: u64,
    deadline: Option<Instant>,
    /// The flow-control window; `None` when flow control is off.
    window_msgs: Option<u64>,
    /// How far (in messages) all publishers together may run ahead of delivery; `None`
    /// when flow control is off.
    delivery_lag_max: Option<u64>,
    stall_timeout: Duration,
}

/// What one worker thread reports back.
struct WorkerResult {
    msgs: u64,
    elapsed: Duration,
    /// A subscriber's connection ended by the server (EOF or reset).
    closed_by_server: bool,
    error: Option<String>,
}

pub fn run(args: &Args) -> io::Result<Report> {
    let counters = CountersWatch::begin(args.monitor)?;
    let stuck = StuckSubscribers::open(args)?;
    let (delivery, subscribers) = Delivery::for_run(args);
    let state = RunState::new(subscribers, args.publishers, delivery);
    let sub_line = match args.mode {
        Mode::Queue => format!("SUB {} {} 1\r\n", args.subject, args.queue_group),
        _ => format!("SUB {} 1\r\n", args.subject),
    };
    let sub_streams = (0..subscribers)
        .map(|index| {
            raw::connect(
                args.server,
                &format!("bench-sub-{index}"),
                sub_line.as_bytes(),
            )
        })
        .collect::<io::Result<Vec<_>>>()?;
    let pub_streams = (0..args.publishers)
        .map(|index| raw::connect(args.server, &format!("bench-pub-{index}"), b""))
        .collect::<io::Result<Vec<_>>>()?;

    let start = Instant::now();
    let progress = ProgressLine::start(state.clone(), args.progress);
    let stuck_watch = stuck.watch(args.monitor, state.clone(), start);
    let sub_threads: Vec<JoinHandle<WorkerResult>> = sub_streams
        .into_iter()
        .enumerate()
        .map(|(index, stream)| {
            let (state, drain_timeout) = (state.clone(), args.drain_timeout);
            thread::spawn(move || subscribe(stream, index, &state, drain_timeout, start))
        })
        .collect();
    let pub_threads: Vec<JoinHandle<WorkerResult>> = (0..args.publishers)
        .zip(pub_streams)
        .map(|(index, stream)| {
            let plan = publish_plan(args, index, start);
            let state = state.clone();
            thread::spawn(move || publish_and_count_down(stream, &plan, &state, start))
        })
        .collect();
    let pub_results: Vec<WorkerResult> = pub_threads.into_iter().map(join).collect();
    let sub_results: Vec<WorkerResult> = sub_threads.into_iter().map(join).collect();
    drop(progress);
    let mut report = report(args, &state, &pub_results, &sub_results);
    if let Some(watch) = stuck_watch {
        let publish_elapsed = pub_results.iter().map(|r| r.elapsed).max();
        let subs: Vec<(u64, Duration)> = sub_results.iter().map(|r| (r.msgs, r.elapsed)).collect();
        let (stuck_report, stuck_error) = watch.finish(
            state.published(),
            publish_elapsed.unwrap_or_default(),
            &subs,
        );
        report.stuck = Some(stuck_report);
        report.errors.extend(stuck_error);
    }
    // The counters are read while the stuck sockets are still open, so closing them here
    // is not counted.
    let (server_counters, counters_error) = counters.end();
    drop(stuck);
    report.server_counters = server_counters;
    report.errors.extend(counters_error);
    Ok(report)
}

fn join(thread: JoinHandle<WorkerResult>) -> WorkerResult {
    thread.join().unwrap_or_else(|_| WorkerResult {
        msgs: 0,
        elapsed: Duration::ZERO,
        closed_by_server: false,
        error: Some("worker thread panicked".into()),
    })
}

fn publish_plan(args: &Args, index: usize, start: Instant) -> PublishPlan {
    let total = args.msgs_max.unwrap_or(u64::MAX);
    let publishers = args.publishers as u64;
    let share = if total == u64::MAX {
        u64::MAX
    } else {
        total / publishers + u64::from((index as u64) < total % publishers)
    };
    PublishPlan {
        subject: args.subject.clone(),
        payload_bytes: args.payload_bytes,
        msgs_max: share,
        deadline: args.duration_max.map(|duration| start + duration),
        window_msgs: args.window_msgs.map(u64::from),
        delivery_lag_max: args
            .window_msgs
            .map(|window| u64::from(window) * publishers),
        stall_timeout: args.drain_timeout,
    }
}

fn report(args: &Args, state: &RunState, pubs: &[WorkerResult], subs: &[WorkerResult]) -> Report {
    let published = state.published();
    let expected = match state.delivery {
        Delivery::None => 0,
        Delivery::EverySubscriber => published * subs.len() as u64,
        Delivery::OneMember => published,
    };
    let delivered: u64 = subs.iter().map(|result| result.msgs).sum();
    let outcomes: Vec<SubscriberOutcome> = subs
        .iter()
        .map(|result| SubscriberOutcome {
            delivered: result.msgs,
            closed_by_server: result.closed_by_server,
            ..SubscriberOutcome::default()
        })
        .collect();
    let sides = |results: &[WorkerResult]| {
        let counts: Vec<(u64, Duration)> = results.iter().map(|r| (r.msgs, r.elapsed)).collect();
        (!counts.is_empty()).then(|| Side::new(args.payload_bytes, &counts))
    };
    Report {
        publish: sides(pubs),
        subscribe: sides(subs),
        expected,
        delivered,
        lost: expected as i64 - delivered as i64,
        lost_split: LostSplit::new(state.delivery, published, &outcomes),
        subscribers: outcomes,
        errors: pubs
            .iter()
            .chain(subs)
            .filter_map(|r| r.error.clone())
            .collect(),
        ..Report::for_run(args)
    }
}

/// Runs one publisher and marks it finished whatever happens, so subscribers can drain.
fn publish_and_count_down(
    stream: TcpStream,
    plan: &PublishPlan,
    state: &RunState,
    start: Instant,
) -> WorkerResult {
    let (mut sent, mut finished) = (0, start);
    let outcome = publish(stream, plan, state, &mut sent, &mut finished);
    let elapsed = finished - start;
    state.publishers_running.fetch_sub(1, Ordering::AcqRel);
    if outcome.is_err() {
        state.stop.store(true, Ordering::Release);
    }
    WorkerResult {
        msgs: sent,
        elapsed,
        closed_by_server: false,
        error: outcome.err().map(|error| format!("publisher: {error}")),
    }
}

/// Counts the PONGs (and server PINGs) arriving on a publisher's connection.
#[derive(Default)]
struct PongCounter {
    pongs: AtomicU64,
    server_pings: AtomicU64,
    closed: AtomicBool,
    error: Mutex<Option<String>>,
}

fn publish(
    mut stream: TcpStream,
    plan: &PublishPlan,
    state: &RunState,
    sent: &mut u64,
    finished: &mut Instant,
) -> io::Result<()> {
    let counter = Arc::new(PongCounter::default());
    let reader = spawn_pong_reader(stream.try_clone()?, counter.clone());
    let result = publish_loop(&mut stream, plan, state, &counter, sent);
    // The reader notices `closed` only at its next poll; that wait is not publishing time.
    *finished = Instant::now();
    counter.closed.store(true, Ordering::Release);
    let _ = reader.join();
    result?;
    let error = counter.error.lock().map(|error| error.clone());
    match error {
        Ok(Some(error)) => Err(io::Error::other(error)),
        _ => Ok(()),
    }
}

fn publish_loop(
    stream: &mut TcpStream,
    plan: &PublishPlan,
    state: &RunState,
    counter: &PongCounter,
    sent: &mut u64,
) -> io::Result<()> {
    let payload = raw::payload(plan.payload_bytes);
    let mut frame = Vec::new();
    raw::encode_pub(&mut frame, plan.subject.as_bytes(), None, &payload);
    let batch_msgs_max = plan
        .window_msgs
        .map_or(usize::MAX, |window| window as usize);
    let batch_msgs = (BATCH_BYTES_TARGET / frame.len()).clamp(1, batch_msgs_max);
    let batch = frame.repeat(batch_msgs);
    let (mut pings_sent, mut pongs_answered) = (0u64, 0u64);
    let mut next_ping_at = plan.window_msgs.unwrap_or(u64::MAX);
    while *sent < plan.msgs_max && !state.stopped() {
        if plan
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            break;
        }
        let msgs = (batch_msgs as u64).min(plan.msgs_max - *sent);
        stream.write_all(&batch[..msgs as usize * frame.len()])?;
        *sent += msgs;
        state.published.0.fetch_add(msgs, Ordering::AcqRel);
        if let Some(window_msgs) = plan.window_msgs.filter(|_| *sent >= next_ping_at) {
            stream.write_all(b"PING\r\n")?;
            pings_sent += 1;
            next_ping_at += window_msgs;
            // Two windows in flight at most: wait for the PONG of the window before this one.
            wait_for_pongs(counter, pings_sent - 1)?;
        }
        pongs_answered = answer_server_pings(stream, counter, pongs_answered)?;
        if let Some(lag_max) = plan.delivery_lag_max {
            wait_for_delivery(state, lag_max, plan.stall_timeout)?;
        }
    }
    stream.write_all(b"PING\r\n")?;
    wait_for_pongs(counter, pings_sent + 1)
}

/// The server sends PINGs of its own (every ping_interval); the socket's writer answers.
fn answer_server_pings(
    stream: &mut TcpStream,
    counter: &PongCounter,
    answered: u64,
) -> io::Result<u64> {
    let pings = counter.server_pings.load(Ordering::Acquire);
    for _ in answered..pings {
        stream.write_all(b"PONG\r\n")?;
    }
    Ok(pings)
}

fn wait_for_pongs(counter: &PongCounter, wanted: u64) -> io::Result<()> {
    let since = Instant::now();
    let mut backoff = Backoff::new();
    while counter.pongs.load(Ordering::Acquire) < wanted {
        if counter.closed.load(Ordering::Acquire) {
            return Err(io::Error::other("connection closed while waiting for PONG"));
        }
        if since.elapsed() > PONG_TIMEOUT {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no PONG within 10 s",
            ));
        }
        backoff.wait();
    }
    Ok(())
}

/// Holds the publishers within `lag_max` of the slowest subscriber. Gives up (and ends the
/// run) when delivery stops moving, so lost messages show up as losses, not a hang.
fn wait_for_delivery(state: &RunState, lag_max: u64, stall_timeout: Duration) -> io::Result<()> {
    let mut backoff = Backoff::new();
    let mut watched = (state.delivery_progress(), Instant::now());
    while state.published().saturating_sub(watched.0) > lag_max {
        if state.stopped() {
            return Ok(());
        }
        let progress = state.delivery_progress();
        if progress != watched.0 {
            watched = (progress, Instant::now());
        } else if watched.1.elapsed() > stall_timeout {
            state.stop.store(true, Ordering::Release);
            return Err(io::Error::other(format!(
                "deliveries stalled for {stall_timeout:?} at {progress} of {} published",
                state.published()
            )));
        }
        backoff.wait();
    }
    Ok(())
}

fn spawn_pong_reader(mut stream: TcpStream, counter: Arc<PongCounter>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut scanner = MsgScanner::new();
        let mut buffer = vec![0u8; 16 * 1024];
        while !counter.closed.load(Ordering::Acquire) {
            match stream.read(&mut buffer) {
                Ok(0) => {
                    set_error(&counter, "server closed the connection".into());
                    break;
                }
                Ok(read) => {
                    scanner.scan(&buffer[..read], |_| {});
                    counter.pongs.store(scanner.pongs, Ordering::Release);
                    counter.server_pings.store(scanner.pings, Ordering::Release);
                    if let Some(error) = scanner.first_error.take() {
                        set_error(&counter, error);
                        break;
                    }
                }
                Err(error) if raw::is_timeout(&error) => {}
                Err(error) => {
                    set_error(&counter, error.to_string());
                    break;
                }
            }
        }
        counter.closed.store(true, Ordering::Release);
    })
}

fn set_error(counter: &PongCounter, error: String) {
    if let Ok(mut slot) = counter.error.lock() {
        slot.get_or_insert(error);
    }
}

/// Counts deliveries until this subscriber has all it can expect, or delivery has stalled
/// for `drain_timeout` after the publishers finished.
fn subscribe(
    mut stream: TcpStream,
    index: usize,
    state: &RunState,
    drain_timeout: Duration,
    start: Instant,
) -> WorkerResult {
    let mut scanner = MsgScanner::new();
    let mut buffer = vec![0u8; READ_BUFFER_BYTES];
    let (mut last_msg_at, mut pongs_sent, mut error) = (Duration::ZERO, 0u64, None);
    let mut closed_by_server = false;
    let mut watched: Option<(u64, Instant)> = None;
    while !state.subscriber_complete(index) && !state.stopped() {
        if state.publishers_done() {
            let total = state.delivered_total();
            match watched {
                Some((seen, since)) if seen == total => {
                    if since.elapsed() > drain_timeout {
                        break;
                    }
                }
                _ => watched = Some((total, Instant::now())),
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) => {
                error = Some(format!("subscriber {index}: server closed the connection"));
                closed_by_server = true;
                break;
            }
            Ok(read) => {
                let before = scanner.msgs;
                scanner.scan(&buffer[..read], |_| {});
                if scanner.msgs != before {
                    last_msg_at = start.elapsed();
                    state.delivered[index]
                        .0
                        .store(scanner.msgs, Ordering::Release);
                }
                for _ in pongs_sent..scanner.pings {
                    let _ = stream.write_all(b"PONG\r\n");
                }
                pongs_sent = scanner.pings;
            }
            Err(read_error) if raw::is_timeout(&read_error) => {}
            Err(read_error) => {
                // A server that closes with unread bytes in its receive buffer resets.
                closed_by_server = read_error.kind() == io::ErrorKind::ConnectionReset;
                error = Some(format!("subscriber {index}: {read_error}"));
                break;
            }
        }
    }
    if closed_by_server {
        state.mark_closed_by_server(index);
    }
    if let Some(server_error) = scanner.first_error.take() {
        error.get_or_insert(format!("subscriber {index}: {server_error}"));
    }
    if scanner.garbled_lines > 0 {
        error.get_or_insert(format!(
            "subscriber {index}: {} unparsable lines",
            scanner.garbled_lines
        ));
    }
    WorkerResult {
        msgs: scanner.msgs,
        elapsed: last_msg_at,
        closed_by_server,
        error,
    }
}
