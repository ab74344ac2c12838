//! Start-up and shutdown: resolve the listen address, detect a port already in use,
//! choose the io backend, build the ring mesh, bind one SO_REUSEPORT listener per shard
//! and spawn the shards pinned to their cores.
//!
//! Process limits are set here as the Go runtime sets them for nats-server: the
//! open-file soft limit is raised to the hard limit, listeners use a backlog of
//! `somaxconn`, and the default shard count is the smaller of the CPUs in the affinity
//! mask and the cgroup CPU quota.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::config::{Config, ConfigError};
use crate::io::epoll::EpollBackend;
use crate::io::probe::{self, BackendKind, Chosen};
use crate::io::uring::UringBackend;
use crate::io::Backend;
use crate::proto::info::{
    InfoTemplate, ServerIdentity, COMPATIBLE_VERSION, GIT_COMMIT, RINGNATS_VERSION,
};
use crate::router::mesh::{self, Doorbell, ShardLinks};
use crate::shard::shared::Shared;
use crate::shard::Shard;

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The configuration is invalid or asks for something not built yet.
    Config(ConfigError),
    /// Binding the client port failed; the text is nats-server's.
    Listen(String),
    /// The io backend could not be set up; the text names the cause and the fix.
    Backend(String),
    /// Any other system error during start-up.
    Io(io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(error) => error.fmt(f),
            Self::Listen(text) | Self::Backend(text) => f.write_str(text),
            Self::Io(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for StartError {}

impl From<ConfigError> for StartError {
    fn from(error: ConfigError) -> Self {
        Self::Config(error)
    }
}

impl From<io::Error> for StartError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// How long a control order may take to reach every shard before the caller gives up
/// waiting (the shards still apply it; a shard turn lasts at most 250 ms).
pub const CONTROL_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// A running server: its shards' threads and what is needed to stop them.
pub struct RunningServer {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    doorbells: Vec<Arc<Doorbell>>,
    address: SocketAddr,
    identity: ServerIdentity,
    /// The io backend the shards run and why it was chosen.
    backend: Chosen,
    /// The HTTP monitoring server, when `-m`/`http_port` asked for one.
    monitor: Option<crate::monitor::Monitor>,
}

impl RunningServer {
    /// The bound client address (with the real port when `-p -1` was used).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The bound client port.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The server's identity as sent in INFO.
    pub fn identity(&self) -> &ServerIdentity {
        &self.identity
    }

    /// The io backend the shards run: "io_uring" or "epoll".
    pub fn io_backend(&self) -> &'static str {
        self.backend.kind.name()
    }

    /// Why the start-up probe chose [`RunningServer::io_backend`].
    pub fn io_backend_reason(&self) -> &str {
        &self.backend.reason
    }

    /// Number of shards running.
    pub fn shards(&self) -> usize {
        self.shared.stats.len()
    }

    /// The bound monitoring address, when monitoring runs.
    pub fn monitor_address(&self) -> Option<SocketAddr> {
        self.monitor.as_ref().map(crate::monitor::Monitor::address)
    }

    /// Shared counters and state.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Sends a control order to every shard, wakes them, and waits (at most
    /// `CONTROL_WAIT_MAX`) until each has applied it, so a reload is in force when the
    /// caller logs it.
    pub fn apply(&self, message: &crate::shard::shared::ControlMsg) -> bool {
        let target = self.shared.broadcast(message);
        for doorbell in &self.doorbells {
            doorbell.ring();
        }
        let deadline = std::time::Instant::now() + CONTROL_WAIT_MAX;
        while self.shared.control_applied.load(Ordering::Acquire) < target {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        true
    }

    /// Stops every shard and waits for their threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(mut monitor) = self.monitor.take() {
            monitor.stop();
        }
        self.shared.shutdown.store(true, Ordering::Release);
        for doorbell in &self.doorbells {
            doorbell.ring();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a server with `config` and returns once every shard is accepting.
pub fn start(config: Config) -> Result<RunningServer, StartError> {
    config.validate()?;
    raise_open_file_limit();
    let shard_count = config.threads.unwrap_or_else(default_shard_count);
    let backend = probe::choose(config.io_backend).map_err(StartError::Backend)?;
    let requested = resolve(&config.host, config.bind_port())?;
    if config.port != -1 {
        probe_port_free(requested)?;
    }
    let backlog = somaxconn();
    let first = bind_listener(requested, backlog)?;
    let address = local_address(first)?;
    let mut listeners = vec![first];
    for _ in 1..shard_count {
        listeners.push(bind_listener(address, backlog)?);
    }
    let identity = make_identity(&config, address.port());
    let info = InfoTemplate::new(&identity);
    let shared = Arc::new(Shared::new(config, info, shard_count));
    let links = mesh::build(shard_count)?;
    let doorbells: Vec<Arc<Doorbell>> = links.iter().map(|link| link.doorbell.clone()).collect();
    let shards = links.into_iter().zip(listeners).enumerate();
    let threads = match backend.kind {
        BackendKind::IoUring => spawn_shards(&shared, shards, || {
            UringBackend::new().map_err(|error| error.to_string())
        })?,
        BackendKind::Epoll => spawn_shards(&shared, shards, || {
            EpollBackend::new().map_err(|error| format!("epoll set-up failed: {error}"))
        })?,
    };
    let mut threads = threads;
    threads.extend(crate::workers::spawn_auth_workers(&shared, &doorbells)?);
    let mut server = RunningServer {
        shared,
        threads,
        doorbells,
        address,
        identity,
        backend,
        monitor: None,
    };
    // One context for HTTP and $SYS answers, so request counts and `seq` are shared.
    let context = Arc::new(monitor_context(&server));
    server.monitor = start_monitor(&server, &context)?;
    let responder = crate::workers::spawn_system_responder(context)?;
    server.threads.push(responder);
    Ok(server)
}

/// Starts the HTTP monitor when configured (`-1` = any free port), on the `http` host or
/// else the client host, as nats-server does.
fn start_monitor(
    server: &RunningServer,
    context: &Arc<crate::monitor::MonitorContext>,
) -> Result<Option<crate::monitor::Monitor>, StartError> {
    let config = &server.shared.config;
    let Some(port) = config.http_port else {
        return Ok(None);
    };
    let port = u16::try_from(port).unwrap_or(0);
    let address = resolve(config.monitor_host(), port)?;
    crate::monitor::start(context.clone(), address)
        .map(Some)
        .map_err(|error| {
            StartError::Listen(format!(
                "Can't start monitoring: can't listen to the monitor port: listen tcp {address}: bind: {}",
                error_text(&error)
            ))
        })
}

/// What the monitoring endpoints and the `$SYS` responder read.
fn monitor_context(server: &RunningServer) -> crate::monitor::MonitorContext {
    crate::monitor::MonitorContext::new(
        server.shared.clone(),
        server.doorbells.clone(),
        server.identity.clone(),
        server.io_backend(),
        server.port(),
    )
}

/// Spawns one pinned shard thread per (links, listener) over the backend `new_backend`
/// builds on that thread, waiting until each one's backend is set up.
fn spawn_shards<B: Backend + 'static>(
    shared: &Arc<Shared>,
    shards: impl Iterator<Item = (usize, (ShardLinks, RawFd))>,
    new_backend: fn() -> Result<B, String>,
) -> Result<Vec<JoinHandle<()>>, StartError> {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut threads = Vec::new();
    for (index, (links, listener)) in shards {
        let shared = shared.clone();
        let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("ringnats-sh-{index}"))
            .spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                match new_backend() {
                    Ok(backend) => {
                        let _ = ready_tx.send(Ok(()));
                        Shard::new(index, backend, listener, links, shared).run();
                    }
                    Err(text) => {
                        let _ = ready_tx.send(Err(text));
                    }
                }
            })?;
        threads.push(thread);
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(text)) => return Err(StartError::Backend(text)),
            Err(_) => {
                return Err(StartError::Backend(
                    "shard thread died during start-up".into(),
                ))
            }
        }
    }
    Ok(threads)
}

