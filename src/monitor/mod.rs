//! The HTTP monitoring endpoints (`-m`/`http_port`): nats-server's `/varz`, `/connz`,
//! `/subsz`, `/healthz` and friends with its JSON field names, so the dashboards and
//! exporters written for it read ringnats unchanged, plus `/metrics` in Prometheus text.
//!
//! Served by hyper on one unpinned control thread running a current-thread tokio
//! runtime, never on a shard loop. Counters come from the shards' published atomics;
//! questions that need shard state (connections, subscriptions) go to every shard as
//! control messages, answered in each shard's next turn, so the data path never takes a
//! lock for monitoring.
//!
//! The same builders answer nats-server's `$SYS.REQ.SERVER.PING.<KIND>` and
//! `$SYS.REQ.ACCOUNT.<acc>.<KIND>` requests ([`sys::answer`]): each endpoint has one
//! options struct (nats-server's `ConnzOptions`, `SubszOptions`, ...) filled from either
//! the query string or the request's JSON, and one builder that turns it into the
//! document, so the HTTP and `$SYS` answers cannot drift apart.

mod accounts;
mod connz;
mod endpoints;
pub mod events;
pub mod go_json;
mod internals;
mod metrics;
pub mod snapshot;
mod subsz;
pub mod sys;
mod time;
mod varz;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};

use crate::config::Config;
use crate::proto::info::ServerIdentity;
use crate::router::mesh::Doorbell;
use crate::shard::shared::{ControlMsg, Shared};

/// What the endpoints read: the shared counters, the shards' doorbells (to ask them
/// questions) and the facts fixed at start-up.
pub struct MonitorContext {
    /// The shards' shared state and counters.
    pub shared: Arc<Shared>,
    /// One doorbell per shard, rung after a question is queued.
    pub doorbells: Vec<Arc<Doorbell>>,
    /// Name and id as INFO carries them.
    pub identity: ServerIdentity,
    /// The configuration the server started with.
    pub config: Config,
    /// When the server started.
    pub start: SystemTime,
    /// The io backend the shards run.
    pub io_backend: &'static str,
    /// The bound client port.
    pub client_port: u16,
    /// Requests served, per endpoint (nats-server's `http_req_stats`).
    requests: Mutex<BTreeMap<String, u64>>,
    /// The previous CPU sample, for `/varz`'s `cpu`.
    cpu_sample: Mutex<Option<varz::CpuSample>>,
    /// `config_digest`: nats-server's digest of the configuration file as loaded at
    /// start-up (`sha256:<hex>`); empty without a file, as in nats-server.
    config_digest: String,
    /// The sequence number of the last `$SYS` message sent (nats-server's `seq` in
    /// every answer's `server` object); incremented once per answer.
    system_messages_sent: AtomicU64,
}

impl MonitorContext {
    /// Builds the context for a started server.
    pub fn new(
        shared: Arc<Shared>,
        doorbells: Vec<Arc<Doorbell>>,
        identity: ServerIdentity,
        io_backend: &'static str,
        client_port: u16,
    ) -> Self {
        let config_digest = config_file_digest(&shared.config);
        Self {
            config: shared.config.clone(),
            shared,
            doorbells,
            identity,
            start: SystemTime::now(),
            io_backend,
            client_port,
            requests: Mutex::default(),
            cpu_sample: Mutex::default(),
            config_digest,
            system_messages_sent: AtomicU64::new(0),
        }
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.doorbells.len()
    }

    /// Sends a question to every shard and collects the answers (from the shards that
    /// answer within `CONTROL_WAIT_MAX`).
    async fn ask_shards<T>(
        &self,
        question: impl Fn(tokio::sync::mpsc::UnboundedSender<T>) -> ControlMsg,
    ) -> Vec<T> {
        let (reply, mut answers) = tokio::sync::mpsc::unbounded_channel();
        self.shared.broadcast(&question(reply));
        for doorbell in &self.doorbells {
            doorbell.ring();
        }
        let mut collected = Vec::with_capacity(self.shards());
        let deadline = tokio::time::Instant::now() + crate::server::CONTROL_WAIT_MAX;
        while collected.len() < self.shards() {
            match tokio::time::timeout_at(deadline, answers.recv()).await {
                Ok(Some(answer)) => collected.push(answer),
                _ => break,
            }
        }
        collected
    }

    fn count_request(&self, endpoint: &str) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *requests.entry(endpoint.to_string()).or_default() += 1;
    }

    fn request_counts(&self) -> BTreeMap<String, u64> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// nats-server's digest of the configuration file (`conf.ParseFileWithChecksDigest`);
/// empty when the server started without one, or when the file can no longer be read
/// (it was read moments ago to build the configuration, so that is a race, not a state).
fn config_file_digest(config: &Config) -> String {
    config
        .config_file
        .as_deref()
        .and_then(crate::config::digest::file_digest)
        .unwrap_or_default()
}

