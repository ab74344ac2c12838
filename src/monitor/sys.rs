//! Answers to nats-server's monitoring requests in the system account:
//! `$SYS.REQ.SERVER.PING` (statsz), `$SYS.REQ.SERVER.PING.<KIND>` and
//! `$SYS.REQ.SERVER.<server_id>.<KIND>` for every kind in [`SERVER_KINDS`], and
//! `$SYS.REQ.ACCOUNT.<account>.<KIND>` for every kind in [`ACCOUNT_KINDS`] (plus
//! `$SYS.REQ.ACCOUNT.PING.STATZ` for all accounts).
//!
//! [`answer`] is the whole interface: the transport (shards forward what the system
//! account publishes on `$SYS.REQ.>`; the control thread calls `answer` and publishes the
//! bytes to the request's reply subject) lives elsewhere. The answers are the HTTP
//! endpoints' documents, built by the same builders, inside nats-server's envelope:
//! `{"server":{name,host,id,ver,feature_flags,jetstream,flags,seq,time},"data":{...}}`,
//! or `"error":{"code","description"}` — 400 when the payload does not decode as the
//! options struct (with Go's error text, see [`super::go_json`]), 500 with `"data":null`
//! when the builder refuses the options. `STATSZ` answers `{"server",...,"statsz":{...}}`
//! and `IDZ` a bare `{"name","host","id"}`, as nats-server does.
//!
//! A payload's filter options (`server_name`, `host`, `cluster`, `exact_match`, `tags`,
//! `domain`) that do not match this server make `answer` return `None`, as nats-server
//! stays silent so that only matching servers of a cluster reply. nats-server answers a
//! `STATSZ` request without a reply subject on `$SYS.SERVER.<id>.STATSZ`; which subject to
//! publish on is the caller's choice, so `answer` does not need the reply subject.
//! Not answered here: `RELOAD`, `KICK`, `LDM`, `CONNS`, claims updates and
//! `$SYS.REQ.USER.INFO`, which are orders or need the requesting client.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::accounts;
use super::connz::{self, ConnzOptions, CONNZ_FIELDS};
use super::endpoints::{self, HealthzOptions, HEALTHZ_FIELDS};
use super::go_json::{self, GoField, GoOptions, GoType, FILTER_FIELDS};
use super::internals;
use super::subsz::{self, SubszOptions, SUBSZ_FIELDS};
use super::time::rfc3339_nanos;
use super::varz::{self, KindCounts, Totals};
use super::MonitorContext;
use crate::proto::info::COMPATIBLE_VERSION;

/// The kinds `$SYS.REQ.SERVER.PING.<KIND>` and `$SYS.REQ.SERVER.<id>.<KIND>` answer.
pub const SERVER_KINDS: &[&str] = &[
    "STATSZ",
    "IDZ",
    "VARZ",
    "CONNZ",
    "SUBSZ",
    "ROUTEZ",
    "GATEWAYZ",
    "LEAFZ",
    "ACCOUNTZ",
    "JSZ",
    "HEALTHZ",
    "EXPVARZ",
    "IPQUEUESZ",
    "RAFTZ",
    "PROFILEZ",
];

/// The kinds `$SYS.REQ.ACCOUNT.<account>.<KIND>` answers.
pub const ACCOUNT_KINDS: &[&str] = &["SUBSZ", "CONNZ", "LEAFZ", "JSZ", "INFO", "STATZ"];

/// The answer to one `$SYS` request published in the system account, or None when the
/// subject is not one ringnats answers (or the request's filter leaves this server out).
pub async fn answer(context: &MonitorContext, subject: &str, payload: &[u8]) -> Option<Vec<u8>> {
    match Request::parse(subject, &context.identity.server_id)? {
        Request::Server(kind) => server_request(context, kind, payload).await,
        Request::Account(account, kind) => account_request(context, account, kind, payload).await,
        Request::AllAccountsStatz => all_accounts_statz(context, payload).await,
    }
}

/// What a subject asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request<'a> {
    /// One of [`SERVER_KINDS`], for this server.
    Server(&'static str),
    /// One of [`ACCOUNT_KINDS`] about one account.
    Account(&'a str, &'static str),
    /// `$SYS.REQ.ACCOUNT.PING.STATZ`: every account's counters.
    AllAccountsStatz,
}

