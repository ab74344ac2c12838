//! The small endpoints: the index page, `/healthz`, and the ones whose subject ringnats
//! has not built (routes, gateways, leaf nodes, JetStream) or has only one of (accounts:
//! the global `$G`), answered in nats-server's shape so tools that poll them keep working.

use std::time::SystemTime;

use hyper::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::connz::GLOBAL_ACCOUNT;
use super::time::rfc3339_nanos;
use super::varz::Totals;
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

/// `/healthz`: the server is up and accepting.
pub fn healthz() -> Reply {
    Reply {
        status: StatusCode::OK,
        content_type: "application/json",
        body: br#"{"status":"ok"}"#.to_vec(),
    }
}

#[derive(Serialize)]
struct Routez {
    server_id: String,
    server_name: String,
    now: String,
    num_routes: u64,
    routes: Vec<Value>,
}

/// `/routez`: no routes (clustering is not built).
pub fn routez(context: &MonitorContext) -> Reply {
    Reply::json(&Routez {
        server_id: context.identity.server_id.clone(),
        server_name: context.identity.server_name.clone(),
        now: now(),
        num_routes: 0,
        routes: Vec::new(),
    })
}

#[derive(Serialize)]
struct Gatewayz {
    server_id: String,
    now: String,
    outbound_gateways: Map<String, Value>,
    inbound_gateways: Map<String, Value>,
}

/// `/gatewayz`: no gateways.
pub fn gatewayz(context: &MonitorContext) -> Reply {
    Reply::json(&Gatewayz {
        server_id: context.identity.server_id.clone(),
        now: now(),
        outbound_gateways: Map::new(),
        inbound_gateways: Map::new(),
    })
}

#[derive(Serialize)]
struct Leafz {
    server_id: String,
    now: String,
    leafnodes: u64,
    leafs: Vec<Value>,
}

/// `/leafz`: no leaf nodes.
pub fn leafz(context: &MonitorContext) -> Reply {
    Reply::json(&Leafz {
        server_id: context.identity.server_id.clone(),
        now: now(),
        leafnodes: 0,
        leafs: Vec::new(),
    })
}

#[derive(Serialize)]
struct Accountz {
    server_id: String,
    now: String,
    system_account: &'static str,
    accounts: Vec<&'static str>,
}

/// `/accountz`: the one account clients use.
pub fn accountz(context: &MonitorContext, _query: &Query) -> Reply {
    Reply::json(&Accountz {
        server_id: context.identity.server_id.clone(),
        now: now(),
        system_account: "",
        accounts: vec![GLOBAL_ACCOUNT],
    })
}

#[derive(Serialize, Default)]
struct Traffic {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct AccountTraffic {
    msgs: u64,
    bytes: u64,
    gateways: Traffic,
    routes: Traffic,
    leafs: Traffic,
}

impl AccountTraffic {
    fn clients(msgs: u64, bytes: u64) -> Self {
        Self {
            msgs,
            bytes,
            gateways: Traffic::default(),
            routes: Traffic::default(),
            leafs: Traffic::default(),
        }
    }
}

#[derive(Serialize)]
struct AccountStatz {
    acc: &'static str,
    name: &'static str,
    conns: u64,
    leafnodes: u64,
    total_conns: u64,
    num_subscriptions: u64,
    sent: AccountTraffic,
    received: AccountTraffic,
    slow_consumers: u64,
}

#[derive(Serialize)]
struct Accstatz {
    server_id: String,
    now: String,
    account_statz: Vec<AccountStatz>,
}

/// `/accstatz`: the global account's counters (listed while it has connections, as
/// nats-server lists only accounts in use unless `unused` is set).
pub fn accstatz(context: &MonitorContext, query: &Query) -> Reply {
    let totals = Totals::read(context);
    let unused = query.flag("unused").unwrap_or(false);
    let mut account_statz = Vec::new();
    if totals.connections > 0 || unused {
        account_statz.push(AccountStatz {
            acc: GLOBAL_ACCOUNT,
            name: GLOBAL_ACCOUNT,
            conns: totals.connections,
            leafnodes: 0,
            total_conns: totals.connections,
            num_subscriptions: totals.subscriptions,
            sent: AccountTraffic::clients(totals.out_msgs, totals.out_bytes),
            received: AccountTraffic::clients(totals.in_msgs, totals.in_bytes),
            slow_consumers: totals.slow_consumers,
        });
    }
    Reply::json(&Accstatz {
        server_id: context.identity.server_id.clone(),
        now: now(),
        account_statz,
    })
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

#[derive(Serialize)]
struct Jsz {
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
pub fn jsz(context: &MonitorContext) -> Reply {
    Reply::json(&Jsz {
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
    })
}
