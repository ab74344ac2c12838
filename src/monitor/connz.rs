//! `/connz` and `CONNZ` requests: open and closed client connections in nats-server's
//! shape, with its options (`sort`, `subs`, `auth`, `offset`, `limit`, `cid`, `state`,
//! `user`, `acc`, and `filter_subject` for `$SYS` requests). Every shard copies its
//! connections; the monitor thread merges, filters, sorts and pages them. Each
//! connection also says which `shard` owns it.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::accounts;
use super::go_json::{GoField, GoOptions, GoType};
use super::snapshot::{ConnSnapshot, ShardConnz, SubscriptionSnapshot};
use super::time::{rfc3339_nanos, since, uptime};
use super::{page_bounds, MonitorContext, Query, Reply};
use crate::auth::GLOBAL_ACCOUNT;
use crate::config::file::go_duration_text;
use crate::shard::shared::ControlMsg;

/// nats-server's default page size (`DefaultConnListSize`).
pub const CONNECTIONS_LIMIT_DEFAULT: usize = 1024;

/// nats-server's `Connz` document.
#[derive(Serialize)]
pub struct Connz {
    server_id: String,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    /// `null` only in nats-server's answer for an unknown account.
    connections: Option<Vec<ConnInfo>>,
}

#[derive(Serialize)]
struct ConnInfo {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    connection_type: &'static str,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    stalls: u64,
    subscriptions: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: String,
    /// With `auth`: the user the client authenticated as.
    #[serde(skip_serializing_if = "Option::is_none")]
    authorized_user: Option<String>,
    /// With `auth`: the client's account (nats-server leaves it out for unauthenticated
    /// `$G` clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubDetail>>,
    /// With `auth`: the account's name tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    name_tag: Option<String>,
    shard: usize,
}

/// One subscription in `subscriptions_list_detail` (and `/subsz`'s list).
#[derive(Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_tag: Option<String>,
    subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    qgroup: Option<String>,
    sid: String,
    msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    max: u64,
    cid: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl SubDetail {
    /// `with_account` adds `account`/`account_tag`, as `/subsz` lists them.
    pub fn new(subscription: &SubscriptionSnapshot, with_account: bool) -> Self {
        let account = with_account.then(|| subscription.account.clone());
        Self {
            account_tag: account.clone(),
            account,
            subject: subscription.subject.clone(),
            qgroup: subscription.queue.clone(),
            sid: subscription.sid.clone(),
            msgs: subscription.msgs,
            max: subscription.deliveries_max,
            cid: subscription.cid,
        }
    }
}

/// nats-server's `ConnState`: which connections a query wants (JSON 0, 1, 2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnState {
    /// `open` (0): connected clients.
    #[default]
    Open,
    /// `closed` (1): the clients remembered after they left.
    Closed,
    /// `any`/`all` (2): both.
    Any,
    /// Any other number a `$SYS` request sent: nats-server lists nothing.
    Unknown,
}

/// How `subs` asked for subscriptions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SubsWanted {
    None,
    Subjects,
    Detail,
}

/// nats-server's `ConnzOptions`, from `/connz`'s query or a `CONNZ` request's JSON.
#[derive(Clone, Debug, Default)]
pub struct ConnzOptions {
    /// `sort`: one of [`SORT_OPTIONS`]; empty sorts by `cid`.
    pub sort: String,
    /// `auth`: add the authorized user and account.
    pub auth: bool,
    /// `subscriptions` (`subs=1`): list each connection's subjects.
    pub subscriptions: bool,
    /// `subscriptions_detail` (`subs=detail`): list each connection's subscriptions.
    pub subscriptions_detail: bool,
    /// `offset`: the first connection of the page (negative = 0).
    pub offset: i64,
    /// `limit`: the page size (0 or less = [`CONNECTIONS_LIMIT_DEFAULT`]).
    pub limit: i64,
    /// `cid`: only this connection (0 = all).
    pub cid: u64,
    /// `state`: open, closed or both.
    pub state: ConnState,
    /// `user`: only this authorized user's connections.
    pub user: String,
    /// `acc`: only this account's connections.
    pub account: String,
    /// `filter_subject`: only connections with a subscription colliding with it (needs
    /// `acc`; `$SYS` requests only, as nats-server's HTTP handler never reads it).
    pub filter_subject: String,
}