/// The running monitoring server.
pub struct Monitor {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Monitor {
    /// The bound address (with the real port when `-m -1` was used).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops serving and waits for the thread.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `address` and serves the endpoints on a new control thread.
pub fn start(context: Arc<MonitorContext>, address: SocketAddr) -> std::io::Result<Monitor> {
    let listener = std::net::TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("ringnats-http".into())
        .spawn(move || runtime.block_on(serve(listener, context, stopped)))?;
    Ok(Monitor {
        address,
        stop: Some(stop),
        thread: Some(thread),
    })
}

async fn serve(
    listener: std::net::TcpListener,
    context: Arc<MonitorContext>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            crate::error!("http monitor: {error}");
            return;
        }
    };
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            // Out of descriptors and the like: wait instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let context = context.clone();
        tokio::task::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let context = context.clone();
                async move { Ok::<_, Infallible>(handle(&context, request).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

/// A response: status, content type and body.
pub struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn json<T: serde::Serialize>(value: &T) -> Self {
        // nats-server indents its JSON with two spaces, as serde_json's pretty printer.
        let body = go_json::to_vec_pretty(value);
        Self {
            status: StatusCode::OK,
            content_type: "application/json",
            body,
        }
    }

    fn text(status: StatusCode, content_type: &'static str, body: String) -> Self {
        Self {
            status,
            content_type,
            body: body.into_bytes(),
        }
    }

    fn bad_request(message: String) -> Self {
        Self::text(
            StatusCode::BAD_REQUEST,
            "text/plain; charset=utf-8",
            message,
        )
    }
}

async fn handle(context: &MonitorContext, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let base = context.config.http_base_path.trim_end_matches('/');
    let endpoint = match path.strip_prefix(base) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => "",
    };
    let endpoint = if endpoint.len() > 1 {
        endpoint.trim_end_matches('/')
    } else {
        endpoint
    };
    let query: Vec<(String, String)> =
        form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let reply = match ENDPOINTS.contains(&endpoint) {
        true => {
            // Counted before serving, as nats-server does (`/varz` shows itself), under
            // the name nats-server counts it by; it does not count the Go internals'.
            match endpoint {
                "/raftz" | "/ipqueuesz" | "/stacksz" => {}
                "/subscriptionsz" => context.count_request("/subsz"),
                counted => context.count_request(counted),
            }
            route(context, endpoint, &Query(query)).await
        }
        false => None,
    };
    let reply = match reply {
        Some(reply) => reply,
        None => Reply::text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "404 page not found\n".into(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(reply.content_type),
    );
    headers.insert(
        hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        hyper::header::HeaderValue::from_static("*"),
    );
    response
}

async fn route(context: &MonitorContext, endpoint: &str, query: &Query) -> Option<Reply> {
    Some(match endpoint {
        "/" => endpoints::index(context),
        "/varz" => Reply::json(&varz::build(context)),
        "/connz" => connz::serve(context, query).await,
        "/subsz" | "/subscriptionsz" => subsz::serve(context, query).await,
        "/routez" => Reply::json(&endpoints::routez(context)),
        "/gatewayz" => Reply::json(&endpoints::gatewayz(context)),
        "/leafz" => Reply::json(&endpoints::leafz(context)),
        "/accountz" => accounts::serve_accountz(context, query).await,
        "/accstatz" => accounts::serve_accstatz(context, query).await,
        "/jsz" => Reply::json(&endpoints::jsz(context)),
        "/healthz" => endpoints::serve_healthz(query),
        "/raftz" => internals::serve_raftz(),
        "/ipqueuesz" => internals::serve_ipqueuesz(query),
        "/stacksz" => internals::serve_stacksz(),
        "/metrics" => metrics::metrics(context).await,
        _ => return None,
    })
}

/// Every endpoint served (under `http_base_path`).
const ENDPOINTS: &[&str] = &[
    "/",
    "/varz",
    "/connz",
    "/subsz",
    "/subscriptionsz",
    "/routez",
    "/gatewayz",
    "/leafz",
    "/accountz",
    "/accstatz",
    "/jsz",
    "/healthz",
    "/raftz",
    "/ipqueuesz",
    "/stacksz",
    "/metrics",
];

/// The query string's parameters, in order.
pub struct Query(Vec<(String, String)>);

impl Query {
    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A string parameter; empty when absent (Go's `r.URL.Query().Get`).
    fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    /// nats-server's `decodeBool`: Go's `strconv.ParseBool`, false when absent.
    fn flag(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            None | Some("") => Ok(false),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(format!(
                "Error decoding boolean for '{name}': strconv.ParseBool: parsing \"{other}\": invalid syntax"
            )),
        }
    }

    /// nats-server's `decodeInt`: Go's `strconv.Atoi`, 0 when absent.
    fn int(&self, name: &str) -> Result<i64, String> {
        match self.get(name) {
            None | Some("") => Ok(0),
            Some(text) => text.parse::<i64>().map_err(|_| {
                format!(
                    "Error decoding int for '{name}': strconv.Atoi: parsing \"{text}\": invalid syntax"
                )
            }),
        }
    }

    /// nats-server's `decodeUint64`: Go's `strconv.ParseUint`, 0 when absent.
    fn uint(&self, name: &str) -> Result<u64, String> {
        match self.get(name) {
            None | Some("") => Ok(0),
            Some(text) => text.parse::<u64>().map_err(|_| {
                format!(
                    "Error decoding uint64 for '{name}': strconv.ParseUint: parsing \"{text}\": invalid syntax"
                )
            }),
        }
    }
}

/// Go's `[offset:offset+limit]` page bounds as nats-server clamps them: a negative offset
/// is 0 and a limit of 0 or less is `limit_default`.
fn page_bounds(offset: i64, limit: i64, limit_default: usize) -> (usize, usize) {
    let offset = usize::try_from(offset).unwrap_or(0);
    let limit = match usize::try_from(limit) {
        Ok(limit) if limit > 0 => limit,
        _ => limit_default,
    };
    (offset, limit)
}
