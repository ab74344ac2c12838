//! The small endpoints: the index page, `/healthz`, and the ones whose subject ringnats
//! has not built (routes, gateways, leaf nodes, JetStream), answered in nats-server's
//! shape so tools that poll them keep working. Each builder serves both HTTP and the
//! matching `$SYS` request.

use std::time::SystemTime;

use hyper::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::go_json::{self, GoField, GoOptions, GoType};
use super::time::rfc3339_nanos;
use super::{MonitorContext, Query, Reply};
use crate::proto::info::COMPATIBLE_VERSION;

fn now() -> String {
    rfc3339_nanos(SystemTime::now())
}

/// `/`: links to the endpoints, like nats-server's index page.
pub fn index(context: &MonitorContext) -> Reply {
    let links: String = [
        ("varz", "General"),
        ("jsz", "JetStream"),
        ("connz", "Connections"),
        ("accountz", "Accounts"),
        ("accstatz", "Account Stats"),
        ("subsz", "Subscriptions"),
        ("routez", "Routes"),
        ("leafz", "LeafNodes"),
        ("gatewayz", "Gateways"),
        ("raftz", "Raft Groups"),
        ("healthz", "Health Probe"),
        ("metrics", "Prometheus metrics"),
    ]
    .iter()
    .map(|(path, title)| {
        format!("\t<a href=./{path}>{title}<span class=\"endpoint\"> /{path}</span></a>\n")
    })
    .collect();
    let body = format!(
        "<html lang=\"en\">\n\t<head>\n\t<title>ringnats</title>\n\t</head>\n\t<body>\n\
         \t<h1>ringnats</h1>\n\t<p>nats-server v{COMPATIBLE_VERSION} compatible, {} shard(s), \
         io backend {}</p>\n{links}  </body>\n</html>\n",
        context.shards(),
        context.io_backend
    );
    Reply::text(StatusCode::OK, "text/html; charset=utf-8", body)
}

/// nats-server's `HealthzOptions` that matter without JetStream.
#[derive(Clone, Debug, Default)]
pub struct HealthzOptions {
    /// `account`: needed when `stream` is given.
    pub account: String,
    /// `stream`: needed when `consumer` is given.
    pub stream: String,
    /// `consumer`.
    pub consumer: String,
    /// `details`: errors as a list with types instead of one `error` text.
    pub details: bool,
}

/// `HealthzOptions`'s JSON keys and Go types.
pub const HEALTHZ_FIELDS: &[GoField] = &[
    ("js-enabled", GoType::Bool),
    ("js-enabled-only", GoType::Bool),
    ("js-server-only", GoType::Bool),
    ("js-meta-only", GoType::Bool),
    ("account", GoType::String("string")),
    ("stream", GoType::String("string")),
    ("consumer", GoType::String("string")),
    ("details", GoType::Bool),
];

impl HealthzOptions {
    /// nats-server's `HandleHealthz`: the query's parameters, with its error words (the
    /// JetStream switches are checked, then have nothing to select without JetStream).
    pub fn from_query(query: &Query) -> Result<Self, String> {
        for flag in [
            "js-enabled",
            "js-enabled-only",
            "js-server-only",
            "js-meta-only",
        ] {
            query.flag(flag)?;
        }
        Ok(Self {
            details: query.flag("details")?,
            account: query.text("account"),
            stream: query.text("stream"),
            consumer: query.text("consumer"),
        })
    }

    /// The options of a `HEALTHZ` request, decoded with [`HEALTHZ_FIELDS`].
    pub fn from_go(options: &GoOptions) -> Self {
        Self {
            account: options.string("account"),
            stream: options.string("stream"),
            consumer: options.string("consumer"),
            details: options.bool("details"),
        }
    }
}

/// One entry of `errors` with `details`.
#[derive(Serialize)]
struct HealthzError {
    #[serde(rename = "type")]
    kind: &'static str,
    error: String,
}

/// nats-server's `HealthStatus`.
#[derive(Serialize)]
pub struct HealthStatus {
    status: &'static str,
    /// Left out over HTTP, where the response's status says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<u16>,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<HealthzError>,
}

