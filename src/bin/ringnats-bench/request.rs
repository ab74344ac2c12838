//! Request/reply latency over raw sockets: K requesters, each with exactly one request in
//! flight, against responders in a queue group (so each request is answered once). A
//! request is a `PUB <subject> <inbox> <size>`; the responder answers every MSG it reads
//! with a `PUB <reply>` of the same size, batching all answers to one read into one write.
//! The round trip (two hops through the server) is recorded in an HDR histogram.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::args::Args;
use crate::progress::{Delivery, ProgressLine, RunState};
use crate::raw::{self, MsgScanner, READ_BUFFER_BYTES};
use crate::report::{latency_histogram, Latency, Report, Side};

/// A request unanswered for this long ends that requester with an error.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Queue group of the responders.
const RESPONDER_GROUP: &str = "bench.responders";

struct RequesterResult {
    requests: u64,
    elapsed: Duration,
    histogram: Histogram<u64>,
    error: Option<String>,
}

pub fn run(args: &Args) -> io::Result<Report> {
    let state = RunState::new(0, args.requesters, Delivery::None);
    let sub_line = format!("SUB {} {RESPONDER_GROUP} 1\r\n", args.subject);
    let responder_streams = (0..args.subscribers)
        .map(|index| {
            raw::connect(
                args.server,
                &format!("bench-responder-{index}"),
                sub_line.as_bytes(),
            )
        })
        .collect::<io::Result<Vec<_>>>()?;
    let requester_streams = (0..args.requesters)
        .map(|index| {
            let inbox = format!("SUB {} 1\r\n", inbox(index));
            raw::connect(
                args.server,
                &format!("bench-requester-{index}"),
                inbox.as_bytes(),
            )
        })
        .collect::<io::Result<Vec<_>>>()?;

    let start = Instant::now();
    let progress = ProgressLine::start(state.clone(), args.progress);
    let responders: Vec<JoinHandle<Option<String>>> = responder_streams
        .into_iter()
        .map(|stream| {
            let (state, payload_bytes) = (state.clone(), args.payload_bytes);
            thread::spawn(move || respond(stream, &state, payload_bytes).err())
        })
        .collect();
    let requesters: Vec<JoinHandle<RequesterResult>> = requester_streams
        .into_iter()
        .enumerate()
        .map(|(index, stream)| {
            let (state, args) = (state.clone(), args.clone());
            thread::spawn(move || request_loop(stream, &args, index, &state, start))
        })
        .collect();
    let results: Vec<RequesterResult> = requesters.into_iter().map(join_requester).collect();
    state.stop.store(true, Ordering::Release);
    let responder_errors: Vec<String> = responders
        .into_iter()
        .filter_map(|thread| thread.join().unwrap_or(Some("responder panicked".into())))
        .collect();
    drop(progress);
    Ok(report(args, &results, responder_errors))
}

fn inbox(index: usize) -> String {
    format!("_INBOX.bench.{index}")
}

fn join_requester(thread: JoinHandle<RequesterResult>) -> RequesterResult {
    thread.join().unwrap_or_else(|_| RequesterResult {
        requests: 0,
        elapsed: Duration::ZERO,
        histogram: latency_histogram(),
        error: Some("requester panicked".into()),
    })
}

fn report(args: &Args, results: &[RequesterResult], mut errors: Vec<String>) -> Report {
    let mut histogram = latency_histogram();
    for result in results {
        // Same bounds on both sides, so adding cannot fail.
        let _ = histogram.add(&result.histogram);
    }
    let counts: Vec<(u64, Duration)> = results.iter().map(|r| (r.requests, r.elapsed)).collect();
    errors.extend(results.iter().filter_map(|r| r.error.clone()));
    Report {
        publish: Some(Side::new(args.payload_bytes, &counts)),
        latency: Some(Latency::from_nanos(&histogram)),
        errors,
        ..Report::for_run(args)
    }
}

/// Answers every request until the run stops.
fn respond(mut stream: TcpStream, state: &RunState, payload_bytes: usize) -> Result<(), String> {
    let payload = raw::payload(payload_bytes);
    let mut scanner = MsgScanner::new();
    let mut buffer = vec![0u8; READ_BUFFER_BYTES];
    let mut answers = Vec::with_capacity(READ_BUFFER_BYTES);
    let mut pongs_sent = 0;
    while !state.stopped() {
        let read = match stream.read(&mut buffer) {
            Ok(0) => return Err("responder: server closed the connection".into()),
            Ok(read) => read,
            Err(error) if raw::is_timeout(&error) => continue,
            Err(error) => return Err(format!("responder: {error}")),
        };
        scanner.scan(&buffer[..read], |line| {
            if let Some(reply) = raw::reply_subject(line) {
                raw::encode_pub(&mut answers, reply, None, &payload);
            }
        });
        for _ in pongs_sent..scanner.pings {
            answers.extend_from_slice(b"PONG\r\n");
        }
        pongs_sent = scanner.pings;
        stream
            .write_all(&answers)
            .map_err(|error| format!("responder: {error}"))?;
        answers.clear();
    }
    match scanner.first_error {
        Some(error) => Err(format!("responder: {error}")),
        None => Ok(()),
    }
}

fn request_loop(
    mut stream: TcpStream,
    args: &Args,
    index: usize,
    state: &RunState,
    start: Instant,
) -> RequesterResult {
    let share = args.msgs_max.map_or(u64::MAX, |total| {
        let requesters = args.requesters as u64;
        total / requesters + u64::from((index as u64) < total % requesters)
    });
    let deadline = args.duration_max.map(|duration| start + duration);
    let mut request = Vec::new();
    let payload = raw::payload(args.payload_bytes);
    raw::encode_pub(
        &mut request,
        args.subject.as_bytes(),
        Some(inbox(index).as_bytes()),
        &payload,
    );
    let mut result = RequesterResult {
        requests: 0,
        elapsed: Duration::ZERO,
        histogram: latency_histogram(),
        error: None,
    };
    let mut scanner = MsgScanner::new();
    let mut buffer = vec![0u8; READ_BUFFER_BYTES];
    while result.requests < share && !state.stopped() {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            break;
        }
        let sent_at = Instant::now();
        if let Err(error) = round_trip(&mut stream, &request, &mut scanner, &mut buffer) {
            result.error = Some(format!("requester {index}: {error}"));
            break;
        }
        let _ = result.histogram.record(sent_at.elapsed().as_nanos() as u64);
        result.requests += 1;
        state.published.0.fetch_add(1, Ordering::AcqRel);
    }
    result.elapsed = start.elapsed();
    result
}

/// Sends one request and reads until its reply has arrived.
fn round_trip(
    stream: &mut TcpStream,
    request: &[u8],
    scanner: &mut MsgScanner,
    buffer: &mut [u8],
) -> io::Result<()> {
    let wanted = scanner.msgs + 1;
    let sent_at = Instant::now();
    stream.write_all(request)?;
    while scanner.msgs < wanted {
        let pings = scanner.pings;
        match stream.read(buffer) {
            Ok(0) => return Err(io::Error::other("server closed the connection")),
            Ok(read) => scanner.scan(&buffer[..read], |_| {}),
            Err(error) if raw::is_timeout(&error) => {}
            Err(error) => return Err(error),
        }
        for _ in pings..scanner.pings {
            stream.write_all(b"PONG\r\n")?;
        }
        if let Some(error) = scanner.first_error.take() {
            return Err(io::Error::other(error));
        }
        if sent_at.elapsed() > REPLY_TIMEOUT {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no reply within 5 s",
            ));
        }
    }
    Ok(())
}
