//! The start-up probe that picks the io backend, and the sentence that says why.
//!
//! `auto` sets up a real io_uring (with the flags and opcodes the shards use) and falls
//! back to epoll when that fails, whatever the reason: seccomp (Docker 25+, containerd
//! 2.x: EPERM; Podman/CRI-O: ENOSYS), `kernel.io_uring_disabled` (EPERM), a low
//! locked-memory limit (ENOMEM) or a kernel without the opcodes. Forcing io_uring where it
//! cannot work is a start-up error naming the cause and the fix, never a silent fallback.

use super::uring::{Unavailable, UringBackend};
use crate::config::IoBackendChoice;

/// The backend the shards run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// One io_uring per shard ([`super::uring::UringBackend`]).
    IoUring,
    /// One edge-triggered epoll per shard ([`super::epoll::EpollBackend`]).
    Epoll,
}

impl BackendKind {
    /// The name used in logs and by `--io_backend`.
    pub fn name(self) -> &'static str {
        match self {
            Self::IoUring => "io_uring",
            Self::Epoll => "epoll",
        }
    }
}

/// The probe's decision and its reason, for the start-up log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    /// Which backend runs.
    pub kind: BackendKind,
    /// Why, in one phrase ("io_uring unavailable (EPERM: ...); using epoll").
    pub reason: String,
}

/// Decides the backend for `choice`; `Err` (the start-up error text) only when io_uring
/// was forced and cannot work.
pub fn choose(choice: IoBackendChoice) -> Result<Chosen, String> {
    match choice {
        IoBackendChoice::Epoll => Ok(Chosen {
            kind: BackendKind::Epoll,
            reason: "forced by io_backend epoll".into(),
        }),
        IoBackendChoice::IoUring => match UringBackend::new() {
            Ok(_) => Ok(Chosen {
                kind: BackendKind::IoUring,
                reason: "forced by io_backend io_uring".into(),
            }),
            Err(unavailable) => Err(forced_error(&unavailable)),
        },
        IoBackendChoice::Auto => Ok(match UringBackend::new() {
            Ok(_) => Chosen {
                kind: BackendKind::IoUring,
                reason: "io_uring available".into(),
            },
            Err(unavailable) => Chosen {
                kind: BackendKind::Epoll,
                reason: format!("{}; using epoll", describe(&unavailable, false)),
            },
        }),
    }
}

/// "io_uring unavailable (EPERM: blocked by seccomp ...)"; `with_fix` keeps the advice
/// that follows the cause (after "; ") in the explanation.
pub fn describe(unavailable: &Unavailable, with_fix: bool) -> String {
    let cause = match unavailable.error.raw_os_error() {
        Some(code) => errno_name(code).map_or_else(|| unavailable.error.to_string(), Into::into),
        None => unavailable.error.to_string(),
    };
    let explanation = match unavailable.explanation.split_once("; ") {
        Some((cause_only, _)) if !with_fix => cause_only,
        _ => unavailable.explanation,
    };
    format!("io_uring unavailable ({cause}: {explanation})")
}

/// The start-up error when io_uring is forced but unavailable: the cause and the fix.
fn forced_error(unavailable: &Unavailable) -> String {
    let mut text = format!(
        "io_backend io_uring was requested but {}",
        describe(unavailable, true)
    );
    if !unavailable.explanation.contains("--io_backend") {
        text.push_str("; or run with --io_backend auto (falls back to epoll) or epoll");
    }
    text
}

/// Symbolic names of the errnos io_uring set-up fails with.
fn errno_name(code: i32) -> Option<&'static str> {
    Some(match code {
        libc::EPERM => "EPERM",
        libc::ENOSYS => "ENOSYS",
        libc::ENOMEM => "ENOMEM",
        libc::EINVAL => "EINVAL",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EACCES => "EACCES",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn unavailable(code: i32, explanation: &'static str) -> Unavailable {
        Unavailable {
            error: io::Error::from_raw_os_error(code),
            explanation,
        }
    }

    #[test]
    fn describes_the_errno_by_name_with_or_without_the_fix() {
        let blocked = unavailable(libc::EPERM, "blocked by seccomp; allow io_uring_setup");
        assert_eq!(
            describe(&blocked, false),
            "io_uring unavailable (EPERM: blocked by seccomp)"
        );
        assert_eq!(
            describe(&blocked, true),
            "io_uring unavailable (EPERM: blocked by seccomp; allow io_uring_setup)"
        );
    }

    #[test]
    fn forced_error_names_a_fix() {
        let text = forced_error(&unavailable(libc::ENOMEM, "memlock too low"));
        assert!(text.contains("ENOMEM"), "{text}");
        assert!(text.contains("--io_backend"), "{text}");
    }

    #[test]
    fn forcing_epoll_never_probes() {
        let chosen = choose(IoBackendChoice::Epoll).unwrap();
        assert_eq!(chosen.kind, BackendKind::Epoll);
        assert_eq!(chosen.kind.name(), "epoll");
    }
}
