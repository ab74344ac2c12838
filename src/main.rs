//! The `ringnats` binary: nats-server's command line in, a running server out. The only
//! place that prints to stdout and chooses exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mimalloc::MiMalloc;
use ringnats::config::file::{self, LoadedConfig};
use ringnats::config::flags::{self, FlagErrorKind, Flags, FlagsOutcome, USAGE};
use ringnats::config::Config;
use ringnats::proto::info::{COMPATIBLE_VERSION, RINGNATS_VERSION};
use ringnats::server;
use ringnats::shard::shared::ControlMsg;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> ExitCode {
    let outcome = match flags::parse_flags(std::env::args().skip(1)) {
        Ok(outcome) => outcome,
        Err(error) => {
            return match error.kind() {
                FlagErrorKind::Usage => {
                    // nats-server 2.15.1: message on stderr, usage on stdout, status 0.
                    eprintln!("{error}");
                    print!("{USAGE}");
                    ExitCode::from(error.exit_code() as u8)
                }
                FlagErrorKind::Fatal => die(&error.to_string()),
            };
        }
    };
    match outcome {
        FlagsOutcome::Version => {
            println!("nats-server: v{COMPATIBLE_VERSION} (ringnats {RINGNATS_VERSION})");
            ExitCode::SUCCESS
        }
        FlagsOutcome::Help => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        FlagsOutcome::HelpTls => die("not yet supported: TLS (--help_tls)"),
        FlagsOutcome::Signal { command, target } => {
            match signal::send(&command, target.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => die(&message),
            }
        }
        FlagsOutcome::Run(flags) => match configure(&flags) {
            Ok(Some(config)) => run(config, &flags),
            // `-t` passed.
            Ok(None) => ExitCode::SUCCESS,
            Err(message) => die(&message),
        },
    }
}

/// Builds the configuration as nats-server does: the file over the defaults, the flags
/// over the file, then validation. With `-t`, checks the file and reports instead
/// (`Ok(None)`); like nats-server, `-t` judges the file alone, before flags and before
/// the start-up checks.
fn configure(flags: &Flags) -> Result<Option<Config>, String> {
    let mut config = Config::default();
    if let Some(path) = &flags.config_file {
        let loaded = file::load(path).map_err(|error| error.to_string())?;
        if flags.check_config {
            return check_only(path, &loaded).map(|()| None);
        }
        // Warnings alone do not stop nats-server; it prints them bare and starts.
        for warning in &loaded.warnings {
            eprintln!("{warning}");
        }
        config = loaded.config;
    }
    flags
        .apply_to(&mut config)
        .map_err(|error| error.to_string())?;
    config.validate().map_err(|error| error.to_string())?;
    Ok(Some(config))
}

/// `-t`: nats-server fails on warnings too, and says `... is valid (<digest>)` on stderr.
fn check_only(path: &Path, loaded: &LoadedConfig) -> Result<(), String> {
    if !loaded.warnings.is_empty() {
        let mut text = String::new();
        for warning in &loaded.warnings {
            text.push_str(warning);
            text.push('\n');
        }
        return Err(text);
    }
    eprintln!(
        "ringnats: configuration file {} is valid ({})",
        path.display(),
        loaded.digest
    );
    Ok(())
}

/// nats-server's fatal start-up shape: `<exe>: <message>` on stderr, status 1.
fn die(message: &str) -> ExitCode {
    eprintln!("ringnats: {message}");
    ExitCode::FAILURE
}

fn run(config: Config, flags: &Flags) -> ExitCode {
    // Block the signals before any thread exists (the log writer is the first), so
    // every thread inherits the mask and only the main thread's sigwait takes them;
    // otherwise SIGINT could land on another thread and kill the process uncleanly.
    let signals = block_signals();
    if let Err(error) = ringnats::log::init(&config.log) {
        return die(&format!("cannot open log file: {error}"));
    }
    let server = match server::start(config.clone()) {
        Ok(server) => server,
        Err(error) => {
            ringnats::fatal!("{error}");
            return ExitCode::FAILURE;
        }
    };
    // The pid file exists before "Server is ready" is logged, so a tool that waits for
    // that line can signal the server at once.
    let pid_file = config.pid_file.clone();
    if let Some(path) = &pid_file {
        if let Err(error) = std::fs::write(path, std::process::id().to_string()) {
            ringnats::fatal!("Could not write pidfile: {error}");
            return ExitCode::FAILURE;
        }
    }
    server::log_banner(&server, &config);
    // Tools and client test suites treat the ports file as "up" and then read the log:
    // the start-up lines must be written by then (the log writer is a thread of its own).
    ringnats::log::flush();
    let ports_file = config
        .ports_file_dir
        .as_deref()
        .map(|dir| write_ports_file(dir, &config, &server));
    let ports_file = match ports_file.transpose() {
        Ok(path) => path,
        Err(error) => {
            ringnats::fatal!("Error writing ports file: {error}");
            return ExitCode::FAILURE;
        }
    };
    serve_signals(&signals, &server, flags, config);
    ringnats::info!("Initiating Shutdown...");
    server.shutdown();
    for path in [pid_file, ports_file].into_iter().flatten() {
        let _ = std::fs::remove_file(path);
    }
    ringnats::info!("Server Exiting..");
    ExitCode::SUCCESS
}