/// `ConnzOptions`'s JSON keys and Go types (nats-server's `ConnzOptions` tags).
pub const CONNZ_FIELDS: &[GoField] = &[
    ("sort", GoType::String("server.SortOpt")),
    ("auth", GoType::Bool),
    ("subscriptions", GoType::Bool),
    ("subscriptions_detail", GoType::Bool),
    ("offset", GoType::Int("int")),
    ("limit", GoType::Int("int")),
    ("cid", GoType::Uint64),
    ("mqtt_client", GoType::String("string")),
    ("state", GoType::Int("server.ConnState")),
    ("user", GoType::String("string")),
    ("acc", GoType::String("string")),
    ("filter_subject", GoType::String("string")),
];

impl ConnzOptions {
    /// nats-server's `HandleConnz`: the query's parameters, with its error words.
    pub fn from_query(query: &Query) -> Result<Self, String> {
        // Decoded in nats-server's order, so the first bad parameter is the one named.
        let auth = query.flag("auth")?;
        let subscriptions_detail = query.text("subs").to_lowercase() == "detail";
        let subscriptions = !subscriptions_detail && query.flag("subs")?;
        let offset = query.int("offset")?;
        let limit = query.int("limit")?;
        let cid = query.uint("cid")?;
        let state_text = query.text("state");
        let state = match state_text.to_lowercase().as_str() {
            "" | "open" => ConnState::Open,
            "closed" => ConnState::Closed,
            "any" | "all" => ConnState::Any,
            _ => return Err(format!("Error decoding state for {state_text}")),
        };
        Ok(Self {
            sort: query.text("sort"),
            auth,
            subscriptions,
            subscriptions_detail,
            offset,
            limit,
            cid,
            state,
            user: query.text("user"),
            account: query.text("acc"),
            filter_subject: String::new(),
        })
    }

    /// The options of a `CONNZ` request, decoded with [`CONNZ_FIELDS`].
    pub fn from_go(options: &GoOptions) -> Self {
        Self {
            sort: options.string("sort"),
            auth: options.bool("auth"),
            subscriptions: options.bool("subscriptions"),
            subscriptions_detail: options.bool("subscriptions_detail"),
            offset: options.int("offset"),
            limit: options.int("limit"),
            cid: options.uint("cid"),
            state: match options.int("state") {
                0 => ConnState::Open,
                1 => ConnState::Closed,
                2 => ConnState::Any,
                _ => ConnState::Unknown,
            },
            user: options.string("user"),
            account: options.string("acc"),
            filter_subject: options.string("filter_subject"),
        }
    }
}

/// The sort keys nats-server accepts.
const SORT_OPTIONS: &[&str] = &[
    "cid",
    "start",
    "subs",
    "pending",
    "msgs_to",
    "msgs_from",
    "bytes_to",
    "bytes_from",
    "last",
    "idle",
    "uptime",
    "stop",
    "reason",
    "rtt",
];

/// The options checked and settled as nats-server's `Connz` settles them.
struct Settled {
    sort: &'static str,
    subs: SubsWanted,
    offset: usize,
    limit: usize,
    /// `filter_subject` when it filters (not empty, not `>`).
    filter: Option<String>,
}

fn settle(options: &ConnzOptions) -> Result<Settled, String> {
    let sort = if options.sort.is_empty() {
        "cid"
    } else {
        SORT_OPTIONS
            .iter()
            .copied()
            .find(|&option| option == options.sort)
            .ok_or_else(|| format!("invalid sorting option: {}", options.sort))?
    };
    if matches!(sort, "stop" | "reason") && options.state != ConnState::Closed {
        return Err(format!("sort by {sort} only valid on closed connections"));
    }
    let (offset, mut limit) = page_bounds(options.offset, options.limit, CONNECTIONS_LIMIT_DEFAULT);
    if options.cid > 0 {
        limit = 1;
    }
    let filter = match options.filter_subject.as_str() {
        "" | ">" => None,
        _ if options.account.is_empty() => {
            return Err("filter by subject only valid with account filtering".into())
        }
        subject => Some(subject.to_string()),
    };
    let subs = if options.subscriptions_detail {
        SubsWanted::Detail
    } else if options.subscriptions {
        SubsWanted::Subjects
    } else {
        SubsWanted::None
    };
    Ok(Settled {
        sort,
        subs,
        offset,
        limit,
        filter,
    })
}