/// The server's name, id and curve key, as INFO carries them.
fn make_identity(config: &Config, port: u16) -> ServerIdentity {
    let server_id = nkeys::KeyPair::new_server().public_key();
    ServerIdentity {
        server_name: config
            .server_name
            .clone()
            .unwrap_or_else(|| server_id.clone()),
        server_id,
        host: config.host.clone(),
        port,
        headers: !config.no_header_support,
        payload_bytes_max: config.payload_bytes_max,
        auth_required: config.auth.auth_required(),
        no_auth_user: config.auth.no_auth_user.is_some(),
        xkey: nkeys::XKey::new().public_key(),
    }
}

/// The lines nats-server logs at start-up, with ringnats's identity first.
pub fn log_banner(server: &RunningServer, config: &Config) {
    let identity = server.identity();
    crate::info!(
        "Starting ringnats {RINGNATS_VERSION} (nats-server {COMPATIBLE_VERSION} compatible)"
    );
    crate::info!("  Version:  {COMPATIBLE_VERSION}");
    crate::info!("  Git:      [{GIT_COMMIT}]");
    crate::info!("  Name:     {}", identity.server_name);
    crate::info!("  ID:       {}", identity.server_id);
    if let Some(file) = &config.config_file {
        match crate::config::digest::file_digest(file) {
            Some(digest) => {
                crate::info!("Using configuration file: {} ({digest})", file.display())
            }
            None => crate::info!("Using configuration file: {}", file.display()),
        }
    }
    crate::info!(
        "io backend: {} ({}), {} shard(s) pinned one per core",
        server.io_backend(),
        server.io_backend_reason(),
        server.shards()
    );
    if let Some(monitor) = server.monitor_address() {
        crate::info!(
            "Starting http monitor on {}",
            host_port(config.monitor_host(), monitor.port())
        );
    }
    crate::info!(
        "Listening for client connections on {}",
        host_port(&config.host, server.port())
    );
    crate::info!("Server is ready");
}

