//! The HTTP monitoring endpoints (`-m`/`http_port`): nats-server's `/varz`, `/connz`,
//! `/subsz`, `/healthz` and friends with its JSON field names, so the dashboards and
//! exporters written for it read ringnats unchanged, plus `/metrics` in Prometheus text.
//!
//! Served by hyper on one unpinned control thread running a current-thread tokio
//! runtime, never on a shard loop. Counters come from the shards' published atomics;
//! questions that need shard state (connections, subscriptions) go to every shard as
//! control messages, answered in each shard's next turn, so the data path never takes a
//! lock for monitoring.

mod connz;
mod endpoints;
mod metrics;
pub mod snapshot;
mod subsz;
pub mod sys;
mod time;
mod varz;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
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
pub fn start(context: MonitorContext, address: SocketAddr) -> std::io::Result<Monitor> {
    let listener = std::net::TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let context = Arc::new(context);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("ringnats-monitor".into())
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
        let body = serde_json::to_vec_pretty(value).unwrap_or_default();
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
            // Counted before serving, as nats-server does (`/varz` shows itself).
            context.count_request(endpoint);
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
        "/varz" => varz::varz(context),
        "/connz" => connz::connz(context, query).await,
        "/subsz" | "/subscriptionsz" => subsz::subsz(context, query).await,
        "/routez" => endpoints::routez(context),
        "/gatewayz" => endpoints::gatewayz(context),
        "/leafz" => endpoints::leafz(context),
        "/accountz" => endpoints::accountz(context, query),
        "/accstatz" => endpoints::accstatz(context, query),
        "/jsz" => endpoints::jsz(context),
        "/healthz" => endpoints::healthz(),
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

    /// Go's `strconv.ParseBool` on `name`, false when absent; an error names the value.
    fn flag(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            None | Some("") => Ok(false),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(format!(
                "strconv.ParseBool: parsing \"{other}\": invalid syntax"
            )),
        }
    }

    /// A non-negative integer parameter, `default` when absent.
    fn number(&self, name: &str, default: usize) -> Result<usize, String> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(text) => text
                .parse::<i64>()
                .map(|value| value.max(0) as usize)
                .map_err(|_| format!("strconv.Atoi: parsing \"{text}\": invalid syntax")),
        }
    }
}
