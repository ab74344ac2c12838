//! The io backend fallback, tested for real: ringnats runs under seccomp filters like the
//! ones container runtimes apply, installed in the child with `pre_exec`.
//!
//! - A filter that makes `io_uring_setup` fail with EPERM (Docker 25+, containerd 2.x,
//!   `kernel.io_uring_disabled`): `auto` must fall back to epoll, say why, and serve
//!   clients; `--io_backend io_uring` must refuse to start with the cause and the fix.
//! - The shipped Docker-format profile `deploy/seccomp/ringnats.json`, turned into an
//!   equivalent filter: with it io_uring runs; with the same profile minus the three
//!   io_uring syscalls (Docker's default rules) ringnats falls back to epoll.
//!
//! The profile is translated by its syscall allowlist: every unconditional `SCMP_ACT_ALLOW`
//! entry for this architecture becomes an allowed syscall, `SCMP_ACT_ERRNO` entries keep
//! their errno (clone3's ENOSYS, which makes glibc fall back to clone), and anything else
//! fails with the profile's default errno. Argument filters (`args`) are treated as
//! allowing the syscall outright, and entries that need a capability are left out (a
//! default container lacks them), so the filter is slightly more permissive than Docker's
//! but denies exactly what Docker denies by name. io_uring needs the host to allow it, as
//! the io_uring run of the suite does.

#![cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ringnats_bin, RawClient, ServerProcess, TempDir, ANSWER_WAIT_MAX};
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use serde_json::{json, Value};

/// How long a server that must fail at start-up may take to exit.
const EXIT_WAIT_MAX: Duration = Duration::from_secs(10);

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;
/// Docker's name for this architecture in a profile's `arches` lists.
#[cfg(target_arch = "x86_64")]
const DOCKER_ARCH: &str = "amd64";
#[cfg(target_arch = "aarch64")]
const DOCKER_ARCH: &str = "arm64";

/// The syscalls Docker 25+ removed from its default profile.
const IO_URING_SYSCALLS: [&str; 3] = ["io_uring_enter", "io_uring_register", "io_uring_setup"];

/// A filter that lets everything through except `io_uring_setup`, which gets EPERM.
fn deny_io_uring_setup() -> Vec<BpfProgram> {
    let rules = BTreeMap::from([(libc::SYS_io_uring_setup, vec![])]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        ARCH,
    )
    .expect("valid filter");
    vec![filter.try_into().expect("filter compiles")]
}

