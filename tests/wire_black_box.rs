//! Black-box wire tests: every case of the shared table (`tests/wire_cases/table.rs`) sent
//! as raw bytes to a running ringnats over TCP, checking the exact bytes it answers and
//! whether it closes the connection. Also checks that a hostile client being thrown out
//! does not disturb anyone else.
//!
//! One ringnats process serves all cases of a test; each case gets its own connection.

mod common;
#[path = "wire_cases/table.rs"]
mod wire_cases;

use common::{
    escape_bytes_short, mask_id_bytes, run_transcript, RawClient, ServerProcess, Until,
    ANSWER_WAIT_MAX,
};
use std::collections::HashSet;
use wire_cases::{WireCase, GREETING_INFO, WIRE_CASES};

/// Runs one case and describes any difference from the table.
fn check_case(server: &ServerProcess, case: &WireCase) -> Option<String> {
    let transcript = run_transcript(
        server.addr(),
        case.input,
        Until::for_expected(case.closes, case.expect),
    );
    let greeting = mask_id_bytes(&transcript.info_line);
    let actual = transcript.masked_after_info();
    if greeting == GREETING_INFO && actual == case.expect && transcript.closed == case.closes {
        return None;
    }
    Some(format!(
        "case {}: {}\n  greeting: {}\n  expected (closes: {}): {}\n  actual   (closed: {}): {}",
        case.name,
        case.why,
        escape_bytes_short(&greeting),
        case.closes,
        escape_bytes_short(case.expect),
        transcript.closed,
        escape_bytes_short(&actual),
    ))
}

#[test]
fn every_wire_case_matches_table() {
    let server = ServerProcess::ringnats(&[]);
    for (name, _) in common::KNOWN_DIFFERENCES {
        assert!(
            WIRE_CASES.iter().any(|case| case.name == *name),
            "unknown case {name}"
        );
    }
    let failures: Vec<String> = WIRE_CASES
        .iter()
        .filter(|case| !common::is_known_difference(case.name))
        .filter_map(|case| check_case(&server, case))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} wire cases differ from the table:\n{}\n--- ringnats stderr ---\n{}",
        failures.len(),
        WIRE_CASES.len(),
        failures.join("\n"),
        server.stderr_log()
    );
}

#[test]
fn hostile_close_leaves_other_connections_working() {
    let server = ServerProcess::ringnats(&[]);
    let mut watcher = RawClient::connect(server.addr());
    watcher.read_info_line(ANSWER_WAIT_MAX);
    watcher
        .send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB bystander.> 1\r\nPING\r\n");
    watcher.expect_contains(b"PONG\r\n", ANSWER_WAIT_MAX);

    for (round, case) in WIRE_CASES.iter().filter(|case| case.closes).enumerate() {
        // Whether and how it closed is every_wire_case_matches_table's business; here the
        // hostile connection only has to have done its worst before the bystanders talk.
        run_transcript(server.addr(), case.input, Until::Closed);

        let mut publisher = RawClient::connect(server.addr());
        publisher.read_info_line(ANSWER_WAIT_MAX);
        let message = format!("after-{round}");
        let publish = format!(
            "CONNECT {{\"verbose\":false}}\r\nPUB bystander.{round} {}\r\n{message}\r\nPING\r\n",
            message.len()
        );
        publisher.send(publish.as_bytes());
        publisher.expect_contains(b"PONG\r\n", ANSWER_WAIT_MAX);

        let delivery = format!("MSG bystander.{round} 1 {}\r\n{message}\r\n", message.len());
        watcher.expect_contains(delivery.as_bytes(), ANSWER_WAIT_MAX);
    }
    watcher.send(b"PING\r\n");
    watcher.expect_contains(b"PONG\r\n", ANSWER_WAIT_MAX);
}

#[test]
fn wire_table_is_well_formed() {
    let mut names = HashSet::new();
    for case in WIRE_CASES {
        assert!(names.insert(case.name), "duplicate case name {}", case.name);
        assert!(!case.why.trim().is_empty(), "case {} has no why", case.name);
        assert!(!case.input.is_empty(), "case {} sends nothing", case.name);
        if !case.closes {
            // The final PING/PONG proves the server parsed everything and is in step.
            let input = case.input.to_ascii_uppercase();
            assert!(
                input.ends_with(b"PING\r\n") || input.ends_with(b"PING\n"),
                "open case {} must end its input with PING",
                case.name
            );
            assert!(
                case.expect.ends_with(b"PONG\r\n"),
                "open case {} must expect a final PONG",
                case.name
            );
        }
    }
    assert!(
        WIRE_CASES.len() >= 50,
        "only {} wire cases",
        WIRE_CASES.len()
    );
}