/// `host:port` as nats-server prints it (IPv6 hosts in brackets).
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Resolves the configured host (name, IPv4 or IPv6 literal) to a socket address.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, StartError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .map_err(|error| {
            StartError::Listen(format!(
                "Error listening on port: {host}:{port}, \"{error}\""
            ))
        })?
        .next()
        .ok_or_else(|| {
            StartError::Listen(format!(
                "Error listening on port: {host}:{port}, \"no address\""
            ))
        })
}

/// Fails like nats-server when the port is taken, even by a process that used
/// SO_REUSEPORT (which would otherwise let our listeners share it silently).
fn probe_port_free(address: SocketAddr) -> Result<(), StartError> {
    match std::net::TcpListener::bind(address) {
        Ok(_) => Ok(()),
        Err(error) => Err(StartError::Listen(format!(
            "Error listening on port: {}, \"listen tcp {}: bind: {}\"",
            address,
            address,
            error_text(&error)
        ))),
    }
}

/// Go's lower-case errno text ("address already in use").
fn error_text(error: &io::Error) -> String {
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
        None => text,
    }
}

/// Binds one SO_REUSEPORT listener.
fn bind_listener(address: SocketAddr, backlog: i32) -> Result<RawFd, StartError> {
    let family = if address.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain syscall; the result is checked.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error().into());
    }
    let enable = |option: libc::c_int| {
        let one: libc::c_int = 1;
        // SAFETY: setsockopt with a pointer to a live int of the right size.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    enable(libc::SO_REUSEADDR);
    enable(libc::SO_REUSEPORT);
    let (storage, len) = std_to_sockaddr(address);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
    let bound = unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
    // SAFETY: plain syscall on our socket.
    if bound != 0 || unsafe { libc::listen(fd, backlog) } != 0 {
        let error = io::Error::last_os_error();
        // SAFETY: closing our own descriptor on the error path.
        unsafe { libc::close(fd) };
        return Err(StartError::Listen(format!(
            "Error listening on port: {address}, \"listen tcp {address}: bind: {}\"",
            error_text(&error)
        )));
    }
    Ok(fd)
}

fn local_address(fd: RawFd) -> Result<SocketAddr, StartError> {
    // SAFETY: `storage` is large enough for any address; the kernel fills `len`.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: valid pointers to live locals.
    let rc = unsafe {
        libc::getsockname(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error().into());
    }
    sockaddr_to_std(&storage).ok_or_else(|| io::Error::other("unknown address family").into())
}