/// Installs `programs` (in order) in the child between fork and exec.
fn install_filters(command: &mut Command, programs: Vec<BpfProgram>) {
    // SAFETY: the hook runs in the forked child before exec and only makes the prctl and
    // seccomp syscalls (no allocation, no locks); the programs were built in the parent.
    unsafe {
        command.pre_exec(move || {
            for program in &programs {
                if seccompiler::apply_filter(program).is_err() {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Starts ringnats (`--io_backend` from `args`, never from the environment) under filters.
fn ringnats_under(programs: Vec<BpfProgram>, args: &[&str]) -> ServerProcess {
    ServerProcess::start_with(&ringnats_bin(), args, |command| {
        install_filters(command, programs)
    })
}

/// The start-up line that names the backend, e.g. `io backend: epoll (...)`.
fn backend_line(server: &ServerProcess) -> String {
    let log = server.stderr_log();
    log.lines()
        .find(|line| line.contains("io backend: "))
        .unwrap_or_else(|| panic!("no io backend line in the log:\n{log}"))
        .to_string()
}

/// A message published on one connection reaches a subscriber on another.
fn check_pub_sub(server: &ServerProcess) {
    let mut subscriber = RawClient::connect(server.addr());
    subscriber.read_info_line(ANSWER_WAIT_MAX);
    subscriber.send(b"CONNECT {\"verbose\":false}\r\nSUB fallback.test 1\r\nPING\r\n");
    subscriber.expect_contains(b"PONG\r\n", ANSWER_WAIT_MAX);
    let mut publisher = RawClient::connect(server.addr());
    publisher.read_info_line(ANSWER_WAIT_MAX);
    publisher.send(b"CONNECT {\"verbose\":false}\r\nPUB fallback.test 5\r\nhello\r\nPING\r\n");
    publisher.expect_contains(b"PONG\r\n", ANSWER_WAIT_MAX);
    subscriber.expect_contains(b"MSG fallback.test 1 5\r\nhello\r\n", ANSWER_WAIT_MAX);
}

#[test]
fn auto_falls_back_to_epoll_when_seccomp_blocks_io_uring() {
    let server = ringnats_under(deny_io_uring_setup(), &["--io_backend", "auto"]);
    let line = backend_line(&server);
    assert!(line.contains("io backend: epoll"), "{line}");
    assert!(line.contains("io_uring unavailable (EPERM"), "{line}");
    check_pub_sub(&server);
}

#[test]
fn forced_io_uring_under_seccomp_fails_with_cause_and_fix() {
    let dir = TempDir::new("forced-uring");
    let mut command = Command::new(ringnats_bin());
    command
        .args(["--io_backend", "io_uring", "-a", "127.0.0.1", "-p", "-1"])
        .arg("--ports_file_dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    install_filters(&mut command, deny_io_uring_setup());
    let mut child = command.spawn().expect("ringnats starts");
    let deadline = Instant::now() + EXIT_WAIT_MAX;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ringnats kept running with io_uring forced and blocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("collect output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {}", output.status);
    assert!(stderr.contains("io_uring unavailable (EPERM"), "{stderr}");
    assert!(stderr.contains("seccomp"), "{stderr}");
    assert!(stderr.contains("--io_backend"), "{stderr}");
}

#[test]
fn shipped_profile_allows_io_uring() {
    let profile = load_profile();
    let server = ringnats_under(profile_filters(&profile), &["--io_backend", "auto"]);
    let line = backend_line(&server);
    assert!(
        line.contains("io backend: io_uring"),
        "{line} (io_uring must work on this host outside the filter too)"
    );
    check_pub_sub(&server);
}

#[test]
fn docker_default_rules_make_ringnats_fall_back_to_epoll() {
    let mut profile = load_profile();
    for entry in profile["syscalls"].as_array_mut().expect("syscalls list") {
        if let Some(names) = entry["names"].as_array_mut() {
            names.retain(|name| !IO_URING_SYSCALLS.contains(&name.as_str().unwrap_or("")));
        }
    }
    let server = ringnats_under(profile_filters(&profile), &["--io_backend", "auto"]);
    let line = backend_line(&server);
    assert!(line.contains("io backend: epoll"), "{line}");
    assert!(line.contains("io_uring unavailable (EPERM"), "{line}");
    check_pub_sub(&server);
}

#[test]
fn the_suite_backend_choice_reaches_the_binary() {
    let server = ServerProcess::ringnats(&[]);
    let line = backend_line(&server);
    match common::test_io_backend().as_deref() {
        Some(backend @ ("io_uring" | "epoll")) => {
            assert!(line.contains(&format!("io backend: {backend} (")), "{line}");
        }
        _ => assert!(line.contains("io backend: "), "{line}"),
    }
}

/// `deploy/seccomp/ringnats.json`, checked to be Docker's default plus io_uring.
fn load_profile() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/seccomp/ringnats.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let profile: Value = serde_json::from_str(&text).expect("profile is JSON");
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
    let allowed = allowed_names(&profile);
    for name in IO_URING_SYSCALLS {
        assert!(allowed.iter().any(|allowed| allowed == name), "{name}");
    }
    profile
}

/// Whether a profile entry applies in a default container on this architecture.
fn applies_here(entry: &Value) -> bool {
    let listed = |field: &Value| {
        field
            .as_array()
            .is_some_and(|items| items.iter().any(|item| item == DOCKER_ARCH))
    };
    let needs_caps = entry["includes"]["caps"]
        .as_array()
        .is_some_and(|caps| !caps.is_empty());
    let other_arch =
        entry["includes"]["arches"].is_array() && !listed(&entry["includes"]["arches"]);
    !needs_caps && !other_arch && !listed(&entry["excludes"]["arches"])
}

/// Syscalls the profile allows unconditionally (args filters counted as allowing).
fn allowed_names(profile: &Value) -> Vec<String> {
    names_with_action(profile, |entry| entry["action"] == "SCMP_ACT_ALLOW")
}

/// Names of the applicable entries `select` picks, known to seccompiler for this arch
/// (Docker, through libseccomp, likewise ignores names the architecture lacks).
fn names_with_action(profile: &Value, select: impl Fn(&Value) -> bool) -> Vec<String> {
    let mut names: Vec<String> = profile["syscalls"]
        .as_array()
        .expect("syscalls list")
        .iter()
        .filter(|entry| applies_here(entry) && select(entry))
        .flat_map(|entry| entry["names"].as_array().cloned().unwrap_or_default())
        .filter_map(|name| name.as_str().map(str::to_string))
        .filter(|name| known_syscall(name))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// True when seccompiler can resolve `name` on this architecture.
fn known_syscall(name: &str) -> bool {
    let probe = json!({"probe": {
        "mismatch_action": {"errno": libc::EPERM},
        "match_action": "allow",
        "filter": [{"syscall": name}],
    }});
    seccompiler::compile_from_json(probe.to_string().as_bytes(), ARCH).is_ok()
}

/// The profile as filters: the allowlist first, then one filter per errno the profile
/// returns for named syscalls. Filters installed later run first and, for equal actions,
/// their errno wins (seccomp(2)), so clone3 gets ENOSYS rather than the default EPERM.
fn profile_filters(profile: &Value) -> Vec<BpfProgram> {
    let default_errno = profile["defaultErrnoRet"].as_u64().unwrap_or(1);
    let mut filters = vec![compile(
        json!({"errno": default_errno}),
        json!("allow"),
        &allowed_names(profile),
    )];
    let mut errnos: Vec<u64> = profile["syscalls"]
        .as_array()
        .expect("syscalls list")
        .iter()
        .filter(|entry| entry["action"] == "SCMP_ACT_ERRNO")
        .filter_map(|entry| entry["errnoRet"].as_u64())
        .collect();
    errnos.sort_unstable();
    errnos.dedup();
    for errno in errnos {
        let names = names_with_action(profile, |entry| {
            entry["action"] == "SCMP_ACT_ERRNO" && entry["errnoRet"].as_u64() == Some(errno)
        });
        if !names.is_empty() {
            filters.push(compile(json!("allow"), json!({"errno": errno}), &names));
        }
    }
    for entry in profile["syscalls"].as_array().expect("syscalls list") {
        let action = entry["action"].as_str().unwrap_or("");
        assert!(
            matches!(action, "SCMP_ACT_ALLOW" | "SCMP_ACT_ERRNO"),
            "profile action {action} is not translated by this test"
        );
    }
    filters
}

/// One seccompiler filter over `names`.
fn compile(mismatch_action: Value, match_action: Value, names: &[String]) -> BpfProgram {
    let rules: Vec<Value> = names.iter().map(|name| json!({"syscall": name})).collect();
    let filter = json!({"profile": {
        "mismatch_action": mismatch_action,
        "match_action": match_action,
        "filter": rules,
    }});
    let mut programs = seccompiler::compile_from_json(filter.to_string().as_bytes(), ARCH)
        .expect("profile compiles");
    programs.remove("profile").expect("the compiled filter")
}
