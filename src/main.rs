//! The `ringnats` binary: nats-server's command line in, a running server out. The only
//! place that prints to stdout and chooses exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mimalloc::MiMalloc;
use ringnats::config::flags::{self, FlagErrorKind, FlagsOutcome, USAGE};
use ringnats::config::Config;
use ringnats::proto::info::{COMPATIBLE_VERSION, RINGNATS_VERSION};
use ringnats::server;

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
        FlagsOutcome::Signal { .. } => die("not yet supported: --signal"),
        FlagsOutcome::Run(flags) => {
            let mut config = Config::default();
            if flags.config_file.is_some() || flags.check_config {
                return die("not yet supported: configuration files (-c, -t)");
            }
            if let Err(error) = flags.apply_to(&mut config) {
                return die(&error.to_string());
            }
            run(config)
        }
    }
}

/// nats-server's fatal start-up shape: `<exe>: <message>` on stderr, status 1.
fn die(message: &str) -> ExitCode {
    eprintln!("ringnats: {message}");
    ExitCode::FAILURE
}

fn run(config: Config) -> ExitCode {
    if let Err(error) = ringnats::log::init(&config.log) {
        return die(&format!("cannot open log file: {error}"));
    }
    let signals = block_signals();
    let server = match server::start(config.clone()) {
        Ok(server) => server,
        Err(error) => {
            ringnats::fatal!("{error}");
            return ExitCode::FAILURE;
        }
    };
    server::log_banner(&server, &config);
    let pid_file = config.pid_file.clone();
    if let Some(path) = &pid_file {
        if let Err(error) = std::fs::write(path, std::process::id().to_string()) {
            ringnats::fatal!("Could not write pidfile: {error}");
            return ExitCode::FAILURE;
        }
    }
    let ports_file = config
        .ports_file_dir
        .as_deref()
        .map(|dir| write_ports_file(dir, &config.host, server.port()));
    let ports_file = match ports_file.transpose() {
        Ok(path) => path,
        Err(error) => {
            ringnats::fatal!("Error writing ports file: {error}");
            return ExitCode::FAILURE;
        }
    };
    wait_for_stop(&signals);
    ringnats::info!("Initiating Shutdown...");
    server.shutdown();
    for path in [pid_file, ports_file].into_iter().flatten() {
        let _ = std::fs::remove_file(path);
    }
    ringnats::info!("Server Exiting..");
    ExitCode::SUCCESS
}

/// Writes `<exe>_<pid>.ports` as nats-server does.
fn write_ports_file(dir: &Path, host: &str, port: u16) -> std::io::Result<PathBuf> {
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
        "nats": server::client_urls(host, port),
        "monitoring": [],
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

/// Waits for SIGINT or SIGTERM; other handled signals are not built yet and say so.
fn wait_for_stop(signals: &libc::sigset_t) {
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
            libc::SIGHUP => ringnats::warn!("config reload (SIGHUP) is not yet supported"),
            libc::SIGUSR1 => ringnats::warn!("log reopen (SIGUSR1) is not yet supported"),
            libc::SIGUSR2 => ringnats::warn!("lame duck mode (SIGUSR2) is not yet supported"),
            _ => {}
        }
    }
}