/// Converts a kernel socket address to std's.
pub fn sockaddr_to_std(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let v4: &libc::sockaddr_in =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::new(ip.into(), u16::from_be(v4.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let v6: &libc::sockaddr_in6 =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(SocketAddr::new(ip.into(), u16::from_be(v6.sin6_port)))
        }
        _ => None,
    }
}

fn std_to_sockaddr(address: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match address {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let out: &mut libc::sockaddr_in =
                unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast() };
            out.sin_family = libc::AF_INET as libc::sa_family_t;
            out.sin_port = v4.port().to_be();
            out.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let out: &mut libc::sockaddr_in6 =
                unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast() };
            out.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            out.sin6_port = v6.port().to_be();
            out.sin6_addr.s6_addr = v6.ip().octets();
            out.sin6_scope_id = v6.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// The kernel's listen backlog maximum (Go's listeners use it too).
fn somaxconn() -> i32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(4096)
}

/// Raises the open-file soft limit to the hard limit, as Go's runtime does.
fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit with a pointer to a live rlimit.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// min(CPUs in our affinity mask, cgroup CPU quota rounded up), at least 1.
pub fn default_shard_count() -> usize {
    let affinity = core_affinity::get_core_ids().map_or(1, |cores| cores.len().max(1));
    let quota = cgroup_cpu_quota().unwrap_or(usize::MAX);
    affinity.min(quota).clamp(1, crate::config::SHARDS_MAX)
}

/// The cgroup v2 (`cpu.max`) or v1 (`cpu.cfs_quota_us`) CPU quota, in whole CPUs.
fn cgroup_cpu_quota() -> Option<usize> {
    let ceil = |quota: f64, period: f64| {
        (quota > 0.0 && period > 0.0).then(|| (quota / period).ceil() as usize)
    };
    if let Ok(text) = std::fs::read_to_string("/sys/fs/cgroup/cpu.max") {
        let mut parts = text.split_whitespace();
        let quota = parts.next()?.parse::<f64>().ok()?;
        let period = parts.next()?.parse::<f64>().ok()?;
        return ceil(quota, period);
    }
    let quota = std::fs::read_to_string("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").ok()?;
    let period = std::fs::read_to_string("/sys/fs/cgroup/cpu/cpu.cfs_period_us").ok()?;
    ceil(quota.trim().parse().ok()?, period.trim().parse().ok()?)
}

/// Client URLs for the ports file: every local address when bound to a wildcard.
pub fn client_urls(host: &str, port: u16) -> Vec<String> {
    urls("nats", host, port)
}

/// Monitoring URLs for the ports file, listed like the client URLs.
pub fn monitor_urls(host: &str, port: u16) -> Vec<String> {
    urls("http", host, port)
}

fn urls(scheme: &str, host: &str, port: u16) -> Vec<String> {
    let url = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}"),
        IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}"),
    };
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) if ip.is_unspecified() => interface_addresses(true).into_iter().map(url).collect(),
        Ok(ip) => vec![url(ip)],
        Err(_) => vec![format!("{scheme}://{host}:{port}")],
    }
}

/// The machine's interface addresses (IPv4, plus IPv6 when `include_v6`), loopback first.
fn interface_addresses(include_v6: bool) -> Vec<IpAddr> {
    let mut addresses = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below with freeifaddrs; entries are read
    // only while the list is alive.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return vec![IpAddr::from([127, 0, 0, 1])];
        }
        let mut entry = list;
        while !entry.is_null() {
            let address = (*entry).ifa_addr;
            if !address.is_null() {
                let family = i32::from((*address).sa_family);
                if family == libc::AF_INET || (include_v6 && family == libc::AF_INET6) {
                    let mut storage: libc::sockaddr_storage = std::mem::zeroed();
                    let len = if family == libc::AF_INET {
                        std::mem::size_of::<libc::sockaddr_in>()
                    } else {
                        std::mem::size_of::<libc::sockaddr_in6>()
                    };
                    std::ptr::copy_nonoverlapping(
                        address.cast::<u8>(),
                        (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(),
                        len,
                    );
                    if let Some(socket) = sockaddr_to_std(&storage) {
                        addresses.push(socket.ip());
                    }
                }
            }
            entry = (*entry).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    addresses.sort_by_key(|ip| (!ip.is_loopback(), ip.is_ipv6()));
    addresses.dedup();
    addresses
}
