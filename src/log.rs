//! Logging in nats-server's format: `[pid] 2026/11/25 14:01:02.123456 [INF] text`.
//!
//! One process-wide logger, set once at start-up. A line is formatted on the thread that
//! logs it and handed to a writer thread through a bounded queue, so a shard loop never
//! waits on a disk or a terminal: when the queue is full the line is dropped and counted,
//! and the writer reports the count. The writer owns the file, rotates it by size as
//! nats-server does (`log_size_limit`, `log_max_num`) and reopens it on SIGUSR1. Debug
//! and trace checks are a relaxed atomic load; nothing on the data path logs unless
//! `-D`/`-V` asked for it. Everything queued is written before the process exits.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::OnceLock;

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

/// Lines waiting for the writer thread; beyond this a line is dropped and counted
/// rather than blocking the thread that logs (a shard loop must never block on IO).
pub const QUEUED_LINES_MAX: usize = 64 * 1024;

/// What the writer thread is asked to do.
enum Command {
    /// Write one formatted line.
    Line(Vec<u8>),
    /// Reopen the log file (SIGUSR1) and report how it went.
    Reopen(SyncSender<std::io::Result<()>>),
    /// Answer once every earlier line is written.
    Flush(SyncSender<()>),
}

/// The process-wide logger: formats on the caller's thread, writes on its own.
pub struct Logger {
    debug: AtomicBool,
    trace: AtomicBool,
    logtime: bool,
    utc: bool,
    pid: u32,
    /// Lines to the writer thread (bounded; see `QUEUED_LINES_MAX`).
    lines: SyncSender<Command>,
    /// Lines dropped because the queue was full, reported by the writer.
    dropped: AtomicU64,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Installs the logger and starts its writer thread; later calls are ignored (tests
/// may start several servers in one process).
pub fn init(config: &LogConfig) -> std::io::Result<()> {
    if LOGGER.get().is_some() {
        return Ok(());
    }
    let sink = match &config.file {
        Some(path) => Sink::File(FileSink::open(
            path,
            config.size_limit_bytes.max(0) as u64,
            config.files_max.max(0) as usize,
        )?),
        None => Sink::Stderr,
    };
    let (lines, queue) = sync_channel(QUEUED_LINES_MAX);
    let pid = std::process::id();
    std::thread::Builder::new()
        .name("ringnats-log".into())
        .spawn(move || write_lines(sink, queue, pid))?;
    let _ = LOGGER.set(Logger {
        debug: AtomicBool::new(config.debug),
        trace: AtomicBool::new(config.trace),
        logtime: config.logtime,
        utc: config.logtime_utc,
        pid,
        lines,
        dropped: AtomicU64::new(0),
    });
    // SAFETY: registers a plain `extern "C" fn` to run at process exit.
    unsafe { libc::atexit(flush_at_exit) };
    Ok(())
}

/// Writes every line before the process exits (main returning runs atexit handlers
/// while the writer thread is still alive).
extern "C" fn flush_at_exit() {
    flush();
}

/// Waits until every line logged so far is written.
pub fn flush() {
    let Some(logger) = LOGGER.get() else { return };
    let (done, wait) = sync_channel(1);
    if logger.lines.send(Command::Flush(done)).is_ok() {
        let _ = wait.recv_timeout(std::time::Duration::from_secs(5));
    }
}

/// Reopens the log file (SIGUSR1, after logrotate moved it); a no-op on stderr.
pub fn reopen() -> std::io::Result<()> {
    let Some(logger) = LOGGER.get() else {
        return Ok(());
    };
    let (done, wait) = sync_channel(1);
    logger
        .lines
        .send(Command::Reopen(done))
        .map_err(|_| std::io::Error::other("log writer stopped"))?;
    wait.recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("log writer stopped")))
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

/// Formats one line at `level` and hands it to the writer thread (callers check
/// `debug_enabled`/`trace_enabled` first). Never blocks: a full queue drops the line
/// and counts it.
pub fn write(level: Level, args: std::fmt::Arguments<'_>) {
    let Some(logger) = LOGGER.get() else {
        if level != Level::Debug && level != Level::Trace {
            eprintln!("{} {}", level.label(), args);
        }
        return;
    };
    let line = format_line(
        logger.pid,
        logger.logtime.then_some(logger.utc),
        level,
        args,
    );
    if logger.lines.try_send(Command::Line(line)).is_err() {
        logger.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// `[pid] [time ]LBL text\n`.
fn format_line(
    pid: u32,
    time_utc: Option<bool>,
    level: Level,
    args: std::fmt::Arguments<'_>,
) -> Vec<u8> {
    let mut line = Vec::with_capacity(128);
    let _ = write!(line, "[{pid}] ");
    if let Some(utc) = time_utc {
        push_timestamp(&mut line, utc);
        line.push(b' ');
    }
    line.extend_from_slice(level.label().as_bytes());
    line.push(b' ');
    let _ = line.write_fmt(args);
    line.push(b'\n');
    line
}

/// The writer thread: owns the sink, rotates the file by size, reports drops.
fn write_lines(mut sink: Sink, queue: Receiver<Command>, pid: u32) {
    for command in queue {
        match command {
            Command::Line(line) => {
                if let Some(logger) = LOGGER.get() {
                    let dropped = logger.dropped.swap(0, Ordering::Relaxed);
                    if dropped > 0 {
                        let warning = format_line(
                            pid,
                            logger.logtime.then_some(logger.utc),
                            Level::Warn,
                            format_args!("{dropped} log lines dropped: the log writer fell behind"),
                        );
                        sink.write(&warning, pid);
                    }
                }
                sink.write(&line, pid);
            }
            Command::Reopen(done) => {
                let _ = done.send(sink.reopen());
            }
            Command::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// Where lines go.
enum Sink {
    Stderr,
    File(FileSink),
}

impl Sink {
    fn write(&mut self, line: &[u8], pid: u32) {
        match self {
            Sink::Stderr => {
                let _ = std::io::stderr().write_all(line);
            }
            Sink::File(file) => file.write(line, pid),
        }
    }

    fn reopen(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stderr => Ok(()),
            Sink::File(file) => file.reopen(),
        }
    }
}

/// A log file with nats-server's size-based rotation (`log_size_limit`,
/// `log_max_num`): past the limit the file is renamed to
/// `<file>.YYYY.MM.DD.HH.MM.SS.nnnnnnnnn`, a new one is started with
/// `Rotated log, backup saved as "<backup>"`, and backups beyond `log_max_num - 1` are
/// deleted oldest first.
struct FileSink {
    file: File,
    path: std::path::PathBuf,
    /// Bytes written to the current file (counted from its size at open).
    written: u64,
    /// Rotate past this many bytes; 0 = never.
    size_limit: u64,
    /// Files kept including the live one; 0 = keep every backup.
    files_max: usize,
}

impl FileSink {
    fn open(path: &Path, size_limit: u64, files_max: usize) -> std::io::Result<Self> {
        let file = open_log_file(path)?;
        let written = file.metadata().map(|meta| meta.len()).unwrap_or(0);
        Ok(Self {
            file,
            path: path.to_path_buf(),
            written,
            size_limit,
            files_max,
        })
    }

    fn reopen(&mut self) -> std::io::Result<()> {
        self.file = open_log_file(&self.path)?;
        self.written = self.file.metadata().map(|meta| meta.len()).unwrap_or(0);
        Ok(())
    }

    fn write(&mut self, line: &[u8], pid: u32) {
        if self.file.write_all(line).is_ok() {
            self.written += line.len() as u64;
        }
        if self.size_limit > 0 && self.written > self.size_limit {
            self.rotate(pid);
        }
    }

    fn rotate(&mut self, pid: u32) {
        let backup = format!("{}.{}", self.path.display(), rotation_stamp());
        if std::fs::rename(&self.path, &backup).is_err() || self.reopen().is_err() {
            // Try again after as many bytes again, as nats-server does.
            self.size_limit = self.size_limit.saturating_mul(2);
            return;
        }
        let mut note = format_line(
            pid,
            Some(false),
            Level::Info,
            format_args!("Rotated log, backup saved as {backup:?}"),
        );
        // nats-server writes this one line with CRLF.
        note.pop();
        note.extend_from_slice(b"\r\n");
        let _ = self.file.write_all(&note);
        self.written = note.len() as u64;
        if self.files_max > 0 {
            self.purge();
        }
    }

    /// Deletes the oldest backups so that `files_max - 1` remain.
    fn purge(&mut self) {
        let Some(directory) = self.path.parent().map(|dir| {
            if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }
        }) else {
            return;
        };
        let Some(base) = self
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
        else {
            return;
        };
        let prefix = format!("{base}.");
        let mut backups: Vec<String> = std::fs::read_dir(directory)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.strip_prefix(&prefix).is_some_and(is_rotation_stamp))
            .collect();
        backups.sort();
        let keep = self.files_max.saturating_sub(1);
        let excess = backups.len().saturating_sub(keep);
        for name in backups.into_iter().take(excess) {
            if std::fs::remove_file(directory.join(&name)).is_ok() {
                let mut line = format_line(
                    std::process::id(),
                    Some(false),
                    Level::Info,
                    format_args!("Purged log file {name:?}"),
                );
                line.pop();
                line.extend_from_slice(b"\r\n");
                let _ = self.file.write_all(&line);
                self.written += line.len() as u64;
            }
        }
    }
}

/// `YYYY.MM.DD.HH.MM.SS.nnnnnnnnn` in local time, nats-server's backup suffix.
fn rotation_stamp() -> String {
    let (parts, nanos) = local_time(false);
    format!(
        "{:04}.{:02}.{:02}.{:02}.{:02}.{:02}.{:09}",
        parts.tm_year + 1900,
        parts.tm_mon + 1,
        parts.tm_mday,
        parts.tm_hour,
        parts.tm_min,
        parts.tm_sec,
        nanos
    )
}

/// True for a suffix shaped like [`rotation_stamp`]'s.
fn is_rotation_stamp(suffix: &str) -> bool {
    let fields: Vec<&str> = suffix.split('.').collect();
    let widths = [4, 2, 2, 2, 2, 2, 9];
    fields.len() == widths.len()
        && fields
            .iter()
            .zip(widths)
            .all(|(field, width)| field.len() == width && field.bytes().all(|b| b.is_ascii_digit()))
}

fn open_log_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The broken-down current time (local or UTC) and its nanoseconds.
fn local_time(utc: bool) -> (libc::tm, i64) {
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
    (parts, now.tv_nsec)
}

/// Appends `YYYY/MM/DD HH:MM:SS.micros` in local time (or UTC).
fn push_timestamp(out: &mut Vec<u8>, utc: bool) {
    let (parts, nanos) = local_time(utc);
    let _ = write!(
        out,
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06}",
        parts.tm_year + 1900,
        parts.tm_mon + 1,
        parts.tm_mday,
        parts.tm_hour,
        parts.tm_min,
        parts.tm_sec,
        nanos / 1000
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_renames_past_the_limit_and_purges_old_backups() {
        let directory = std::env::temp_dir().join(format!("ringnats-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("server.log");
        let mut sink = FileSink::open(&path, 100, 3).unwrap();
        for _ in 0..5 {
            sink.write(&[b'x'; 120], 1);
            // Backup names carry nanoseconds; keep them distinct and ordered.
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let mut backups: Vec<String> = std::fs::read_dir(&directory)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name != "server.log")
            .collect();
        backups.sort();
        assert_eq!(
            backups.len(),
            2,
            "log_max_num 3 keeps 2 backups: {backups:?}"
        );
        assert!(backups
            .iter()
            .all(|name| is_rotation_stamp(&name["server.log.".len()..])));
        let live = std::fs::read_to_string(&path).unwrap();
        assert!(
            live.contains("[INF] Rotated log, backup saved as \""),
            "{live}"
        );
        assert!(live.contains("Purged log file"), "{live}");
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn rotation_stamps_are_recognised() {
        assert!(is_rotation_stamp(&rotation_stamp()));
        assert!(!is_rotation_stamp("2026.11.25"));
        assert!(!is_rotation_stamp("old"));
    }
}
