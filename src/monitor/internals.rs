//! The endpoints that show nats-server's Go internals — `/stacksz`, `/ipqueuesz`,
//! `/raftz`, and the `EXPVARZ` and `PROFILEZ` requests — answered with what is true of
//! ringnats, in nats-server's shape:
//!
//! - `/stacksz` lists ringnats's threads (not goroutines): one block per thread,
//!   `thread <tid> [<state>]: <name>` as Go writes `goroutine <id> [<state>]:`, with the
//!   kernel's wait channel for a sleeping thread. Only the thread serving the request can
//!   capture its own stack, so it alone is followed by frames; reading the others' would
//!   take ptrace or signals, which a monitoring scrape must not do to a shard.
//! - `/ipqueuesz` is a map from nats-server's internal queue names (`SendQ`,
//!   `System recvQ`, ...) to their lengths; ringnats has none of those queues, so the map
//!   is empty with or without `all`.
//! - `/raftz` answers nats-server's 404 "No Raft nodes registered": ringnats runs no
//!   Raft groups. The `RAFTZ` request answers an empty map, as nats-server does then.
//! - `EXPVARZ` carries `cmdline` (the process's arguments) and `memstats: null`: Go's
//!   `runtime.MemStats` has no counterpart outside the Go runtime.
//! - `PROFILEZ` answers nats-server's errors: ringnats has no pprof profiles to write.

use std::fmt::Write as _;
use std::time::Duration;

use hyper::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Query, Reply};
use crate::config::file::go_duration_text;

/// nats-server's limit on a CPU profile's length.
const CPU_PROFILE_DURATION_MAX: Duration = Duration::from_secs(15);

/// Threads listed at most by `/stacksz` (ringnats runs one per shard plus a few).
const THREADS_LISTED_MAX: usize = 4096;

/// Serves `/raftz`: nats-server's answer when no Raft node is registered.
pub fn serve_raftz() -> Reply {
    Reply::text(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "No Raft nodes registered".into(),
    )
}

/// A `RAFTZ` request's `data`: no groups in the account asked about (the system account
/// by default); `None` (JSON `null`) when there is no account to look in.
pub fn raftz(account_filter: &str, system_account: Option<&str>) -> Option<Map<String, Value>> {
    (!account_filter.is_empty() || system_account.is_some()).then(Map::new)
}

/// nats-server's `IpqueueszStatus`: queue name to lengths. Always empty (see the module
/// documentation).
pub fn ipqueuesz() -> Map<String, Value> {
    Map::new()
}

/// Serves `/ipqueuesz` (`all`, `queues` are accepted as nats-server accepts them).
pub fn serve_ipqueuesz(query: &Query) -> Reply {
    match query.flag("all") {
        Ok(_) => Reply::json(&ipqueuesz()),
        Err(message) => Reply::bad_request(message),
    }
}

/// nats-server's `ExpvarzStatus`.
#[derive(Serialize)]
pub struct Expvarz {
    memstats: Option<Value>,
    cmdline: Vec<String>,
}

/// An `EXPVARZ` request's `data`.
pub fn expvarz() -> Expvarz {
    Expvarz {
        memstats: None,
        cmdline: std::env::args().collect(),
    }
}

/// nats-server's `ProfilezStatus`.
#[derive(Serialize)]
pub struct Profilez {
    profile: Option<String>,
    error: String,
}

/// A `PROFILEZ` request's `data`: nats-server's error for the profile asked for.
pub fn profilez(name: &str, duration_nanos: i64) -> Profilez {
    let error = match name {
        "" => "Profile name not specified".to_string(),
        "cpu" => {
            let duration = Duration::from_nanos(duration_nanos.unsigned_abs());
            if duration_nanos <= 0 || duration > CPU_PROFILE_DURATION_MAX {
                let sign = if duration_nanos < 0 { "-" } else { "" };
                let text = go_duration_text(duration);
                format!("Duration {sign}{text} should be between 0s and 15s")
            } else {
                "Failed to start CPU profile: ringnats has no Go runtime profiler".to_string()
            }
        }
        other => format!("Profile {other:?} not found"),
    };
    Profilez {
        profile: None,
        error,
    }
}

/// Serves `/stacksz`: ringnats's threads, the serving one with its stack.
pub fn serve_stacksz() -> Reply {
    Reply {
        status: StatusCode::OK,
        content_type: "application/json",
        body: thread_dump().into_bytes(),
    }
}

/// One block per thread of this process, the calling thread first.
fn thread_dump() -> String {
    // SAFETY: gettid has no preconditions.
    let own = unsafe { libc::gettid() };
    let mut tids: Vec<i32> = std::fs::read_dir("/proc/self/task")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
                .take(THREADS_LISTED_MAX)
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable_by_key(|&tid| (tid != own, tid));
    let mut dump = String::new();
    for tid in tids {
        let read = |file: &str| {
            std::fs::read_to_string(format!("/proc/self/task/{tid}/{file}"))
                .map(|text| text.trim().to_string())
                .unwrap_or_default()
        };
        let name = read("comm");
        if tid == own {
            let _ = writeln!(dump, "thread {tid} [running]: {name}");
            let frames = std::backtrace::Backtrace::force_capture().to_string();
            for line in frames.lines() {
                let _ = writeln!(dump, "\t{}", line.trim_start());
            }
        } else {
            let state = thread_state(&read("stat"));
            let _ = match read("wchan").as_str() {
                "" | "0" => writeln!(dump, "thread {tid} [{state}]: {name}"),
                wchan => writeln!(dump, "thread {tid} [{state}, {wchan}]: {name}"),
            };
        }
        dump.push('\n');
    }
    dump
}

/// The state letter of `/proc/<pid>/task/<tid>/stat`, in words.
fn thread_state(stat: &str) -> &'static str {
    // The name may hold spaces and parentheses; the state follows the last `)`.
    let letter = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next());
    match letter {
        Some("R") => "running",
        Some("S") => "sleeping",
        Some("D") => "disk sleep",
        Some("T" | "t") => "stopped",
        Some("Z") => "zombie",
        Some("I") => "idle",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dump_lists_this_thread_first_with_its_stack() {
        let dump = thread_dump();
        let first = dump.lines().next().unwrap();
        assert!(
            first.starts_with("thread ") && first.contains("[running]"),
            "{dump}"
        );
        assert!(dump.contains("thread_dump"), "{dump}");
    }

    #[test]
    fn profiles_answer_nats_servers_errors() {
        assert_eq!(profilez("", 0).error, "Profile name not specified");
        assert_eq!(profilez("heap", 0).error, "Profile \"heap\" not found");
        assert_eq!(
            profilez("cpu", 0).error,
            "Duration 0s should be between 0s and 15s"
        );
        assert_eq!(
            profilez("cpu", 20_000_000_000).error,
            "Duration 20s should be between 0s and 15s"
        );
    }
}