/// Writes `<exe>_<pid>.ports` as nats-server does.
fn write_ports_file(
    dir: &Path,
    config: &Config,
    server: &server::RunningServer,
) -> std::io::Result<PathBuf> {
    let exe = std::env::args()
        .next()
        .as_deref()
        .and_then(|arg| {
            Path::new(arg)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "ringnats".into());
    let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
    let body = serde_json::json!({
        "nats": server::client_urls(&config.host, server.port()),
        "monitoring": server.monitor_address().map_or_else(Vec::new, |address| {
            server::monitor_urls(config.monitor_host(), address.port())
        }),
    });
    std::fs::write(&path, body.to_string())?;
    Ok(path)
}

/// Blocks the signals we handle in every thread (shards inherit the mask), so the main
/// thread can take them synchronously with `sigwait`.
fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local set, then pthread_sigmask on this thread
    // before any other thread exists.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ] {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Takes signals until one stops the server: SIGINT/SIGTERM stop, SIGHUP reloads the
/// config file, SIGUSR1 reopens the log file, SIGUSR2 runs lame-duck mode and then stops.
fn serve_signals(
    signals: &libc::sigset_t,
    server: &server::RunningServer,
    flags: &Flags,
    mut config: Config,
) {
    loop {
        let mut signal: libc::c_int = 0;
        // SAFETY: `signals` is an initialised set blocked in this thread.
        if unsafe { libc::sigwait(signals, &mut signal) } != 0 {
            continue;
        }
        match signal {
            libc::SIGINT => {
                ringnats::info!("Trapped \"interrupt\" signal");
                return;
            }
            libc::SIGTERM => {
                ringnats::info!("Trapped \"terminated\" signal");
                return;
            }
            libc::SIGHUP => {
                ringnats::info!("Trapped \"hangup\" signal");
                if let Some(reloaded) = reload_config(server, flags, &config) {
                    config = reloaded;
                }
            }
            libc::SIGUSR1 => {
                ringnats::info!("Trapped \"user defined signal 1\" signal");
                match ringnats::log::reopen() {
                    Ok(()) => ringnats::info!("File log re-opened"),
                    Err(error) => ringnats::error!("Error re-opening the log file: {error}"),
                }
            }
            libc::SIGUSR2 => {
                ringnats::info!("Trapped \"user defined signal 2\" signal");
                lame_duck(signals, server, &config);
                return;
            }
            _ => {}
        }
    }
}

/// SIGHUP: reads the config file again (flags still win), applies what may change on a
/// running server and refuses the rest, as nats-server's reload does.
fn reload_config(
    server: &server::RunningServer,
    flags: &Flags,
    current: &Config,
) -> Option<Config> {
    let failed = |text: &str| ringnats::error!("Failed to reload server configuration: {text}");
    if flags.config_file.is_none() {
        failed("can only reload config when a file is provided using -c or --config");
        return None;
    }
    let reloaded = match configure(flags) {
        Ok(Some(config)) => config,
        Ok(None) => return None,
        Err(message) => {
            failed(message.trim_end());
            return None;
        }
    };
    if !ringnats::auth::same_accounts(&current.auth, &reloaded.auth) {
        // Shards index their subject tables by account; adding or removing accounts
        // needs a restart for now.
        failed("config reload not supported for adding or removing accounts");
        return None;
    }
    match ringnats::reload::plan(current, &reloaded) {
        Ok(changes) => {
            for change in changes {
                ringnats::info!("Reloaded: {change}");
            }
            ringnats::log::set_levels(reloaded.log.debug, reloaded.log.trace);
            let shared = std::sync::Arc::new(reloaded.clone());
            server.apply(&ControlMsg::Reload(shared));
            match reloaded
                .config_file
                .as_deref()
                .and_then(ringnats::config::digest::file_digest)
            {
                Some(digest) => ringnats::info!("Reloaded server configuration ({digest})"),
                None => ringnats::info!("Reloaded server configuration"),
            }
            Some(reloaded)
        }
        Err(refused) => {
            failed(&refused.to_string());
            None
        }
    }
}

/// SIGUSR2: stop accepting, tell clients, close them over the lame-duck window, then
/// return so the server shuts down. SIGINT still stops at once.
fn lame_duck(signals: &libc::sigset_t, server: &server::RunningServer, config: &Config) {
    ringnats::info!("Entering lame duck mode, stop accepting new clients");
    server.apply(&ControlMsg::LameDuck {
        grace: config.lame_duck_grace_period,
        duration: config.lame_duck_duration,
    });
    let deadline =
        std::time::Instant::now() + config.lame_duck_duration + std::time::Duration::from_secs(1);
    let poll = libc::timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    while std::time::Instant::now() < deadline {
        if server
            .shared()
            .connections
            .load(std::sync::atomic::Ordering::Acquire)
            == 0
        {
            return;
        }
        // SAFETY: `signals` is an initialised set blocked in this thread; a null info
        // pointer is allowed.
        let signal = unsafe { libc::sigtimedwait(signals, std::ptr::null_mut(), &poll) };
        if signal == libc::SIGINT {
            ringnats::info!("Trapped \"interrupt\" signal");
            return;
        }
    }
}

/// `--signal <command>[=<pid or pid file>]`: nats-server's `ProcessSignal` (signal.go),
/// aimed at `ringnats` processes.
mod signal {
    /// The process name `--signal` looks for without a pid, and names in its messages.
    const PROCESS_NAME: &str = "ringnats";

    /// nats-server's commands and the signals they send.
    fn command_signal(command: &str) -> Result<libc::c_int, String> {
        Ok(match command {
            "stop" => libc::SIGKILL,
            "quit" => libc::SIGINT,
            "reopen" => libc::SIGUSR1,
            "reload" => libc::SIGHUP,
            "ldm" => libc::SIGUSR2,
            "term" => libc::SIGTERM,
            _ => return Err(format!("unknown signal {command:?}")),
        })
    }

    /// Sends `command` to the target: a pid, a pid file, `<prefix>*` (every ringnats
    /// process whose pid starts so), or, with no target, the single running ringnats.
    /// Checks happen in nats-server's order, so `--signal bogus` with no server running
    /// reports the missing server first.
    pub fn send(command: &str, target: Option<&str>) -> Result<(), String> {
        let expression = target.map(read_pid_file_or_keep).unwrap_or_default();
        let is_glob = expression.ends_with('*');
        let pid_text = expression.strip_suffix('*').unwrap_or(&expression);
        let mut pids = Vec::new();
        if !pid_text.is_empty() {
            // Pid 0 and negative pids would signal process groups: refused, where
            // nats-server would pass them on to kill(2).
            match ringnats::config::file::go_atoi(pid_text) {
                Some(pid) if pid > 0 && pid <= i64::from(libc::pid_t::MAX) => pids.push(pid),
                _ => return Err(format!("invalid pid: {pid_text}")),
            }
        }
        if pid_text.is_empty() || is_glob {
            pids = running_pids()?;
        }
        if pids.len() > 1 && !is_glob {
            let listed: String = pids.iter().map(|pid| format!("\n{pid}")).collect();
            return Err(format!(
                "multiple {PROCESS_NAME} processes running:{listed}"
            ));
        }
        if pids.is_empty() {
            return Err(format!("no {PROCESS_NAME} processes running"));
        }
        let signal = command_signal(command)?;
        let mut failures = String::new();
        for pid in pids {
            let text = pid.to_string();
            if !pid_text.is_empty() && text != pid_text && !(is_glob && text.starts_with(pid_text))
            {
                continue;
            }
            // SAFETY: kill(2) takes plain integers; pid is positive, so it names one
            // process, never a group.
            if unsafe { libc::kill(pid as libc::pid_t, signal) } != 0 {
                let error = std::io::Error::last_os_error();
                failures.push_str(&format!(
                    "\nsignal {command:?} {pid}: {}",
                    go_errno_text(&error)
                ));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures)
        }
    }

    /// nats-server's `maybeReadPidFile`: the file's contents if it can be read, else the
    /// text itself.
    fn read_pid_file_or_keep(target: &str) -> String {
        std::fs::read_to_string(target).unwrap_or_else(|_| target.to_string())
    }

    /// Pids of running `ringnats` processes other than this one, in ascending order.
    /// nats-server runs `pgrep nats-server`; reading `/proc/<pid>/comm` is the same
    /// lookup without a helper program, and matches the name exactly.
    fn running_pids() -> Result<Vec<i64>, String> {
        let unresolved = || "unable to resolve pid, try providing one".to_string();
        let own = i64::from(std::process::id());
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").map_err(|_| unresolved())? {
            let Ok(entry) = entry else { continue };
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse().ok())
            else {
                continue;
            };
            // A process can exit between the listing and this read; skip it.
            let Ok(name) = std::fs::read_to_string(entry.path().join("comm")) else {
                continue;
            };
            if name.trim_end_matches('\n') == PROCESS_NAME && pid != own {
                pids.push(pid);
            }
        }
        pids.sort_unstable();
        Ok(pids)
    }

    /// Go prints errno text in lower case and without Rust's "(os error N)".
    fn go_errno_text(error: &std::io::Error) -> String {
        let text = error.to_string();
        let text = text.split(" (os error").next().unwrap_or_default();
        let mut characters = text.chars();
        match characters.next() {
            Some(first) => first.to_lowercase().chain(characters).collect(),
            None => String::new(),
        }
    }
}
