//! Logging in nats-server's format: `[pid] 2026/11/25 14:01:02.123456 [INF] text`.
//!
//! One process-wide logger, set once at start-up. Lines are formatted into a local
//! buffer and written with a single `write` call, so lines from several shards never
//! interleave. Debug and trace checks are a relaxed atomic load, cheap enough for the
//! shard loops; nothing on the data path logs unless `-D`/`-V` asked for it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::config::LogConfig;

/// Severity labels, as nats-server prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `[FTL]`
    Fatal,
    /// `[ERR]`
    Error,
    /// `[WRN]`
    Warn,
    /// `[INF]`
    Info,
    /// `[DBG]`
    Debug,
    /// `[TRC]`
    Trace,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Fatal => "[FTL]",
            Level::Error => "[ERR]",
            Level::Warn => "[WRN]",
            Level::Info => "[INF]",
            Level::Debug => "[DBG]",
            Level::Trace => "[TRC]",
        }
    }
}

/// Where lines go.
enum Sink {
    Stderr,
    File(File, std::path::PathBuf),
}

/// The process-wide logger.
pub struct Logger {
    debug: AtomicBool,
    trace: AtomicBool,
    logtime: bool,
    utc: bool,
    pid: u32,
    sink: Mutex<Sink>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Installs the logger; later calls are ignored (tests may start several servers).
pub fn init(config: &LogConfig) -> std::io::Result<()> {
    let sink = match &config.file {
        Some(path) => Sink::File(open_log_file(path)?, path.clone()),
        None => Sink::Stderr,
    };
    let _ = LOGGER.set(Logger {
        debug: AtomicBool::new(config.debug),
        trace: AtomicBool::new(config.trace),
        logtime: config.logtime,
        utc: config.logtime_utc,
        pid: std::process::id(),
        sink: Mutex::new(sink),
    });
    Ok(())
}

fn open_log_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Reopens the log file (SIGUSR1, after logrotate moved it); a no-op on stderr.
pub fn reopen() -> std::io::Result<()> {
    let Some(logger) = LOGGER.get() else {
        return Ok(());
    };
    let mut sink = logger
        .sink
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    if let Sink::File(file, path) = &mut *sink {
        *file = open_log_file(path)?;
    }
    Ok(())
}

/// Changes the debug and trace switches (config reload).
pub fn set_levels(debug: bool, trace: bool) {
    if let Some(logger) = LOGGER.get() {
        logger.debug.store(debug, Ordering::Relaxed);
        logger.trace.store(trace, Ordering::Relaxed);
    }
}

/// True when debug lines are wanted.
#[inline]
pub fn debug_enabled() -> bool {
    LOGGER
        .get()
        .is_some_and(|logger| logger.debug.load(Ordering::Relaxed))
}

/// True when trace lines are wanted.
#[inline]
pub fn trace_enabled() -> bool {
    LOGGER
        .get()
        .is_some_and(|logger| logger.trace.load(Ordering::Relaxed))
}

/// Writes one line at `level` (callers check `debug_enabled`/`trace_enabled` first).
pub fn write(level: Level, args: std::fmt::Arguments<'_>) {
    let Some(logger) = LOGGER.get() else {
        if level != Level::Debug && level != Level::Trace {
            eprintln!("{} {}", level.label(), args);
        }
        return;
    };
    let mut line = Vec::with_capacity(128);
    let _ = write!(line, "[{}] ", logger.pid);
    if logger.logtime {
        push_timestamp(&mut line, logger.utc);
        line.push(b' ');
    }
    line.extend_from_slice(level.label().as_bytes());
    line.push(b' ');
    let _ = line.write_fmt(args);
    line.push(b'\n');
    let mut sink = logger
        .sink
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let _ = match &mut *sink {
        Sink::Stderr => std::io::stderr().write_all(&line),
        Sink::File(file, _) => file.write_all(&line),
    };
}

/// Appends `YYYY/MM/DD HH:MM:SS.micros` in local time (or UTC).
fn push_timestamp(out: &mut Vec<u8>, utc: bool) {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    // SAFETY: an all-zero `tm` is a valid value; the *_r calls fill it from `seconds`.
    let mut parts: libc::tm = unsafe { std::mem::zeroed() };
    let seconds = now.tv_sec;
    // SAFETY: both pointers are to live locals; the _r variants are thread-safe.
    unsafe {
        if utc {
            libc::gmtime_r(&seconds, &mut parts);
        } else {
            libc::localtime_r(&seconds, &mut parts);
        }
    }
    let _ = write!(
        out,
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06}",
        parts.tm_year + 1900,
        parts.tm_mon + 1,
        parts.tm_mday,
        parts.tm_hour,
        parts.tm_min,
        parts.tm_sec,
        now.tv_nsec / 1000
    );
}

/// `[INF]` line.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($arg)*)) };
}
/// `[WRN]` line.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($arg)*)) };
}
/// `[ERR]` line.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($arg)*)) };
}
/// `[FTL]` line.
#[macro_export]
macro_rules! fatal {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Fatal, format_args!($($arg)*)) };
}
/// `[DBG]` line, only when `-D` is on.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::debug_enabled() {
            $crate::log::write($crate::log::Level::Debug, format_args!($($arg)*))
        }
    };
}
/// `[TRC]` line, only when `-V` is on.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => {
        if $crate::log::trace_enabled() {
            $crate::log::write($crate::log::Level::Trace, format_args!($($arg)*))
        }
    };
}