/// Serves `/connz`: a bad query or bad options are a 400 with nats-server's words.
pub async fn serve(context: &MonitorContext, query: &Query) -> Reply {
    let options = match ConnzOptions::from_query(query) {
        Ok(options) => options,
        Err(message) => return Reply::bad_request(message),
    };
    match build(context, &options).await {
        Ok(connz) => Reply::json(&connz),
        Err(message) => Reply::bad_request(message),
    }
}

/// nats-server's `Connz`: the page of connections `options` asks for.
pub async fn build(context: &MonitorContext, options: &ConnzOptions) -> Result<Connz, String> {
    let settled = settle(options)?;
    let now = SystemTime::now();
    if !options.account.is_empty() && !accounts::exists(&context.config, &options.account) {
        // nats-server returns its half-filled answer for an account it does not know.
        return Ok(Connz {
            server_id: String::new(),
            now: rfc3339_nanos(now),
            num_connections: 0,
            total: 0,
            offset: settled.offset,
            limit: settled.limit,
            connections: None,
        });
    }
    let wants_open = matches!(options.state, ConnState::Open | ConnState::Any);
    let wants_closed = matches!(options.state, ConnState::Closed | ConnState::Any);
    let answers: Vec<ShardConnz> = context
        .ask_shards(|reply| ControlMsg::Connz {
            subscriptions: settled.subs != SubsWanted::None || settled.filter.is_some(),
            closed: wants_closed,
            reply,
        })
        .await;
    let mut connections: Vec<Arc<ConnSnapshot>> = Vec::new();
    for answer in answers {
        if wants_open {
            connections.extend(answer.open.into_iter().map(Arc::new));
        }
        if wants_closed {
            connections.extend(answer.closed);
        }
    }
    if wants_closed {
        keep_newest_closed(&mut connections, context.config.closed_clients_max as usize);
    }
    connections.retain(|conn| in_account(conn, &options.account));
    // nats-server counts the account's connections before the other filters.
    let total = connections.len();
    connections.retain(|conn| selected(conn, options, settled.filter.as_deref()));
    connections.sort_by(|a, b| compare(a, b, settled.sort, now));
    let page: Vec<ConnInfo> = connections
        .iter()
        .skip(settled.offset)
        .take(settled.limit)
        .map(|conn| render(conn, settled.subs, options.auth, now))
        .collect();
    Ok(Connz {
        server_id: context.identity.server_id.clone(),
        now: rfc3339_nanos(now),
        num_connections: page.len(),
        total,
        offset: settled.offset,
        limit: settled.limit,
        connections: Some(page),
    })
}

/// Shards each keep up to `max_closed_clients`; the server keeps the newest that many.
fn keep_newest_closed(connections: &mut Vec<Arc<ConnSnapshot>>, kept_max: usize) {
    let mut closed_stops: Vec<SystemTime> =
        connections.iter().filter_map(|conn| conn.stop).collect();
    if closed_stops.len() <= kept_max {
        return;
    }
    closed_stops.sort_unstable();
    let oldest_kept = closed_stops[closed_stops.len() - kept_max];
    connections.retain(|conn| conn.stop.is_none_or(|stop| stop >= oldest_kept));
}

fn in_account(conn: &ConnSnapshot, account: &str) -> bool {
    account.is_empty() || conn.account == account
}