impl<'a> Request<'a> {
    fn parse(subject: &'a str, server_id: &str) -> Option<Self> {
        if subject == "$SYS.REQ.SERVER.PING" {
            return Some(Self::Server("STATSZ"));
        }
        let known = |kinds: &[&'static str], kind: &str| kinds.iter().copied().find(|&k| k == kind);
        if let Some(rest) = subject.strip_prefix("$SYS.REQ.SERVER.") {
            let (target, kind) = rest.split_once('.')?;
            if target != "PING" && target != server_id {
                return None;
            }
            return known(SERVER_KINDS, kind).map(Self::Server);
        }
        let (account, kind) = subject.strip_prefix("$SYS.REQ.ACCOUNT.")?.split_once('.')?;
        if account.is_empty() {
            return None;
        }
        if account == "PING" && kind == "STATZ" {
            return Some(Self::AllAccountsStatz);
        }
        known(ACCOUNT_KINDS, kind).map(|kind| Self::Account(account, kind))
    }
}

/// nats-server's `RoutezOptions` (no routes to select; decoded for Go's errors).
const ROUTEZ_FIELDS: &[GoField] = &[
    ("subscriptions", GoType::Bool),
    ("subscriptions_detail", GoType::Bool),
];
/// nats-server's `GatewayzOptions` (no gateways to select).
const GATEWAYZ_FIELDS: &[GoField] = &[
    ("name", GoType::String("string")),
    ("accounts", GoType::Bool),
    ("account_name", GoType::String("string")),
    ("subscriptions", GoType::Bool),
    ("subscriptions_detail", GoType::Bool),
];
/// nats-server's `LeafzOptions` (no leaf nodes to select).
const LEAFZ_FIELDS: &[GoField] = &[
    ("subscriptions", GoType::Bool),
    ("account", GoType::String("string")),
];
/// nats-server's `AccountzOptions`.
const ACCOUNTZ_FIELDS: &[GoField] = &[("account", GoType::String("string"))];
/// nats-server's `JSzOptions` (JetStream is disabled: nothing to select).
const JSZ_FIELDS: &[GoField] = &[
    ("account", GoType::String("string")),
    ("accounts", GoType::Bool),
    ("streams", GoType::Bool),
    ("consumer", GoType::Bool),
    ("direct_consumer", GoType::Bool),
    ("config", GoType::Bool),
    ("leader_only", GoType::Bool),
    ("offset", GoType::Int("int")),
    ("limit", GoType::Int("int")),
    ("raft", GoType::Bool),
    ("stream_leader_only", GoType::Bool),
];
/// nats-server's `IpqueueszOptions`.
const IPQUEUESZ_FIELDS: &[GoField] = &[("all", GoType::Bool), ("filter", GoType::String("string"))];
/// nats-server's `RaftzOptions`.
const RAFTZ_FIELDS: &[GoField] = &[
    ("account", GoType::String("string")),
    ("group", GoType::String("string")),
];
/// nats-server's `ProfilezOptions`.
const PROFILEZ_FIELDS: &[GoField] = &[
    ("name", GoType::String("string")),
    ("debug", GoType::Int("int")),
    ("duration", GoType::Int("time.Duration")),
];
/// nats-server's `AccountStatzOptions`.
const ACCOUNT_STATZ_FIELDS: &[GoField] = &[
    ("accounts", GoType::Strings),
    ("include_unused", GoType::Bool),
];

/// The Go options struct a server request's payload decodes into.
fn server_options(kind: &str) -> (&'static str, &'static [&'static [GoField]]) {
    match kind {
        "STATSZ" => ("StatszEventOptions", &[FILTER_FIELDS]),
        "VARZ" => ("VarzEventOptions", &[FILTER_FIELDS]),
        "CONNZ" => ("ConnzEventOptions", &[CONNZ_FIELDS, FILTER_FIELDS]),
        "SUBSZ" => ("SubszEventOptions", &[SUBSZ_FIELDS, FILTER_FIELDS]),
        "ROUTEZ" => ("RoutezEventOptions", &[ROUTEZ_FIELDS, FILTER_FIELDS]),
        "GATEWAYZ" => ("GatewayzEventOptions", &[GATEWAYZ_FIELDS, FILTER_FIELDS]),
        "LEAFZ" => ("LeafzEventOptions", &[LEAFZ_FIELDS, FILTER_FIELDS]),
        "ACCOUNTZ" => ("AccountzEventOptions", &[ACCOUNTZ_FIELDS, FILTER_FIELDS]),
        "JSZ" => ("JszEventOptions", &[JSZ_FIELDS, FILTER_FIELDS]),
        "HEALTHZ" => ("HealthzEventOptions", &[HEALTHZ_FIELDS, FILTER_FIELDS]),
        "IPQUEUESZ" => ("IpqueueszEventOptions", &[FILTER_FIELDS, IPQUEUESZ_FIELDS]),
        "RAFTZ" => ("RaftzEventOptions", &[FILTER_FIELDS, RAFTZ_FIELDS]),
        "PROFILEZ" => ("ProfilezEventOptions", &[PROFILEZ_FIELDS, FILTER_FIELDS]),
        _ => ("ExpvarzEventOptions", &[FILTER_FIELDS]),
    }
}

/// The Go options struct an account request's payload decodes into.
fn account_options(kind: &str) -> (&'static str, &'static [&'static [GoField]]) {
    match kind {
        "INFO" => ("AccInfoEventOptions", &[FILTER_FIELDS]),
        "STATZ" => (
            "AccountStatzEventOptions",
            &[ACCOUNT_STATZ_FIELDS, FILTER_FIELDS],
        ),
        other => server_options(other),
    }
}

async fn server_request(
    context: &MonitorContext,
    kind: &'static str,
    payload: &[u8],
) -> Option<Vec<u8>> {
    if kind == "IDZ" {
        // nats-server reads no options and sends the bare identity, outside the envelope.
        return Some(go_json::to_vec(&ServerId {
            name: context.identity.server_name.clone(),
            host: context.identity.host.clone(),
            id: context.identity.server_id.clone(),
        }));
    }
    let (struct_name, fields) = server_options(kind);
    let options = match GoOptions::decode(payload, struct_name, fields) {
        Ok(options) => options,
        Err(description) => return Some(bad_request(context, description)),
    };
    if filtered_out(context, &options) {
        return None;
    }
    Some(match kind {
        "STATSZ" => statsz(context),
        "VARZ" => reply(context, Ok(varz::build(context))),
        "CONNZ" => reply(
            context,
            connz::build(context, &ConnzOptions::from_go(&options)).await,
        ),
        "SUBSZ" => reply(
            context,
            subsz::build(context, &SubszOptions::from_go(&options)).await,
        ),
        "ROUTEZ" => reply(context, Ok(endpoints::routez(context))),
        "GATEWAYZ" => reply(context, Ok(endpoints::gatewayz(context))),
        "LEAFZ" => reply(context, Ok(endpoints::leafz(context))),
        "ACCOUNTZ" => reply(
            context,
            accounts::accountz(context, &options.string("account")).await,
        ),
        "JSZ" => reply(context, Ok(endpoints::jsz(context))),
        "HEALTHZ" => reply(
            context,
            Ok(endpoints::healthz(&HealthzOptions::from_go(&options))),
        ),
        "IPQUEUESZ" => reply(context, Ok(internals::ipqueuesz())),
        "RAFTZ" => {
            let system = accounts::system_account(&context.config);
            let groups = internals::raftz(&options.string("account"), system.as_deref());
            reply(context, Ok(groups))
        }
        "PROFILEZ" => reply(
            context,
            Ok(internals::profilez(
                &options.string("name"),
                options.int("duration"),
            )),
        ),
        _ => reply(context, Ok(internals::expvarz())),
    })
}

async fn account_request(
    context: &MonitorContext,
    account: &str,
    kind: &'static str,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let (struct_name, fields) = account_options(kind);
    let options = match GoOptions::decode(payload, struct_name, fields) {
        Ok(options) => options,
        Err(description) => return Some(bad_request(context, description)),
    };
    if filtered_out(context, &options) {
        return None;
    }
    Some(match kind {
        "SUBSZ" => {
            let options = SubszOptions {
                subscriptions: true,
                account: account.to_string(),
                ..SubszOptions::from_go(&options)
            };
            reply(context, subsz::build(context, &options).await)
        }
        "CONNZ" => {
            let options = ConnzOptions {
                account: account.to_string(),
                ..ConnzOptions::from_go(&options)
            };
            reply(context, connz::build(context, &options).await)
        }
        "LEAFZ" => reply(context, Ok(endpoints::leafz(context))),
        "JSZ" => reply::<()>(context, Err("jetstream not enabled".into())),
        "INFO" => reply(context, accounts::account_info(context, account).await),
        _ => {
            let include_unused = options.bool("include_unused");
            let statz =
                accounts::account_statz(context, &[account.to_string()], include_unused).await;
            if statz.is_empty() && !include_unused {
                return None;
            }
            reply(context, Ok(statz))
        }
    })
}

async fn all_accounts_statz(context: &MonitorContext, payload: &[u8]) -> Option<Vec<u8>> {
    let (struct_name, fields) = account_options("STATZ");
    let options = match GoOptions::decode(payload, struct_name, fields) {
        Ok(options) => options,
        Err(description) => return Some(bad_request(context, description)),
    };
    if filtered_out(context, &options) {
        return None;
    }
    let include_unused = options.bool("include_unused");
    let statz =
        accounts::account_statz(context, &options.strings("accounts"), include_unused).await;
    if statz.is_empty() && !include_unused {
        return None;
    }
    Some(reply(context, Ok(statz)))
}

/// nats-server's `filterRequest`: true when the options' filters leave this server out.
fn filtered_out(context: &MonitorContext, options: &GoOptions) -> bool {
    let identity = &context.identity;
    // ringnats runs no cluster: its cluster name is empty, like a lone nats-server's.
    let facts = [
        ("server_name", identity.server_name.as_str()),
        ("host", identity.host.as_str()),
        ("cluster", ""),
    ];
    let exact = options.bool("exact_match");
    let mismatch = facts.iter().any(|&(key, ours)| {
        let wanted = options.string(key);
        !wanted.is_empty()
            && if exact {
                ours != wanted
            } else {
                !ours.contains(&wanted)
            }
    });
    // No server tags and no JetStream domain: any asked for leaves this server out.
    mismatch || !options.strings("tags").is_empty() || !options.string("domain").is_empty()
}

/// nats-server's `ServerID`: `IDZ`'s whole answer.
#[derive(Serialize)]
struct ServerId {
    name: String,
    host: String,
    id: String,
}

/// nats-server's `ServerInfo`, the `server` object of every answer.
#[derive(Serialize)]
pub(super) struct ServerInfo {
    name: String,
    host: String,
    id: String,
    ver: &'static str,
    feature_flags: BTreeMap<&'static str, bool>,
    jetstream: bool,
    flags: u64,
    seq: u64,
    time: String,
}

impl ServerInfo {
    /// This server's identity, stamped with the next sequence number.
    pub(super) fn next(context: &MonitorContext) -> Self {
        let identity = &context.identity;
        Self {
            name: identity.server_name.clone(),
            host: identity.host.clone(),
            id: identity.server_id.clone(),
            ver: COMPATIBLE_VERSION,
            feature_flags: varz::feature_flags(),
            jetstream: false,
            flags: 0,
            seq: context.system_messages_sent.fetch_add(1, Ordering::Relaxed) + 1,
            time: rfc3339_nanos(SystemTime::now()),
        }
    }
}

/// nats-server's `ApiError`.
#[derive(Serialize)]
struct ApiError {
    code: u16,
    description: String,
}

/// nats-server's `ServerAPIResponse`: `data` is absent when the options failed to decode
/// and `null` when the builder refused them.
#[derive(Serialize)]
struct ApiResponse<T> {
    server: ServerInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Option<T>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
}

/// The envelope around a builder's result (a refusal is nats-server's 500).
fn reply<T: Serialize>(context: &MonitorContext, result: Result<T, String>) -> Vec<u8> {
    let server = ServerInfo::next(context);
    let response = match result {
        Ok(data) => ApiResponse {
            server,
            data: Some(Some(data)),
            error: None,
        },
        Err(description) => ApiResponse {
            server,
            data: Some(None),
            error: Some(ApiError {
                code: 500,
                description,
            }),
        },
    };
    go_json::to_vec(&response)
}

/// The envelope for a payload that does not decode as the options struct.
fn bad_request(context: &MonitorContext, description: String) -> Vec<u8> {
    go_json::to_vec(&ApiResponse::<()> {
        server: ServerInfo::next(context),
        data: None,
        error: Some(ApiError {
            code: 400,
            description,
        }),
    })
}

/// nats-server's `DataStats` without routes, gateways and leaf nodes.
#[derive(Serialize)]
struct MsgBytes {
    msgs: u64,
    bytes: u64,
}

/// nats-server's `UserInfo`, the answer to `$SYS.REQ.USER.INFO`.
#[derive(Serialize)]
struct UserInfo {
    user: String,
    account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    account_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<PublicPermissions>,
    #[serde(skip_serializing_if = "is_zero")]
    expires: u64,
}

/// nats-server's `Permissions` as `publicPermissions` fills it: both lists present.
#[derive(Serialize)]
struct PublicPermissions {
    publish: PublicSubjectPermission,
    subscribe: PublicSubjectPermission,
    #[serde(skip_serializing_if = "Option::is_none")]
    responses: Option<PublicResponsePermission>,
}

#[derive(Serialize)]
struct PublicSubjectPermission {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deny: Vec<String>,
}

#[derive(Serialize)]
struct PublicResponsePermission {
    max: i64,
    /// Nanoseconds, as Go's `time.Duration`.
    ttl: u64,
}

impl PublicSubjectPermission {
    fn new(permission: Option<&crate::auth::SubjectPermission>) -> Self {
        let list = |list: Option<&Vec<String>>| list.cloned().unwrap_or_default();
        Self {
            allow: list(permission.and_then(|p| p.allow.as_ref())),
            deny: list(permission.and_then(|p| p.deny.as_ref())),
        }
    }
}

/// The answer to `$SYS.REQ.USER.INFO` for the client that asked.
pub fn user_info(context: &MonitorContext, requester: &crate::shard::shared::Requester) -> Vec<u8> {
    let nanos =
        |duration: std::time::Duration| u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    let permissions = requester
        .permissions
        .as_ref()
        .map(|permissions| PublicPermissions {
            publish: PublicSubjectPermission::new(permissions.publish.as_ref()),
            subscribe: PublicSubjectPermission::new(permissions.subscribe.as_ref()),
            responses: permissions
                .response
                .map(|response| PublicResponsePermission {
                    max: if response.msgs_max == 0 {
                        crate::auth::DEFAULT_RESPONSE_MSGS_MAX
                    } else {
                        response.msgs_max
                    },
                    ttl: nanos(response.expires),
                }),
        });
    let info = UserInfo {
        user: requester.user.clone(),
        account: requester.account.clone(),
        account_name: requester.account.clone(),
        permissions,
        expires: requester.expires_in.map_or(0, nanos),
    };
    reply(context, Ok(info))
}

/// nats-server's `ServerStats`: the counters `/varz` also shows, in `STATSZ`'s shape.
#[derive(Serialize)]
struct ServerStats {
    start: String,
    mem: u64,
    cores: usize,
    cpu: f64,
    connections: u64,
    total_connections: u64,
    active_accounts: u64,
    subscriptions: u64,
    sent: MsgBytes,
    sent_to_clients: MsgBytes,
    received: MsgBytes,
    received_from_clients: MsgBytes,
    slow_consumers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    slow_consumer_stats: Option<KindCounts>,
    #[serde(skip_serializing_if = "is_zero")]
    stale_connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_connection_stats: Option<KindCounts>,
    active_servers: u64,
    gomaxprocs: usize,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// nats-server's `ServerStatsMsg`.
#[derive(Serialize)]
struct StatszMessage {
    server: ServerInfo,
    statsz: ServerStats,
}

fn statsz(context: &MonitorContext) -> Vec<u8> {
    let totals = Totals::read(context);
    let counts = |count: u64| (count > 0).then(|| KindCounts::clients(count));
    let statsz = ServerStats {
        start: rfc3339_nanos(context.start),
        mem: varz::resident_bytes(),
        cores: varz::cores(),
        cpu: varz::cpu_percent(context),
        connections: totals.connections,
        total_connections: totals.total_connections,
        // Accounts with a connection: all clients are in `$G` (see `accounts`).
        active_accounts: u64::from(totals.connections > 0),
        subscriptions: totals.subscriptions,
        sent: MsgBytes {
            msgs: totals.out_msgs,
            bytes: totals.out_bytes,
        },
        sent_to_clients: MsgBytes {
            msgs: totals.out_msgs,
            bytes: totals.out_bytes,
        },
        received: MsgBytes {
            msgs: totals.in_msgs,
            bytes: totals.in_bytes,
        },
        received_from_clients: MsgBytes {
            msgs: totals.in_msgs,
            bytes: totals.in_bytes,
        },
        slow_consumers: totals.slow_consumers,
        slow_consumer_stats: counts(totals.slow_consumers),
        stale_connections: totals.stale_connections,
        stale_connection_stats: counts(totals.stale_connections),
        // This server alone: ringnats runs no cluster.
        active_servers: 1,
        gomaxprocs: context.shards(),
    };
    go_json::to_vec(&StatszMessage {
        server: ServerInfo::next(context),
        statsz,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "NSERVERID";

    /// The transport may run `answer` on any runtime's worker: its future must be `Send`.
    /// (Compiled, never called.)
    #[allow(dead_code)]
    fn answer_is_send(context: &MonitorContext) {
        fn send<T: Send>(_: T) {}
        send(answer(context, "$SYS.REQ.SERVER.PING", b""));
    }

    #[test]
    fn subjects_name_the_request() {
        let parse = |subject| Request::parse(subject, ID);
        assert_eq!(
            parse("$SYS.REQ.SERVER.PING"),
            Some(Request::Server("STATSZ"))
        );
        assert_eq!(
            parse("$SYS.REQ.SERVER.PING.VARZ"),
            Some(Request::Server("VARZ"))
        );
        assert_eq!(
            parse("$SYS.REQ.SERVER.NSERVERID.CONNZ"),
            Some(Request::Server("CONNZ"))
        );
        assert_eq!(
            parse("$SYS.REQ.ACCOUNT.APP.CONNZ"),
            Some(Request::Account("APP", "CONNZ"))
        );
        assert_eq!(
            parse("$SYS.REQ.ACCOUNT.PING.STATZ"),
            Some(Request::AllAccountsStatz)
        );
        assert_eq!(
            parse("$SYS.REQ.ACCOUNT.PING.CONNZ"),
            Some(Request::Account("PING", "CONNZ"))
        );
        for ignored in [
            "$SYS.REQ.SERVER.OTHERID.VARZ",
            "$SYS.REQ.SERVER.PING.NOPE",
            "$SYS.REQ.SERVER.PING.VARZ.MORE",
            "$SYS.REQ.SERVER.NSERVERID.RELOAD",
            "$SYS.REQ.SERVER.NSERVERID.KICK",
            "$SYS.REQ.ACCOUNT.APP.CONNS",
            "$SYS.REQ.ACCOUNT.APP.CLAIMS.UPDATE",
            "$SYS.REQ.USER.INFO",
            "$SYS.REQ.SERVER",
            "foo",
        ] {
            assert_eq!(parse(ignored), None, "{ignored}");
        }
    }

    #[test]
    fn every_kind_has_its_options_struct() {
        for kind in SERVER_KINDS.iter().filter(|&&kind| kind != "IDZ") {
            let (name, _) = server_options(kind);
            let expected = format!("{}{}", &kind[..1], kind[1..].to_lowercase());
            assert!(
                name.to_lowercase().starts_with(&expected.to_lowercase()),
                "{kind}: {name}"
            );
        }
    }
}
