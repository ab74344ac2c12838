//! `ringnats-bench`: measures any NATS server (ringnats or nats-server) over loopback the way
//! `nats bench` does — publish-only, fan-out, fan-in, queue groups, request/reply latency and
//! memory per idle connection — so that both servers are judged by the same stick.
//!
//! The default raw path writes pre-encoded `PUB` batches and counts `MSG` frames with a
//! memchr scanner on plain threads, so the harness is never the bottleneck; `--client
//! async-nats` runs the same scenarios through the official client. Publishers are held to a
//! flow-control window (see `pubsub`), so results do not depend on how much a server buffers.
//! With `--monitor` the server's `/varz` says whether it closed a subscriber as a slow
//! consumer or stalled a producer, so losses are split into server-side and client-side;
//! `--stuck N` adds subscribers that never read and measures the others after the server
//! closed them.
//! Output is a table for people or one JSON object (`--json`) for `scripts/perf.sh`.

mod args;
mod client;
mod idle;
mod monitor;
mod progress;
mod pubsub;
mod raw;
mod report;
mod request;
mod stuck;

use std::process::ExitCode;

use args::{ArgsError, ClientKind, Mode};

fn main() -> ExitCode {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(ArgsError::Help) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(ArgsError::Invalid(message)) => {
            eprintln!("ringnats-bench: {message}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let outcome = match (args.client, args.mode) {
        (ClientKind::AsyncNats, _) => client::run(&args),
        (ClientKind::Raw, Mode::Request) => request::run(&args),
        (ClientKind::Raw, Mode::Idle) => idle::run(&args),
        (ClientKind::Raw, _) => pubsub::run(&args),
    };
    let report = match outcome {
        Ok(report) => report,
        Err(error) => {
            eprintln!("ringnats-bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        match serde_json::to_string(&report) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("ringnats-bench: cannot encode the report: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", report.table());
    }
    ExitCode::SUCCESS
}