fn selected(conn: &ConnSnapshot, options: &ConnzOptions, filter: Option<&str>) -> bool {
    if options.cid > 0 && options.cid != conn.cid {
        return false;
    }
    if !options.user.is_empty() && conn.user.as_deref() != Some(options.user.as_str()) {
        return false;
    }
    filter.is_none_or(|filter| {
        conn.subscriptions
            .iter()
            .any(|subscription| subjects_collide(filter, &subscription.subject))
    })
}

/// nats-server's `SubjectsCollide`: some subject could match both patterns.
pub fn subjects_collide(left: &str, right: &str) -> bool {
    let (mut left, mut right) = (left.split('.'), right.split('.'));
    loop {
        match (left.next(), right.next()) {
            (None, None) => return true,
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(a), Some(b)) if a == b || a == "*" || b == "*" => {}
            _ => return false,
        }
    }
}

fn compare(a: &ConnSnapshot, b: &ConnSnapshot, sort: &str, now: SystemTime) -> Ordering {
    let descending = |x: u64, y: u64| y.cmp(&x);
    let ordering = match sort {
        "start" => a.start.cmp(&b.start),
        "subs" => descending(a.subscription_count, b.subscription_count),
        "pending" => descending(a.pending_bytes, b.pending_bytes),
        "msgs_to" => descending(a.stats.out_msgs, b.stats.out_msgs),
        "msgs_from" => descending(a.stats.in_msgs, b.stats.in_msgs),
        "bytes_to" => descending(a.stats.out_bytes, b.stats.out_bytes),
        "bytes_from" => descending(a.stats.in_bytes, b.stats.in_bytes),
        "last" => b.last_activity.cmp(&a.last_activity),
        "idle" => since(now, b.last_activity).cmp(&since(now, a.last_activity)),
        "uptime" => {
            let lived = |conn: &ConnSnapshot| since(conn.stop.unwrap_or(now), conn.start);
            lived(b).cmp(&lived(a))
        }
        "stop" => b.stop.cmp(&a.stop),
        "reason" => a.reason.cmp(&b.reason),
        "rtt" => b.rtt.cmp(&a.rtt),
        _ => Ordering::Equal,
    };
    ordering.then(a.cid.cmp(&b.cid))
}

fn render(conn: &ConnSnapshot, subs: SubsWanted, auth: bool, now: SystemTime) -> ConnInfo {
    let end = conn.stop.unwrap_or(now);
    let subscriptions = conn.subscriptions.iter();
    let (list, detail) = match subs {
        SubsWanted::None => (None, None),
        SubsWanted::Subjects => (
            Some(subscriptions.map(|s| s.subject.clone()).collect()),
            None,
        ),
        SubsWanted::Detail => (
            None,
            Some(subscriptions.map(|s| SubDetail::new(s, false)).collect()),
        ),
    };
    ConnInfo {
        cid: conn.cid,
        kind: "Client",
        connection_type: "nats",
        ip: conn.ip.to_string(),
        port: conn.port,
        start: rfc3339_nanos(conn.start),
        last_activity: rfc3339_nanos(conn.last_activity),
        stop: conn.stop.map(rfc3339_nanos),
        reason: conn.reason,
        rtt: go_duration_text(conn.rtt),
        uptime: uptime(since(end, conn.start)),
        idle: uptime(since(end, conn.last_activity)),
        pending_bytes: conn.pending_bytes,
        in_msgs: conn.stats.in_msgs,
        out_msgs: conn.stats.out_msgs,
        in_bytes: conn.stats.in_bytes,
        out_bytes: conn.stats.out_bytes,
        stalls: conn.stats.stalls,
        subscriptions: conn.subscription_count,
        name: conn.name.clone(),
        lang: conn.lang.clone(),
        version: conn.version.clone(),
        authorized_user: conn.user.clone().filter(|_| auth),
        account: (auth && (conn.user.is_some() || conn.account != GLOBAL_ACCOUNT))
            .then(|| conn.account.clone()),
        name_tag: auth.then(|| conn.account.clone()),
        subscriptions_list: list.filter(|list: &Vec<String>| !list.is_empty()),
        subscriptions_list_detail: detail.filter(|detail: &Vec<SubDetail>| !detail.is_empty()),
        shard: conn.shard,
    }
}
