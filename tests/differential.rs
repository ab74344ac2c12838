//! Differential wire tests: every case of the shared table (`tests/wire_cases/table.rs`) is
//! sent to the reference nats-server 2.15.1 and to ringnats, and their answers must be
//! identical byte for byte (greeting INFO included) once per-process values are masked.
//! A second test checks the table's `expect` against the reference itself, so the table
//! cannot drift from what nats-server really sends.
//!
//! A missing or wrong reference binary fails these tests; it never skips them.

mod common;
#[path = "wire_cases/table.rs"]
mod wire_cases;

use common::{escape_bytes_short, mask_id_bytes, run_transcript, ServerProcess, Transcript, Until};
use wire_cases::{WireCase, GREETING_INFO, WIRE_CASES};

/// Runs every table case against `server`, one connection each, in table order.
fn run_all_cases(server: &ServerProcess) -> Vec<Transcript> {
    WIRE_CASES
        .iter()
        .map(|case| {
            run_transcript(
                server.addr(),
                case.input,
                Until::for_expected(case.closes, case.expect),
            )
        })
        .collect()
}

#[test]
fn reference_server_matches_table() {
    let reference = ServerProcess::reference(&[]);
    let mut failures = Vec::new();
    for (case, transcript) in WIRE_CASES.iter().zip(run_all_cases(&reference)) {
        let greeting = mask_id_bytes(&transcript.info_line);
        let actual = transcript.masked_after_info();
        if greeting != GREETING_INFO || actual != case.expect || transcript.closed != case.closes {
            failures.push(format!(
                "case {}: {}\n  greeting: {}\n  table     (closes: {}): {}\n  \
                 reference (closed: {}): {}",
                case.name,
                case.why,
                escape_bytes_short(&greeting),
                case.closes,
                escape_bytes_short(case.expect),
                transcript.closed,
                escape_bytes_short(&actual),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} table cases no longer match nats-server {}:\n{}",
        failures.len(),
        WIRE_CASES.len(),
        common::REFERENCE_VERSION,
        failures.join("\n")
    );
}

/// Compares ringnats's answer to one case with the reference's, greeting included; the
/// greetings are shown only when they differ, to keep long failure lists readable.
fn describe_difference(
    case: &WireCase,
    expected: &Transcript,
    actual: &Transcript,
) -> Option<String> {
    let greetings = (
        mask_id_bytes(&expected.info_line),
        mask_id_bytes(&actual.info_line),
    );
    let answers = (expected.masked_after_info(), actual.masked_after_info());
    if greetings.0 == greetings.1 && answers.0 == answers.1 && expected.closed == actual.closed {
        return None;
    }
    let mut text = format!("case {}: {}\n", case.name, case.why);
    if greetings.0 != greetings.1 {
        text += &format!(
            "  nats-server greeting: {}\n  ringnats    greeting: {}\n",
            escape_bytes_short(&greetings.0),
            escape_bytes_short(&greetings.1)
        );
    }
    text += &format!(
        "  nats-server (closed: {}): {}\n  ringnats    (closed: {}): {}",
        expected.closed,
        escape_bytes_short(&answers.0),
        actual.closed,
        escape_bytes_short(&answers.1)
    );
    Some(text)
}

#[test]
fn ringnats_matches_reference_byte_for_byte() {
    let reference = ServerProcess::reference(&[]);
    let ringnats = ServerProcess::ringnats(&[]);
    // The two servers are independent, so run them side by side to halve the wall time.
    let (reference_transcripts, ringnats_transcripts) = std::thread::scope(|scope| {
        let reference_run = scope.spawn(|| run_all_cases(&reference));
        let ringnats_run = scope.spawn(|| run_all_cases(&ringnats));
        (
            reference_run.join().expect("reference run panicked"),
            ringnats_run.join().expect("ringnats run panicked"),
        )
    });
    let failures: Vec<String> = WIRE_CASES
        .iter()
        .zip(&reference_transcripts)
        .zip(&ringnats_transcripts)
        .filter(|((case, _), _)| !common::is_known_difference(case.name))
        .filter_map(|((case, expected), actual)| describe_difference(case, expected, actual))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} wire cases differ between nats-server and ringnats:\n{}\n\
         --- ringnats stderr ---\n{}",
        failures.len(),
        WIRE_CASES.len(),
        failures.join("\n"),
        ringnats.stderr_log()
    );
}