/// nats-server's `healthz` for a server without JetStream: healthy, unless the options
/// name a consumer without its stream or a stream without its account.
pub fn healthz(options: &HealthzOptions) -> HealthStatus {
    let problem = if options.account.is_empty() && !options.stream.is_empty() {
        Some("\"account\" must not be empty when checking stream health")
    } else if options.stream.is_empty() && !options.consumer.is_empty() {
        Some("\"stream\" must not be empty when checking consumer health")
    } else {
        None
    };
    match problem {
        None => HealthStatus {
            status: "ok",
            status_code: Some(200),
            error: String::new(),
            errors: Vec::new(),
        },
        Some(text) if options.details => HealthStatus {
            status: "error",
            status_code: Some(400),
            error: String::new(),
            errors: vec![HealthzError {
                kind: "BAD_REQUEST",
                error: text.to_string(),
            }],
        },
        Some(text) => HealthStatus {
            status: "error",
            status_code: Some(400),
            error: text.to_string(),
            errors: Vec::new(),
        },
    }
}

/// Serves `/healthz`: compact JSON, with the status code as the response's status.
pub fn serve_healthz(query: &Query) -> Reply {
    let options = match HealthzOptions::from_query(query) {
        Ok(options) => options,
        Err(message) => return Reply::bad_request(message),
    };
    let mut health = healthz(&options);
    let status = health
        .status_code
        .take()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    Reply {
        status,
        content_type: "application/json",
        body: go_json::to_vec(&health),
    }
}

/// nats-server's `Routez` document.
#[derive(Serialize)]
pub struct Routez {
    server_id: String,
    server_name: String,
    now: String,
    num_routes: u64,
    routes: Vec<Value>,
}

/// `/routez`: no routes (clustering is not built).
pub fn routez(context: &MonitorContext) -> Routez {
    Routez {
        server_id: context.identity.server_id.clone(),
        server_name: context.identity.server_name.clone(),
        now: now(),
        num_routes: 0,
        routes: Vec::new(),
    }
}

/// nats-server's `Gatewayz` document.
#[derive(Serialize)]
pub struct Gatewayz {
    server_id: String,
    now: String,
    outbound_gateways: Map<String, Value>,
    inbound_gateways: Map<String, Value>,
}

/// `/gatewayz`: no gateways.
pub fn gatewayz(context: &MonitorContext) -> Gatewayz {
    Gatewayz {
        server_id: context.identity.server_id.clone(),
        now: now(),
        outbound_gateways: Map::new(),
        inbound_gateways: Map::new(),
    }
}

/// nats-server's `Leafz` document.
#[derive(Serialize)]
pub struct Leafz {
    server_id: String,
    now: String,
    leafnodes: u64,
    leafs: Vec<Value>,
}

/// `/leafz`: no leaf nodes (of any account).
pub fn leafz(context: &MonitorContext) -> Leafz {
    Leafz {
        server_id: context.identity.server_id.clone(),
        now: now(),
        leafnodes: 0,
        leafs: Vec::new(),
    }
}

#[derive(Serialize, Default)]
struct JetStreamApi {
    level: u64,
    total: u64,
    errors: u64,
}

#[derive(Serialize, Default)]
struct JetStreamLimits {
    max_memory: u64,
    max_storage: u64,
}

/// nats-server's `JSInfo` document with JetStream disabled.
#[derive(Serialize)]
pub struct Jsz {
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: u64,
    ha_assets: u64,
    api: JetStreamApi,
    server_id: String,
    now: String,
    disabled: bool,
    config: JetStreamLimits,
    streams: u64,
    consumers: u64,
    messages: u64,
    bytes: u64,
    total: u64,
}

/// `/jsz`: JetStream is not enabled, in nats-server's shape for that.
pub fn jsz(context: &MonitorContext) -> Jsz {
    Jsz {
        memory: 0,
        storage: 0,
        reserved_memory: 0,
        reserved_storage: 0,
        accounts: 0,
        ha_assets: 0,
        api: JetStreamApi::default(),
        server_id: context.identity.server_id.clone(),
        now: now(),
        disabled: true,
        config: JetStreamLimits::default(),
        streams: 0,
        consumers: 0,
        messages: 0,
        bytes: 0,
        total: 0,
    }
}
