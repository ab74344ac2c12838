//! `/connz`: open and closed client connections in nats-server's shape, with its query
//! parameters (`sort`, `subs`, `auth`, `offset`, `limit`, `cid`, `state`, `user`, `acc`,
//! `filter_subject`). Every shard copies its connections; the monitor thread merges,
//! filters, sorts and pages them. Each connection also says which `shard` owns it.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::snapshot::{ConnSnapshot, ShardConnz, SubscriptionSnapshot};
use super::time::{rfc3339_nanos, since, uptime};
use super::{MonitorContext, Query, Reply};
use crate::config::file::go_duration_text;
use crate::shard::shared::ControlMsg;
use crate::subject::validate::subject_matches;

/// nats-server's default page size (`DefaultConnListSize`).
pub const CONNECTIONS_LIMIT_DEFAULT: usize = 1024;

/// The global account every client is in (ringnats has no others yet).
pub const GLOBAL_ACCOUNT: &str = "$G";

#[derive(Serialize)]
struct Connz {
    server_id: String,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    connections: Vec<ConnInfo>,
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
    subscriptions: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: String,
    /// With `auth`: the account's name tag (nats-server leaves `account` out for `$G`).
    #[serde(skip_serializing_if = "Option::is_none")]
    name_tag: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubDetail>>,
    shard: usize,
}

/// One subscription in `subscriptions_list_detail` (and `/subsz`'s list).
#[derive(Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_tag: Option<&'static str>,
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
        let account = with_account.then_some(GLOBAL_ACCOUNT);
        Self {
            account,
            account_tag: account,
            subject: subscription.subject.clone(),
            qgroup: subscription.queue.clone(),
            sid: subscription.sid.clone(),
            msgs: subscription.msgs,
            max: subscription.deliveries_max,
            cid: subscription.cid,
        }
    }
}

/// Which connections a query wants.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    Any,
}

/// How `subs` asked for subscriptions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SubsWanted {
    None,
    Subjects,
    Detail,
}

/// A parsed `/connz` query.
struct ConnzQuery {
    sort: &'static str,
    subs: SubsWanted,
    auth: bool,
    offset: usize,
    limit: usize,
    cid: Option<u64>,
    state: State,
    user: Option<String>,
    account: Option<String>,
    filter_subject: Option<String>,
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

fn parse(query: &Query) -> Result<ConnzQuery, String> {
    let sort_text = query.get("sort").unwrap_or("");
    let sort = if sort_text.is_empty() {
        "cid"
    } else {
        SORT_OPTIONS
            .iter()
            .copied()
            .find(|&option| option == sort_text)
            .ok_or_else(|| format!("invalid sorting option: {sort_text}"))?
    };
    let subs = match query.get("subs") {
        Some("detail") => SubsWanted::Detail,
        _ if query.flag("subs")? => SubsWanted::Subjects,
        _ => SubsWanted::None,
    };
    let state = match query.get("state").unwrap_or("open") {
        "" | "open" => State::Open,
        "closed" => State::Closed,
        "any" | "all" => State::Any,
        other => return Err(format!("invalid connection state: {other}")),
    };
    if matches!(sort, "stop" | "reason") && state == State::Open {
        return Err(format!("sort by {sort} only valid on closed connections"));
    }
    let cid = match query.get("cid") {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| format!("strconv.Atoi: parsing \"{text}\": invalid syntax"))?,
        ),
    };
    let limit = query.number("limit", CONNECTIONS_LIMIT_DEFAULT)?;
    let non_empty = |name| query.get(name).filter(|text| !text.is_empty());
    Ok(ConnzQuery {
        sort,
        subs,
        auth: query.flag("auth")?,
        offset: query.number("offset", 0)?,
        limit: if limit == 0 {
            CONNECTIONS_LIMIT_DEFAULT
        } else {
            limit
        },
        cid,
        state,
        user: non_empty("user").map(str::to_string),
        account: non_empty("acc").map(str::to_string),
        filter_subject: non_empty("filter_subject").map(str::to_string),
    })
}

/// Serves `/connz`.
pub async fn connz(context: &MonitorContext, query: &Query) -> Reply {
    let query = match parse(query) {
        Ok(query) => query,
        Err(message) => return Reply::bad_request(message),
    };
    let wants_subs = query.subs != SubsWanted::None || query.filter_subject.is_some();
    let wants_closed = query.state != State::Open;
    let answers: Vec<ShardConnz> = context
        .ask_shards(|reply| ControlMsg::Connz {
            subscriptions: wants_subs,
            closed: wants_closed,
            reply,
        })
        .await;
    let mut connections: Vec<Arc<ConnSnapshot>> = Vec::new();
    for answer in answers {
        if query.state != State::Closed {
            connections.extend(answer.open.into_iter().map(Arc::new));
        }
        connections.extend(answer.closed);
    }
    if wants_closed {
        keep_newest_closed(&mut connections, context.config.closed_clients_max as usize);
    }
    connections.retain(|conn| selected(conn, &query));
    let now = SystemTime::now();
    connections.sort_by(|a, b| compare(a, b, query.sort, now));
    let total = connections.len();
    let page: Vec<ConnInfo> = connections
        .iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|conn| render(conn, &query, now))
        .collect();
    Reply::json(&Connz {
        server_id: context.identity.server_id.clone(),
        now: rfc3339_nanos(now),
        num_connections: page.len(),
        total,
        offset: query.offset,
        limit: query.limit,
        connections: page,
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

fn selected(conn: &ConnSnapshot, query: &ConnzQuery) -> bool {
    if query.cid.is_some_and(|cid| cid != conn.cid) {
        return false;
    }
    // No client has an authorized user until authorization is built.
    if query.user.is_some() {
        return false;
    }
    if query
        .account
        .as_deref()
        .is_some_and(|account| account != GLOBAL_ACCOUNT)
    {
        return false;
    }
    true
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

fn render(conn: &ConnSnapshot, query: &ConnzQuery, now: SystemTime) -> ConnInfo {
    let end = conn.stop.unwrap_or(now);
    let subscriptions = conn.subscriptions.iter().filter(|subscription| {
        query.filter_subject.as_deref().is_none_or(|filter| {
            subject_matches(filter.as_bytes(), subscription.subject.as_bytes())
                || subscription.subject == filter
        })
    });
    let (list, detail) = match query.subs {
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
        subscriptions: conn.subscription_count,
        name: conn.name.clone(),
        lang: conn.lang.clone(),
        version: conn.version.clone(),
        name_tag: query.auth.then_some(GLOBAL_ACCOUNT),
        subscriptions_list: list.filter(|list: &Vec<String>| !list.is_empty()),
        subscriptions_list_detail: detail.filter(|detail: &Vec<SubDetail>| !detail.is_empty()),
        shard: conn.shard,
    }
}
